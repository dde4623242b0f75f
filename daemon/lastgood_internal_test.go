package daemon

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

// TestLastGoodCopiesStoredEntries: a file the load did not read is copied
// from the last copy as it is stored, when its checksum holds, and read
// from the revision when it does not; either way the new copy holds the
// revision's bytes.
func TestLastGoodCopiesStoredEntries(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 20 {
		fsys[fmt.Sprintf("fleets/f%02d.yaml", i)] = &fstest.MapFile{Data: fmt.Appendf(nil, "name: f%02d\ncount: %d\n", i, i)}
	}
	d := &Daemon{opts: Options{StateDir: t.TempDir(), Path: "fleets", Now: time.Now}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	keys := func(name string) string { return "blob-" + name }
	sub, _ := fs.Sub(fsys, "fleets")
	rev := Revision{ID: "one", FS: fsys}
	if err := d.saveLastGood(rev, newRecordFS(sub), keys); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(d.opts.StateDir, LastGoodFile)

	// A bit of f03's stored bytes flips on disk; the revision still has
	// them right. f05 is the file the next load reads.
	z, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(z, []byte("name: f03"))
	z[at+6] ^= 0x20
	if err := os.WriteFile(file, z, 0o600); err != nil {
		t.Fatal(err)
	}
	read := newRecordFS(sub)
	if _, err := fs.ReadFile(read, "f05.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := d.saveLastGood(Revision{ID: "two", FS: fsys}, read, keys); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	n := 0
	for _, f := range zr.File {
		if f.Name == lastGoodMetaFile {
			continue
		}
		n++
		b, err := fs.ReadFile(zr, f.Name)
		if err != nil || !bytes.Equal(b, fsys["fleets/"+f.Name].Data) || f.Comment != keys(f.Name) {
			t.Errorf("%s: %q (%v), comment %q; want the revision's bytes and its key", f.Name, b, err, f.Comment)
		}
	}
	if n != 20 {
		t.Fatalf("the copy holds %d files, want 20", n)
	}
}
