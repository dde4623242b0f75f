package emulator

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// DefaultRateLimits returns the per-action limits in requests per second
// the emulator enforces by default: the documented limits of each action
// (lighthouse-api.md section 4), except CreateInstances at 5/s as on the
// international API page that seeded the project.
func DefaultRateLimits() map[string]float64 {
	return map[string]float64{
		"CreateInstances":               5,
		"DescribeInstances":             100,
		"DescribeBundles":               5,
		"DescribeBlueprints":            10,
		"DescribeZones":                 20,
		"DescribeRegions":               10,
		"DescribeGeneralResourceQuotas": 10,
		"InquirePriceCreateInstances":   10,
		"IsolateInstances":              20,
		"TerminateInstances":            10,
	}
}

// NoRateLimits returns a RateLimits value that makes every action
// unlimited.
func NoRateLimits() map[string]float64 {
	m := DefaultRateLimits()
	for a := range m {
		m[a] = 0
	}
	return m
}

// allow takes a token from the bucket of (action, region, secretID) at now.
// Buckets read the emulator's clock, so a ManualClock makes them
// deterministic: a burst is spent and refills only when the clock moves.
func (s *Server) allow(action, region, secretID string, now time.Time) bool {
	r := s.limits[action]
	if r <= 0 {
		return true
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
