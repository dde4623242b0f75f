package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/internal/dirfs"
	"github.com/lightkeeper/lightkeeper/spec"
)

// loadFleets reads the fleets under the command-line paths as validate and
// reconcile take them: each a directory (walked), a file, or "-" for
// standard input; none means ".". Files and directories matching an
// exclude glob (spec.Options.Exclude) are skipped. It returns the fleets, or spec.Errors listing
// every problem, or another error when an input could not be opened; an
// empty path is a usage error.
func loadFleets(e *env, paths, excludes []string, opts spec.Options) ([]*spec.Fleet, error) {
	if slices.Contains(paths, "") {
		return nil, usageError("an empty PATH; name a directory or file, or leave PATH out for the current directory")
	}
	for _, g := range excludes {
		if err := spec.CheckExclude(g); err != nil {
			return nil, usageError("--exclude: %v", err)
		}
	}
	opts.Exclude = excludes
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
		inputs[i] = in
	}
	return spec.LoadInputs(inputs, opts)
}

// stdinName is how standard input ("-") is shown in messages.
const stdinName = "<stdin>"

// inputFor opens a command-line path: "-" is standard input, a directory is
// walked, anything else is read as a file (a missing one is reported by the
// loader). A directory is opened as an os.Root (read through dirfs, which
// keeps its guarantee for fewer system calls), so a symbolic link in it
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
			fsys, release := dirfs.New(p, root)
			return spec.Input{FS: fsys, Path: ".", Display: filepath.ToSlash(p), Root: canonicalDir(p)}, func() { release(); root.Close() }, nil
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

// specErrors returns err's spec.Errors, or nil with ok false for another
// error.
func specErrors(err error) (spec.Errors, bool) {
	var errs spec.Errors
	if errors.As(err, &errs) {
		return errs, true
	}
	return nil, false
}
