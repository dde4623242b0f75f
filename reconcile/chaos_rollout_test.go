package reconcile_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The rollout chaos suite: seeded scenarios of fleets with spec.update
// against the emulator over HTTP on its manual clock (docs/design.md
// section 11.6). A scenario builds its fleets, then changes their shape in
// git between and during runs (blueprint, bundle, zone, renew flag,
// strategy, count, bounds), injects faults on the new actions (lost
// answers, 5xx, delays, operations that fail) and the old ones, runs the
// daemon, one-shot runners without state and two runners at once, moves
// the clock, and checks after every step:
//
//  1. no double action: the emulator's own record of the resets and bundle
//     changes it started (reconciletest.Emulator.Operations, which no lost
//     answer hides) holds, per instance and target, no more operations than
//     the times git asked for that target;
//
//  2. bounded disruption: a run never takes a fleet below count -
//     maxUnavailable slots served by a RUNNING instance with no operation
//     running (once it had reached its count), nor above count + maxSurge
//     live instances in its slots, nor two instances of one shape in a slot;
//
//  3. no overshoot after: once faults stop, the daemon ends every rollout
//     within a bounded number of runs, with each slot holding one live
//     instance of the spec's shape (what the strategy cannot change, and a
//     fleet paused after a failure, reported with a reason);
//
//  4. a --plan run changes nothing.
//
//     go test ./reconcile/ -run ChaosRollout -chaos.rollout 2000 -chaos.from 1
var chaosRolloutN = flag.Int("chaos.rollout", 200, "number of rollout chaos scenarios (seeds from..from+n-1)")

// rolloutRegressions are seeds that found something; they always run.
// 56, 242, 287: a runner sent a reset again after another runner's reset
// for the same change failed and the window passed (Judge: failedStays);
// 115: a reset behind a bundle downgrade the service refuses waited for a
// DescribeResetInstanceBlueprints answer never asked; 271, 793: duplicates
// beside a replacement held it forever; 416: a replacement paired under
// maxSurge 1 and isolated while maxSurge 0 refilled other slots (checker:
// an instance being isolated is leaving); 685: duplicates of two runners
// outside the create guarantees, one per slot per runner; 888: a slot's
// reported duplicate beside the instance that serves it (checker); 1338:
// a replacement for an earlier spec unlisted again by Describe lag got a
// third instance beside it (State.Settle keeps replacement expectations
// for the window; replace waits for an earlier spec's).
// 2695: the same across a spec change for a runner without state
// (outside: outsideReplacementHidden); 3471, 4365: a bundle change sent on
// an instance whose reset had failed hid the failure and let the reset go
// again (failedStays covers either action); 5326: a replacement deleted out
// of band under TokenGone return-original was created again with its
// token forever (the next attempt gets its own); 5221, 5402: found before
// those fixes, pass since; 6541: two runners in the same moment each took
// maxUnavailable (the bound is per runner, docs/design.md 11.4); 6864: a
// count raised beside replacements made under a larger maxSurge (the
// ceiling holds once the fleet reached its count); 8410: the end judged by
// a runner without the State, which saw minReady start again and no pause;
// 8590: a replacement hidden by Describe lag from a runner without state
// across a spec change, beside the daemon (outsideReplacementHidden).
var rolloutRegressions = []int64{56, 115, 242, 271, 287, 416, 685, 793, 888, 1338, 2695, 3471, 4365, 5221, 5326, 5402, 6541, 6864, 8410, 8590}

var rolloutStats struct {
	scenarios, outside, runs, resets, bundles, replacements, renewFlags, isolatedReplaced, lost, opFailures,
	paused, specChanges, midRollout, converged, convergeRuns, planRuns, notSent atomic.Int64
}

func TestChaosRollout(t *testing.T) {
	seeds := chaosSeeds(*chaosRolloutN, rolloutRegressions)
	t.Cleanup(func() {
		s := &rolloutStats
		t.Logf("rollout chaos: %d scenarios (%d outside the create guarantees): %d runs, %d plan-only; %d resets, %d bundle changes, %d replacements, %d renew-flag changes, %d replaced instances isolated; %d answers lost or unknown, %d operations failed (%d pauses), %d updates not sent at the last check of the bounds; %d spec changes (%d during a rollout); %d scenarios converged in %d daemon runs",
			s.scenarios.Load(), s.outside.Load(), s.runs.Load(), s.planRuns.Load(), s.resets.Load(), s.bundles.Load(), s.replacements.Load(), s.renewFlags.Load(),
			s.isolatedReplaced.Load(), s.lost.Load(), s.opFailures.Load(), s.paused.Load(), s.notSent.Load(), s.specChanges.Load(), s.midRollout.Load(), s.converged.Load(), s.convergeRuns.Load())
	})
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runRolloutScenario(t, seed)
		})
	}
}

