package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Tests of the engine's logic (Plan, Apply, State) on the Fake: each one a
// small deterministic story of what a run sees and what it must do.

func fakeCloud() (*reconciletest.Fake, *emulator.ManualClock) {
	clock := emulator.NewManualClock(reconciletest.Epoch)
	return reconciletest.NewFake(clock), clock
}

func fleetsOf(t *testing.T, defs ...fleetDef) []*spec.Fleet {
	t.Helper()
	fleets, err := load(defs)
	if err != nil {
		t.Fatal(err)
	}
	return fleets
}

func web(count int) fleetDef {
	return fleetDef{name: "web", region: "ap-guangzhou", bundle: "bundle_gen_01", count: count}
}

// once plans and applies with r and fails the test on an error.
func once(t *testing.T, r *reconcile.Reconciler, fleets []*spec.Fleet) (*reconcile.Plan, *reconcile.Result) {
	t.Helper()
	ctx := context.Background()
	p, err := r.Plan(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

func countLive(all []lighthouse.Instance) (n int) {
	for _, in := range all {
		if reconcile.Live(in.InstanceState) {
			n++
		}
	}
	return n
}

func TestAmbiguousCreateIsResentWithItsToken(t *testing.T) {
	for _, kind := range []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultInternalError, emulator.FaultHTTP5xx} {
		t.Run(string(kind), func(t *testing.T) {
			cloud, clock := fakeCloud()
			cloud.DescribeLag = time.Minute // a committed create stays unlisted
			fleets := fleetsOf(t, web(1))
			r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
			cloud.Fail(lighthouse.ActionCreateInstances, kind, 1)
			p, res := once(t, r, fleets)
			if res.Ambiguous != 1 || res.Created != 0 {
				t.Fatalf("first run: %+v", res)
			}
			token := p.Fleets[0].Creates[0].ClientToken
			if e := r.State().Expectations(); len(e) != 1 || e[0].InstanceID != "" || e[0].Token != token {
				t.Fatalf("expectations %+v", e)
			}
			clock.Advance(10 * time.Second)
			p, res = once(t, r, fleets)
			c := p.Fleets[0].Creates
			if len(c) != 1 || !c[0].Resend || c[0].ClientToken != token {
				t.Fatalf("second plan: %+v", c)
			}
			// Describe lags: the instance is bought but not listed, so
			// the result says the slot waits for it, not that it was
			// created.
			if all := cloud.All(); len(all) != 1 || res.Created != 0 || res.Waiting != 1 || res.Fleets[0].Waiting[0].InstanceID != all[0].InstanceId {
				t.Fatalf("the resend bought %d instances: %+v", len(all), res)
			}
			// Unlisted but expected: the next run waits.
			if p, _ := once(t, r, fleets); p.Changes() || p.Fleets[0].Expected != 1 {
				t.Fatalf("third plan: %+v", p.Fleets[0])
			}
		})
	}
}

func TestOneShotRunsWalkDeadIncarnations(t *testing.T) {
	cloud, clock := fakeCloud()
	failures := 2
	cloud.LaunchFails = func(string) bool { failures--; return failures >= 0 }
	fleets := fleetsOf(t, web(1))
	for run := range 3 {
		// A fresh Reconciler each time: no state directory.
		_, res := once(t, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}), fleets)
		if res.Created != 1 || res.Fleets[0].Created[0].Incarnation != run {
			t.Fatalf("run %d: %+v", run, res.Fleets[0])
		}
		// Past the launch and the backoff that its failure starts.
		clock.Advance(max(emulator.DefaultLaunchDelay, reconcile.LaunchBackoff{}.Delay(run+1)))
	}
	if all := cloud.All(); len(all) != 3 || countLive(all) != 1 {
		t.Fatalf("instances %+v", all)
	}
	p, _ := once(t, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}), fleets)
	if p.Changes() || p.Fleets[0].Failed != 2 {
		t.Fatalf("converged plan: %+v", p.Fleets[0])
	}
}

