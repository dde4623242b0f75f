package reconcile_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The rollout's costs against the emulator over HTTP (docs/benchmarks.md,
// "Rollouts"): the calls a steady state makes with spec.update set, and an
// in-place reset rollout of 100 instances against its lower bound.

// updateFleets returns n fleets of count in ap-guangzhou with the
// blueprint and the update block.
func updateFleets(tb testing.TB, n, count int, blueprint, update string) []*spec.Fleet {
	tb.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: u%03d}\nspec:\n  region: ap-guangzhou\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: %s\n  charge: {period: 1}\n  update: %s\n",
			i, count, blueprint, update)
	}
	return loadSpec(tb, b.String())
}

// TestRolloutSteadyStateCalls: fleets with spec.update set and nothing to
// do make exactly the DescribeInstances sweep, one page per 100 instances,
// and nothing else: no DescribeModifyInstanceBundles,
// DescribeResetInstanceBlueprints or DescribeInstancesDeniedActions (asked
// only when something differs), whether the runner has a State or not.
func TestRolloutSteadyStateCalls(t *testing.T) {
	for _, update := range []string{"{strategy: inPlace, maxUnavailable: 2, minReady: 30s}", "{strategy: replace, maxSurge: 1, maxUnavailable: 0}"} {
		t.Run(update, func(t *testing.T) {
			e := newScaleEnv(t, 0)
			fleets := updateFleets(t, 20, 10, "lhbp-g0tn7djh", update) // 200 instances
			e.fill(t, fleets)
			want := map[string]int{lighthouse.ActionDescribeInstances: 2}
			if calls := steadyRun(t, e, fleets); !maps.Equal(calls, want) {
				t.Errorf("steady-state run without state made %v, want %v", calls, want)
			}
			// A daemon's: its State remembers when each was first ready.
			r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
			for run := range 3 {
				before := e.apiCalls()
				_, res := cycleOn(t, r, fleets)
				calls := map[string]int{}
				for a, n := range e.apiCalls() {
					if d := n - before[a]; d > 0 {
						calls[a] = d
					}
				}
				if !maps.Equal(calls, want) || !res.OK() {
					t.Errorf("daemon run %d made %v, want %v", run, calls, want)
				}
				e.advance(time.Minute)
			}
		})
	}
}

// cycleOn is one plan and apply with no limits.
func cycleOn(t *testing.T, r *reconcile.Reconciler, fleets []*spec.Fleet) (*reconcile.Plan, *reconcile.Result) {
	t.Helper()
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	p.Check(reconcile.NoLimits())
	res, err := r.Apply(context.Background(), p, false)
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

// TestRolloutReset100 rolls 100 instances in place to another blueprint
// with maxUnavailable 10 and minReady 30s, a daemon run every tick of the
// emulator's manual clock, and measures the rollout's time on that clock
// against its lower bound, 10 batches x (the reset's duration + minReady),
// and the API calls of each batch. The clock is the emulator's: a reset
// there takes OperationDelay of its clock, so the time measured is the
// engine's scheduling (how many ticks it loses between batches), exactly
// and the same on every machine; the real time the runs took is logged
// beside it.
func TestRolloutReset100(t *testing.T) {
	const (
		opDelay  = 20 * time.Second
		minReady = 30 * time.Second
		tick     = 5 * time.Second
	)
	e := newScaleEnv(t, 0, func(c *emulator.Config) { c.OperationDelay = opDelay })
	update := "{strategy: inPlace, maxUnavailable: 10, minReady: 30s}"
	e.fill(t, updateFleets(t, 1, 100, "lhbp-g0tn7djh", update))
	fleets := updateFleets(t, 1, 100, centos, update)
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	// The State learns when each instance was first ready: a run before the
	// change, and minReady of the clock, as a daemon has them.
	cycleOn(t, r, updateFleets(t, 1, 100, "lhbp-g0tn7djh", update))
	e.advance(minReady)

	start := e.clock.Now()
	realStart := time.Now()
	startCalls := e.apiCalls()
	var batches []map[string]int // calls of each run that sent resets
	runs, resets := 0, 0
	for ; runs < 2000; runs++ {
		before := e.apiCalls()
		p, res := cycleOn(t, r, fleets)
		sent := 0
		for _, u := range res.Fleets[0].Updates {
			if u.Action == reconcile.UpdateReset && u.Outcome == "sent" {
				sent++
			}
		}
		if sent > 0 {
			calls := map[string]int{}
			for a, n := range e.apiCalls() {
				if d := n - before[a]; d > 0 {
					calls[a] = d
				}
			}
			batches = append(batches, calls)
			resets += sent
			if sent > 10 {
				t.Fatalf("run %d sent %d resets, maxUnavailable is 10", runs, sent)
			}
		}
		if !p.Changes() && p.Fleets[0].Rollout.Updated == 100 {
			break
		}
		e.advance(tick)
	}
	elapsed := e.clock.Now().Sub(start)
	real := time.Since(realStart)
	// The rollout ends when the last batch's resets succeed: its minReady
	// gates no further batch. The issue's bound, 10 x (reset + minReady),
	// counts it as well.
	bound := 10*opDelay + 9*minReady
	issueBound := 10 * (opDelay + minReady)
	if resets != 100 || len(batches) != 10 {
		t.Fatalf("%d resets in %d batches, want 100 in 10", resets, len(batches))
	}
	if n := e.apiCalls()[lighthouse.ActionResetInstance]; n != 100 {
		t.Errorf("the emulator answered %d ResetInstance calls, want 100", n)
	}
	if elapsed < bound {
		t.Errorf("the rollout took %s of the clock, below its lower bound %s: the bounds were not kept", elapsed, bound)
	}
	total := 0
	for a, n := range e.apiCalls() {
		total += n - startCalls[a]
	}
	t.Logf("100 resets in %d batches: %s on the emulator's clock (%d runs, one a %s tick, %d API calls in all); lower bound %s (10 x %s + 9 x %s), %.1f%% over; with the last batch's minReady %s, the issue's bound 10 x (%s + %s) = %s; the runs took %s of real time",
		len(batches), elapsed, runs+1, tick, total, bound, opDelay, minReady, 100*(float64(elapsed)/float64(bound)-1), elapsed+minReady, opDelay, minReady, issueBound, real.Round(time.Millisecond))
	for i, calls := range batches {
		var parts []string
		for _, a := range slices.Sorted(maps.Keys(calls)) {
			parts = append(parts, fmt.Sprintf("%s %d", a, calls[a]))
		}
		t.Logf("batch %d: %s", i+1, strings.Join(parts, ", "))
	}
}
