package gitsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeFS is the fs.FS of one git tree, read from the object store, as
// os.Root's FS presents a directory:
//
//   - A file's size comes from its object's header: nothing is inflated to
//     list a directory or to stat a file. Open is lazy; the first Read
//     inflates the blob, and only one of at most maxRead bytes: a larger
//     one is refused without being read.
//   - Symbolic links are followed by Stat, Open and ReadFile when they stay
//     inside the tree, and refused with os.Root's error ("path escapes from
//     parent") when they lead out of it or are absolute; ReadDir shows them
//     as links (fs.ModeSymlink), so a walk does not enter linked
//     directories.
//   - Trees are decoded once and their entries indexed by name, so a lookup
//     costs one map access per path element, however large the directory.
//
// Every file has the commit's time as its modification time. Submodules
// are left out.
type treeFS struct {
	mu      sync.Mutex // the go-git object store is not documented as safe for concurrent use
	s       storer.EncodedObjectStorer
	root    plumbing.Hash
	mtime   time.Time
	maxRead int64
	trees   map[plumbing.Hash]*indexedTree
	sizes   map[plumbing.Hash]int64 // of blobs, from their headers
	// known are the blob sizes a previous revision's tree read (never
	// changed once handed over: an object's size is its hash's), so that a
	// commit that changes one file of 1,000 reads one header, not 1,000.
	known map[plumbing.Hash]int64
	// read are the blobs verify read whole (or took from knownRead), and
	// knownRead those a previous revision's verify read whole in the same
	// store (never changed once handed over), so that the verify of a
	// fetched revision reads the blobs the fetch brought, not all of them.
	read, knownRead map[plumbing.Hash]bool
}

// indexedTree is a decoded tree with its entries by name.
type indexedTree struct {
	*object.Tree
	byName map[string]int
}

var (
	_ fs.FS         = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// Errors of treeFS, wrapped in *fs.PathError.
var (
	// errEscapes is os.Root's text for a link that leads out of the root,
	// which package spec recognizes and explains.
	errEscapes = errors.New("path escapes from parent")
	errLoop    = syscall.ELOOP // as os reports a link loop
	errIsDir   = errors.New("is a directory")
	errNotDir  = errors.New("not a directory")
)

// maxLinkTarget bounds what is read of a symbolic link's blob.
const maxLinkTarget = 4096

// maxLinkHops bounds the links followed to resolve one name (as Linux's 40).
const maxLinkHops = 40

// newTreeFS returns the files of the tree at dir ("." for the root) of
// commit c, or an error wrapping ErrPathNotFound. Files larger than maxRead
// bytes cannot be read.
func newTreeFS(s storer.EncodedObjectStorer, c *object.Commit, dir string, maxRead int64) (*treeFS, error) {
	t := &treeFS{s: s, root: c.TreeHash, mtime: c.Committer.When, maxRead: maxRead,
		trees: map[plumbing.Hash]*indexedTree{}, sizes: map[plumbing.Hash]int64{}}
	if dir == "." {
		if _, err := t.tree(t.root); err != nil {
			return nil, err
		}
		return t, nil
	}
	e, err := t.resolve(dir, true)
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

func (t *treeFS) tree(h plumbing.Hash) (*indexedTree, error) {
	if tr, ok := t.trees[h]; ok {
		return tr, nil
	}
	tr, err := object.GetTree(t.s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	it := &indexedTree{Tree: tr, byName: make(map[string]int, len(tr.Entries))}
	for i, e := range tr.Entries {
		if _, dup := it.byName[e.Name]; !dup {
			it.byName[e.Name] = i
		}
	}
	t.trees[h] = it
	return it, nil
}

// resolve finds the entry at name (not "."), following symbolic links in
// the directories on the way and, if followLast, the last element too. A
// name that resolves to the root is returned as a directory entry named
// ".". t.mu must be held or t unshared.
func (t *treeFS) resolve(name string, followLast bool) (object.TreeEntry, error) {
	parts := strings.Split(name, "/")
	var dir []string // the path of cur, from the root
	cur := t.root
	for hops := 0; ; {
		if len(parts) == 0 {
			return object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: t.root}, nil
		}
		tr, err := t.tree(cur)
		if err != nil {
			return object.TreeEntry{}, err
		}
		i, ok := tr.byName[parts[0]]
		if !ok || tr.Entries[i].Mode == filemode.Submodule {
			return object.TreeEntry{}, fs.ErrNotExist
		}
		e := tr.Entries[i]
		last := len(parts) == 1
		if e.Mode == filemode.Symlink && (!last || followLast) {
			if hops++; hops > maxLinkHops {
				return object.TreeEntry{}, errLoop
			}
			target, err := t.linkTarget(e.Hash)
			if err != nil {
				return object.TreeEntry{}, err
			}
			if target == "" {
				return object.TreeEntry{}, fs.ErrNotExist
			}
			if path.IsAbs(target) {
				return object.TreeEntry{}, errEscapes
			}
			joined := path.Join(append(slices.Clone(dir), target)...)
			if joined == ".." || strings.HasPrefix(joined, "../") {
				return object.TreeEntry{}, errEscapes
			}
			// Start again from the root with the link replaced.
			rest := parts[1:]
			parts = nil
			if joined != "." {
				parts = strings.Split(joined, "/")
			}
			parts = append(parts, rest...)
			dir, cur = nil, t.root
			continue
		}
		if last {
			return e, nil
		}
		if e.Mode != filemode.Dir {
			return object.TreeEntry{}, errNotDir
		}
		dir = append(dir, parts[0])
		parts, cur = parts[1:], e.Hash
	}
}

// size returns the size of blob h from its object's header (once).
func (t *treeFS) size(h plumbing.Hash) (int64, error) {
	if n, ok := t.sizes[h]; ok {
		return n, nil
	}
	if n, ok := t.known[h]; ok {
		t.sizes[h] = n
		return n, nil
	}
	n, err := t.s.EncodedObjectSize(h)
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", h, err)
	}
	t.sizes[h] = n
	return n, nil
}

// release closes the files t's object store holds open, if it holds any
// (a Remote's revision keeps its packs open); a later read opens what it
// needs again.
func (t *treeFS) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.s.(io.Closer); ok {
		c.Close()
	}
}

