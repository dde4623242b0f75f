package gitsync

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// requests counts a git server's listings (GET info/refs) and pack
// requests (POST git-upload-pack).
type requests struct {
	mu           sync.Mutex
	lists, packs int
}

func (q *requests) seen(r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
		q.lists++
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		q.packs++
	}
}

// take returns the counts since the last take.
func (q *requests) take() (lists, packs int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lists, packs = q.lists, q.packs
	q.lists, q.packs = 0, 0
	return lists, packs
}

// inPack is how many objects the packs of the bare repository dir hold
// (git count-objects).
func inPack(t *testing.T, r *repos, dir string) int {
	t.Helper()
	for _, line := range strings.Split(r.git(dir, "count-objects", "-v"), "\n") {
		if v, ok := strings.CutPrefix(line, "in-pack: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("git count-objects printed no in-pack")
	return 0
}

// packFiles lists the packs of the bare repository dir.
func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	p, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fleetFiles are n fleet files under fleets/, each with count c.
func fleetFiles(n, c int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("fleets/f%03d.yaml", i)] = fmt.Sprintf("name: f%03d\ncount: %d\n", i, c)
	}
	return m
}

// TestRemoteFetchesOnlyWhatIsNew: over http, a Sync lists the remote once
// and asks for a pack only when the ref moved, on the same session; once
// the cache holds a commit, a push of one changed file of 50 brings the
// new commit, its two trees and the blob, not the whole tree again.
func TestRemoteFetchesOnlyWhatIsNew(t *testing.T) {
	r := newRepos(t)
	c1 := r.commit("fifty fleets", fleetFiles(50, 1))
	r.push("main")
	var q requests
	url := servedHTTP(t, r.bare, "", q.seen)
	rem, lb := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.URL = url })

	if rev, _ := mustSync(t, rem); rev.Commit != c1 {
		t.Fatalf("clone: %+v", rev)
	}
	if l, p := q.take(); l != 1 || p != 1 {
		t.Fatalf("the clone listed %d times and asked for %d packs, want 1 and 1", l, p)
	}
	clone := inPack(t, r, rem.CacheDir())
	if clone < 52 {
		t.Fatalf("the shallow clone holds %d objects, want the commit, 2 trees and 50 blobs", clone)
	}

	mustSync(t, rem)
	if l, p := q.take(); l != 1 || p != 0 {
		t.Fatalf("an unchanged remote was listed %d times and asked for %d packs, want 1 and 0", l, p)
	}

	for i := 2; i <= 4; i++ {
		before := inPack(t, r, rem.CacheDir())
		c := r.commit(fmt.Sprint("raise f007 to ", i), map[string]string{"fleets/f007.yaml": fmt.Sprintf("name: f007\ncount: %d\n", i)})
		r.push("main")
		rev, changed := mustSync(t, rem)
		if !changed || rev.Commit != c || readFile(t, rev, "fleets/f007.yaml") != fmt.Sprintf("name: f007\ncount: %d\n", i) ||
			readFile(t, rev, "fleets/f001.yaml") != "name: f001\ncount: 1\n" {
			t.Fatalf("push %d: changed=%v %+v", i, changed, rev)
		}
		if l, p := q.take(); l != 1 || p != 1 {
			t.Fatalf("push %d: listed %d times and asked for %d packs, want 1 and 1", i, l, p)
		}
		if got := inPack(t, r, rem.CacheDir()) - before; got != 4 {
			t.Fatalf("push %d brought %d objects, want 4 (commit, 2 trees, 1 blob)", i, got)
		}
	}
	if n := lb.count("cloning again") + lb.count("whole tree"); n != 0 {
		t.Fatalf("a fast-forward fetched more than what is new:\n%s", lb)
	}
}

