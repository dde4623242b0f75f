package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Whole rollouts on the Fake: a fleet of 4 is created, its spec changes,
// and runs of Plan and Apply (as a daemon makes them) take it to the new
// shape within its bounds, never sending a change twice.

const centos = "lhbp-a7oxy2bx"

// webSpec is fleet web of count in ap-guangzhou-3 with the blueprint, the
// bundle and an update block.
func webSpec(t *testing.T, count int, bundle, blueprint, update string) []*spec.Fleet {
	t.Helper()
	y := fmt.Sprintf("apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  region: ap-guangzhou\n  count: %d\n  bundleId: %s\n  blueprintId: %s\n  zones: [ap-guangzhou-3]\n  charge: {period: 1}\n  update: %s\n",
		count, bundle, blueprint, update)
	fleets, err := spec.Load(fstest.MapFS{"web.yaml": {Data: []byte(y)}}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fleets
}

// cycle is one daemon cycle: Plan, Check with limits, Apply.
func cycle(t *testing.T, r *reconcile.Reconciler, fleets []*spec.Fleet, l reconcile.Limits) (*reconcile.Plan, *reconcile.Result) {
	t.Helper()
	ctx := context.Background()
	p, err := r.Plan(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	p.Check(l)
	res, err := r.Apply(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

// watch checks the bounds on the cloud as it is: at least min slots
// served by a RUNNING instance with no operation running, at most max
// live instances.
func watch(t *testing.T, cloud *reconciletest.Fake, min, max int, when string) {
	t.Helper()
	serving := map[string]bool{}
	live := 0
	for _, in := range cloud.All() {
		if !reconcile.Live(in.InstanceState) {
			continue
		}
		live++
		if in.InstanceState == lighthouse.StateRunning && in.LatestOperationState != lighthouse.OperationOperating {
			serving[in.InstanceName] = true
		}
	}
	if len(serving) < min || live > max {
		t.Fatalf("%s: %d slots served (at least %d), %d live (at most %d)", when, len(serving), min, live, max)
	}
}

func rolloutToCentOS(t *testing.T, update string, minServing, maxLive, wantResets, wantCreates int) {
	cloud, clock := fakeCloud()
	limits := reconcile.NoLimits()
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true})
	before := webSpec(t, 4, "bundle_gen_01", "lhbp-g0tn7djh", update)
	cycle(t, r, before, limits)
	clock.Advance(emulator.DefaultLaunchDelay)
	after := webSpec(t, 4, "bundle_gen_01", centos, update)
	done := false
	for run := 0; run < 40 && !done; run++ {
		p, res := cycle(t, r, after, limits)
		watch(t, cloud, minServing, maxLive, fmt.Sprintf("run %d", run))
		fp := p.Fleets[0]
		if fp.Rollout == nil {
			t.Fatalf("run %d: no rollout", run)
		}
		done = !p.Changes() && fp.Rollout.Updated == 4
		for _, f := range res.Fleets[0].Failures {
			t.Errorf("run %d: failure %+v", run, f)
		}
		clock.Advance(3 * time.Second)
		watch(t, cloud, minServing, maxLive, fmt.Sprintf("run %d, later", run))
		clock.Advance(15 * time.Second)
	}
	if !done {
		t.Fatal("the rollout did not end in 40 runs")
	}
	live := 0
	for _, in := range cloud.All() {
		if reconcile.Live(in.InstanceState) {
			live++
			if in.BlueprintId != centos {
				t.Errorf("%s %s is on %s", in.InstanceId, in.InstanceName, in.BlueprintId)
			}
		}
	}
	if live != 4 {
		t.Errorf("%d live instances at the end, want 4", live)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != wantResets {
		t.Errorf("%d resets sent, want %d", n, wantResets)
	}
	if n := len(cloud.All()); n != 4+wantCreates {
		t.Errorf("%d instances bought, want %d", n, 4+wantCreates)
	}
}

func TestRolloutInPlaceResetsEachOnce(t *testing.T) {
	rolloutToCentOS(t, "{strategy: inPlace, maxUnavailable: 1}", 3, 4, 4, 0)
}

func TestRolloutReplaceWithSurge(t *testing.T) {
	rolloutToCentOS(t, "{strategy: replace, maxUnavailable: 0, maxSurge: 1}", 4, 5, 0, 4)
}

func TestRolloutReplaceWithoutSurge(t *testing.T) {
	rolloutToCentOS(t, "{strategy: replace, maxUnavailable: 1}", 3, 4, 0, 4)
}

// A reset whose answer is lost is not sent again: the next run sees it
// running, then done.
func TestRolloutLostResetIsNotResent(t *testing.T) {
	cloud, clock := fakeCloud()
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true})
	cycle(t, r, webSpec(t, 1, "bundle_gen_01", "lhbp-g0tn7djh", "{strategy: inPlace}"), reconcile.NoLimits())
	clock.Advance(emulator.DefaultLaunchDelay)
	after := webSpec(t, 1, "bundle_gen_01", centos, "{strategy: inPlace}")
	cloud.Fail(lighthouse.ActionResetInstance, emulator.FaultDropResponse, 1)
	_, res := cycle(t, r, after, reconcile.NoLimits())
	if u := res.Fleets[0].Updates; len(u) != 1 || u[0].Outcome != "unknown" || res.OK() {
		t.Fatalf("the lost reset: %+v", u)
	}
	for i := range 3 {
		// Without state too: a runner that never saw the intent.
		for _, rr := range []*reconcile.Reconciler{r, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true})} {
			p, _ := cycle(t, rr, after, reconcile.NoLimits())
			if p.Totals.Updates != 0 {
				t.Fatalf("run %d plans the reset again: %+v", i, p.Fleets[0].Rollout.Updates)
			}
		}
		clock.Advance(2 * time.Second)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 1 {
		t.Fatalf("%d resets sent", n)
	}
	if all := cloud.All(); all[0].BlueprintId != centos {
		t.Errorf("blueprint %s", all[0].BlueprintId)
	}
}

