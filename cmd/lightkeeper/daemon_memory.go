package main

import (
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