// TestRemoteRevertFetchesWholeTree: a commit that brings back a blob from
// before the shallow cache's commit (a revert) may not be in what an
// incremental fetch brings, since the remote takes the cache's history as
// had (a server with reachability bitmaps, as the large hosts have,
// excludes all of it); the check finds it missing and the commit's whole
// tree is fetched, without cloning again.
func TestRemoteRevertFetchesWholeTree(t *testing.T) {
	r := newRepos(t)
	r.commit("v1", map[string]string{"fleets/web.yaml": "count: 1\n", "fleets/db.yaml": "count: 5\n"})
	r.commit("v2", map[string]string{"fleets/web.yaml": "count: 2\n"})
	r.push("main")
	r.git(r.bare, "repack", "-q", "-a", "-d", "-b")
	rem, lb := newTestRemote(t, r, t.TempDir(), nil)
	mustSync(t, rem)

	c := r.commit("revert to v1", map[string]string{"fleets/web.yaml": "count: 1\n"})
	r.push("main")
	rev, changed := mustSync(t, rem)
	if !changed || rev.Commit != c || readFile(t, rev, "fleets/web.yaml") != "count: 1\n" {
		t.Fatalf("revert: changed=%v %+v", changed, rev)
	}
	if lb.count("whole tree") != 1 || lb.count("cloning again") != 0 {
		t.Fatalf("want one fetch of the whole tree and no clone:\n%s", lb)
	}
	// The next push is incremental again.
	c = r.commit("v3", map[string]string{"fleets/web.yaml": "count: 3\n"})
	r.push("main")
	if rev, _ := mustSync(t, rem); rev.Commit != c || readFile(t, rev, "fleets/web.yaml") != "count: 3\n" {
		t.Fatalf("after the revert: %+v", rev)
	}
	if lb.count("whole tree") != 1 || lb.count("cloning again") != 0 {
		t.Fatalf("a fast-forward after the revert fetched the whole tree or cloned:\n%s", lb)
	}
}

// TestRemoteCompacts: each fetch adds a pack; a fetch past maxPacks, and
// any Sync that finds the ref unchanged, rewrites the cache as one pack of
// the commit's tree with the commit as its only shallow commit, and the
// cache serves later fetches and a restarted Remote as before.
func TestRemoteCompacts(t *testing.T) {
	r := newRepos(t)
	r.commit("start", fleetFiles(5, 1))
	r.push("main")
	cache := t.TempDir()
	rem, lb := newTestRemote(t, r, cache, nil)
	mustSync(t, rem)
	var c string
	for i := range maxPacks + 4 {
		c = r.commit(fmt.Sprint("push ", i), map[string]string{"fleets/f001.yaml": fmt.Sprint("count: ", i, "\n")})
		r.push("main")
		if rev, _ := mustSync(t, rem); rev.Commit != c || readFile(t, rev, "fleets/f001.yaml") != fmt.Sprint("count: ", i, "\n") {
			t.Fatalf("push %d: %+v", i, rev)
		}
		if n := len(packFiles(t, rem.CacheDir())); n > maxPacks+1 {
			t.Fatalf("push %d left %d packs, want at most %d", i, n, maxPacks+1)
		}
	}
	if lb.count("compacted git cache") == 0 {
		t.Fatalf("%d fetches and the cache was never compacted:\n%s", maxPacks+4, lb)
	}

	// Unchanged: compacts, and the revision it hands out reads.
	if rev, changed := mustSync(t, rem); changed || rev.Commit != c || readFile(t, rev, "fleets/f003.yaml") != "name: f003\ncount: 1\n" {
		t.Fatalf("the Sync that compacted: changed=%v %+v", changed, rev)
	}
	if n := len(packFiles(t, rem.CacheDir())); n != 1 {
		t.Fatalf("an unchanged Sync left %d packs, want 1", n)
	}
	// The commit, its 2 trees and the 5 blobs: no history.
	if n := inPack(t, r, rem.CacheDir()); n != 8 {
		t.Fatalf("the compacted cache holds %d objects, want 8", n)
	}
	if b, err := os.ReadFile(filepath.Join(rem.CacheDir(), "shallow")); err != nil || strings.TrimSpace(string(b)) != c {
		t.Fatalf("shallow = %q (%v), want %s", b, err, c)
	}
	if out := r.git(rem.CacheDir(), "fsck", "--connectivity-only"); strings.Contains(out, "missing") {
		t.Fatalf("git fsck after compaction: %s", out)
	}

	c = r.commit("after", map[string]string{"fleets/f002.yaml": "count: 9\n"})
	r.push("main")
	if rev, _ := mustSync(t, rem); rev.Commit != c || readFile(t, rev, "fleets/f002.yaml") != "count: 9\n" {
		t.Fatalf("after compaction: %+v", rev)
	}
	rem2, lb2 := newTestRemote(t, r, cache, nil)
	if rev, _ := mustSync(t, rem2); rev.Commit != c || readFile(t, rev, "fleets/f001.yaml") != fmt.Sprint("count: ", maxPacks+3, "\n") {
		t.Fatalf("restart on the compacted cache: %+v", rev)
	}
	if n := lb.count("cloning again") + lb2.count("cloning again") + lb2.count("msg=fetching"); n != 0 {
		t.Fatalf("the compacted cache was fetched into again or cloned:\n%s\n%s", lb, lb2)
	}
}

