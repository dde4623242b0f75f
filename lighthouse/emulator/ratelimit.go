package emulator

import (
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// DefaultRateLimits returns the per-action limits in requests per second
// the emulator enforces by default: the documented limit of each action
// (lighthouse-api.md section 4), except CreateInstances at 5/s as on the
// international API page that seeded the project. They are the limits the
// client keeps to (lighthouse.DefaultRateLimits): one table of what the
// service allows.
func DefaultRateLimits() map[string]float64 { return lighthouse.DefaultRateLimits() }

// NoRateLimits returns a RateLimits value that makes every action
// unlimited.
func NoRateLimits() map[string]float64 {
	m := DefaultRateLimits()
	for a := range m {
		m[a] = 0
	}
	return m
}

// allow takes a token from the bucket of (action, secretID) at now, or of
// (action, region, secretID) with Config.PerRegionRateLimits. The service
// counts a limit per API, per access region and per sub-account; one
// emulator listener is one access point, as a global endpoint is, so by
// default every product region shares the action's bucket (see the
// client's limiters for the sources). Buckets read the emulator's clock, so
// a ManualClock makes them deterministic: a burst is spent and refills only
// when the clock moves.
func (s *Server) allow(action, region, secretID string, now time.Time) bool {
	r := s.limits[action]
	if r <= 0 {
		return true
	}
	if !s.cfg.PerRegionRateLimits {
		region = ""
	}
	key := action + "\x00" + region + "\x00" + secretID
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	l, ok := s.limiters[key]
	if !ok {
		burst := int(math.Ceil(r))
		l = rate.NewLimiter(rate.Limit(r), burst)
		// Start the bucket full at the emulator's time, not the wall clock.
		l.AllowN(now, 0)
		s.limiters[key] = l
	}
	return l.AllowN(now, 1)
}
