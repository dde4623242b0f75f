package daemon_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// noteCollector is a daemon.Collector that notes its calls in the fast
// path's call log, among the listings and creates.
type noteCollector struct {
	log       *callLog
	holds     atomic.Int32
	collected chan struct{}
}

func (c *noteCollector) Hold() func() {
	c.holds.Add(1)
	c.log.note("hold")
	return func() { c.log.note("release") }
}

func (c *noteCollector) Collect() {
	c.log.note("collect")
	c.collected <- struct{}{}
}

// collectorEnv is fastEnv with a noteCollector, once its first cycle has
// collected.
func collectorEnv(t *testing.T) (*env, *callLog, *noteCollector) {
	t.Helper()
	c := &noteCollector{collected: make(chan struct{}, 16)}
	e, log := fastEnv(t, noLimits(), func(o *daemon.Options) {
		c.log = o.Cloud.(*callLog)
		o.Collector = c
	})
	waitCollect(t, c)
	log.take()
	if n := c.holds.Load(); n != 0 {
		t.Fatalf("the first cycle (not a push) held the collector %d times", n)
	}
	return e, log, c
}

// waitCollect waits for a cycle's Collect.
func waitCollect(t *testing.T, c *noteCollector) {
	t.Helper()
	select {
	case <-c.collected:
	case <-time.After(waitFor):
		t.Fatal("no collection at the end of the cycle")
	}
}

// A push's cycle holds the collector back from its start until its first
// creates are sent, and lets it go before the full sweep, whether the fast
// path ran, found nothing to create or found no new revision; every cycle
// collects once it has ended.
func TestPushHoldsTheCollector(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(e *env)
		creates int // the creates between hold and release
	}{
		{"fast path", func(e *env) { e.write("web.yaml", fleet("web", "bundle_gen_01", 6)) }, 2},
		{"nothing to create", func(e *env) { e.write("web.yaml", fleet("web", "bundle_gen_01", 3)) }, 0},
		{"no new revision", func(*env) {}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, log, c := collectorEnv(t)
			tc.change(e)
			e.cycle()
			waitCollect(t, c)
			calls := log.take()
			hold, release, sweep := slices.Index(calls, "hold"), slices.Index(calls, "release"), slices.Index(calls, "sweep")
			if hold != 0 || release < 0 || sweep < release || calls[len(calls)-1] != "collect" {
				t.Fatalf("calls %v; want the hold first, its release before the sweep, the collection last", calls)
			}
			creates := 0
			for _, call := range calls[:release] {
				if strings.HasPrefix(call, "create") {
					creates++
				}
			}
			if creates != tc.creates {
				t.Errorf("%d creates while the collector was held, want %d: %v", creates, tc.creates, calls)
			}
			for _, once := range []string{"hold", "release", "collect"} {
				if n := countOf(calls, once); n != 1 {
					t.Errorf("%q %d times in the cycle, want once: %v", once, n, calls)
				}
			}
		})
	}
}

func countOf(calls []string, s string) int {
	n := 0
	for _, c := range calls {
		if c == s {
			n++
		}
	}
	return n
}

// A push's cycle that reconciles nothing (no good revision yet: the only
// one is invalid) lets the collector go when it ends.
func TestPushHoldEndsWithTheCycle(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": "not: a fleet\n"})
	log := &callLog{Cloud: e.cloud}
	c := &noteCollector{log: log, collected: make(chan struct{}, 16)}
	opts := e.options()
	opts.Collector = c
	e.start(opts)
	if s := e.waitRuns(1); s.LastRun.Result != daemon.ResultError {
		t.Fatalf("first cycle: %s, want an error (an invalid revision)", s.LastRun.Result)
	}
	waitCollect(t, c)
	e.cycle()
	waitCollect(t, c)
	if calls := log.take(); !slices.Equal(calls, []string{"collect", "hold", "release", "collect"}) {
		t.Errorf("calls %v; want the first cycle's collection, then the push's hold, release and collection", calls)
	}
}
