package gitsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/spec"
)

const testFleet = "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec: {region: ap-guangzhou, count: 1, bundleId: bundle_gen_01, blueprintId: lhbp-g0tn7djh, charge: {period: 1}}\n"

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A blob far over the file limit, YAML or not, is never inflated: not to
// sync, not to list or stat it, not to load the fleets next to it. Its
// size comes from the object header; reading it fails; the fleet load
// reports it as too large. Loose objects (a local work tree), packed ones
// (after a repack) and a remote's cache are read alike.
func TestLargeBlobNotInflated(t *testing.T) {
	const big = 64 << 20
	r := newRepos(t)
	for _, name := range []string{"zeros.bin", "zeros.yaml"} {
		f, err := os.Create(filepath.Join(r.work, "fleets", name))
		if errors.Is(err, fs.ErrNotExist) {
			os.MkdirAll(filepath.Join(r.work, "fleets"), 0o755)
			f, err = os.Create(filepath.Join(r.work, "fleets", name))
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(big); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	r.commit("zeros", map[string]string{"fleets/web.yaml": fmt.Sprintf(testFleet, "web")})
	for _, src := range []string{"loose", "packed", "remote"} {
		t.Run(src, func(t *testing.T) {
			opts := Options{URL: r.work, Path: "fleets"}
			switch src {
			case "packed":
				r.git(r.work, "repack", "-a", "-d", "-q")
			case "remote":
				r.push("main")
				opts = Options{URL: "file://" + r.bare, Path: "fleets", CacheDir: t.TempDir()}
			}
			s, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			var rev Revision
			var loadErr error
			n := allocated(func() {
				rev, _ = mustSync(t, s)
				if st, err := fs.Stat(rev.FS, "zeros.bin"); err != nil || st.Size() != big {
					t.Errorf("stat: %v, %v", st, err)
				}
				if _, err := fs.ReadFile(rev.FS, "zeros.yaml"); err == nil || !strings.Contains(err.Error(), "more than the 1048576 bytes") {
					t.Errorf("read: %v", err)
				}
				_, loadErr = spec.Load(rev.FS, spec.Options{})
			})
			if loadErr == nil || loadErr.Error() != "zeros.yaml:1:1: file is larger than 1048576 bytes; split it into smaller files" {
				t.Errorf("load: %v", loadErr)
			}
			t.Logf("%.1f MiB allocated", float64(n)/(1<<20))
			if n > 16<<20 {
				t.Errorf("%d MiB allocated to sync, stat and load beside a %d MiB blob", n>>20, big>>20)
			}
		})
	}
}

// A long first line of a commit message is cut.
func TestSubjectCut(t *testing.T) {
	r := newRepos(t)
	msg := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msg, []byte(strings.Repeat("ß", 100_000)+"\n\nbody"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.commit("first", map[string]string{"a.yaml": "x"})
	r.git(r.work, "commit", "-q", "--allow-empty", "-F", msg)
	l, err := NewLocal(Options{URL: r.work})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := mustSync(t, l)
	if want := strings.Repeat("ß", MaxSubject) + "…"; rev.Subject != want {
		t.Errorf("subject of %d bytes, want %d", len(rev.Subject), len(want))
	}
}

// Symbolic links in a revision are read as validate reads them through
// os.Root: followed inside the directory read, refused when they lead out
// of it, with the same messages and the same fleets.
func TestSymlinksAsValidate(t *testing.T) {
	r := newRepos(t)
	files := map[string]string{
		"outside.yaml":        fmt.Sprintf(testFleet, "outside"),
		"fleets/shared/web.f": fmt.Sprintf(testFleet, "web"),
		"fleets/shared/api.f": fmt.Sprintf(testFleet, "api"),
	}
	links := map[string]string{
		"fleets/web.yaml":       "shared/web.f",
		"fleets/sub/api.yaml":   "../shared/api.f",
		"fleets/via/dir.yaml":   "../linkdir/../shared/web.f",
		"fleets/linkdir":        "sub",
		"fleets/out.yaml":       "../outside.yaml",
		"fleets/abs.yaml":       "/etc/hostname",
		"fleets/loop.yaml":      "loop.yaml",
		"fleets/broken.yaml":    "missing.yaml",
		"fleets/sub/deep.yaml":  "../../outside.yaml",
		"fleets/other-dir.yaml": "sub",
	}
	for p, target := range links {
		full := filepath.Join(r.work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	r.commit("links", files)
	l, err := NewLocal(Options{URL: r.work, Path: "fleets"})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := mustSync(t, l)
	root, err := os.OpenRoot(filepath.Join(r.work, "fleets"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	load := func(fsys fs.FS) (fleets []string, problems []string) {
		fl, err := spec.Load(fsys, spec.Options{})
		var errs spec.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				problems = append(problems, e.Error())
			}
		} else if err != nil {
			t.Fatal(err)
		}
		for _, f := range fl {
			fleets = append(fleets, f.Name()+"@"+f.Source.File)
		}
		return fleets, problems
	}
	gotFleets, gotProblems := load(rev.FS)
	wantFleets, wantProblems := load(root.FS())
	if !slices.Equal(gotProblems, wantProblems) || !slices.Equal(gotFleets, wantFleets) {
		t.Errorf("revision:\n%s\n%s\nos.Root:\n%s\n%s", strings.Join(gotFleets, "\n"), strings.Join(gotProblems, "\n"),
			strings.Join(wantFleets, "\n"), strings.Join(wantProblems, "\n"))
	}
	if len(gotProblems) < 4 || !strings.Contains(strings.Join(gotProblems, "\n"), "out.yaml: symbolic link leads outside the directory being read") {
		t.Errorf("problems %q", gotProblems)
	}
	// Without the links that fail, the linked fleets load.
	for _, bad := range []string{"out.yaml", "abs.yaml", "loop.yaml", "broken.yaml", "sub/deep.yaml", "other-dir.yaml"} {
		r.git(r.work, "rm", "-q", "fleets/"+bad)
	}
	r.git(r.work, "commit", "-q", "-m", "good links")
	rev, _ = mustSync(t, l)
	if fleets, problems := load(rev.FS); len(problems) != 1 || !strings.Contains(problems[0], "duplicate fleet name") || len(fleets) != 0 {
		t.Errorf("good links: %v %v", fleets, problems)
	}
	r.git(r.work, "rm", "-q", "fleets/via/dir.yaml")
	r.git(r.work, "commit", "-q", "-m", "no duplicate")
	rev, _ = mustSync(t, l)
	if fleets, problems := load(rev.FS); len(problems) != 0 || !slices.Equal(fleets, []string{"api@sub/api.yaml", "web@web.yaml"}) {
		t.Errorf("good links: %v %v", fleets, problems)
	}
}
