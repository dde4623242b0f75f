package gitsync

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// blobCounter counts the blobs read whole from a store.
type blobCounter struct {
	storer.EncodedObjectStorer
	blobs map[plumbing.Hash]int
}

func (c *blobCounter) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if t == plumbing.BlobObject {
		c.blobs[h]++
	}
	return c.EncodedObjectStorer.EncodedObject(t, h)
}

// TestVerifyReadsNewBlobsOnly: the check of a revision's content reads the
// fleet blobs the last revision's check did not, and no other; a blob it
// knew only by size (under a name that is not a fleet's) is read once it
// is a fleet file's.
func TestVerifyReadsNewBlobsOnly(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"fleets/a.yaml": "a: 1\n", "fleets/b.yaml": "b: 1\n", "fleets/README": "readme\n"})
	repo, err := git.PlainOpen(r.work)
	if err != nil {
		t.Fatal(err)
	}
	var known map[plumbing.Hash]bool
	next := func() (*treeFS, map[plumbing.Hash]int) {
		t.Helper()
		head, err := repo.Head()
		if err != nil {
			t.Fatal(err)
		}
		c := &blobCounter{EncodedObjectStorer: repo.Storer, blobs: map[plumbing.Hash]int{}}
		rev, err := readRevision(c, head.Hash(), Options{Path: "fleets", MaxFileSize: 1 << 20}, true, nil, known)
		if err != nil {
			t.Fatal(err)
		}
		tf := rev.FS.(*treeFS)
		known = tf.readBlobs()
		return tf, c.blobs
	}
	blob := func(tf *treeFS, name string) plumbing.Hash {
		t.Helper()
		e, err := tf.resolve(name, true)
		if err != nil {
			t.Fatal(err)
		}
		return e.Hash
	}

	tf, blobs := next()
	if len(blobs) != 2 || blobs[blob(tf, "a.yaml")] != 1 || blobs[blob(tf, "b.yaml")] != 1 {
		t.Fatalf("the first check read %v, want a.yaml's and b.yaml's blobs", blobs)
	}

	r.commit("two", map[string]string{"fleets/a.yaml": "a: 2\n", "fleets/c.yaml": "readme\n"})
	tf, blobs = next()
	a, c := blob(tf, "a.yaml"), blob(tf, "c.yaml")
	if len(blobs) != 2 || blobs[a] != 1 || blobs[c] != 1 {
		t.Errorf("the second check read %v, want only a.yaml's new blob %s and c.yaml's %s (README's before, not read then)", blobs, a, c)
	}
	if !known[blob(tf, "b.yaml")] || !known[a] || !known[c] || len(known) != 3 {
		t.Errorf("known after the second check: %v", known)
	}
}

// TestContentKey: a revision's files are named by their blob, through
// links, and only files that can be read have a key.
func TestContentKey(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"a.yaml": "same\n", "d/b.yaml": "same\n", "c.yaml": "other\n", "big.yaml": "0123456789\n"})
	if err := os.Symlink("c.yaml", filepath.Join(r.work, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-m", "link")
	l, err := NewLocal(Options{URL: r.work, MaxFileSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := mustSync(t, l)
	k := rev.FS.(ContentKeyer)
	a, b, c := k.ContentKey("a.yaml"), k.ContentKey("d/b.yaml"), k.ContentKey("c.yaml")
	if a == "" || a != b || a == c || c == "" {
		t.Errorf("keys a=%q d/b=%q c=%q: want a's and b's equal, c's another", a, b, c)
	}
	if got := k.ContentKey("link.yaml"); got != c {
		t.Errorf("a link's key = %q, want its target's %q", got, c)
	}
	for _, name := range []string{"d", "missing.yaml", "big.yaml", "../x"} {
		if got := k.ContentKey(name); got != "" {
			t.Errorf("ContentKey(%q) = %q, want none", name, got)
		}
	}
}

// TestRemoteKeepsCheckedBlobs: a Remote hands what one revision's check
// read (blobs whole, and sizes) to the next revision's, and forgets it with
// the cache.
func TestRemoteKeepsCheckedBlobs(t *testing.T) {
	r := newRepos(t)
	r.commit("one", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), nil)
	mustSync(t, rem)
	first, sizes := rem.read, rem.sizes
	if len(first) != 2 || len(sizes) != 2 {
		t.Fatalf("blobs read by the first check: %v, sizes %v", first, sizes)
	}
	r.commit("two", map[string]string{"a.yaml": "a: 2\n"})
	r.push("main")
	rev, _ := mustSync(t, rem)
	if tf := rev.FS.(*treeFS); len(tf.knownRead) != 2 || !maps.Equal(tf.knownRead, first) || !maps.Equal(tf.known, sizes) {
		t.Errorf("the second revision's check knew %v and %v, want the first's %v and %v", tf.knownRead, tf.known, first, sizes)
	}
	if len(rem.read) != 2 || maps.Equal(rem.read, first) {
		t.Errorf("after the second sync: %v, want the current two blobs", rem.read)
	}
	if readFile(t, rev, "a.yaml") != "a: 2\n" || readFile(t, rev, "b.yaml") != "b: 1\n" {
		t.Error("the second revision's files are wrong")
	}
	// A cache found broken is cloned again, and what was known of it goes.
	os.WriteFile(filepath.Join(rem.CacheDir(), "config"), []byte("[[[ not ini"), 0o644)
	r.commit("three", map[string]string{"a.yaml": "a: 3\n"})
	r.push("main")
	rev, _ = mustSync(t, rem)
	if tf := rev.FS.(*treeFS); len(tf.knownRead) != 0 || len(tf.known) != 0 {
		t.Errorf("the check after a fresh clone knew %v and %v", tf.knownRead, tf.known)
	}
	if readFile(t, rev, "b.yaml") != "b: 1\n" {
		t.Error("b.yaml lost in the fresh clone")
	}
}
