package daemon

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/atomicfile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// LastGoodFile is the file of Options.StateDir that keeps a copy of the
// fleet files of the last good revision, so that a daemon restarted while
// the newest revision is invalid still reconciles the last good one: a zip
// archive (stored, not compressed) of the files, with the revision's
// description in .revision.json, written in one go (a revision of 1,000
// files is one write, not 1,000).
const LastGoodFile = "last-good.zip"

// LastGoodDir is the directory of Options.StateDir in which earlier versions
// kept that copy, one file per fleet file. It is read when there is no
// LastGoodFile, and removed once one is written.
const LastGoodDir = "last-good"

// lastGoodMeta describes the copy; a copy made under another Path or
// Exclude is not used.
type lastGoodMeta struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time,omitzero"`
	Subject string    `json:"subject,omitempty"`
	// SignedBy is Revision.SignedBy: who signed the revision, when the
	// source verified it.
	SignedBy string    `json:"signedBy,omitempty"`
	Path     string    `json:"path"`
	Exclude  []string  `json:"exclude,omitempty"`
	Saved    time.Time `json:"saved"`
}

const lastGoodMetaFile = ".revision.json"

// saveLastGood copies the fleet files of rev (its *.yaml and *.yml files
// under Path, less the excluded ones) into the state directory's
// LastGoodFile, which is replaced atomically. What load read is taken from
// read (nil: everything is read from rev); when keys names the files'
// content (contentKeys), a file load did not read because its content was
// parsed before is copied from the last copy saved, whose entries carry
// their key as their comment, and read from rev only if that copy lacks it.
func (d *Daemon) saveLastGood(rev Revision, read *recordFS, keys func(name string) string) error {
	if d.opts.StateDir == "" {
		return nil
	}
	fsys, err := d.fleetFS(rev)
	if err != nil {
		return err
	}
	var saved map[string]*zip.File
	var buf bytes.Buffer
	if keys != nil {
		var size int
		saved, size = d.savedByKey()
		buf.Grow(size + size/8)
	}
	zw := zip.NewWriter(&buf)
	var scratch []byte // an entry of the last copy, raw
	addKeyed := func(name, key string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Comment: key})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	add := func(name string, b []byte) error { return addKeyed(name, "", b) }
	err = fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && (strings.HasPrefix(e.Name(), ".") || spec.Excluded(d.opts.Exclude, p)) {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if e.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		key := ""
		if keys != nil {
			key = keys(p)
		}
		b, ok := read.read(p)
		if f := saved[key]; !ok && f != nil {
			// Copied as it is stored, once its checksum holds.
			if scratch, ok = readStored(f, scratch); ok {
				w, err := zw.CreateRaw(&zip.FileHeader{Name: p, Method: zip.Store, Comment: key,
					CRC32: f.CRC32, CompressedSize64: f.UncompressedSize64, UncompressedSize64: f.UncompressedSize64})
				if err == nil {
					_, err = w.Write(scratch)
				}
				return err
			}
		}
		if !ok {
			var err error
			if b, err = fs.ReadFile(fsys, p); err != nil {
				return err
			}
		}
		return addKeyed(p, key, b)
	})
	if err != nil {
		return err
	}
	meta, err := json.MarshalIndent(lastGoodMeta{ID: rev.ID, Time: rev.Time, Subject: rev.Subject, SignedBy: rev.SignedBy, Path: d.opts.Path,
		Exclude: d.opts.Exclude, Saved: d.opts.Now()}, "", "  ")
	if err != nil {
		return err
	}
	if err := add(lastGoodMetaFile, meta); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(d.opts.StateDir, LastGoodFile), buf.Bytes(), 0o600); err != nil {
		return err
	}
	// An earlier version's copy, a directory, is stale now.
	for _, dir := range []string{LastGoodDir, LastGoodDir + ".old"} {
		if err := os.RemoveAll(filepath.Join(d.opts.StateDir, dir)); err != nil {
			d.log.Warn("cannot remove an earlier version's copy of the last good revision; remove it by hand", "dir", dir, "err", err)
		}
	}
	return nil
}

