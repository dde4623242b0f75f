package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file runs a drawn scenario and checks the invariants after each step.

func runScenario(t *testing.T, seed int64) {
	p := draw(seed)
	s := newScenario(t, seed, p)
	for i, st := range p.steps {
		before := s.truth()
		runners := s.step(st)
		s.check(fmt.Sprintf("step %d (%s)", i, st), before, runners)
	}
	s.converge()
	s.logTrace()
}

// newScenario starts the emulator and the daemon's reconciler of p.
func newScenario(t *testing.T, seed int64, p *plan) *scenario {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	emu := reconciletest.StartEmulator(t, p.cfg, lighthouse.Options{RetryMax: p.retryMax})
	s := &scenario{t: t, seed: seed, p: p, ctx: ctx, emu: emu, defs: slices.Clone(p.defs), beyond: map[string]int{}}
	s.opts = reconcile.Options{Tags: p.tags, Diff: reconcile.DiffOptions{ExpectWindow: p.expectWindow}, Now: emu.Clock.Now}
	s.daemon = reconcile.New(emu.Client, nil, s.opts)
	s.reload()
	chaosStats.scenarios.Add(1)
	if len(p.outside) > 0 {
		chaosStats.outside.Add(1)
	}
	s.logf("settings: site %q, retryMax %d, tags %v, expect window %s, launch delay %s, launch failures %.2f, token window %s, mismatch %s, gone %s",
		p.cfg.Site, p.retryMax, p.tags, p.expectWindow, p.cfg.LaunchDelay, p.cfg.LaunchFailureProbability, p.cfg.TokenWindow, p.cfg.TokenMismatch, p.cfg.TokenGone)
	return s
}

func (s *scenario) reload() {
	fleets, err := load(s.defs)
	if err != nil {
		s.fatalf("load fleets: %v", err)
	}
	s.fleets = fleets
}

// truth is the ground truth once every request sent has been handled.
func (s *scenario) truth() map[string]truth {
	s.quiesce()
	return groundTruth(s.fleets, s.emu.Server.Instances())
}

// quiesce waits until the emulator has handled every request that reached
// it; a request never handled fails the scenario, naming it.
func (s *scenario) quiesce() {
	s.t.Helper()
	if err := s.emu.Quiesce(); err != nil {
		s.fatalf("%v", err)
	}
}

// step carries out one step and returns how many runners applied in it.
func (s *scenario) step(st step) int {
	srv := s.emu.Server
	switch st.kind {
	case stepDaemon:
		s.apply("daemon", s.daemon, st.maxCreates)
		return 1
	case stepOneShot:
		s.apply("one-shot", reconcile.New(s.emu.Client, nil, s.opts), st.maxCreates)
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
			wg.Go(func() { logs[i] = s.run(r, -1) })
		}
		wg.Wait()
		s.logf("two runners: %s | %s", logs[0], logs[1])
		return 2
	case stepPlan:
		s.planOnly(st.flag)
	case stepAdvance:
		s.emu.Clock.Advance(st.advance)
		s.logf("advance %s", st.advance)
	case stepFaults:
		for _, f := range st.faults {
			srv.InjectFault(f)
			if f.Kind == emulator.FaultDelay {
				// The client gives up long before the delay ends, after
				// the emulator acted.
				s.emu.SetAttemptTimeout(50 * time.Millisecond)
			}
		}
		chaosStats.faults.Add(int64(len(st.faults)))
		s.logf("%s", st)
	case stepClear:
		srv.ClearFaults()
		s.emu.SetAttemptTimeout(0)
		s.logf("clear faults")
	case stepDelete:
		var ids []string
		for _, tr := range s.truth() {
			for _, ins := range tr.bySlot {
				for _, in := range ins {
					ids = append(ids, in.InstanceId)
				}
			}
		}
		if len(ids) == 0 {
			s.logf("delete: nothing to delete")
			return 0
		}
		slices.Sort(ids)
		id := ids[st.pick%len(ids)]
		if err := srv.DeleteInstance(id); err != nil {
			s.fatalf("delete %s: %v", id, err)
		}
		chaosStats.deletes.Add(1)
		s.logf("deleted %s out of band", id)
	case stepSpec:
		s.changeSpec(st)
	}
	return 0
}

