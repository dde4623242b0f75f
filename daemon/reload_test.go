package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// TestPreviousCarriesCounters: a daemon that replaces another (a reload)
// keeps its registry, its metrics and the counters of its status,
// including the terms as leader.
func TestPreviousCarriesCounters(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	l := newFakeLeadership("lk-a")
	opts := e.options()
	opts.Leadership = l
	e.start(opts)
	e.waitRuns(1)
	l.elect(t, true)
	e.waitRuns(2)
	e.d.Trigger()
	before := e.waitRuns(3)
	webhooks := e.metric("lightkeeper_triggers_total", "source", "webhook")
	seconds := e.metric("lightkeeper_leader_seconds_total")
	if err := e.stop(); err != nil { // resigns: a term lost
		t.Fatal(err)
	}
	prev, reg := e.d, e.reg

	l2 := newFakeLeadership("lk-a")
	opts = e.options()
	opts.Leadership = l2
	opts.Registry = nil // Previous's is used
	opts.Previous = prev
	e.start(opts)
	e.reg = reg // what /metrics serves: the previous daemon's registry
	if code, body := e.get("/metrics"); code != 200 || !strings.Contains(body, "lightkeeper_reconcile_runs_total") {
		t.Fatalf("/metrics: %d", code)
	}
	s := e.waitRuns(before.Runs + 1)
	if s.Runs != before.Runs+1 || s.HA == nil || s.HA.ElectionsWon != 1 || s.HA.ElectionsLost != 1 || s.LastSuccess.IsZero() {
		t.Fatalf("after the replacement: runs %d (was %d), ha %+v, last success %v", s.Runs, before.Runs, s.HA, s.LastSuccess)
	}
	if v := e.metric("lightkeeper_reconcile_runs_total", "result", daemon.ResultSuccess) + e.metric("lightkeeper_reconcile_runs_total", "result", daemon.ResultFollower); v != float64(s.Runs) {
		t.Errorf("runs_total %v, want %d", v, s.Runs)
	}
	if v := e.metric("lightkeeper_triggers_total", "source", "webhook"); v != webhooks {
		t.Errorf("triggers_total{webhook} %v, was %v", v, webhooks)
	}
	if v := e.metric("lightkeeper_leader_elections_total", "result", "won"); v != 1 {
		t.Errorf("elections won %v", v)
	}
	if v := e.metric("lightkeeper_leader_seconds_total"); v < seconds {
		t.Errorf("leader seconds %v, was %v", v, seconds)
	}
	l2.elect(t, true)
	e.waitRuns(s.Runs + 1)
	if v := e.metric("lightkeeper_leader_elections_total", "result", "won"); v != 2 {
		t.Errorf("elections won %v after a second term", v)
	}
	if s := e.d.Status(); s.HA.ElectionsWon != 2 {
		t.Errorf("/status electionsWon %d after a second term", s.HA.ElectionsWon)
	}
	if v := e.metric("lightkeeper_ready"); v != 1 {
		t.Errorf("ready %v", v)
	}
}

// TestTriggerGap: triggers that keep coming (a replayed webhook, a busy
// repository) are coalesced: a burst shorter than the gap costs at most
// two cycles, wherever it falls, instead of one per trigger.
func TestTriggerGap(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	const gap = 2 * time.Second
	opts.TriggerGap = gap
	e.start(opts)
	e.waitRuns(1)
	for range 100 { // over half a second: each cycle here takes milliseconds
		e.d.Trigger()
		time.Sleep(5 * time.Millisecond)
	}
	e.waitRuns(2)
	time.Sleep(gap + time.Second) // the longest a coalesced cycle waits
	if s := e.d.Status(); s.Runs > 3 {
		t.Errorf("%d cycles for one burst of 100 triggers; want at most 3 (the first, and two for the burst)", s.Runs)
	}
	if v := e.metric("lightkeeper_triggers_total", "source", "webhook"); v != 100 {
		t.Errorf("triggers_total{webhook} = %v", v)
	}
	// A coalesced cycle is no trigger of its own: start and the 100
	// webhooks are all that is counted.
	for _, source := range []string{daemon.TriggerStart, daemon.TriggerInterval, daemon.TriggerRetry, daemon.TriggerWebhook,
		daemon.TriggerWatch, daemon.TriggerElected, daemon.TriggerForwarded} {
		want := map[string]float64{daemon.TriggerStart: 1, daemon.TriggerWebhook: 100}[source]
		if v := e.metric("lightkeeper_triggers_total", "source", source); v != want {
			t.Errorf("triggers_total{source=%q} = %v, want %v", source, v, want)
		}
	}
	if s := e.d.Status(); s.LastRun.Trigger != daemon.TriggerWebhook {
		t.Errorf("the coalesced cycle's trigger %q, want %q", s.LastRun.Trigger, daemon.TriggerWebhook)
	}
}
