//go:build pprof

// A debug build for measuring memory (docs/benchmarks.md, "Daemon"):
// go build -tags pprof ./cmd/lightkeeper, then run it with
// LIGHTKEEPER_PPROF=127.0.0.1:6060 to serve net/http/pprof there
// (go tool pprof -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap?gc=1),
// and LIGHTKEEPER_MEMPROFILERATE=4096 for a heap profile that samples an
// allocation every 4 KiB rather than every 512 KiB (what the daemon holds
// is a few MB: the default rate shows it in steps of half a megabyte).
// Never in a release: the profiles show what the process holds.

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"runtime"
	"strconv"
)

func init() {
	if rate, err := strconv.Atoi(os.Getenv("LIGHTKEEPER_MEMPROFILERATE")); err == nil && rate > 0 {
		runtime.MemProfileRate = rate
	}
	if addr := os.Getenv("LIGHTKEEPER_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