// run plans and applies once with r and says what happened.
func (s *scenario) run(r *reconcile.Reconciler, maxCreates int) string {
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		return fmt.Sprintf("plan: %v", err)
	}
	over := p.Check(reconcile.Limits{MaxCreates: maxCreates, MaxMonthlySpend: reconcile.NoLimit, MaxIsolates: reconcile.NoLimit})
	res, err := r.Apply(s.ctx, p, false)
	chaosStats.runs.Add(1)
	if err != nil && !(over && errors.Is(err, reconcile.ErrOverLimit)) {
		return fmt.Sprintf("apply: %v", err)
	}
	chaosStats.created.Add(int64(res.Created))
	chaosStats.ambiguous.Add(int64(res.Ambiguous))
	chaosStats.failedCreates.Add(int64(res.Failed))
	chaosStats.isolated.Add(int64(res.Isolated))
	return fmt.Sprintf("plan %d creates %d isolates (%s); created %d, ambiguous %d, failed %d, isolated %d%s",
		p.Totals.Creates, p.Totals.Isolates, summarize(p), res.Created, res.Ambiguous, res.Failed, res.Isolated, errSuffix(err))
}

func errSuffix(err error) string {
	if err != nil {
		return "; " + err.Error()
	}
	return ""
}

// summarize lists each fleet's creates, waits and errors in a few words.
func summarize(p *reconcile.Plan) string {
	var out []string
	for _, fp := range p.Fleets {
		s := fmt.Sprintf("%s live %d/%d", fp.Fleet, fp.Live, fp.Desired)
		for _, c := range fp.Creates {
			s += fmt.Sprintf(" +%d#%d", c.Slot, c.Incarnation)
			if c.Resend {
				s += "(resend)"
			}
		}
		for _, w := range fp.Waiting {
			s += fmt.Sprintf(" wait%d", w.Slot)
		}
		if fp.Error != nil {
			s += " error: " + fp.Error.Code
		}
		out = append(out, s)
	}
	return fmt.Sprint(out)
}

// apply is one run by one runner; an apply above a guard must buy nothing
// (invariant 3). It returns the plan.
func (s *scenario) apply(who string, r *reconcile.Reconciler, maxCreates int) *reconcile.Plan {
	s.quiesce()
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		s.fatalf("%s: plan: %v", who, err)
	}
	over := p.Check(reconcile.Limits{MaxCreates: maxCreates, MaxMonthlySpend: reconcile.NoLimit, MaxIsolates: reconcile.NoLimit})
	if over {
		s.quiesce()
		mid := s.emu.Mutations()
		_, err := r.Apply(s.ctx, p, false)
		s.quiesce()
		if !errors.Is(err, reconcile.ErrOverLimit) || s.emu.Mutations() != mid {
			s.fatalf("%s: an apply over --max-creates %d (plan: %d creates) returned %v and sent %d mutating calls", who, maxCreates, p.Totals.Creates, err, s.emu.Mutations()-mid)
		}
		chaosStats.runs.Add(1)
		s.logf("%s: over --max-creates %d with %d creates: nothing done", who, maxCreates, p.Totals.Creates)
		return p
	}
	res, err := r.Apply(s.ctx, p, false)
	chaosStats.runs.Add(1)
	if err != nil {
		s.fatalf("%s: apply: %v", who, err)
	}
	chaosStats.created.Add(int64(res.Created))
	chaosStats.ambiguous.Add(int64(res.Ambiguous))
	chaosStats.failedCreates.Add(int64(res.Failed))
	chaosStats.isolated.Add(int64(res.Isolated))
	s.logf("%s: plan %d creates %d isolates %s; created %d, ambiguous %d, failed %d, isolated %d",
		who, p.Totals.Creates, p.Totals.Isolates, summarize(p), res.Created, res.Ambiguous, res.Failed, res.Isolated)
	return p
}

