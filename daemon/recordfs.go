package daemon

import (
	"bytes"
	"io"
	"io/fs"
	"sync"
)

// recordFS is an fs.FS that keeps the bytes of every file read through it
// to its end, so that saveLastGood copies what load read instead of reading
// the revision's objects a second time (a push of 1,000 files otherwise
// reads each twice before its first create).
type recordFS struct {
	fsys  fs.FS
	mu    sync.Mutex
	files map[string][]byte
}

func newRecordFS(fsys fs.FS) *recordFS { return &recordFS{fsys: fsys, files: map[string][]byte{}} }

// Open opens name; a regular file's reads are recorded.
func (r *recordFS) Open(name string) (fs.File, error) {
	f, err := r.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return f, nil
	}
	return &recordFile{File: f, r: r, name: name}, nil
}

// ReadDir and Stat pass through, so that the walk and its checks see the
// revision's own answers.
func (r *recordFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.fsys, name) }
func (r *recordFS) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(r.fsys, name) }

// read returns the bytes of name if a read of it reached its end.
func (r *recordFS) read(name string) ([]byte, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.files[name]
	return b, ok
}

// recordFile keeps what is read of a file; at Close, if the reads reached
// the end, the whole file is recorded.
type recordFile struct {
	fs.File
	r    *recordFS
	name string
	buf  bytes.Buffer
	eof  bool
}

func (f *recordFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.buf.Write(p[:n])
	if err == io.EOF {
		f.eof = true
	}
	return n, err
}

func (f *recordFile) Close() error {
	if f.eof {
		f.r.mu.Lock()
		f.r.files[f.name] = f.buf.Bytes()
		f.r.mu.Unlock()
	}
	return f.File.Close()
}
