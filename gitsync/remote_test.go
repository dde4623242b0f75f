package gitsync

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

func newTestRemote(t *testing.T, r *repos, cache string, mod func(*Options)) (*Remote, *logBuf) {
	t.Helper()
	log, lb := newLogger(t)
	o := Options{URL: "file://" + r.bare, CacheDir: cache, Logger: log, Timeout: 20 * time.Second}
	if mod != nil {
		mod(&o)
	}
	rem, err := NewRemote(o)
	if err != nil {
		t.Fatal(err)
	}
	return rem, lb
}

func TestRemoteFollowsBranch(t *testing.T) {
	r := newRepos(t)
	c1 := r.commit("first fleet", map[string]string{"fleets/web.yaml": "count: 1\n"})
	r.push("main")
	rem, lb := newTestRemote(t, r, t.TempDir(), nil)

	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c1 || rev.Subject != "first fleet" || rev.Ref != "refs/heads/main" || rev.Time.IsZero() {
		t.Fatalf("first sync: changed=%v rev=%+v, want %s", changed, rev, c1)
	}
	if got := readFile(t, rev, "fleets/web.yaml"); got != "count: 1\n" {
		t.Fatalf("web.yaml = %q", got)
	}

	fetches := lb.count("msg=fetching")
	rev2, changed := mustSync(t, rem)
	if changed || rev2.Commit != c1 {
		t.Fatalf("unchanged remote: changed=%v commit=%s", changed, rev2.Commit)
	}
	if n := lb.count("msg=fetching"); n != fetches {
		t.Fatalf("fetched although the remote head had not moved (%d fetches, want %d)", n, fetches)
	}

	c2 := r.commit("raise web\n\nbody", map[string]string{"fleets/web.yaml": "count: 3\n"})
	r.push("main")
	rev3, changed := mustSync(t, rem)
	if !changed || rev3.Commit != c2 || rev3.Subject != "raise web" {
		t.Fatalf("after push: changed=%v rev=%+v, want %s", changed, rev3, c2)
	}
	if got := readFile(t, rev3, "fleets/web.yaml"); got != "count: 3\n" {
		t.Fatalf("web.yaml = %q", got)
	}
	// The earlier revision still reads its own files.
	if got := readFile(t, rev, "fleets/web.yaml"); got != "count: 1\n" {
		t.Fatalf("old revision's web.yaml = %q", got)
	}

	// A new Remote on the same cache (a restart) finds the commit cached.
	rem2, lb2 := newTestRemote(t, r, rem.opts.CacheDir, nil)
	rev4, changed := mustSync(t, rem2)
	if !changed || rev4.Commit != c2 {
		t.Fatalf("restart: changed=%v commit=%s", changed, rev4.Commit)
	}
	if n := lb2.count("msg=fetching"); n != 0 {
		t.Fatalf("restart fetched %d times with the head already cached", n)
	}
}

func TestRemoteForcePush(t *testing.T) {
	r := newRepos(t)
	r.commit("a", map[string]string{"a.yaml": "a"})
	r.commit("b", map[string]string{"b.yaml": "b"})
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), nil)
	mustSync(t, rem)

	// Rewrite history: an unrelated root commit replaces the branch.
	r.git(r.work, "checkout", "-q", "--orphan", "rewritten")
	r.git(r.work, "rm", "-q", "-rf", ".")
	c := r.commit("rewritten", map[string]string{"c.yaml": "c"})
	r.git(r.work, "push", "-q", "-f", "origin", "rewritten:main")

	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c {
		t.Fatalf("after force-push: changed=%v commit=%s want %s", changed, rev.Commit, c)
	}
	if _, err := fs.Stat(rev.FS, "a.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a.yaml from the old history: %v", err)
	}
	if got := readFile(t, rev, "c.yaml"); got != "c" {
		t.Fatalf("c.yaml = %q", got)
	}
}

