package daemon_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// A fleet with spec.update follows a blueprint change through the cycles
// of the daemon, one batch a cycle within limits.maxUpdatesPerRun, and
// /status, the page and the metrics show where it stands.
func TestDaemonRollout(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": rolledFleet("lhbp-g0tn7djh")})
	opts := e.options()
	opts.Limits.MaxUpdates = 0 // the default: rollouts are only reported
	e.start(opts)
	e.waitRuns(1)
	e.clock.Advance(emulator.DefaultLaunchDelay)
	e.write("web.yaml", rolledFleet("lhbp-a7oxy2bx"))
	s := e.cycle()
	fs := s.Fleets[0]
	if fs.Rollout == nil || fs.Rollout.Outdated != 3 || fs.Rollout.Changed != 0 || fs.State != "updating" {
		t.Fatalf("held by maxUpdatesPerRun 0: %+v %+v", fs, fs.Rollout)
	}
	if !strings.Contains(rolloutUpdates(t, s)[0].HeldBy, "max-updates") {
		t.Errorf("held update %+v", rolloutUpdates(t, s)[0])
	}
	if v := e.metric("lightkeeper_fleet_instances", "fleet", "web", "state", "outdated"); v != 3 {
		t.Errorf("outdated gauge %v", v)
	}
	e.stop()

	// With a limit, one reset a cycle (maxUnavailable 1).
	opts = e.options()
	opts.Limits.MaxUpdates = reconcile.NoLimit
	e.start(opts)
	e.waitRuns(1)
	resets := func() int {
		n := 0
		for _, in := range e.emu.Instances() {
			if in.LatestOperation == lighthouse.ActionResetInstance {
				n++
			}
		}
		return n
	}
	for i := 0; i < 12 && resets() < 3; i++ {
		e.clock.Advance(emulator.DefaultOperationDelay)
		s = e.cycle()
		if busy := countOperating(e.emu.Instances()); busy > 1 {
			t.Fatalf("cycle %d: %d instances resetting at once, maxUnavailable 1", i, busy)
		}
	}
	e.clock.Advance(emulator.DefaultOperationDelay)
	s = e.cycle()
	fs = s.Fleets[0]
	if fs.Rollout == nil || fs.Rollout.Updated != 3 || fs.State != "ok" {
		t.Fatalf("after the rollout: %+v %+v", fs, fs.Rollout)
	}
	for _, in := range e.emu.Instances() {
		if in.BlueprintId != "lhbp-a7oxy2bx" {
			t.Errorf("%s is on %s", in.InstanceId, in.BlueprintId)
		}
	}
	if v := e.metric("lightkeeper_updates_total", "action", "reset", "result", "sent"); v != 3 {
		t.Errorf("lightkeeper_updates_total{reset,sent} %v, want 3", v)
	}
	if _, page := e.get("/"); !strings.Contains(page, "3/3 updated (inPlace)") {
		t.Errorf("the page does not show the rollout")
	}
	e.lint()
}

// rolledFleet is a fleet web of 3 on blueprint, with spec.update inPlace,
// maxUnavailable 1.
func rolledFleet(blueprint string) string {
	return strings.Replace(fleet("web", "bundle_gen_01", 3), "blueprintId: lhbp-g0tn7djh", "blueprintId: "+blueprint, 1) +
		"  update: {strategy: inPlace, maxUnavailable: 1}\n"
}

func countOperating(all []lighthouse.Instance) int {
	n := 0
	for _, in := range all {
		if in.LatestOperationState == lighthouse.OperationOperating {
			n++
		}
	}
	return n
}

// rolloutUpdates reads the first fleet's rollout updates from the status
// as /status serves it.
func rolloutUpdates(t *testing.T, s daemon.Status) []reconcile.Update {
	t.Helper()
	b, err := json.Marshal(s.Plan)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Fleets []struct {
			Rollout struct {
				Updates []reconcile.Update `json:"updates"`
			} `json:"rollout"`
		} `json:"fleets"`
	}
	if err := json.Unmarshal(b, &p); err != nil || len(p.Fleets) == 0 || len(p.Fleets[0].Rollout.Updates) == 0 {
		t.Fatalf("no rollout in /status: %v %s", err, b)
	}
	return p.Fleets[0].Rollout.Updates
}