// knownSizes is a copy of the blob sizes read so far, for the next
// revision's treeFS.known.
func (t *treeFS) knownSizes() map[plumbing.Hash]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.sizes)
}

// readBlobs is a copy of the blobs verify read whole, for the next
// revision's treeFS.knownRead.
func (t *treeFS) readBlobs() map[plumbing.Hash]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.read)
}

// verify reads every tree under tree h and the header of every blob (its
// size, which is all a load asks of most of them) and, when content is
// set, the blobs that a load may read (symbolic links, and *.yaml and *.yml
// files of at most maxRead bytes), so that a corrupt or half-written cache
// shows before the revision is handed out rather than half-way through a
// load. Nothing is inflated beyond maxRead, and no blob of knownRead is
// read again (its size is checked against maxRead all the same). t must be
// unshared.
func (t *treeFS) verify(h plumbing.Hash, content bool) error {
	tr, err := t.tree(h)
	if err != nil {
		return err
	}
	for _, e := range tr.Entries {
		switch e.Mode {
		case filemode.Submodule:
		case filemode.Dir:
			if err := t.verify(e.Hash, content); err != nil {
				return err
			}
		default:
			size, err := t.size(e.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", e.Name, err)
			}
			if !content || size > t.maxRead || e.Mode != filemode.Symlink && !isFleetName(e.Name) || t.read[e.Hash] {
				continue
			}
			if t.read == nil {
				t.read = map[plumbing.Hash]bool{}
			}
			if t.knownRead[e.Hash] {
				t.read[e.Hash] = true
				continue
			}
			o, err := t.s.EncodedObject(plumbing.BlobObject, e.Hash)
			if err != nil {
				return fmt.Errorf("read blob %s (%s): %w", e.Hash, e.Name, err)
			}
			rd, err := o.Reader()
			if err != nil {
				return fmt.Errorf("read blob %s (%s): %w", e.Hash, e.Name, err)
			}
			_, err = io.Copy(io.Discard, rd)
			rd.Close()
			if err != nil {
				return fmt.Errorf("read blob %s (%s): %w", e.Hash, e.Name, err)
			}
			t.read[e.Hash] = true
		}
	}
	return nil
}

