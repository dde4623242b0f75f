package main

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// TestApplyMemoryLimit: the daemon sets the runtime's soft memory limit
// to memoryLimit, or to the default when the key is left out, unless
// GOMEMLIMIT is set (the runtime has applied it then); a process that did
// not come through main (a test) sets nothing.
func TestApplyMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, gomemlimit string
		limit            daemon.ByteSize
		want             int64 // -1: not set
		log              string
	}{
		{name: "default", want: daemon.DefaultMemoryLimit, log: "limit=24MiB"},
		{name: "key", limit: 64 << 20, want: 64 << 20, log: "limit=64MiB"},
		{name: "off", limit: daemon.NoMemoryLimit, want: int64(daemon.NoMemoryLimit), log: "limit=off"},
		{name: "GOMEMLIMIT wins", gomemlimit: "100MiB", limit: 64 << 20, want: -1, log: "memory limit from GOMEMLIMIT; memoryLimit is not applied\" limit=100MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := int64(-1)
			s := &service{e: &env{getenv: func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}}, log: slog.New(slog.NewTextHandler(&logs, nil)), setMemoryLimit: func(n int64) int64 { got = n; return 0 }}
			s.applyMemoryLimit(&daemon.Config{Memory: tc.limit})
			if got != tc.want || !strings.Contains(logs.String(), tc.log) {
				t.Errorf("set %d, want %d; log %q, want it to hold %q", got, tc.want, logs.String(), tc.log)
			}
		})
	}
	s := &service{e: &env{getenv: func(string) string { return "" }}, log: slog.New(slog.DiscardHandler)}
	s.applyMemoryLimit(&daemon.Config{}) // no setter: nothing, no panic
}

// TestCollectorHold: a push's hold raises GOGC to pushGCPercent and the
// memory limit by pushHeadroom, leaves either alone when it is off (or
// GOGC higher already), and its release puts both back.
func TestCollectorHold(t *testing.T) {
	const limit = 24 << 20
	for _, tc := range []struct {
		name    string
		percent int
		limit   int64
		heldP   int
		heldL   int64
	}{
		{name: "default", percent: 100, limit: limit, heldP: pushGCPercent, heldL: limit + pushHeadroom},
		{name: "GOGC off", percent: -1, limit: limit, heldP: -1, heldL: limit + pushHeadroom},
		{name: "GOGC higher", percent: 800, limit: limit, heldP: 800, heldL: limit + pushHeadroom},
		{name: "no limit", percent: 100, limit: math.MaxInt64, heldP: pushGCPercent, heldL: math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			percent, lim := tc.percent, tc.limit
			c := &collector{
				setGCPercent: func(p int) int { old := percent; percent = p; return old },
				setMemoryLimit: func(l int64) int64 {
					old := lim
					if l >= 0 {
						lim = l
					}
					return old
				},
			}
			release := c.Hold()
			if percent != tc.heldP || lim != tc.heldL {
				t.Errorf("held: GOGC %d, limit %d; want %d, %d", percent, lim, tc.heldP, tc.heldL)
			}
			release()
			if percent != tc.percent || lim != tc.limit {
				t.Errorf("released: GOGC %d, limit %d; want them back at %d, %d", percent, lim, tc.percent, tc.limit)
			}
		})
	}
	collected := 0
	(&collector{gc: func() { collected++ }}).Collect()
	if collected != 1 {
		t.Errorf("Collect ran %d collections, want 1", collected)
	}
}
