package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/spec"
)

// loadFleets reads the fleets under the command-line paths as validate and
// reconcile take them: each a directory (walked), a file, or "-" for
// standard input; none means ".". Files and directories matching an
// exclude glob are skipped. It returns the fleets, or spec.Errors listing
// every problem, or another error when an input could not be opened; an
// empty path is a usage error.
func loadFleets(e *env, paths, excludes []string, opts spec.Options) ([]*spec.Fleet, error) {
	if slices.Contains(paths, "") {
		return nil, usageError("an empty PATH; name a directory or file, or leave PATH out for the current directory")
	}
	for _, g := range excludes {
		if _, err := path.Match(g, ""); err != nil {
			return nil, usageError("--exclude %q: %v", g, err)
		}
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	inputs := make([]spec.Input, len(paths))
	for i, p := range paths {
		in, closeInput, err := inputFor(e, p)
		if err != nil {
			return nil, err
		}
		defer closeInput()
		if len(excludes) > 0 && p != "-" {
			in.FS = &excludeFS{fsys: in.FS, display: in.Display, globs: excludes}
		}
		inputs[i] = in
	}
	return spec.LoadInputs(inputs, opts)
}

// stdinName is how standard input ("-") is shown in messages.
const stdinName = "<stdin>"

// inputFor opens a command-line path: "-" is standard input, a directory is
// walked, anything else is read as a file (a missing one is reported by the
// loader). A directory is opened as an os.Root, so a symbolic link in it
// that leads outside is refused; a file named on the command line is read
// wherever it leads. The returned function releases the input.
func inputFor(e *env, p string) (spec.Input, func(), error) {
	noop := func() {}
	if p == "-" {
		var data []byte
		if e.stdin != nil {
			// One byte over the loader's limit is enough for it to report
			// the input as too large.
			b, err := io.ReadAll(io.LimitReader(e.stdin, spec.DefaultMaxFileSize+1))
			if err != nil {
				return spec.Input{}, noop, fmt.Errorf("read standard input: %w", err)
			}
			data = b
		}
		return spec.Input{FS: fstest.MapFS{stdinName: {Data: data, Mode: 0o444}}, Path: stdinName}, noop, nil
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		root, err := os.OpenRoot(p)
		if err == nil {
			return spec.Input{FS: root.FS(), Path: ".", Display: filepath.ToSlash(p), Root: canonicalDir(p)}, func() { root.Close() }, nil
		}
		return spec.Input{FS: os.DirFS(p), Path: ".", Display: filepath.ToSlash(p), Root: canonicalDir(p)}, noop, nil
	}
	dir := filepath.Dir(p)
	return spec.Input{FS: os.DirFS(dir), Path: filepath.Base(p), Display: filepath.ToSlash(dir), Root: canonicalDir(dir)}, noop, nil
}

// canonicalDir is dir made absolute and free of symlinks, so that one
// directory named two ways is read once; "" if that cannot be worked out
// (the loader then reports the path itself).
func canonicalDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return filepath.ToSlash(abs)
}

// excludeFS hides the files and directories of fsys that match one of
// globs (path.Match syntax), tried against the name, the path inside the
// input and the path as shown (display/path), so that "staging",
// "*.draft.yaml" and "fleets/staging/*" all work.
type excludeFS struct {
	fsys    fs.FS
	display string
	globs   []string
}

func (x *excludeFS) excluded(name string) bool {
	if name == "." || name == "" {
		return false
	}
	shown := name
	if x.display != "" && x.display != "." {
		shown = path.Join(x.display, name)
	}
	for _, g := range x.globs {
		for _, cand := range []string{path.Base(name), name, shown} {
			if ok, _ := path.Match(g, cand); ok {
				return true
			}
		}
	}
	return false
}

func (x *excludeFS) hidden(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// Open opens name unless it is excluded.
func (x *excludeFS) Open(name string) (fs.File, error) {
	if x.excluded(name) {
		return nil, x.hidden("open", name)
	}
	return x.fsys.Open(name)
}

// Stat describes name unless it is excluded.
func (x *excludeFS) Stat(name string) (fs.FileInfo, error) {
	if x.excluded(name) {
		return nil, x.hidden("stat", name)
	}
	return fs.Stat(x.fsys, name)
}

// ReadDir lists dir without its excluded entries.
func (x *excludeFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if x.excluded(dir) {
		return nil, x.hidden("readdir", dir)
	}
	entries, err := fs.ReadDir(x.fsys, dir)
	out := entries[:0]
	for _, d := range entries {
		if !x.excluded(path.Join(dir, d.Name())) {
			out = append(out, d)
		}
	}
	return out, err
}

// ReadFile reads name unless it is excluded.
func (x *excludeFS) ReadFile(name string) ([]byte, error) {
	if x.excluded(name) {
		return nil, x.hidden("readfile", name)
	}
	return fs.ReadFile(x.fsys, name)
}

// specErrors returns err's spec.Errors, or nil with ok false for another
// error.
func specErrors(err error) (spec.Errors, bool) {
	var errs spec.Errors
	if errors.As(err, &errs) {
		return errs, true
	}
	return nil, false
}