func TestRemoteBranchDeleted(t *testing.T) {
	r := newRepos(t)
	r.commit("a", map[string]string{"a.yaml": "a"})
	r.push("main")
	r.push("main:other")
	rem, _ := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.Ref.Branch = "other" })
	mustSync(t, rem)

	r.push(":other")
	_, _, err := rem.Sync(ctxT(t))
	var ge *Error
	if !errors.Is(err, ErrRefNotFound) || !errors.As(err, &ge) || ge.Hint == "" {
		t.Fatalf("deleted branch: %v", err)
	}
	t.Log(err)

	c := r.commit("back", nil)
	r.push("main:other")
	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c {
		t.Fatalf("branch back: changed=%v commit=%s", changed, rev.Commit)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing.git")
	rem, err := NewRemote(Options{URL: "file://" + missing, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = rem.Sync(ctxT(t))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("missing repository: %v", err)
	}

	// A server that never answers: the per-Sync timeout ends the wait.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	rem, err = NewRemote(Options{URL: srv.URL + "/repo.git", CacheDir: t.TempDir(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = rem.Sync(ctxT(t))
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > 10*time.Second {
		t.Fatalf("hanging server: %v after %v", err, time.Since(start))
	}
	t.Log(err)
}

func TestRemoteCorruptCache(t *testing.T) {
	garble := map[string]func(t *testing.T, dir string){
		"removed": func(t *testing.T, dir string) { os.RemoveAll(dir) },
		"objects deleted": func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "objects"))
		},
		"objects garbled": func(t *testing.T, dir string) {
			filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					os.Chmod(p, 0o644)
					os.WriteFile(p, []byte("garbage, not a git object"), 0o644)
				}
				return nil
			})
		},
		"config garbled": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config"), []byte("[[[ not ini"), 0o644)
		},
		"ref garbled": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "refs", "heads", "main"), []byte("zzzz\n"), 0o644)
		},
		"half-written (HEAD only)": func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.MkdirAll(dir, 0o700)
			os.WriteFile(filepath.Join(dir, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
		},
	}
	r := newRepos(t)
	c := r.commit("a", map[string]string{"f/a.yaml": "a", "b.yaml": "b"})
	r.push("main")
	for name, g := range garble {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			rem, _ := newTestRemote(t, r, cache, nil)
			mustSync(t, rem)
			g(t, rem.CacheDir())
			// A restarted daemon meets the broken cache.
			rem2, _ := newTestRemote(t, r, cache, nil)
			rev, _ := mustSync(t, rem2)
			if rev.Commit != c || readFile(t, rev, "f/a.yaml") != "a" {
				t.Fatalf("after %s: %+v", name, rev)
			}
		})
	}
	// The same Remote meets a cache broken under it when the remote moves.
	for name, g := range garble {
		t.Run("running/"+name, func(t *testing.T) {
			rem, _ := newTestRemote(t, r, t.TempDir(), nil)
			mustSync(t, rem)
			g(t, rem.CacheDir())
			want := r.commit("moved "+name, map[string]string{"f/a.yaml": name})
			r.push("main")
			rev, changed := mustSync(t, rem)
			if !changed || rev.Commit != want || readFile(t, rev, "f/a.yaml") != name {
				t.Fatalf("after %s: changed=%v %+v", name, changed, rev)
			}
		})
	}
}

// TestRemoteReadWhileSyncing reads one revision's files while later
// revisions are fetched into the same cache: each read sees the files of
// its own commit (run with -race).
func TestRemoteReadWhileSyncing(t *testing.T) {
	r := newRepos(t)
	r.commit("v0", map[string]string{"v.yaml": "0", "d/x.yaml": "x0"})
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), nil)
	rev0, _ := mustSync(t, rem)
	done := make(chan error)
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if b, err := fsReadFile(rev0, "v.yaml"); err != nil || string(b) != "0" {
				done <- fmt.Errorf("read %d: %q %v", i, b, err)
				return
			}
			if _, err := fs.ReadDir(rev0.FS, "d"); err != nil {
				done <- err
				return
			}
		}
	}()
	for i := 1; i <= 3; i++ {
		v := fmt.Sprint(i)
		r.commit("v"+v, map[string]string{"v.yaml": v})
		r.push("main")
		if rev, _ := mustSync(t, rem); readFile(t, rev, "v.yaml") != v {
			t.Fatalf("revision %s reads %q", v, readFile(t, rev, "v.yaml"))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRemotePinnedCommit(t *testing.T) {
	r := newRepos(t)
	c1 := r.commit("one", map[string]string{"a.yaml": "1"})
	r.commit("two", map[string]string{"a.yaml": "2"})
	r.push("main")
	cache := t.TempDir()
	rem, lb := newTestRemote(t, r, cache, func(o *Options) { o.Ref.Commit = c1 })
	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c1 || readFile(t, rev, "a.yaml") != "1" || rev.Ref != c1 {
		t.Fatalf("pinned: %+v", rev)
	}
	r.commit("three", map[string]string{"a.yaml": "3"})
	r.push("main")
	if rev, changed = mustSync(t, rem); changed || rev.Commit != c1 {
		t.Fatalf("pinned after push: changed=%v %s", changed, rev.Commit)
	}
	if n := lb.count("msg=fetching"); n != 1 {
		t.Fatalf("pinned commit fetched %d times, want 1", n)
	}

	bad, _ := newTestRemote(t, r, cache, func(o *Options) { o.Ref.Commit = "0123456789012345678901234567890123456789" })
	if _, _, err := bad.Sync(ctxT(t)); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("unknown pinned commit: %v", err)
	}
}

func TestRemoteTag(t *testing.T) {
	r := newRepos(t)
	c1 := r.commit("one", map[string]string{"a.yaml": "1"})
	r.git(r.work, "tag", "-a", "-m", "release", "v1")
	c2 := r.commit("two", map[string]string{"a.yaml": "2"})
	r.push("main", "v1")
	rem, _ := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.Ref.Tag = "v1" })
	rev, _ := mustSync(t, rem)
	if rev.Commit != c1 || rev.Ref != "refs/tags/v1" || readFile(t, rev, "a.yaml") != "1" {
		t.Fatalf("tag: %+v", rev)
	}
	// The tag is moved.
	r.git(r.work, "tag", "-f", "-a", "-m", "release again", "v1", c2)
	r.git(r.work, "push", "-q", "-f", "origin", "v1")
	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c2 {
		t.Fatalf("moved tag: changed=%v %s want %s", changed, rev.Commit, c2)
	}
}