// A slot whose instance was deleted by hand is refilled under every
// TokenGone policy, and exactly once.
func TestDeletedInstanceIsReplacedOnce(t *testing.T) {
	for _, policy := range policies {
		t.Run(string(policy), func(t *testing.T) {
			cloud, clock := fakeCloud()
			cloud.TokenGone = policy
			fleets := fleetsOf(t, web(1))
			r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
			once(t, r, fleets)
			clock.Advance(emulator.DefaultLaunchDelay)
			once(t, r, fleets)
			if err := cloud.DeleteInstance(cloud.All()[0].InstanceId); err != nil {
				t.Fatal(err)
			}
			for run := 0; countLive(cloud.All()) == 0; run++ {
				if run == 3 {
					t.Fatalf("not refilled after %d runs", run)
				}
				once(t, r, fleets)
				clock.Advance(reconcile.DefaultExpectWindow + time.Second)
			}
			if all := cloud.All(); len(all) != 1 {
				t.Fatalf("%d instances", len(all))
			}
			if p, _ := once(t, r, fleets); p.Changes() {
				t.Fatalf("plan after refill: %+v", p.Fleets[0])
			}
		})
	}
}

func TestExpectationHoldsTheSlotForItsWindow(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.DescribeLag = 4 * time.Minute
	fleets := fleetsOf(t, web(2))
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	once(t, r, fleets)
	for _, d := range []time.Duration{time.Minute, 2 * time.Minute} {
		clock.Advance(d)
		p, _ := once(t, r, fleets)
		if p.Changes() || p.Fleets[0].Expected != 2 || len(p.Fleets[0].Waiting) != 2 {
			t.Fatalf("inside the window: %+v", p.Fleets[0])
		}
	}
	// One instance vanishes before it is ever listed: once the window
	// passes, its slot moves to the next incarnation.
	if err := cloud.DeleteInstance(cloud.All()[0].InstanceId); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Minute)
	p, res := once(t, r, fleets)
	if c := p.Fleets[0].Creates; len(c) != 1 || c[0].Incarnation != 1 || res.Created+res.Waiting != 1 {
		t.Fatalf("past the window: %+v %+v", c, res)
	}
	if n := len(cloud.All()); n != 2 {
		t.Fatalf("%d instances", n)
	}
}

func TestSurplusIsIsolatedOnlyWhenOwned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tags  bool
		fresh bool // a one-shot run with no state
		want  string
	}{
		{"tagged", true, true, reconcile.ActionIsolate},
		{"recorded in the state", false, false, reconcile.ActionIsolate},
		{"name only", false, true, reconcile.ActionReport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud, clock := fakeCloud()
			d := web(3)
			d.isolate = true
			opts := reconcile.Options{Now: clock.Now, Tags: tc.tags}
			r := reconcile.New(cloud, nil, opts)
			once(t, r, fleetsOf(t, d))
			clock.Advance(emulator.DefaultLaunchDelay)
			d.count = 1
			if tc.fresh {
				r = reconcile.New(cloud, nil, opts)
			}
			p, res := once(t, r, fleetsOf(t, d))
			sp := p.Fleets[0].Surplus
			if len(sp) != 2 || sp[0].Slot != 2 || sp[0].Action != tc.want || sp[1].Action != tc.want || sp[0].Reason == "" {
				t.Fatalf("surplus %+v", sp)
			}
			clock.Advance(emulator.DefaultOperationDelay)
			wantLive := map[string]int{reconcile.ActionIsolate: 1, reconcile.ActionReport: 3}[tc.want]
			if n := countLive(cloud.All()); n != wantLive || res.Isolated != 3-wantLive {
				t.Fatalf("%d live after the apply, %d isolated", n, res.Isolated)
			}
		})
	}
}

func TestPlanBuysNothing(t *testing.T) {
	cloud, clock := fakeCloud()
	fleets := fleetsOf(t, web(3))
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, APIDryRun: true})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	if p.Totals.Creates != 3 || len(cloud.All()) != 0 || cloud.Calls(lighthouse.ActionCreateInstances) != 1 {
		t.Fatalf("plan: %d creates, %d instances, %d CreateInstances calls (one DryRun expected)", p.Totals.Creates, len(cloud.All()), cloud.Calls(lighthouse.ActionCreateInstances))
	}
	if p.Check(reconcile.Limits{MaxCreates: 2, MaxMonthlySpend: reconcile.NoLimit}) {
		if _, err := r.Apply(context.Background(), p, false); err != reconcile.ErrOverLimit || len(cloud.All()) != 0 {
			t.Fatalf("apply over the limit: %v, %d instances", err, len(cloud.All()))
		}
	} else {
		t.Fatal("3 creates passed --max-creates 2")
	}
}

func TestTwoRunnersBuyOnce(t *testing.T) {
	cloud, clock := fakeCloud()
	fleets := fleetsOf(t, web(4))
	a := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	b := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	pa, _ := a.Plan(context.Background(), fleets)
	pb, _ := b.Plan(context.Background(), fleets)
	done := make(chan struct{})
	go func() { a.Apply(context.Background(), pa, false); close(done) }()
	b.Apply(context.Background(), pb, false)
	<-done
	if n := len(cloud.All()); n != 4 {
		t.Fatalf("two runners bought %d instances for 4 slots", n)
	}
}