// TestRemoteAsksEarlyOnAPush: told of a push's commit (Expect), a Sync over
// http asks for its objects while it lists the remote (the server holds the
// listing until the pack request has come) and uses that pack when the
// listing names the same commit: one listing, one pack request. A remote
// on this host is not asked early (the listing waits out the server's
// guard, then the pack request follows it), unless the Remote is told to.
func TestRemoteAsksEarlyOnAPush(t *testing.T) {
	for _, tc := range []struct {
		onLoopback bool
		guard      time.Duration // how long the server holds a listing for a pack request: a guard, not a measure
		first      string
	}{{true, 10 * time.Second, http.MethodPost}, {false, time.Second, http.MethodGet}} {
		t.Run(fmt.Sprint("earlyOnLoopback=", tc.onLoopback), func(t *testing.T) {
			r := newRepos(t)
			r.commit("start", fleetFiles(10, 1))
			r.push("main")
			var q requests
			var hold atomic.Bool
			posted := make(chan struct{}, 1)
			var order []string
			var mu sync.Mutex
			url := servedHTTP(t, r.bare, "", func(req *http.Request) {
				q.seen(req)
				served := func() {
					mu.Lock()
					order = append(order, req.Method)
					mu.Unlock()
				}
				if req.Method == http.MethodPost {
					served() // before it lets a held listing go on
					select {
					case posted <- struct{}{}:
					default:
					}
					return
				}
				if hold.Load() {
					select {
					case <-posted:
					case <-time.After(tc.guard):
					}
				}
				served()
			})
			rem, lb := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.URL = url })
			rem.earlyOnLoopback = tc.onLoopback
			mustSync(t, rem)
			q.take()
			<-posted // the clone's

			c := r.commit("raise f003", map[string]string{"fleets/f003.yaml": "count: 7\n"})
			r.push("main")
			rem.Expect(c)
			hold.Store(true)
			mu.Lock()
			order = nil
			mu.Unlock()
			rev, changed := mustSync(t, rem)
			if !changed || rev.Commit != c || readFile(t, rev, "fleets/f003.yaml") != "count: 7\n" {
				t.Fatalf("after the push: changed=%v %+v", changed, rev)
			}
			if l, p := q.take(); l != 1 || p != 1 {
				t.Fatalf("listed %d times and asked for %d packs, want 1 and 1:\n%s", l, p, lb)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(order) != 2 || order[0] != tc.first {
				t.Fatalf("requests served in the order %v; want %s first", order, tc.first)
			}
		})
	}
}

// TestRemoteEarlyPackNotBorneOut: a push's commit that the listing does not
// name (the ref moved on, or the commit is another branch's) is not taken:
// the Sync fetches what the listing names.
func TestRemoteEarlyPackNotBorneOut(t *testing.T) {
	r := newRepos(t)
	r.commit("start", fleetFiles(5, 1))
	r.push("main")
	var q requests
	url := servedHTTP(t, r.bare, "", q.seen)
	rem, _ := newTestRemote(t, r, t.TempDir(), func(o *Options) { o.URL = url })
	rem.earlyOnLoopback = true
	mustSync(t, rem)

	moved := r.commit("one", map[string]string{"fleets/f001.yaml": "count: 2\n"})
	r.push("main")
	head := r.commit("two", map[string]string{"fleets/f001.yaml": "count: 3\n"})
	r.push("main")
	r.git(r.work, "checkout", "-q", "-b", "other")
	other := r.commit("elsewhere", map[string]string{"fleets/f001.yaml": "count: 99\n"})
	r.push("other")
	r.git(r.work, "checkout", "-q", "main")
	for _, told := range []string{moved, other} {
		q.take()
		rem.Expect(told)
		rev, _ := mustSync(t, rem)
		if rev.Commit != head || readFile(t, rev, "fleets/f001.yaml") != "count: 3\n" {
			t.Fatalf("told of %s: %+v, want the branch's head %s", told, rev, head)
		}
		if l, _ := q.take(); l != 1 {
			t.Fatalf("told of %s: listed %d times", told, l)
		}
		// The next push is told right and lands.
		head = r.commit("three", map[string]string{"fleets/f002.yaml": fmt.Sprint("count: ", len(told), "\n")})
		r.push("main")
	}
	if ref := r.git(rem.CacheDir(), "rev-parse", "refs/heads/main"); ref == other {
		t.Fatal("the cache's ref points at another branch's commit")
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.3.2.1": true, "::1": true,
		"github.com": false, "10.0.0.1": false, "192.168.1.2": false, "::ffff:8.8.8.8": false, "": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}