// A failed reset pauses the fleet's rollout; nothing more is sent.
func TestRolloutFailurePauses(t *testing.T) {
	cloud, clock := fakeCloud()
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true})
	cycle(t, r, webSpec(t, 3, "bundle_gen_01", "lhbp-g0tn7djh", "{strategy: inPlace}"), reconcile.NoLimits())
	clock.Advance(emulator.DefaultLaunchDelay)
	cloud.FailOperations(lighthouse.ActionResetInstance, "", 1)
	after := webSpec(t, 3, "bundle_gen_01", centos, "{strategy: inPlace}")
	for range 5 {
		cycle(t, r, after, reconcile.NoLimits())
		clock.Advance(time.Minute)
	}
	p, _ := cycle(t, r, after, reconcile.NoLimits())
	ro := p.Fleets[0].Rollout
	if !strings.Contains(ro.Paused, "failed") || p.Totals.Updates != 0 {
		t.Fatalf("after a failed reset: paused %q, %d updates", ro.Paused, p.Totals.Updates)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 1 {
		t.Errorf("%d resets sent, want 1", n)
	}
}

// With --max-updates 0 (the default) a rollout is only reported, and the
// plan still has changes pending.
func TestRolloutHeldByMaxUpdates(t *testing.T) {
	cloud, clock := fakeCloud()
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true})
	cycle(t, r, webSpec(t, 2, "bundle_gen_01", "lhbp-g0tn7djh", "{strategy: inPlace, maxUnavailable: 2}"), reconcile.NoLimits())
	clock.Advance(emulator.DefaultLaunchDelay)
	after := webSpec(t, 2, "bundle_gen_01", centos, "{strategy: inPlace, maxUnavailable: 2}")
	l := reconcile.NoLimits()
	l.MaxUpdates = 0
	p, _ := cycle(t, r, after, l)
	if !p.Changes() || p.Totals.Updates != 0 || len(p.Violations) != 0 || cloud.Calls(lighthouse.ActionResetInstance) != 0 {
		t.Fatalf("held: changes %v, updates %d, violations %v", p.Changes(), p.Totals.Updates, p.Violations)
	}
	for _, u := range p.Fleets[0].Rollout.Updates {
		if u.Status != reconcile.StatusHeld || u.HeldBy != reconcile.LimitUpdates {
			t.Errorf("update %+v", u)
		}
	}
	l.MaxUpdates = 1
	p, _ = cycle(t, r, after, l)
	if p.Totals.Updates != 1 || cloud.Calls(lighthouse.ActionResetInstance) != 1 {
		t.Fatalf("--max-updates 1: %d updates, %d resets", p.Totals.Updates, cloud.Calls(lighthouse.ActionResetInstance))
	}
}
