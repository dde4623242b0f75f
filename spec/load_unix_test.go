//go:build unix

package spec

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// noOpenFS refuses to open one name: opening a FIFO blocks until a writer
// comes, so the loader must find out what a link leads to without opening it.
type noOpenFS struct {
	t    *testing.T
	fs   fs.FS
	name string
}

func (f noOpenFS) Open(name string) (fs.File, error) {
	if name == f.name {
		f.t.Errorf("opened %s, which is a FIFO", name)
		return nil, fs.ErrPermission
	}
	return f.fs.Open(name)
}
func (f noOpenFS) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(f.fs, name) }
func (f noOpenFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fs, name) }

// A symbolic link in the tree that leads to a FIFO (or a device) is
// reported, not opened: opening a FIFO would hang the walk.
func TestLoadSymlinkToFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(dir+"/pipe", 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Symlink("pipe", dir+"/pipe.yaml"); err != nil {
		t.Fatal(err)
	}
	_, err := Load(noOpenFS{t, os.DirFS(dir), "pipe.yaml"}, Options{})
	want := "pipe.yaml: not a regular file (a symbolic link to a named pipe); point the link at a file"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