func Example_fakeCloud() {
	clock := emulator.NewManualClock(reconciletest.Epoch)
	cloud := reconciletest.NewFake(clock)
	fleets, _ := load([]fleetDef{web(2)})
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	p, _ := r.Plan(context.Background(), fleets)
	res, _ := r.Apply(context.Background(), p, false)
	fmt.Println(p.Totals.Creates, res.Created, len(cloud.All()))
	// Output: 2 2 2
}

// Found by chaos seed 3 (reduced): a create ends ambiguously but was
// carried out, Describe does not list the instance yet, and the fleet's
// bundle changes. The resend carries the same token with other parameters;
// a service that rejects that (IdempotentParameterMismatch) proves the token
// was used, so the slot must keep waiting for the instance, not move to a
// new incarnation and buy a second one.
func TestAmbiguousCreateThenSpecChangeBuysOnce(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.DescribeLag = 2 * time.Minute
	cloud.TokenMismatch = emulator.TokenReject
	d := web(1)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	cloud.Fail(lighthouse.ActionCreateInstances, emulator.FaultDropResponse, 1)
	if _, res := once(t, r, fleetsOf(t, d)); res.Ambiguous != 1 {
		t.Fatalf("first run: %+v", res)
	}
	d.bundle = "bundle_gen_02"
	for range 3 {
		clock.Advance(30 * time.Second)
		once(t, r, fleetsOf(t, d))
		if n := len(cloud.All()); n != 1 {
			t.Fatalf("%d instances for one slot", n)
		}
	}
	// Once the instance is listed, the slot is filled and its drift shown.
	clock.Advance(time.Minute)
	p, _ := once(t, r, fleetsOf(t, d))
	if fp := p.Fleets[0]; p.Changes() || fp.Live != 1 || len(fp.Drift) != 1 || fp.Drift[0].Field != "spec.bundleId" {
		t.Fatalf("after the lag: %+v", fp)
	}
	if n := len(cloud.All()); n != 1 {
		t.Fatalf("%d instances for one slot", n)
	}
}

// A run without state cannot tell an instance deleted by hand from one that
// Describe does not list yet: under TokenGone return-original the slot's
// token keeps answering the deleted ID, which each one-shot run takes for a
// new instance and waits for. The slot is refilled once the service forgets
// the token, never twice; a daemon (or --state-dir) refills it after one
// expectation window (TestDeletedInstanceIsReplacedOnce).
func TestOneShotRunsRefillADeletedSlotOnceTheTokenIsForgotten(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.TokenWindow = 30 * time.Minute
	fleets := fleetsOf(t, web(1))
	oneShot := func() *reconcile.Result {
		_, res := once(t, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}), fleets)
		return res
	}
	oneShot()
	clock.Advance(emulator.DefaultLaunchDelay)
	deleted := cloud.All()[0].InstanceId
	if err := cloud.DeleteInstance(deleted); err != nil {
		t.Fatal(err)
	}
	for clock.Now().Sub(reconciletest.Epoch) < cloud.TokenWindow {
		// The token still returns the deleted instance: the run says the
		// slot waits for it, never that it created it.
		res := oneShot()
		if len(cloud.All()) != 0 || res.Created != 0 || res.Waiting != 1 || res.Fleets[0].Waiting[0].InstanceID != deleted {
			t.Fatalf("at %s: %d instances, %+v", clock.Now().Sub(reconciletest.Epoch), len(cloud.All()), res.Fleets[0])
		}
		clock.Advance(reconcile.DefaultExpectWindow + time.Second)
	}
	oneShot()
	oneShot()
	if all := cloud.All(); len(all) != 1 || all[0].InstanceId == deleted {
		t.Fatalf("after the token window: %+v", all)
	}
}