// rolloutScenario is one running rollout chaos scenario.
type rolloutScenario struct {
	t      *testing.T
	seed   int64
	p      *rolloutPlan
	ctx    context.Context
	emu    *reconciletest.Emulator
	opts   reconcile.Options
	limits reconcile.Limits
	defs   []rolloutDef
	fleets []*spec.Fleet
	daemon *reconcile.Reconciler
	// wanted counts, per fleet key, action and target, the times git asked
	// for that target: the most operations of it an instance may get.
	wanted map[string]map[string]map[string]int
	// fleetOf maps every instance ever seen to its fleet key.
	fleetOf map[string]string
	// reached says which fleets had every slot served, since their count
	// last changed: the floor holds for them.
	reached map[string]bool
	trace   []string
}

func runRolloutScenario(t *testing.T, seed int64) {
	p := drawRollout(seed)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	emu := reconciletest.StartEmulator(t, p.cfg, lighthouse.Options{RetryMax: p.retryMax})
	s := &rolloutScenario{t: t, seed: seed, p: p, ctx: ctx, emu: emu, defs: slices.Clone(p.defs),
		wanted: map[string]map[string]map[string]int{}, fleetOf: map[string]string{}, reached: map[string]bool{}}
	s.opts = reconcile.Options{Tags: p.tags, Diff: reconcile.DiffOptions{ExpectWindow: p.window}, Now: emu.Clock.Now}
	s.limits = reconcile.NoLimits()
	s.daemon = reconcile.New(emu.Client, nil, s.opts)
	s.reload()
	for _, d := range s.defs {
		s.want(d, nil)
	}
	rolloutStats.scenarios.Add(1)
	if len(p.outside) > 0 {
		rolloutStats.outside.Add(1)
	}
	s.logf("settings: site %q, retryMax %d, tags %v, window %s, launch %s (failures %.2f), operations %s, busy as denied %v, mismatch %s, gone %s; fleets %+v",
		p.cfg.Site, p.retryMax, p.tags, p.window, p.cfg.LaunchDelay, p.cfg.LaunchFailureProbability, p.opDelay, p.cfg.BusyAsOperationDenied, p.cfg.TokenMismatch, p.cfg.TokenGone, s.defs)
	// The fleets are built first, as they are in git: the rollouts start
	// from instances that serve.
	s.settle("build", 8)
	for i, st := range p.steps {
		before := s.view()
		runners := s.step(st)
		s.check(fmt.Sprintf("step %d (%s)", i, rolloutStepText(st)), before, runners)
	}
	s.converge()
	if *chaosTrace {
		s.t.Logf("seed %d:\n  %s", s.seed, strings.Join(s.trace, "\n  "))
	}
}

func rolloutStepText(st rolloutStep) string {
	if st.kind == stepSpec {
		return "spec " + st.change
	}
	return st.step.String()
}

func (s *rolloutScenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d: %s\noutside the create guarantees: %q\nreplay: go test ./reconcile/ -run 'TestChaosRollout$' -chaos.seed %d -v\ntrace:\n  %s",
		s.seed, fmt.Sprintf(format, args...), s.p.outside, s.seed, strings.Join(s.trace, "\n  "))
}

func (s *rolloutScenario) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("[%s] ", s.emu.Clock.Now().Sub(reconciletest.Epoch))+fmt.Sprintf(format, args...))
}

func (s *rolloutScenario) reload() {
	fleets, err := loadRollout(s.defs)
	if err != nil {
		s.fatalf("load fleets: %v", err)
	}
	s.fleets = fleets
}

// want records that git asks for d's targets (those that differ from old's).
func (s *rolloutScenario) want(d rolloutDef, old *rolloutDef) {
	m := s.wanted[d.key()]
	if m == nil {
		m = map[string]map[string]int{lighthouse.ActionResetInstance: {}, lighthouse.ActionModifyInstancesBundle: {}}
		s.wanted[d.key()] = m
	}
	if old == nil || old.blueprint != d.blueprint || old.keys != d.keys {
		m[lighthouse.ActionResetInstance][d.blueprint]++
	}
	if old == nil || old.bundle != d.bundle {
		m[lighthouse.ActionModifyInstancesBundle][d.bundle]++
	}
}

