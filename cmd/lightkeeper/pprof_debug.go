//go:build pprof

// A debug build for measuring memory (docs/benchmarks.md, "Daemon"):
// go build -tags pprof ./cmd/lightkeeper, then run it with
// LIGHTKEEPER_PPROF=127.0.0.1:6060 to serve net/http/pprof there
// (go tool pprof -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap?gc=1).
// Never in a release: the profiles show what the process holds.

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

func init() {
	if addr := os.Getenv("LIGHTKEEPER_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