// savedByKey returns the entries of the last copy saved that carry the key
// of their content as their comment (see saveLastGood), by that key, and
// the copy's size; nil when there is no copy or it cannot be read. The
// copy is read into memory whole, so the entries stay readable once the
// file is replaced.
func (d *Daemon) savedByKey() (map[string]*zip.File, int) {
	z, err := os.ReadFile(filepath.Join(d.opts.StateDir, LastGoodFile))
	if err != nil {
		return nil, 0
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, 0
	}
	m := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if f.Comment != "" {
			m[f.Comment] = f
		}
	}
	return m, len(z)
}

// readStored reads a stored (uncompressed) entry of a saved copy whole
// into buf's space; ok is false when it is not stored, cannot be read or
// its checksum does not match (the file is then read from the revision).
func readStored(f *zip.File, buf []byte) (b []byte, ok bool) {
	if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 || f.UncompressedSize64 > 1<<30 {
		return buf, false
	}
	r, err := f.OpenRaw()
	if err != nil {
		return buf, false
	}
	b = slices.Grow(buf[:0], int(f.UncompressedSize64))[:f.UncompressedSize64]
	if _, err := io.ReadFull(r, b); err != nil || crc32.ChecksumIEEE(b) != f.CRC32 {
		return buf, false
	}
	return b, true
}

// loadLastGood reads the copy of the last good revision, if there is one
// made under the same Path and Exclude. A copy that is missing is no
// error; one that does not load is.
func (d *Daemon) loadLastGood() (*goodState, time.Time, error) {
	if d.opts.StateDir == "" {
		return nil, time.Time{}, nil
	}
	file := filepath.Join(d.opts.StateDir, LastGoodFile)
	z, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d.loadLastGoodDir()
	case err != nil:
		return nil, time.Time{}, err
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w; move it away to start from the source", file, err)
	}
	b, err := fs.ReadFile(zr, lastGoodMetaFile)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w; move it away to start from the source", file, err)
	}
	return d.loadCopy(zr, file, b)
}

// loadLastGoodDir reads the copy an earlier version kept in LastGoodDir.
func (d *Daemon) loadLastGoodDir() (*goodState, time.Time, error) {
	dir := filepath.Join(d.opts.StateDir, LastGoodDir)
	b, err := os.ReadFile(filepath.Join(dir, lastGoodMetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		// A crash between the two renames leaves only the old copy.
		dir += ".old"
		b, err = os.ReadFile(filepath.Join(dir, lastGoodMetaFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, nil
		}
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	return d.loadCopy(os.DirFS(dir), dir, b)
}

// loadCopy loads the fleets of a saved copy, fsys, kept at where, whose
// .revision.json is meta.
func (d *Daemon) loadCopy(fsys fs.FS, where string, meta []byte) (*goodState, time.Time, error) {
	var m lastGoodMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w", filepath.Join(where, lastGoodMetaFile), err)
	}
	if m.Path != d.opts.Path || !slices.Equal(m.Exclude, d.opts.Exclude) {
		d.log.Info("the saved last good revision was made with another path or excludes; not used", "revision", m.ID)
		return nil, time.Time{}, nil
	}
	if d.opts.RequireSigned && m.SignedBy == "" {
		d.log.Warn("the saved last good revision was saved without a signature check; not used while repository.verify is set", "revision", m.ID)
		return nil, time.Time{}, nil
	}
	display := ""
	if d.opts.Path != "." {
		display = d.opts.Path
	}
	// The copy's entries carry their blob (saveLastGood): loaded through
	// the cache, they spare the first revision after a restart parsing the
	// files it did not change.
	opts := d.specOptions()
	opts.Cache = &d.parsed
	fleets, err := spec.LoadInputs([]spec.Input{{FS: fsys, Display: display, Root: where, Key: zipKeys(fsys)}}, opts)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the saved last good revision %s: %w", m.ID, err)
	}
	return &goodState{rev: Revision{ID: m.ID, Time: m.Time, Subject: m.Subject, SignedBy: m.SignedBy}, fleets: fleets}, m.Saved, nil
}

// zipKeys names the files of a copy by the keys saveLastGood gave them (the
// entries' comments), when fsys is a zip copy; else it is nil.
func zipKeys(fsys fs.FS) func(name string) string {
	zr, ok := fsys.(*zip.Reader)
	if !ok {
		return nil
	}
	keys := map[string]string{}
	for _, f := range zr.File {
		if f.Comment != "" {
			keys[f.Name] = f.Comment
		}
	}
	return func(name string) string { return keys[name] }
}
