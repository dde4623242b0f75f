package main

import (
	"math"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// applyMemoryLimit sets the Go runtime's soft memory limit to cfg's
// memoryLimit (daemon.DefaultMemoryLimit when left out), unless GOMEMLIMIT
// is set in the environment: the runtime read that at start, and it wins.
// It is applied at start and at each reload (s.setMemoryLimit is
// runtime/debug.SetMemoryLimit; nil, as in tests that run the service in
// their own process, applies nothing).
func (s *service) applyMemoryLimit(cfg *daemon.Config) {
	if s.setMemoryLimit == nil {
		return
	}
	if v := s.e.getenv("GOMEMLIMIT"); v != "" {
		s.log.Info("memory limit from GOMEMLIMIT; memoryLimit is not applied", "limit", v)
		return
	}
	limit := cfg.MemoryLimit()
	s.setMemoryLimit(int64(limit))
	s.log.Info("memory limit", "limit", limit.String())
}

// While a push's cycle holds the collector back (daemon.Collector), the
// heap may grow to pushGCPercent% over what was live after the last
// collection, and the soft memory limit is pushHeadroom higher: the few
// MB a push allocates before its first create (the fetch, the load of what
// changed, the revision's copy, the filtered observation) then trigger no
// collection. The full sweep after it runs under memoryLimit again.
const (
	pushGCPercent = 400
	pushHeadroom  = 16 << 20
)

// collector is the service's daemon.Collector: the runtime's, through
// runtime/debug, in the process that main runs (env.collector).
type collector struct {
	setGCPercent   func(int) int     // runtime/debug.SetGCPercent
	setMemoryLimit func(int64) int64 // runtime/debug.SetMemoryLimit
	gc             func()            // runtime.GC
}

var _ daemon.Collector = (*collector)(nil)

// Hold raises GOGC to pushGCPercent (left alone when off or higher) and
// the memory limit by pushHeadroom (left alone when off), until release
// puts both back as they were.
func (c *collector) Hold() (release func()) {
	limit := c.setMemoryLimit(-1) // a negative limit reads it
	if limit <= math.MaxInt64-pushHeadroom {
		c.setMemoryLimit(limit + pushHeadroom)
	}
	percent := c.setGCPercent(pushGCPercent)
	if percent < 0 || percent > pushGCPercent {
		c.setGCPercent(percent)
	}
	return func() {
		c.setGCPercent(percent)
		c.setMemoryLimit(limit)
	}
}

// Collect runs a collection.
func (c *collector) Collect() { c.gc() }
