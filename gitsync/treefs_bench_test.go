package gitsync

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lightkeeper/lightkeeper/spec"
)

// benchFiles is the number of fleet files of BenchmarkTreeLoad
// (LK_BENCH_FILES overrides it).
func benchFiles(b *testing.B) int {
	if s := os.Getenv("LK_BENCH_FILES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 100_000
}

// BenchmarkTreeLoad reads a commit of 100,000 tiny fleet files in one
// directory as the daemon does: a Local Sync (which reads the commit and
// checks its objects), then a walk that reads every file ("walk") or the
// whole fleet load ("load"); "validate" is the fleet load of the same
// files from the work tree, through os.Root, as validate reads them.
func BenchmarkTreeLoad(b *testing.B) {
	n := benchFiles(b)
	r := newRepos(b)
	dir := filepath.Join(r.work, "fleets")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("f%06d", i)
		doc := fmt.Sprintf("apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec: {region: ap-guangzhou, count: 0, bundleId: bundle_gen_01, blueprintId: lhbp-g0tn7djh, charge: {period: 1}}\n", name)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-m", "fleets")
	sync := func(b *testing.B) Revision {
		l, err := NewLocal(Options{URL: r.work, Path: "fleets"})
		if err != nil {
			b.Fatal(err)
		}
		rev, _, err := l.Sync(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		return rev
	}
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			rev := sync(b)
			files := 0
			err := fs.WalkDir(rev.FS, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				if _, err := fs.Stat(rev.FS, p); err != nil {
					return err
				}
				_, err = fs.ReadFile(rev.FS, p)
				files++
				return err
			})
			if err != nil || files != n {
				b.Fatalf("walk: %d files, %v", files, err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		for b.Loop() {
			root, err := os.OpenRoot(dir)
			if err != nil {
				b.Fatal(err)
			}
			fleets, err := spec.Load(root.FS(), spec.Options{MaxTotalCount: -1})
			root.Close()
			if err != nil || len(fleets) != n {
				b.Fatalf("load: %d fleets, %v", len(fleets), err)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			rev := sync(b)
			fleets, err := spec.Load(rev.FS, spec.Options{MaxTotalCount: -1})
			if err != nil || len(fleets) != n {
				b.Fatalf("load: %d fleets, %v", len(fleets), err)
			}
		}
	})
}
