package dirfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// beneath is the file system of a directory on Linux.
type beneath struct {
	root fs.FS  // the os.Root's, for everything else
	dir  string // the directory, as New was given it
	fd   int    // the directory, opened with O_PATH
	off  atomic.Bool
}

var (
	_ fs.ReadDirFS = (*beneath)(nil)
	_ fs.StatFS    = (*beneath)(nil)
)

func newFS(dir string, root *os.Root) (fs.FS, func()) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return root.FS(), func() {}
	}
	b := &beneath{root: root.FS(), dir: dir, fd: fd}
	return b, func() { unix.Close(fd) }
}

// open opens name beneath the directory, or returns false: the caller
// then asks the os.Root.
func (b *beneath) open(name string, flags uint64) (int, bool) {
	if b.off.Load() || !fs.ValidPath(name) {
		return -1, false
	}
	how := unix.OpenHow{Flags: flags | unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(b.fd, name, &how)
		switch {
		case err == nil:
			return fd, true
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			// A kernel before 5.6, or a sandbox that refuses openat2.
			b.off.Store(true)
		}
		return -1, false
	}
}

// Open opens a file for reading; a directory is the os.Root's.
func (b *beneath) Open(name string) (fs.File, error) {
	fd, ok := b.open(name, 0)
	if !ok {
		return b.root.Open(name)
	}
	f := &file{fd: fd, name: path.Base(name)}
	if err := unix.Fstat(fd, &f.st); err != nil || f.st.Mode&unix.S_IFMT == unix.S_IFDIR {
		unix.Close(fd)
		return b.root.Open(name)
	}
	return f, nil
}

// ReadDir lists a directory, sorted by name, without a stat of each entry.
func (b *beneath) ReadDir(name string) ([]fs.DirEntry, error) {
	fd, ok := b.open(name, unix.O_DIRECTORY)
	if !ok {
		return fs.ReadDir(b.root, name)
	}
	f := os.NewFile(uintptr(fd), path.Join(b.dir, name))
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return fs.ReadDir(b.root, name)
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	return entries, nil
}

// Stat is the os.Root's.
func (b *beneath) Stat(name string) (fs.FileInfo, error) { return fs.Stat(b.root, name) }

// file is a file opened beneath the directory, read on its descriptor.
type file struct {
	fd   int
	name string
	st   unix.Stat_t // when it was opened
}

func (f *file) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, fs.ErrClosed
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *file) Stat() (fs.FileInfo, error) {
	if f.fd < 0 {
		return nil, fs.ErrClosed
	}
	return &info{name: f.name, st: f.st}, nil
}

func (f *file) Close() error {
	if f.fd < 0 {
		return fs.ErrClosed
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// info is a file's fstat.
type info struct {
	name string
	st   unix.Stat_t
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.st.Size }
func (i *info) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *info) IsDir() bool        { return i.Mode().IsDir() }
func (i *info) Sys() any           { return &i.st }

func (i *info) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if i.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
