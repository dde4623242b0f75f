package gitsync

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// countingFS counts the reads made on the *.idx files it opens.
type countingFS struct {
	billy.Filesystem
	reads *atomic.Int64
}

func (c countingFS) Open(name string) (billy.File, error) {
	f, err := c.Filesystem.Open(name)
	if err != nil || !strings.HasSuffix(name, ".idx") {
		return f, err
	}
	return countingFile{File: f, reads: c.reads}, nil
}

type countingFile struct {
	billy.File
	reads *atomic.Int64
}

func (f countingFile) Read(p []byte) (int, error) {
	f.reads.Add(1)
	return f.File.Read(p)
}

// TestCacheStorageBuffersIndexes: the storage a Remote reads its cache
// through loads a pack index in a few reads; go-git alone reads it a field
// at a time.
func TestCacheStorageBuffersIndexes(t *testing.T) {
	r := newRepos(t)
	files := map[string]string{}
	for i := range 200 {
		files["fleets/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+".yaml"] = strings.Repeat("n", i)
	}
	c := r.commit("many", files)
	r.push("main")
	rem, _ := newTestRemote(t, r, t.TempDir(), nil)
	mustSync(t, rem)

	load := func(fs billy.Filesystem) {
		t.Helper()
		st := filesystem.NewStorage(fs, cache.NewObjectLRUDefault())
		defer st.Close()
		if _, err := st.EncodedObject(plumbing.CommitObject, plumbing.NewHash(c)); err != nil {
			t.Fatal(err)
		}
	}
	var plain, buffered atomic.Int64
	load(countingFS{osfs.New(rem.CacheDir(), osfs.WithBoundOS()), &plain})
	load(bufferedIdx{countingFS{osfs.New(rem.CacheDir(), osfs.WithBoundOS()), &buffered}})
	if buffered.Load() > 4 || plain.Load() < 100 {
		t.Fatalf("reads of the index: %d through the buffer, %d without; want at most 4 and at least 100", buffered.Load(), plain.Load())
	}
	t.Logf("reads of the index: %d through the buffer, %d without", buffered.Load(), plain.Load())
}