func (s *rolloutScenario) quiesce() {
	s.t.Helper()
	if err := s.emu.Quiesce(); err != nil {
		s.fatalf("%v", err)
	}
}

// step carries out one step and returns how many runners applied in it.
func (s *rolloutScenario) step(st rolloutStep) int {
	srv := s.emu.Server
	switch st.kind {
	case stepDaemon:
		s.apply("daemon", s.daemon)
		return 1
	case stepOneShot:
		s.apply("one-shot", reconcile.New(s.emu.Client, nil, s.opts))
		return 1
	case stepTwo:
		first := s.daemon
		if !st.flag {
			first = reconcile.New(s.emu.Client, nil, s.opts)
		}
		second := reconcile.New(s.emu.Client, nil, s.opts)
		var wg sync.WaitGroup
		var logs [2]string
		for i, r := range []*reconcile.Reconciler{first, second} {
			wg.Go(func() { logs[i] = s.run(r) })
		}
		wg.Wait()
		s.logf("two runners: %s | %s", logs[0], logs[1])
		return 2
	case stepPlan:
		s.planOnly()
	case stepAdvance:
		s.emu.Clock.Advance(st.advance)
		s.logf("advance %s", st.advance)
	case stepFaults:
		for _, f := range st.faults {
			srv.InjectFault(f)
			if f.Kind == emulator.FaultDelay {
				s.emu.SetAttemptTimeout(50 * time.Millisecond)
			}
		}
		s.logf("%s", st.step)
	case stepClear:
		srv.ClearFaults()
		s.emu.SetAttemptTimeout(0)
		s.logf("clear faults")
	case stepDelete:
		var ids []string
		for _, v := range s.view() {
			for _, ins := range v {
				for _, in := range ins {
					ids = append(ids, in.InstanceId)
				}
			}
		}
		if len(ids) == 0 {
			return 0
		}
		slices.Sort(ids)
		id := ids[st.pick%len(ids)]
		if err := srv.DeleteInstance(id); err != nil {
			s.fatalf("delete %s: %v", id, err)
		}
		s.logf("deleted %s out of band", id)
	case stepSpec:
		rolloutStats.specChanges.Add(1)
		i := st.pick % len(s.defs)
		old := s.defs[i]
		if p, err := s.daemon.Plan(s.ctx, s.fleets); err == nil && p.Fleets[0].Rollout != nil && len(p.Fleets[0].Rollout.Updates) > 0 {
			rolloutStats.midRollout.Add(1)
		}
		what := applyChange(s.defs, st)
		s.want(s.defs[i], &old)
		if s.defs[i].count != old.count || s.defs[i].zone != old.zone {
			delete(s.reached, s.defs[i].key())
		}
		s.reload()
		s.logf("spec %s", what)
	}
	return 0
}

// run plans and applies once with r and says what happened.
func (s *rolloutScenario) run(r *reconcile.Reconciler) string {
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		return fmt.Sprintf("plan: %v", err)
	}
	p.Check(s.limits)
	res, err := r.Apply(s.ctx, p, false)
	rolloutStats.runs.Add(1)
	if err != nil {
		return fmt.Sprintf("apply: %v", err)
	}
	s.count(res)
	return fmt.Sprintf("%s; %s", rolloutSummary(p), resultSummary(res))
}

func (s *rolloutScenario) apply(who string, r *reconcile.Reconciler) {
	s.quiesce()
	s.logf("%s: %s", who, s.run(r))
}

// count adds what an apply did to the stats.
func (s *rolloutScenario) count(res *reconcile.Result) {
	for _, fr := range res.Fleets {
		for _, u := range fr.Updates {
			switch {
			case u.Outcome == "unknown":
				rolloutStats.lost.Add(1)
			case u.Outcome == "not sent":
				rolloutStats.notSent.Add(1)
			case u.Outcome != "sent":
			case u.Action == reconcile.UpdateReset:
				rolloutStats.resets.Add(1)
			case u.Action == reconcile.UpdateModifyBundle:
				rolloutStats.bundles.Add(1)
			case u.Action == reconcile.UpdateRenewFlag:
				rolloutStats.renewFlags.Add(1)
			case u.Action == reconcile.UpdateIsolateReplaced:
				rolloutStats.isolatedReplaced.Add(1)
			}
		}
		for _, c := range fr.Created {
			if strings.HasPrefix(c.ClientToken, reconcile.ReplacementTokenPrefix) {
				rolloutStats.replacements.Add(1)
			}
		}
	}
}

