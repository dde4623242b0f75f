package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
)

// countFS counts the Opens of each file, and names each file's content by
// its SHA-256 (as a git revision names it by its blob).
type countFS struct {
	fstest.MapFS
	mu    sync.Mutex
	opens map[string]int
}

func newCountFS(m fstest.MapFS) *countFS { return &countFS{MapFS: m, opens: map[string]int{}} }

func (c *countFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.MapFS.Open(name)
}

func (c *countFS) key(name string) string {
	f, ok := c.MapFS[name]
	if !ok {
		return ""
	}
	sum := sha256.Sum256(f.Data)
	return hex.EncodeToString(sum[:])
}

// loadCached loads fsys through cache, keyed.
func loadCached(fsys *countFS, cache *Cache, opts Options) ([]*Fleet, error) {
	opts.Cache = cache
	return LoadInputs([]Input{{FS: fsys, Display: "fleets", Key: fsys.key}}, opts)
}

// genFS is a repository of n generated fleets, one a file.
func genFS(n int) fstest.MapFS {
	m := fstest.MapFS{}
	for i := range n {
		m[fmt.Sprintf("f%03d.yaml", i)] = &fstest.MapFile{Data: []byte(fleetgen.Doc(i))}
	}
	return m
}

// TestCacheParsesOnlyChanged: after a load through a cache, the next load
// reads and parses the file that changed and no other; what it returns is
// what a load without the cache returns, deeply.
func TestCacheParsesOnlyChanged(t *testing.T) {
	m := genFS(20)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := cache.Parsed(); got != 20 {
		t.Fatalf("first load parsed %d files, want 20", got)
	}
	m["f007.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(fleetgen.Doc(7), "count: 2", "count: 3", 1))}
	fsys := newCountFS(m)
	got, err := loadCached(fsys, &cache, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := cache.Parsed(); p != 21 {
		t.Errorf("second load parsed %d files, want 1", p-20)
	}
	for name, n := range fsys.opens {
		if name != "f007.yaml" {
			t.Errorf("%s opened %d times; an unchanged file is not read", name, n)
		}
	}
	if fsys.opens["f007.yaml"] == 0 {
		t.Error("the changed file was not read")
	}
	want, err := LoadInputs([]Input{{FS: fsys, Display: "fleets"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the fleets loaded through the cache differ from those loaded without it")
	}
	if got[7].Spec.Count != 3 {
		t.Errorf("fleet 7 count = %d, want the changed 3", got[7].Spec.Count)
	}
}

// TestCacheRenamedFile: a file moved unchanged is not parsed again, and
// its fleets carry the new path, from which positions are read.
func TestCacheRenamedFile(t *testing.T) {
	m := genFS(3)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	m["moved/g001.yaml"] = m["f001.yaml"]
	delete(m, "f001.yaml")
	fsys := newCountFS(m)
	got, err := loadCached(fsys, &cache, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := cache.Parsed(); p != 3 {
		t.Errorf("the load after a rename parsed %d files, want 0", p-3)
	}
	f := got[1]
	if f.Source.File != "fleets/moved/g001.yaml" {
		t.Errorf("Source.File = %q, want fleets/moved/g001.yaml", f.Source.File)
	}
	if line, _ := f.Position("spec.region"); line != 7 {
		t.Errorf("Position(spec.region) line = %d, want 7 (read from the moved file; the old one is gone)", line)
	}
}

// TestCacheInvalidRepository: a change in one file that makes the
// repository invalid (a name another, unchanged, file holds) is refused
// with the same errors as without the cache, and the cache keeps the last
// good load's results.
func TestCacheInvalidRepository(t *testing.T) {
	m := genFS(3)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	m["f002.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(fleetgen.Doc(2), "fleet-00002", "fleet-00000", 1))}
	_, errCached := loadCached(newCountFS(m), &cache, Options{})
	_, errPlain := LoadInputs([]Input{{FS: m, Display: "fleets"}}, Options{})
	if errCached == nil || errPlain == nil {
		t.Fatalf("a duplicate name loaded: cached %v, plain %v", errCached, errPlain)
	}
	if errCached.Error() != errPlain.Error() {
		t.Errorf("errors differ:\ncached: %v\nplain:  %v", errCached, errPlain)
	}
	if !strings.Contains(errCached.Error(), "fleet-00000") {
		t.Errorf("error %q does not name the duplicate", errCached)
	}
	// Back to the good revision: nothing is parsed again.
	m["f002.yaml"] = &fstest.MapFile{Data: []byte(fleetgen.Doc(2))}
	before := cache.Parsed()
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	if p := cache.Parsed() - before; p != 0 {
		t.Errorf("the good revision again parsed %d files, want 0 (the invalid load replaced the cache)", p)
	}
}

// TestCacheCount: the total count is checked over reused fleets too.
func TestCacheCount(t *testing.T) {
	m := genFS(3)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCached(newCountFS(m), &cache, Options{MaxTotalCount: 2}); err == nil || !strings.Contains(err.Error(), "total") {
		t.Errorf("a repository over MaxTotalCount from reused fleets: err = %v", err)
	}
}

// TestCacheOptions: entries made under other parse options are not used.
func TestCacheOptions(t *testing.T) {
	m := genFS(3)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCached(newCountFS(m), &cache, Options{MaxFileSize: 100}); err == nil {
		t.Error("files over a smaller MaxFileSize loaded from the cache")
	}
	if _, err := loadCached(newCountFS(m), &cache, Options{ExtraRegions: []string{"ap-new"}}); err != nil {
		t.Fatal(err)
	}
	if p := cache.Parsed(); p != 9 {
		t.Errorf("parsed %d files, want 9: each load under new options parses every file again", p)
	}
}

// TestCacheUnshared: a fleet a load returns shares no struct with the
// cache, so a caller that changed one would not change the next load's.
func TestCacheUnshared(t *testing.T) {
	m := genFS(2)
	var cache Cache
	first, err := loadCached(newCountFS(m), &cache, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first[0].Spec.Count = 99
	first[0].Source.File = "elsewhere"
	second, err := loadCached(newCountFS(m), &cache, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second[0] == first[0] || second[0].Spec.Count == 99 || second[0].Source.File != "fleets/f000.yaml" {
		t.Errorf("the second load returned the first's fleet or its changes: %p %p count %d file %q",
			first[0], second[0], second[0].Spec.Count, second[0].Source.File)
	}
}

// Options.Parsed hears of every fleet of a load, those the cache gave as
// well as those parsed.
func TestCacheTellsParsed(t *testing.T) {
	m := genFS(5)
	var cache Cache
	if _, err := loadCached(newCountFS(m), &cache, Options{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	heard := map[string]bool{}
	parsed := func(f *Fleet) {
		mu.Lock()
		defer mu.Unlock()
		heard[f.Name()] = true
	}
	fleets, err := loadCached(newCountFS(m), &cache, Options{Parsed: parsed})
	if err != nil {
		t.Fatal(err)
	}
	if cache.Parsed() != 5 || len(heard) != len(fleets) || len(fleets) == 0 {
		t.Errorf("parsed %d files in all (want 5: the second load from the cache), Parsed heard of %d fleets of %d", cache.Parsed(), len(heard), len(fleets))
	}
}
