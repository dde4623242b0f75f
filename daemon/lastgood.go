package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/spec"
)

// LastGoodDir is the directory of Options.StateDir that keeps a copy of the
// fleet files of the last good revision, so that a daemon restarted while
// the newest revision is invalid still reconciles the last good one.
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
// under Path, less the excluded ones) into the state directory: first into
// a fresh directory, then renamed over the old copy. What load read is
// taken from read (nil: everything is read from rev).
func (d *Daemon) saveLastGood(rev Revision, read *recordFS) error {
	if d.opts.StateDir == "" {
		return nil
	}
	fsys, err := d.fleetFS(rev)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(d.opts.StateDir, LastGoodDir+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
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
		b, ok := read.read(p)
		if !ok {
			var err error
			if b, err = fs.ReadFile(fsys, p); err != nil {
				return err
			}
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		return err
	}
	meta, err := json.MarshalIndent(lastGoodMeta{ID: rev.ID, Time: rev.Time, Subject: rev.Subject, SignedBy: rev.SignedBy, Path: d.opts.Path,
		Exclude: d.opts.Exclude, Saved: d.opts.Now()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, lastGoodMetaFile), meta, 0o600); err != nil {
		return err
	}
	dir := filepath.Join(d.opts.StateDir, LastGoodDir)
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// loadLastGood reads the copy of the last good revision, if there is one
// made under the same Path and Exclude. A copy that is missing is no
// error; one that does not load is.
func (d *Daemon) loadLastGood() (*goodState, time.Time, error) {
	if d.opts.StateDir == "" {
		return nil, time.Time{}, nil
	}
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
	var m lastGoodMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w", filepath.Join(dir, lastGoodMetaFile), err)
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
	fleets, err := spec.LoadInputs([]spec.Input{{FS: os.DirFS(dir), Display: display, Root: dir}}, d.specOptions())
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the saved last good revision %s: %w", m.ID, err)
	}
	return &goodState{rev: Revision{ID: m.ID, Time: m.Time, Subject: m.Subject, SignedBy: m.SignedBy}, fleets: fleets}, m.Saved, nil
}