// linkTarget reads the target of a symbolic link.
func (t *treeFS) linkTarget(h plumbing.Hash) (string, error) {
	b, err := t.blob(h, maxLinkTarget)
	if err != nil {
		return "", err
	}
	return string(b), nil
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

// info describes the entry e called name; the size of a blob is read from
// its object's header.
func (t *treeFS) info(name string, e object.TreeEntry) (*fileInfo, error) {
	fi := &fileInfo{name: name, mode: fsMode(e.Mode), mtime: t.mtime}
	if e.Mode != filemode.Dir {
		size, err := t.size(e.Hash)
		if err != nil {
			return nil, err
		}
		fi.size = size
	}
	return fi, nil
}

// stat resolves name (following links when follow is set) and describes
// what it names.
func (t *treeFS) stat(op, name string, follow bool) (object.TreeEntry, *fileInfo, error) {
	if !fs.ValidPath(name) {
		return object.TreeEntry{}, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		e := object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: t.root}
		return e, &fileInfo{name: ".", mode: fs.ModeDir | 0o555, mtime: t.mtime}, nil
	}
	e, err := t.resolve(name, follow)
	if err != nil {
		return e, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	fi, err := t.info(path.Base(name), e)
	if err != nil {
		return e, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return e, fi, nil
}

// Stat implements fs.StatFS. It follows symbolic links.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, fi, err := t.stat("stat", name, true)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// ContentKeyer is what a Revision's FS implements besides fs.FS: the key
// of a file's content, for spec.Input.Key.
type ContentKeyer interface {
	// ContentKey returns "git blob " and the hash of the blob that name
	// (symbolic links followed) holds, read from its tree: two files
	// with the same key hold the same bytes. It returns "" when name is
	// not a file that can be read (missing, a directory, a link that
	// leads out, larger than Options.MaxFileSize).
	ContentKey(name string) string
}

var _ ContentKeyer = (*treeFS)(nil)

// ContentKey implements ContentKeyer.
func (t *treeFS) ContentKey(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, fi, err := t.stat("read", name, true)
	if err != nil || fi.IsDir() || fi.size > t.maxRead {
		return ""
	}
	return "git blob " + e.Hash.String()
}

// ReadFile implements fs.ReadFileFS.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, fi, err := t.stat("read", name, true)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	b, err := t.blob(e.Hash, t.maxRead)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// blob reads blob h whole, unless its header says it is larger than max
// bytes: then it is not inflated at all.
func (t *treeFS) blob(h plumbing.Hash, max int64) ([]byte, error) {
	size, err := t.size(h)
	if err != nil {
		return nil, err
	}
	if size > max {
		return nil, fmt.Errorf("blob %s: %d bytes, more than the %d bytes a file may have here", h, size, max)
	}
	bl, err := object.GetBlob(t.s, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	r, err := bl.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err == nil && int64(len(b)) > max {
		err = errors.New("the blob is longer than its header says")
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS: the entries sorted by name, symbolic
// links as links.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readDir(name)
}

func (t *treeFS) readDir(name string) ([]fs.DirEntry, error) {
	e, fi, err := t.stat("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
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
		out = append(out, &dirEntry{t: t, e: c})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// dirEntry is an entry of ReadDir; its size is looked up only if Info is
// called.
type dirEntry struct {
	t *treeFS
	e object.TreeEntry
}

func (d *dirEntry) Name() string      { return d.e.Name }
func (d *dirEntry) IsDir() bool       { return d.e.Mode == filemode.Dir }
func (d *dirEntry) Type() fs.FileMode { return fsMode(d.e.Mode).Type() }
func (d *dirEntry) String() string    { return fs.FormatDirEntry(d) }

// Info describes the entry itself (a link is not followed).
func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.t.mu.Lock()
	defer d.t.mu.Unlock()
	fi, err := d.t.info(d.e.Name, d.e)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// Open implements fs.FS. A file's content is read at its first Read.
func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, fi, err := t.stat("open", name, true)
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
	return &openFile{t: t, name: name, hash: e.Hash, info: fi}, nil
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

// openFile is an open file; its blob is read at the first Read.
type openFile struct {
	t    *treeFS
	name string
	hash plumbing.Hash
	info *fileInfo
	r    *bytes.Reader
	err  error
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

func (f *openFile) Read(p []byte) (int, error) {
	if f.r == nil && f.err == nil {
		f.t.mu.Lock()
		b, err := f.t.blob(f.hash, f.t.maxRead)
		f.t.mu.Unlock()
		if err != nil {
			f.err = &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.r = bytes.NewReader(b)
	}
	if f.err != nil {
		return 0, f.err
	}
	return f.r.Read(p)
}

type openDir struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Close() error               { return nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errIsDir}
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
