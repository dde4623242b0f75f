package gitsync

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"testing"
	"time"
)

// waitFire waits up to 10 s for the watch channel to send.
func waitFire(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watch channel closed", what)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no watch event within 10s", what)
	}
}

// drain empties the channel of events already sent.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func TestLocalWorkTree(t *testing.T) {
	r := newRepos(t)
	c1 := r.commit("one", map[string]string{"fleets/a.yaml": "1"})
	for _, url := range []string{r.work, "file://" + r.work} {
		l, err := NewLocal(Options{URL: url, Path: "fleets"})
		if err != nil {
			t.Fatal(err)
		}
		rev, changed := mustSync(t, l)
		if !changed || rev.Commit != c1 || readFile(t, rev, "a.yaml") != "1" {
			t.Fatalf("%s: %+v", url, rev)
		}
	}
	s, err := New(Options{URL: r.work})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Local); !ok {
		t.Fatalf("New(%s) = %T, want *Local", r.work, s)
	}
}

func TestLocalWatchCommit(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"a.yaml": "1"})
	log, _ := newLogger(t)
	l, err := NewLocal(Options{URL: r.work, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := l.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	c2 := r.commit("two", map[string]string{"a.yaml": "2"})
	waitFire(t, ch, "commit")
	t.Logf("watch fired %v after the commit started (git commit included)", time.Since(start))
	rev, changed := mustSync(t, l)
	if !changed || rev.Commit != c2 || readFile(t, rev, "a.yaml") != "2" {
		t.Fatalf("after commit: changed=%v %+v", changed, rev)
	}

	// A branch in a new directory under refs/heads, then a commit on it.
	drain(ch)
	r.git(r.work, "checkout", "-q", "-b", "team/x/feature")
	waitFire(t, ch, "new nested branch")
	drain(ch)
	r.commit("on feature", map[string]string{"b.yaml": "b"})
	waitFire(t, ch, "commit on nested branch")

	// packed-refs: git pack-refs moves the loose refs into it.
	drain(ch)
	r.git(r.work, "pack-refs", "--all")
	waitFire(t, ch, "pack-refs")

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel not closed after cancel")
	}
}

func TestLocalWatchBarePush(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"a.yaml": "1"})
	r.push("main")
	l, err := NewLocal(Options{URL: "file://" + r.bare})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	ch, err := l.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := r.commit("two", map[string]string{"a.yaml": "2"})
	r.push("main")
	waitFire(t, ch, "push")
	if rev, changed := mustSync(t, l); !changed || rev.Commit != c {
		t.Fatalf("after push: changed=%v %s", changed, rev.Commit)
	}
	// Unchanged: no new revision.
	if _, changed := mustSync(t, l); changed {
		t.Fatal("changed without a new commit")
	}
}

func TestLocalErrors(t *testing.T) {
	if _, err := NewLocal(Options{URL: t.TempDir()}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("not a repository: %v", err)
	}
	r := newRepos(t)
	r.commit("one", nil)
	l, err := NewLocal(Options{URL: r.work, Ref: Ref{Branch: "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Sync(ctxT(t)); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("missing branch: %v", err)
	}
	l, err = NewLocal(Options{URL: r.work, Ref: Ref{Commit: "0123456789012345678901234567890123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Sync(ctxT(t)); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("missing commit: %v", err)
	}
	if _, err := NewLocal(Options{URL: r.work, Ref: Ref{Branch: "a", Tag: "b"}}); err == nil {
		t.Fatal("branch and tag accepted together")
	}
}

// A Sync hands the blob sizes it read to the next one, which reads the
// headers of the new blobs only; what it keeps is the current tree's.
func TestLocalKeepsBlobSizes(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"fleets/a.yaml": "1", "fleets/b.yaml": "22"})
	l, err := NewLocal(Options{URL: r.work, Path: "fleets"})
	if err != nil {
		t.Fatal(err)
	}
	rev1, _ := mustSync(t, l)
	first := l.sizes
	if len(first) != 2 {
		t.Fatalf("sizes after the first sync: %v", first)
	}
	r.commit("two", map[string]string{"fleets/a.yaml": "333"})
	rev2, changed := mustSync(t, l)
	if !changed || rev2.Commit == rev1.Commit {
		t.Fatal("no new revision")
	}
	if tf := rev2.FS.(*treeFS); len(tf.known) != 2 || !maps.Equal(tf.known, first) {
		t.Errorf("the second tree knew %v, want the first's %v", tf.known, first)
	}
	if len(l.sizes) != 2 || maps.Equal(l.sizes, first) {
		t.Errorf("sizes after the second sync: %v (first %v); want the two current blobs", l.sizes, first)
	}
	for name, want := range map[string]int64{"a.yaml": 3, "b.yaml": 2} {
		if st, err := fs.Stat(rev2.FS, name); err != nil || st.Size() != want {
			t.Errorf("%s: %v, %v; want size %d", name, st, err, want)
		}
	}
}