func TestRemoteSubdirectory(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"deploy/fleets/web.yaml": "w", "README": "r"})
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.Path = "/deploy/fleets/" })
	rev, _ := mustSync(t, rem)
	if got := readFile(t, rev, "web.yaml"); got != "w" {
		t.Fatalf("web.yaml = %q", got)
	}
	if _, err := fs.Stat(rev.FS, "README"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("README outside the path: %v", err)
	}
	missing, _ := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.Path = "nope" })
	if _, _, err := missing.Sync(ctxT(t)); !errors.Is(err, ErrPathNotFound) {
		t.Fatalf("missing path: %v", err)
	}
}

func TestRevisionFS(t *testing.T) {
	r := newRepos(t)
	r.commit("tree", map[string]string{
		"a.yaml": "a", "dir/b.yaml": "bb", "dir/sub/c.yaml": "ccc", "dir/sub/d/e.txt": "e",
		"empty.txt": "x", "z/zz/zzz/deep.yaml": "deep",
	})
	if err := os.WriteFile(filepath.Join(r.work, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.commit("exec", nil)
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), nil)
	rev, _ := mustSync(t, rem)
	if err := fstest.TestFS(rev.FS, "a.yaml", "dir/b.yaml", "dir/sub/c.yaml", "dir/sub/d/e.txt", "run.sh", "z/zz/zzz/deep.yaml"); err != nil {
		t.Fatal(err)
	}
	fi, err := fs.Stat(rev.FS, "run.sh")
	if err != nil || fi.Mode() != 0o555 || !fi.ModTime().Equal(rev.Time) {
		t.Fatalf("run.sh: %v %v", fi, err)
	}
	sub, err := fs.Sub(rev.FS, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "b.yaml", "sub/c.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := rev.FS.Open("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("open ../x: %v", err)
	}
}

// TestRemoteManyPushes follows a branch through pushes, a force-push back
// to an older commit and a rewrite, shallow and with full history.
func TestRemoteManyPushes(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprint("full=", full), func(t *testing.T) {
			r := newRepos(t)
			rem, lb := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.FullClone = full })
			var commits []string
			for i := range 5 {
				commits = append(commits, r.commit(fmt.Sprint("c", i), map[string]string{"n.yaml": fmt.Sprint(i)}))
				r.push("main")
				if rev, _ := mustSync(t, rem); rev.Commit != commits[i] || readFile(t, rev, "n.yaml") != fmt.Sprint(i) {
					t.Fatalf("push %d: %+v", i, rev)
				}
			}
			// Back to an older commit that the shallow cache may lack.
			r.git(r.work, "push", "-q", "-f", "origin", commits[1]+":refs/heads/main")
			if rev, changed := mustSync(t, rem); !changed || rev.Commit != commits[1] || readFile(t, rev, "n.yaml") != "1" {
				t.Fatalf("reset to c1: %+v", rev)
			}
			r.git(r.work, "reset", "-q", "--hard", commits[0])
			c := r.commit("amended", map[string]string{"n.yaml": "x"})
			r.git(r.work, "push", "-q", "-f", "origin", "main")
			if rev, changed := mustSync(t, rem); !changed || rev.Commit != c || readFile(t, rev, "n.yaml") != "x" {
				t.Fatalf("rewrite: %+v", rev)
			}
			if n := lb.count("cloning again"); n != 0 {
				t.Fatalf("a healthy cache was cloned again %d times:\n%s", n, lb)
			}
		})
	}
}
