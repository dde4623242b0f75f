package gitsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeFS is the fs.FS of one git tree, read from the object store. Files are
// read whole on Open (fleet specs are small); trees are decoded once. Every
// file has the commit's time as its modification time. Submodules are left
// out; symbolic links appear as such (fs.ModeSymlink) and are not followed.
type treeFS struct {
	mu    sync.Mutex // the go-git object store is not documented as safe for concurrent use
	s     storer.EncodedObjectStorer
	root  plumbing.Hash
	mtime time.Time
	trees map[plumbing.Hash]*object.Tree
}

var (
	_ fs.FS         = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// newTreeFS returns the files of the tree at dir ("." for the root) of
// commit c, or an error wrapping ErrPathNotFound.
func newTreeFS(s storer.EncodedObjectStorer, c *object.Commit, dir string) (*treeFS, error) {
	t := &treeFS{s: s, root: c.TreeHash, mtime: c.Committer.When, trees: map[plumbing.Hash]*object.Tree{}}
	if dir == "." {
		if _, err := t.tree(t.root); err != nil {
			return nil, err
		}
		return t, nil
	}
	e, err := t.lookup(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrPathNotFound, dir)
		}
		return nil, err
	}
	if e.Mode != filemode.Dir {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrPathNotFound, dir)
	}
	t.root = e.Hash
	return t, nil
}

func (t *treeFS) tree(h plumbing.Hash) (*object.Tree, error) {
	if tr, ok := t.trees[h]; ok {
		return tr, nil
	}
	tr, err := object.GetTree(t.s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	t.trees[h] = tr
	return tr, nil
}

// lookup finds the entry at name (not "."); t.mu must be held or t unshared.
func (t *treeFS) lookup(name string) (object.TreeEntry, error) {
	cur := t.root
	parts := strings.Split(name, "/")
	for i, p := range parts {
		tr, err := t.tree(cur)
		if err != nil {
			return object.TreeEntry{}, err
		}
		var found *object.TreeEntry
		for j := range tr.Entries {
			if tr.Entries[j].Name == p {
				found = &tr.Entries[j]
				break
			}
		}
		if found == nil || found.Mode == filemode.Submodule {
			return object.TreeEntry{}, fs.ErrNotExist
		}
		if i == len(parts)-1 {
			return *found, nil
		}
		if found.Mode != filemode.Dir {
			return object.TreeEntry{}, fs.ErrNotExist
		}
		cur = found.Hash
	}
	panic("unreachable")
}

func fsMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Executable:
		return 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o444
}

// info describes the entry e called name; the size of a blob is looked up.
func (t *treeFS) info(name string, e object.TreeEntry) (*fileInfo, error) {
	fi := &fileInfo{name: name, mode: fsMode(e.Mode), mtime: t.mtime}
	if e.Mode != filemode.Dir {
		o, err := t.s.EncodedObject(plumbing.BlobObject, e.Hash)
		if err != nil {
			return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
		}
		fi.size = o.Size()
	}
	return fi, nil
}

func (t *treeFS) stat(op, name string) (object.TreeEntry, *fileInfo, error) {
	if !fs.ValidPath(name) {
		return object.TreeEntry{}, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		e := object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: t.root}
		return e, &fileInfo{name: ".", mode: fs.ModeDir | 0o555, mtime: t.mtime}, nil
	}
	e, err := t.lookup(name)
	if err != nil {
		return e, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	fi, err := t.info(e.Name, e)
	if err != nil {
		return e, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return e, fi, nil
}

// Stat implements fs.StatFS.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, fi, err := t.stat("stat", name)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// ReadFile implements fs.ReadFileFS.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, fi, err := t.stat("read", name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := t.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

func (t *treeFS) blob(h plumbing.Hash) ([]byte, error) {
	bl, err := object.GetBlob(t.s, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	r, err := bl.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS: the entries sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readDir(name)
}

func (t *treeFS) readDir(name string) ([]fs.DirEntry, error) {
	e, fi, err := t.stat("readdir", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	tr, err := t.tree(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(tr.Entries))
	for _, c := range tr.Entries {
		if c.Mode == filemode.Submodule {
			continue
		}
		fi, err := t.info(c.Name, c)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
		out = append(out, fs.FileInfoToDirEntry(fi))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Open implements fs.FS.
func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, fi, err := t.stat("open", name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		ents, err := t.readDir(name)
		if err != nil {
			return nil, err
		}
		return &openDir{info: fi, entries: ents}, nil
	}
	b, err := t.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &openFile{info: fi, Reader: bytes.NewReader(b)}, nil
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

type openFile struct {
	info *fileInfo
	*bytes.Reader
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

type openDir struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Close() error               { return nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
