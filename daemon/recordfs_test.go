package daemon

import (
	"io"
	"io/fs"
	"testing"
	"testing/fstest"
)

// recordFS keeps a file read to its end, byte for byte, and nothing of one
// read in part; the walk sees the wrapped FS's entries.
func TestRecordFS(t *testing.T) {
	src := fstest.MapFS{
		"a.yaml":     {Data: []byte("kind: Fleet\n")},
		"d/b.yaml":   {Data: []byte("0123456789")},
		"d/c/x.yaml": {Data: []byte("x")},
	}
	r := newRecordFS(src)
	if b, err := fs.ReadFile(r, "a.yaml"); err != nil || string(b) != "kind: Fleet\n" {
		t.Fatalf("read a.yaml: %q %v", b, err)
	}
	f, err := r.Open("d/b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(f, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, ok := r.read("a.yaml"); !ok || string(b) != "kind: Fleet\n" {
		t.Errorf("a.yaml recorded as %q, %v", b, ok)
	}
	if b, ok := r.read("d/b.yaml"); ok {
		t.Errorf("a file read in part is recorded: %q", b)
	}
	var walked []string
	if err := fs.WalkDir(r, ".", func(p string, _ fs.DirEntry, err error) error {
		walked = append(walked, p)
		return err
	}); err != nil || len(walked) != 6 {
		t.Errorf("walk: %v %v", walked, err)
	}
	var none *recordFS
	if _, ok := none.read("a.yaml"); ok {
		t.Error("a nil recordFS has a file")
	}
	if err := fstest.TestFS(r, "a.yaml", "d/b.yaml", "d/c/x.yaml"); err != nil {
		t.Error(err)
	}
}