// planOnly is a --plan run: it must not change the cloud (invariant 3).
func (s *scenario) planOnly(apiDryRun bool) {
	opts := s.opts
	opts.APIDryRun = apiDryRun
	r := reconcile.New(s.emu.Client, nil, opts)
	s.quiesce()
	before, mut := snapshot(s.emu.Server.Instances()), s.emu.Mutations()
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		s.fatalf("plan: %v", err)
	}
	chaosStats.planRuns.Add(1)
	s.quiesce()
	if after := snapshot(s.emu.Server.Instances()); after != before || s.emu.Mutations() != mut {
		s.fatalf("invariant 3: a --plan run changed the cloud (%d mutating calls)\nbefore:\n%s\nafter:\n%s", s.emu.Mutations()-mut, before, after)
	}
	s.logf("plan (api dry run %v): %d creates %d isolates %s", apiDryRun, p.Totals.Creates, p.Totals.Isolates, summarize(p))
}

// changeSpec changes one fleet in git: its count, its bundle or its name.
func (s *scenario) changeSpec(st step) {
	chaosStats.specChanges.Add(1)
	i := st.pick % len(s.defs)
	d := &s.defs[i]
	old := *d
	switch st.change {
	case "count":
		d.count = st.count
	case "bundle":
		d.bundle = map[string]string{"bundle_gen_01": "bundle_gen_02", "bundle_gen_02": "bundle_gen_01"}[d.bundle]
	case "rename":
		d.name = nextName(&s.p.names)
		delete(s.beyond, old.key())
	}
	s.reload()
	s.logf("spec: %+v -> %+v", old, *d)
	// What is live beyond the new count now was not lightkeeper's doing
	// under this count: it may stay, but must not grow.
	if _, b := s.truth()[d.key()].live(d.count); b > 0 {
		s.beyond[d.key()] = b
	} else {
		delete(s.beyond, d.key())
	}
}

// check verifies invariant 1 after a step in which runners applied.
func (s *scenario) check(where string, before map[string]truth, runners int) {
	after := s.truth()
	for _, d := range s.defs {
		tr := after[d.key()]
		for slot := range d.count {
			n := len(tr.bySlot[slot])
			if n <= 1 {
				continue
			}
			if len(s.p.outside) == 0 || *chaosStrict {
				s.fatalf("invariant 1 after %s: fleet %s slot %d holds %d live instances %v", where, d.name, slot, n, ids(tr.bySlot[slot]))
			}
			// Outside the guarantee: at most one extra instance per slot
			// per runner and run.
			prev := max(1, len(before[d.key()].bySlot[slot]))
			if n > prev+runners {
				s.fatalf("bounded damage after %s: fleet %s slot %d went from %d to %d live instances with %d runners %v", where, d.name, slot, prev, n, runners, ids(tr.bySlot[slot]))
			}
			if n > len(before[d.key()].bySlot[slot]) {
				chaosStats.duplicates.Add(int64(n - max(1, len(before[d.key()].bySlot[slot]))))
			}
		}
		_, b := tr.live(d.count)
		if b > s.beyond[d.key()] {
			s.fatalf("invariant 1 after %s: fleet %s has %d live instances beyond its count %d (at most %d were there before)", where, d.name, b, d.count, s.beyond[d.key()])
		}
		s.beyond[d.key()] = b
	}
}

func ids(ins []lighthouse.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.InstanceId+" "+in.InstanceState)
	}
	return out
}

