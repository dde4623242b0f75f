package daemon_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// With every launch failing, the daemon buys a fleet of count N at most
// N x (1 + ceil(log2(T / 1 min))) servers in T (reconcile.LaunchBackoff),
// cycle after cycle, and says the fleet is failing in /status, on the page
// and in the metrics, and the cycles are not a success. Before the backoff,
// a fleet of 2 was bought again on every cycle: 2 servers a cycle.
func TestLaunchFailureBoundThroughTheDaemon(t *testing.T) {
	const count = 2
	e := newEnvConfig(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", count)},
		func(c *emulator.Config) { c.LaunchFailureProbability = 1 })
	e.start(e.options())
	e.waitRuns(1)
	start := e.clock.Now()
	const interval = 20 * time.Second
	const T = 4 * time.Hour
	failingSeen := false
	for e.clock.Now().Sub(start) < T-interval {
		e.clock.Advance(interval)
		s := e.cycle()
		if s.Fleets[0].State == daemon.FleetFailing {
			failingSeen = true
			if s.LastRun.Result == daemon.ResultSuccess {
				t.Fatalf("at %s: a cycle with a failing fleet is a success: %+v", e.clock.Now().Sub(start), s.LastRun)
			}
		}
	}
	bought := 0
	for _, in := range e.emu.Instances() {
		if strings.HasPrefix(in.InstanceName, "web-") {
			bought++
			if in.InstanceState != lighthouse.StateLaunchFailed && in.InstanceState != lighthouse.StatePending {
				t.Errorf("%s is %s; every launch fails", in.InstanceId, in.InstanceState)
			}
		}
	}
	bound := count * (1 + int(math.Ceil(math.Log2(T.Minutes()))))
	t.Logf("%d servers bought in %s of cycles every %s with every launch failing; bound %d", bought, T, interval, bound)
	if bought > bound {
		t.Errorf("bought %d servers in %s, over the bound %d", bought, T, bound)
	}
	if bought < bound-2*count {
		t.Errorf("bought only %d servers in %s: the backoff waits longer than it says (bound %d)", bought, T, bound)
	}
	if !failingSeen {
		t.Fatal("the fleet was never failing")
	}

	// The last cycle's view: /status, the page, the metrics.
	_, body := e.get("/status")
	var st daemon.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	f := st.Fleets[0]
	if f.State != daemon.FleetFailing || !f.Failing || f.LaunchFailures < 3 || len(f.Waiting) == 0 || !strings.Contains(f.Waiting[0], "backs off until") {
		t.Errorf("/status fleet: %+v", f)
	}
	if !strings.Contains(st.LastError, `fleet "web" is failing`) || st.LastRun.Result != daemon.ResultPartial {
		t.Errorf("/status: last error %q, last run %+v", st.LastError, st.LastRun)
	}
	_, page := e.get("/")
	for _, want := range []string{`<span class="badge failing">failing</span>`, "Launches keep failing", "backs off until"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if v := e.metric("lightkeeper_fleet_failing", "fleet", "web"); v != 1 {
		t.Errorf("lightkeeper_fleet_failing = %v", v)
	}
	if v := e.metric("lightkeeper_reconcile_runs_total", "result", "partial"); v < 1 {
		t.Errorf("no partial cycles: %v", v)
	}
	e.lint()
}
