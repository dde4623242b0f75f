package reconcile_test

import (
	"math"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// One-shot runs without a state directory back off too (issue 15 item 4:
// six one-shot runs bought 42 servers): the backoff is derived from the
// slot's LAUNCH_FAILED instances and their CreatedTime, which every run
// sees. With every launch failing, a fresh Reconciler without state every
// 20 s for 2 hours buys a fleet of 2 at most 2 x (1 + ceil(log2(120)))
// = 16 servers, and as few at every shorter horizon; before, it bought 2
// on every run until the slots' tokens ran out (16 in the first 3 minutes).
func TestOneShotRunsWithoutStateBackOff(t *testing.T) {
	const count = 2
	const T, interval = 2 * time.Hour, 20 * time.Second
	e := newScaleEnv(t, 0, func(c *emulator.Config) { c.LaunchFailureProbability = 1 })
	fleets := genFleets(t, 1, count)
	start := e.clock.Now()
	runs, failing := 0, 0
	for e.clock.Now().Sub(start) < T {
		p, _ := once(t, reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now}), fleets)
		runs++
		if p.Fleets[0].Failing {
			failing++
		}
		e.manual().Advance(interval)
	}
	var created []time.Time
	for _, in := range e.srv.Instances() {
		c, err := time.Parse(lighthouse.TimeLayout, *in.CreatedTime)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, c)
	}
	// The bound holds at every horizon: N x (1 + ceil(log2(T / 1 min))).
	for _, h := range []time.Duration{3 * time.Minute, 10 * time.Minute, 30 * time.Minute, T} {
		bought := 0
		for _, c := range created {
			if c.Sub(start) < h {
				bought++
			}
		}
		bound := count * (1 + int(math.Ceil(math.Log2(h.Minutes()))))
		t.Logf("%s: %d one-shot runs without state bought %d servers (bound %d)", h, int(h/interval), bought, bound)
		if bought > bound {
			t.Errorf("one-shot runs without state bought %d servers in %s, over the bound %d", bought, h, bound)
		}
		if h == T && bought < bound-2*count {
			t.Errorf("only %d servers in %s: the backoff waits longer than it says (bound %d)", bought, h, bound)
		}
	}
	t.Logf("%d runs; the fleet was failing in %d plans", runs, failing)
	if failing == 0 {
		t.Error("no plan said the fleet is failing")
	}
}