// converge stops the faults, lets the lag and the windows pass, and runs the
// daemon until every slot is filled: invariant 2. Each run may take one
// more for each instance that ended in LAUNCH_FAILED meanwhile, and for
// each run in which a slot waited out its launch backoff (which doubles
// with each failure in a row, so it can outlast the runs one failure adds),
// up to maxConvergeRuns.
func (s *scenario) converge() {
	s.emu.Server.ClearFaults()
	s.emu.SetAttemptTimeout(0)
	window := s.p.expectWindow
	if window == 0 {
		window = reconcile.DefaultExpectWindow
	}
	launch := s.p.cfg.LaunchDelay
	s.emu.Clock.Advance(max(launch, s.p.maxLag, emulator.DefaultOperationDelay) + time.Second)
	s.logf("faults stop")
	bound := 6
	for run := 0; ; run++ {
		failedBefore := countState(s.emu.Server.Instances(), lighthouse.StateLaunchFailed)
		if s.filled() {
			break
		}
		if run >= bound {
			s.fatalf("invariant 2: not converged after %d daemon runs once faults stopped: %s", run, s.missing())
		}
		before := s.truth()
		p := s.apply("converge", s.daemon, -1)
		chaosStats.convergeRuns.Add(1)
		if slices.ContainsFunc(p.Fleets, func(fp *reconcile.FleetPlan) bool { return len(fp.Backoff) > 0 }) && bound < maxConvergeRuns {
			bound++
		}
		s.check(fmt.Sprintf("convergence run %d", run), before, 1)
		s.emu.Clock.Advance(max(launch, window, emulator.DefaultOperationDelay) + time.Second)
		if n := countState(s.emu.Server.Instances(), lighthouse.StateLaunchFailed) - failedBefore; n > 0 {
			bound += n
			chaosStats.launchFailed.Add(int64(n))
		}
	}
	s.checkReported()
}

// maxConvergeRuns bounds the runs converge allows however long backoffs are.
const maxConvergeRuns = 40

func countState(all []lighthouse.Instance, state string) int {
	n := 0
	for _, in := range all {
		if in.InstanceState == state {
			n++
		}
	}
	return n
}

// filled reports whether every slot of every fleet holds a RUNNING instance.
func (s *scenario) filled() bool { return s.missing() == "" }

func (s *scenario) missing() string {
	gt := s.truth()
	var out []string
	for _, d := range s.defs {
		for slot := range d.count {
			ins := gt[d.key()].bySlot[slot]
			if !slices.ContainsFunc(ins, func(in lighthouse.Instance) bool { return in.InstanceState == lighthouse.StateRunning }) {
				out = append(out, fmt.Sprintf("%s slot %d: %v", d.name, slot, ids(ins)))
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprint(out)
}

// checkReported makes a plan once everything settled and checks that every
// live instance beyond one per slot below the count is listed as surplus
// with a reason: damage is never silent.
func (s *scenario) checkReported() {
	r := reconcile.New(s.emu.Client, nil, s.opts)
	p, err := r.Plan(s.ctx, s.fleets)
	if err != nil {
		s.fatalf("final plan: %v", err)
	}
	gt := s.truth()
	for _, fp := range p.Fleets {
		var d fleetDef
		for _, x := range s.defs {
			if x.name == fp.Fleet {
				d = x
			}
		}
		if fp.Error != nil || len(fp.Creates) > 0 || len(fp.Waiting) > 0 {
			s.fatalf("final plan: fleet %s still has work: %s", fp.Fleet, summarize(p))
		}
		tr := gt[d.key()]
		in, beyond := tr.live(d.count)
		want := in - d.count + beyond
		surplus := map[string]bool{}
		for _, sp := range fp.Surplus {
			if sp.Reason == "" {
				s.fatalf("final plan: surplus %s of fleet %s without a reason", sp.ID, fp.Fleet)
			}
			surplus[sp.ID] = true
		}
		if len(surplus) != want {
			s.fatalf("final plan: fleet %s has %d live instances in its %d slots and %d beyond, but the plan reports %d surplus: %+v", fp.Fleet, in, d.count, beyond, len(surplus), fp.Surplus)
		}
	}
	// A renamed fleet's instances carry its old name in their tags (where
	// the site took them): the plan lists them as orphans.
	inGit := map[string]bool{}
	for _, d := range s.defs {
		inGit[d.key()] = true
	}
	orphans := map[string]bool{}
	for _, o := range p.Orphans {
		orphans[o.ID] = true
	}
	chaosStats.orphans.Add(int64(len(orphans)))
	for _, in := range s.emu.Server.Instances() {
		for _, tag := range in.Tags {
			if tag.Key == spec.TagFleet && !inGit[regionOf(in.Zone)+"/"+tag.Value] && liveState(in.InstanceState) && !orphans[in.InstanceId] {
				s.fatalf("final plan: %s (%s), tagged for fleet %s that is no longer in git, is not listed as an orphan", in.InstanceId, in.InstanceName, tag.Value)
			}
		}
	}
}