// rolloutSummary lists each fleet's rollout in a few words.
func rolloutSummary(p *reconcile.Plan) string {
	var out []string
	for _, fp := range p.Fleets {
		s := fmt.Sprintf("%s live %d/%d +%d", fp.Fleet, fp.Live, fp.Desired, len(fp.Creates))
		if r := fp.Rollout; r != nil {
			s += fmt.Sprintf(" %s %d/%d ready %d", r.Strategy, r.Updated, r.Total, r.Ready)
			for _, u := range r.Updates {
				s += fmt.Sprintf(" [%d %s %s %s]", u.Slot, u.InstanceID, u.Action, u.Status)
				if u.Status == reconcile.StatusCannot || u.Status == reconcile.StatusFailed || u.Status == reconcile.StatusLater {
					s += " (" + u.Reason + ")"
				}
			}
			if r.Paused != "" {
				s += " PAUSED"
			}
		}
		if fp.Error != nil {
			s += " error: " + fp.Error.Message
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func resultSummary(res *reconcile.Result) string {
	var out []string
	for _, fr := range res.Fleets {
		for _, c := range fr.Created {
			out = append(out, fmt.Sprintf("created %d %s", c.Slot, c.InstanceID))
		}
		for _, u := range fr.Updates {
			out = append(out, fmt.Sprintf("%s %s %s", u.Action, u.InstanceID, u.Outcome))
		}
		for _, f := range fr.Failures {
			out = append(out, fmt.Sprintf("failure %s %s %s", f.Action, f.InstanceID, f.Code))
		}
	}
	return strings.Join(out, ", ")
}

// planOnly is a --plan run: it must not change the cloud.
func (s *rolloutScenario) planOnly() {
	r := reconcile.New(s.emu.Client, nil, s.opts)
	s.quiesce()
	before, mut := snapshot(s.emu.Server.Instances()), s.emu.Mutations()
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		s.fatalf("plan: %v", err)
	}
	rolloutStats.planRuns.Add(1)
	s.quiesce()
	if after := snapshot(s.emu.Server.Instances()); after != before || s.emu.Mutations() != mut {
		s.fatalf("a --plan run changed the cloud (%d mutating calls)\nbefore:\n%s\nafter:\n%s", s.emu.Mutations()-mut, before, after)
	}
	s.logf("plan: %s", rolloutSummary(p))
}

// settle runs the daemon until every rollout is done or stuck, at most
// bound runs, moving the clock past what it waits for between runs. It
// reports whether it got there.
func (s *rolloutScenario) settle(who string, bound int) bool {
	wait := max(s.p.opDelay, s.p.cfg.LaunchDelay, s.p.window, reconcile.DefaultExpectWindow*time.Duration(btoi(s.p.window == 0)), 75*time.Second) + time.Second
	for run := 0; run < bound; run++ {
		before := s.view()
		s.apply(who, s.daemon)
		if who == "converge" {
			rolloutStats.convergeRuns.Add(1)
		}
		s.check(fmt.Sprintf("%s run %d", who, run), before, 1)
		if s.done() {
			return true
		}
		s.emu.Clock.Advance(wait)
	}
	return false
}

// done reports whether the daemon's plan has nothing left to do but what the
// strategies cannot do or a pause holds.
func (s *rolloutScenario) done() bool {
	// The daemon's view: it holds the State (the journal, when each
	// instance became ready), as the runner that ends a rollout does; a
	// runner without it would wait minReady again and could not tell a
	// paused fleet (seed 8410).
	p, err := s.daemon.Plan(s.ctx, s.fleets)
	if err != nil {
		return false
	}
	for _, fp := range p.Fleets {
		if fp.Error != nil || len(fp.Creates) > 0 || len(fp.Waiting) > 0 || fp.Live < fp.Desired || fp.Pending > 0 {
			return false
		}
		if r := fp.Rollout; r != nil {
			for _, u := range r.Updates {
				switch u.Status {
				case reconcile.StatusCannot, reconcile.StatusFailed:
				case reconcile.StatusLater:
					// Duplicates (outside the create guarantees) reported
					// and holding the surge room: the rollout says so.
					if r.Paused == "" && !strings.Contains(u.Reason, "duplicate instances, reported above") {
						return false
					}
				case reconcile.StatusPaused:
					if r.Paused == "" {
						return false
					}
				default:
					return false
				}
			}
		}
	}
	return true
}

// converge stops the faults and runs the daemon until every rollout ends,
// then checks the end: each slot one live instance of the spec's shape,
// but for what is reported (cannot, paused) with a reason.
func (s *rolloutScenario) converge() {
	s.emu.Server.ClearFaults()
	s.emu.SetAttemptTimeout(0)
	s.emu.Clock.Advance(max(s.p.maxLag, s.p.opDelay, s.p.cfg.LaunchDelay) + time.Second)
	s.logf("faults stop")
	total := 0
	for _, d := range s.defs {
		total += d.count
	}
	failures := countState(s.emu.Server.Instances(), lighthouse.StateLaunchFailed)
	bound := 10 + 6*total
	if !s.settle("converge", bound) {
		if n := countState(s.emu.Server.Instances(), lighthouse.StateLaunchFailed) - failures; n > 0 && s.settle("converge", 4*n+4) {
			// Launches failed on the way: each costs a few runs more.
		} else {
			p, _ := s.daemon.Plan(s.ctx, s.fleets)
			s.fatalf("no overshoot after: the rollouts did not end within %d daemon runs once faults stopped: %s\n%s", bound, rolloutSummary(p), s.describeAll())
		}
	}
	rolloutStats.converged.Add(1)
	p, err := s.daemon.Plan(s.ctx, s.fleets)
	if err != nil {
		s.fatalf("final plan: %v", err)
	}
	v := s.view()
	for _, fp := range p.Fleets {
		var d rolloutDef
		for _, x := range s.defs {
			if x.name == fp.Fleet {
				d = x
			}
		}
		reported := map[string]bool{}
		if r := fp.Rollout; r != nil {
			if r.Paused != "" {
				rolloutStats.paused.Add(1)
			}
			for _, u := range r.Updates {
				if u.Reason == "" {
					s.fatalf("final plan: an update of %s without a reason: %+v", fp.Fleet, u)
				}
				reported[u.InstanceID] = true
			}
		}
		for _, sp := range fp.Surplus {
			reported[sp.ID] = true
		}
		for slot := range d.count {
			ins := v[d.key()][slot]
			if len(ins) == 0 {
				s.fatalf("final: fleet %s slot %d is empty", d.name, slot)
			}
			unreported := 0
			for _, in := range ins {
				if reported[in.InstanceId] || d.strategy == spec.UpdateReport {
					continue
				}
				// One instance serves the slot; any other must be reported.
				if unreported++; unreported > 1 {
					s.fatalf("final: fleet %s slot %d holds %d instances, %s not reported:\n%s", d.name, slot, len(ins), in.InstanceId, describeView(v[d.key()]))
				}
				want := lighthouse.Instance{Zone: in.Zone, BundleId: d.bundle, BlueprintId: d.blueprint, LoginSettings: in.LoginSettings}
				if d.zone != "" {
					want.Zone = d.zone
				}
				if shapeOf(in) != shapeOf(want) || in.RenewFlag != d.renewFlag {
					s.fatalf("final: fleet %s slot %d: %s is %s (%s), the spec %s (%s), and the plan does not report it:\n%s", d.name, slot, in.InstanceId, shapeOf(in), in.RenewFlag, shapeOf(want), d.renewFlag, rolloutSummary(p))
				}
			}
		}
	}
	failedOps := 0
	for _, in := range s.emu.Server.Instances() {
		if in.LatestOperationState == lighthouse.OperationFailed && (in.LatestOperation == lighthouse.ActionResetInstance || in.LatestOperation == lighthouse.ActionModifyInstancesBundle) {
			failedOps++
		}
	}
	rolloutStats.opFailures.Add(int64(failedOps))
}

// describeAll is every fleet's ground truth, for a failure's message.
func (s *rolloutScenario) describeAll() string {
	var b strings.Builder
	v := s.view()
	for _, d := range s.defs {
		fmt.Fprintf(&b, "fleet %s (count %d):\n%s", d.name, d.count, describeView(v[d.key()]))
	}
	return b.String()
}
