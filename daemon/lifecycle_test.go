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
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// With every launch failing, the daemon buys a fleet of count N at most
// N x (1 + ceil(log2(T / 1 min))) servers in T (reconcile.LaunchBackoff),
// cycle after cycle, and says the fleet is failing in /status, on the page
// and in the metrics, and the cycles are not a success. Before the backoff,
// a fleet of 2 was bought again on every cycle: 2 servers a cycle (1,440
// in the 4 hours, 18 in the first 3 minutes).
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
	var created []time.Time
	for _, in := range e.emu.Instances() {
		if strings.HasPrefix(in.InstanceName, "web-") {
			if in.InstanceState != lighthouse.StateLaunchFailed && in.InstanceState != lighthouse.StatePending {
				t.Errorf("%s is %s; every launch fails", in.InstanceId, in.InstanceState)
			}
			c, err := time.Parse(lighthouse.TimeLayout, *in.CreatedTime)
			if err != nil {
				t.Fatal(err)
			}
			created = append(created, c)
		}
	}
	// At every horizon, not only at the end.
	for _, h := range []time.Duration{3 * time.Minute, 10 * time.Minute, time.Hour, T} {
		bought := 0
		for _, c := range created {
			if c.Sub(start) < h {
				bought++
			}
		}
		bound := count * (1 + int(math.Ceil(math.Log2(h.Minutes()))))
		t.Logf("%d servers bought in %s of cycles every %s with every launch failing; bound %d", bought, h, interval, bound)
		if bought > bound {
			t.Errorf("bought %d servers in %s, over the bound %d", bought, h, bound)
		}
		if h == T && bought < bound-2*count {
			t.Errorf("bought only %d servers in %s: the backoff waits longer than it says (bound %d)", bought, h, bound)
		}
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

// renewingFleet is fleet with charge.renewBefore 7d.
func renewingFleet(name string, count int) string {
	return strings.Replace(fleet(name, "bundle_gen_01", count), "charge: {period: 1}", "charge: {period: 1, renewBefore: 7d}", 1)
}

// The daemon renews what expires within renewBefore once, holds a cycle
// whose renewals pass limits.maxRenewalSpendPerRun, and leaves a
// suspended fleet alone; /status, the page and the metrics say so.
func TestDaemonRenewsAndSuspends(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml":    renewingFleet("web", 1),
		"paused.yaml": strings.Replace(renewingFleet("paused", 1), "  charge:", "  suspend: true\n  charge:", 1),
	})
	// Both fleets' instances exist before the daemon starts; paused's was
	// made while it was not suspended.
	e.write("paused.yaml", renewingFleet("paused", 1))
	opts := e.options()
	opts.Limits.MaxRenewalSpend = reconcile.NoLimit
	e.start(opts)
	e.waitRuns(1)
	e.clock.Advance(emulator.DefaultLaunchDelay)
	e.write("paused.yaml", strings.Replace(renewingFleet("paused", 1), "  charge:", "  suspend: true\n  charge:", 1))
	for _, in := range e.emu.Instances() {
		if err := e.emu.SetExpiredTime(in.InstanceId, e.clock.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s := e.cycle()
	byName := map[string]daemon.FleetStatus{}
	for _, f := range s.Fleets {
		byName[f.Name] = f
	}
	if w := byName["web"]; w.Renewals != 1 || w.Renewed != 1 || w.NextExpiry.IsZero() {
		t.Errorf("web: %+v", w)
	}
	if p := byName["paused"]; p.State != daemon.FleetSuspended || !p.Suspended || p.Renewed != 0 {
		t.Errorf("paused: %+v", p)
	}
	e.clock.Advance(emulator.DefaultOperationDelay)
	if n := len(e.emu.RenewalLog()); n != 1 {
		t.Fatalf("%d renewals, want web's one", n)
	}
	if v := e.metric("lightkeeper_renewals_total", "result", "renewed"); v != 1 {
		t.Errorf("renewals_total{renewed} = %v", v)
	}
	if v := e.metric("lightkeeper_fleets_suspended"); v != 1 {
		t.Errorf("fleets_suspended = %v", v)
	}
	if v := e.metric("lightkeeper_fleet_next_expiry_timestamp_seconds", "fleet", "web"); v != float64(byName["web"].NextExpiry.Unix()) || v == 0 {
		t.Errorf("next expiry = %v", v)
	}
	_, page := e.get("/")
	if !strings.Contains(page, `<span class="badge suspended">suspended</span>`) || !strings.Contains(page, "1 renewed") {
		t.Errorf("the page does not show the suspended fleet and the renewal")
	}

	// A second instance of web expires: over a limit of 0, held.
	e.write("web.yaml", renewingFleet("web", 2))
	e.cycle()
	e.clock.Advance(emulator.DefaultLaunchDelay)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	for _, in := range e.emu.Instances() {
		if in.InstanceName == "web-1" {
			if err := e.emu.SetExpiredTime(in.InstanceId, e.clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	zero := 0.0
	opts = e.options()
	opts.Limits.MaxRenewalSpend = zero
	e.start(opts)
	s = e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultHeld || len(s.Held) != 1 || !strings.Contains(s.Held[0].Message, "limits.maxRenewalSpendPerRun") {
		t.Fatalf("held: %+v %+v", s.LastRun, s.Held)
	}
	if n := len(e.emu.RenewalLog()); n != 1 {
		t.Fatalf("%d renewals over the limit", n)
	}
	e.lint()
}

// An instance deleted by hand whose token a daemon replays is told
// truthfully: the token returned an ID that DescribeInstances does not
// list, so the slot waits (never "created"), and /status, the page and
// lightkeeper_creates_total{result="waiting"} say when a new server is
// bought; after the window it is.
func TestDaemonTellsAVanishedInstance(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	e.start(e.options())
	e.waitRuns(1)
	e.clock.Advance(emulator.DefaultLaunchDelay)
	all := e.emu.Instances()
	if len(all) != 1 {
		t.Fatalf("%d instances", len(all))
	}
	gone := all[0].InstanceId
	if err := e.emu.DeleteInstance(gone); err != nil {
		t.Fatal(err)
	}
	// A daemon started anew (no state directory here: it remembers
	// nothing) replays the slot's token.
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	e.start(e.options())
	s := e.waitRuns(1)
	f := s.Fleets[0]
	want := "slot 0: the token returned " + gone + ", which is not listed; a new server is bought at "
	if f.Created != 0 || len(f.Waiting) != 1 || !strings.Contains(f.Waiting[0], want) || s.LastRun.Created != 0 {
		t.Fatalf("/status after the deletion: fleet %+v, last run %+v; want %q waiting and nothing created", f, s.LastRun, want)
	}
	if _, page := e.get("/"); !strings.Contains(page, want) {
		t.Errorf("the page does not say %q", want)
	}
	if v := e.metric("lightkeeper_creates_total", "result", "waiting"); v != 1 {
		t.Errorf(`lightkeeper_creates_total{result="waiting"} = %v`, v)
	}
	if v := e.metric("lightkeeper_creates_total", "result", "created"); v != 0 {
		t.Errorf(`lightkeeper_creates_total{result="created"} = %v, want 0`, v)
	}
	e.clock.Advance(reconcile.DefaultExpectWindow + time.Minute)
	if s := e.cycle(); s.Fleets[0].Created != 1 || e.live("web-") != 1 {
		t.Errorf("after the window: %+v, %d live", s.Fleets[0], e.live("web-"))
	}
}