// Outside the guarantee, damage is bounded and reported: Describe lags
// longer than the expectation window, so a run buys a second instance for a
// slot whose first is not listed yet (one per run at most), and once both
// are listed the plan reports the second as surplus, with a reason.
func TestLagPastTheWindowBuysOnceMoreAndSaysSo(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.DescribeLag = 7 * time.Minute
	fleets := fleetsOf(t, web(1))
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	once(t, r, fleets)
	clock.Advance(reconcile.DefaultExpectWindow + time.Second)
	if _, res := once(t, r, fleets); res.Created+res.Waiting != 1 || len(cloud.All()) != 2 {
		t.Fatalf("past the window: %+v, %d instances", res, len(cloud.All()))
	}
	clock.Advance(time.Minute)
	if _, res := once(t, r, fleets); res.Created+res.Waiting != 0 || len(cloud.All()) != 2 {
		t.Fatalf("inside the second create's window: %+v, %d instances", res, len(cloud.All()))
	}
	clock.Advance(7 * time.Minute)
	p, _ := once(t, r, fleets)
	fp := p.Fleets[0]
	if p.Changes() || fp.Live != 1 || len(fp.Surplus) != 1 || fp.Surplus[0].Action != reconcile.ActionReport || !strings.Contains(fp.Surplus[0].Reason, "second live instance in slot 0") {
		t.Fatalf("the duplicate is not reported: %+v", fp)
	}
}

// Outside the guarantee (docs/design.md section 5.6, condition 3): a daemon and a run without
// state replace the same hand-deleted instance at once, under a service that
// treats a token whose instances are gone as new (TokenGone create-new). The
// daemon knows incarnation 0 is dead and sends incarnation 1's token; the
// run without state sends incarnation 0's, which the service honours anew.
// Each buys one; the next plan reports the second.
func TestRunnersWithoutSharedStateUnderTokenGoneCreateNew(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.TokenGone = emulator.TokenCreateNew
	fleets := fleetsOf(t, web(1))
	daemon := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	once(t, daemon, fleets)
	if err := cloud.DeleteInstance(cloud.All()[0].InstanceId); err != nil {
		t.Fatal(err)
	}
	clock.Advance(reconcile.DefaultExpectWindow + time.Second)
	oneShot := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	ctx := context.Background()
	pd, _ := daemon.Plan(ctx, fleets)
	po, _ := oneShot.Plan(ctx, fleets)
	if pd.Fleets[0].Creates[0].Incarnation != 1 || po.Fleets[0].Creates[0].Incarnation != 0 {
		t.Fatalf("incarnations: daemon %d, one-shot %d", pd.Fleets[0].Creates[0].Incarnation, po.Fleets[0].Creates[0].Incarnation)
	}
	daemon.Apply(ctx, pd, false)
	oneShot.Apply(ctx, po, false)
	if n := countLive(cloud.All()); n != 2 {
		t.Fatalf("%d live instances; condition 3 of docs/design.md section 5.6 says why there are 2 (update it if this changed)", n)
	}
	clock.Advance(emulator.DefaultLaunchDelay)
	p, _ := once(t, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}), fleets)
	if fp := p.Fleets[0]; p.Changes() || len(fp.Surplus) != 1 || fp.Surplus[0].Reason == "" {
		t.Fatalf("the duplicate is not reported: %+v", fp)
	}
}

// The cost of waiting a window on a refused token: runs without state
// record the wait and forget it, so after a spec change under TokenMismatch
// reject a slot whose instance died (LAUNCH_FAILED) is refilled by one-shot
// runs only once the service forgets the dead instance's token. A daemon
// (or --state-dir) refills it one window after the first refusal.
func TestRefusedTokenAfterASpecChange(t *testing.T) {
	for _, withState := range []bool{false, true} {
		t.Run(fmt.Sprintf("state %v", withState), func(t *testing.T) {
			cloud, clock := fakeCloud()
			cloud.TokenMismatch = emulator.TokenReject
			cloud.TokenWindow = 30 * time.Minute
			cloud.LaunchFails = func(string) bool { return true }
			d := web(1)
			daemon := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
			once(t, daemon, fleetsOf(t, d))
			clock.Advance(emulator.DefaultLaunchDelay)
			cloud.LaunchFails = nil
			d.bundle = "bundle_gen_02"
			refilled := time.Duration(0)
			for countLive(cloud.All()) == 0 && clock.Now().Sub(reconciletest.Epoch) < time.Hour {
				r := daemon
				if !withState {
					r = reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
				}
				once(t, r, fleetsOf(t, d))
				refilled = clock.Now().Sub(reconciletest.Epoch)
				clock.Advance(time.Minute)
			}
			want := map[bool]time.Duration{false: 30 * time.Minute, true: 6 * time.Minute}[withState]
			if all := cloud.All(); countLive(all) != 1 || len(all) != 2 || refilled > want+time.Minute {
				t.Fatalf("refilled at %s (want by %s): %d instances, %d live", refilled, want, len(all), countLive(all))
			}
		})
	}
}
