package spec

import (
	"fmt"
	"sync"
)

// Cache keeps the fleets of the last load through it that succeeded, by
// the content key of the file each came from (see Input.Key), so that the
// next load parses only the files whose content changed: a file whose key
// the cache holds is neither read nor parsed, and its fleets are taken
// over with the new path. The checks across files (names unique, the
// total count, collisions) still run over every fleet, so a load with a
// cache returns what one without it returns, errors included.
//
// A Cache holds one load's results: each load that succeeds replaces them
// (one that fails leaves them), so a daemon that keeps a Cache holds no
// more than the fleets of its last good revision, twice over in struct
// copies that share their maps and slices. A loaded Fleet must therefore
// not be changed in place, which nothing does. The zero value is an empty
// cache; a Cache is safe for concurrent use (loads through one are
// serialized where they touch it, not while they parse).
type Cache struct {
	mu      sync.Mutex
	options string // cacheOptions of the load the entries are from
	entries map[string]cacheEntry
	parsed  int // files parsed by loads through the cache, for tests
}

// cacheEntry is what one file yielded: its fleets (copies of those
// returned, with no file system) and the hash of its text.
type cacheEntry struct {
	fleets []*Fleet
	sum    uint64
}

// cacheOptions is what of o changes what a file parses to; entries made
// under other options are not used.
func cacheOptions(o Options) string {
	return fmt.Sprintf("%d %d %q", o.MaxFileSize, o.MaxAliasNodes, o.ExtraRegions)
}

// lookup returns the entries usable under opts, or nil.
func (c *Cache) lookup(opts Options) map[string]cacheEntry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.options != cacheOptions(opts) {
		return nil
	}
	return c.entries
}

// store replaces the entries with those of a load that succeeded: the
// files with a key, and what each yielded.
func (c *Cache) store(opts Options, files []fileRef, results []fileResult) {
	if c == nil {
		return
	}
	entries := make(map[string]cacheEntry, len(files))
	for i, f := range files {
		if f.key == "" || len(results[i].fleets) == 0 {
			continue
		}
		e := cacheEntry{fleets: make([]*Fleet, len(results[i].fleets))}
		for j, fl := range results[i].fleets {
			cp := *fl
			cp.file = nil
			if fl.file != nil {
				e.sum = fl.file.sum
			}
			e.fleets[j] = &cp
		}
		entries[f.key] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.options, c.entries = cacheOptions(opts), entries
}

// count adds n files parsed to Parsed.
func (c *Cache) count(n int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parsed += n
}

// Parsed returns how many files the loads through c have read and parsed
// rather than taken from it.
func (c *Cache) Parsed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parsed
}

// reuse is what a file whose key the cache holds yields: copies of the
// entry's fleets, placed at ref.
func (e cacheEntry) reuse(ref fileRef) fileResult {
	file := &sourceFile{fsys: ref.fsys, name: ref.name, sum: e.sum}
	res := fileResult{fleets: make([]*Fleet, len(e.fleets))}
	for i, f := range e.fleets {
		cp := *f
		cp.Source.File = ref.display
		cp.file = file
		res.fleets[i] = &cp
	}
	return res
}
