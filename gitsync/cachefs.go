package gitsync

import (
	"bufio"
	"os"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// cacheStorage is the go-git storage of a Remote's bare cache at dir, with
// options o, on a file system that reads pack indexes through a buffer:
// go-git decodes an index a field at a time, a read(2) for every four
// bytes of its fan-out table and names, so that opening a storage over a
// few packs cost a millisecond an index in system calls.
func cacheStorage(dir string, o filesystem.Options) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(bufferedIdx{osfs.New(dir, osfs.WithBoundOS())}, cache.NewObjectLRUDefault(), o)
}

// bufferedIdx opens *.idx files for reading through a buffer.
type bufferedIdx struct{ billy.Filesystem }

// Open implements billy.Filesystem.
func (b bufferedIdx) Open(name string) (billy.File, error) {
	f, err := b.Filesystem.Open(name)
	if err != nil || !strings.HasSuffix(name, ".idx") {
		return f, err
	}
	return &bufferedFile{File: f, r: bufio.NewReaderSize(f, 64<<10), stat: func() (os.FileInfo, error) { return b.Stat(name) }}, nil
}

// bufferedFile is a file opened to be read from start to end (what
// go-git's index decoder does): Read goes through the buffer, nothing
// else does.
type bufferedFile struct {
	billy.File
	r    *bufio.Reader
	stat func() (os.FileInfo, error)
}

func (f *bufferedFile) Read(p []byte) (int, error) { return f.r.Read(p) }

// Stat gives the decoder the file's size, which it checks the index
// against.
func (f *bufferedFile) Stat() (os.FileInfo, error) { return f.stat() }
