package reconcile_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
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

// The renewal chaos: seeded scenarios with expiry on the emulator's manual
// clock. Fleets with and without charge.renewBefore; instances brought near
// their expiry (and some past it); balances that run out; lost answers,
// 5xx, InternalError, rate limits and FAILED operations on the renewal
// actions; Describe lag; the daemon killed (its state as last persisted)
// just before or just after a RenewInstances; runners without state and two
// runners at once. After every step:
//
//  1. never renewed twice for one expiry: every renewal the emulator made
//     started while the instance's ExpiredTime was within its fleet's
//     renewBefore (a second send for one expiry would find the expiry a
//     period later, outside it), no two from one ExpiredTime, and none of a
//     fleet without renewBefore;
//
//  2. with renewBefore and enough balance, no instance of the fleet reaches
//     SHUTDOWN by expiry: an instance that did had no clean run (no fault
//     active, the balance unlimited, no unclean run for an expectation
//     window and an operation before it) in its window before its expiry,
//     or was expired on purpose by the scenario;
//
//  3. the existing invariants: no slot ever holds two live instances (an
//     expired instance renewed and a new one bought for its slot would),
//     a --plan changes nothing, and once faults stop the daemon fills
//     every slot and renews every instance within its window.
//
//     go test ./reconcile/ -run ChaosRenew -chaos.renew 2000
//     go test ./reconcile/ -run ChaosRenew -chaos.seed 42 -v
var chaosRenewN = flag.Int("chaos.renew", 200, "number of renewal chaos scenarios (seeds from -chaos.from)")

var renewStats struct {
	scenarios, runs, renewed, ambiguous, refused, kills, expiredOnPurpose, shutdownExcused, twoRunners, faults atomic.Int64
}

func TestChaosRenew(t *testing.T) {
	t.Cleanup(func() {
		s := &renewStats
		t.Logf("renewal chaos: %d scenarios: %d runs (%d with two runners, %d killed around a RenewInstances), %d faults; %d renewals sent, %d with an unknown outcome, %d refused; %d instances expired on purpose, %d expiries without a clean run in their window; no renewal twice for one expiry, no expiry of a renewing fleet after a clean run in its window",
			s.scenarios.Load(), s.runs.Load(), s.twoRunners.Load(), s.kills.Load(), s.faults.Load(), s.renewed.Load(), s.ambiguous.Load(), s.refused.Load(),
			s.expiredOnPurpose.Load(), s.shutdownExcused.Load())
	})
	// Pinned: 643 (an intent from a moved expiry marked failed, the
	// instance never renewed again), 52, 792 and 809 (the checker's own
	// bookkeeping of expiries the scenario moves).
	for _, seed := range chaosSeeds(*chaosRenewN, []int64{52, 643, 792, 809}) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			renewScenario(t, seed)
		})
	}
}

// renewChaos is one running renewal scenario on top of scenario (its
// fleets, ground truth and invariant 1 of the create chaos).
type renewChaos struct {
	*scenario
	rng       *rand.Rand
	statePath string
	opDelay   time.Duration
	// before is each fleet's renewBefore, by fleet name.
	before map[string]time.Duration
	// exempt are instances the scenario expired on purpose.
	exempt map[string]bool
	// counting are the times of the clean runs that must renew what is in
	// its window; cleanSince is when the runs started being clean (zero
	// while the last one was not).
	counting   []time.Time
	cleanSince time.Time
	faulty     bool // faults are active
	unpaid     bool // the balance is limited
	checked    int  // renewals of the log already checked
	// seen are the (instance, ExpiredTime) renewed from since the
	// scenario last set the instance's expiry (it may set one it had).
	seen map[string]bool
	// setAt is, for each instance whose expiry the scenario set, how many
	// counting runs there were then: only the later ones saw that expiry.
	setAt map[string]int
}

func renewScenario(t *testing.T, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x72656e77))
	cfg := emulator.Config{
		Seed: seed, Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
		OperationDelay: []time.Duration{emulator.DefaultOperationDelay, 30 * time.Second, 2 * time.Minute}[rng.IntN(3)],
	}
	tags := rng.IntN(2) == 0
	if !tags {
		cfg.Site = emulator.SiteIntl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emu := reconciletest.StartEmulator(t, cfg, lighthouse.Options{RetryMax: []int{-1, 1, 3}[rng.IntN(3)]})
	names := 0
	var defs []fleetDef
	for i := range 1 + rng.IntN(3) {
		d := fleetDef{name: nextName(&names), region: chaosRegions[rng.IntN(2)], bundle: "bundle_gen_01", count: 1 + rng.IntN(4)}
		if i == 0 || rng.IntN(3) != 0 {
			d.renewBefore = []string{"36h", "3d", "7d"}[rng.IntN(3)]
		}
		defs = append(defs, d)
	}
	c := &renewChaos{
		scenario: &scenario{t: t, seed: seed, p: &plan{}, ctx: ctx, emu: emu, defs: defs, beyond: map[string]int{}},
		rng:      rng, statePath: filepath.Join(t.TempDir(), "state.json"), opDelay: cfg.OperationDelay,
		before: map[string]time.Duration{}, exempt: map[string]bool{}, seen: map[string]bool{}, setAt: map[string]int{},
	}
	for _, d := range defs {
		c.before[d.name], _ = spec.ParseRenewBefore(d.renewBefore)
	}
	c.opts = reconcile.Options{Tags: tags, Now: emu.Clock.Now}
	c.restart()
	c.reload()
	renewStats.scenarios.Add(1)
	c.logf("settings: site %q, operation delay %s, fleets %+v", cfg.Site, cfg.OperationDelay, defs)

	// The fleets' instances, RUNNING, a month from their expiry and an
	// hour old (older than any Describe lag: the emulator's lag hides
	// instances by their age, and no instance expires young).
	c.run("daemon", c.daemon, true)
	emu.Clock.Advance(emulator.DefaultLaunchDelay + time.Second)
	c.run("daemon", c.daemon, true)
	emu.Clock.Advance(time.Hour)

	for i := range 8 + rng.IntN(16) {
		before := c.truth()
		runners := c.renewStep()
		c.check(fmt.Sprintf("step %d", i), before, runners)
		c.checkRenewals(fmt.Sprintf("step %d", i))
	}
	c.converge()
	c.logTrace()
}

// restart makes the daemon anew from the state it last persisted, as a
// process started after a SIGKILL would.
func (c *renewChaos) restart() {
	st, err := reconcile.LoadState(c.statePath)
	if err != nil {
		c.fatalf("load state: %v", err)
	}
	opts := c.opts
	var r *reconcile.Reconciler
	opts.Persist = func() error { return r.State().Save(c.statePath) }
	r = reconcile.New(c.emu.Client, st, opts)
	c.daemon = r
}

// killCloud kills the run (cancels its context) at its first
// RenewInstances: before sending it, or after its answer came.
type killCloud struct {
	reconcile.Cloud
	after  bool
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (k *killCloud) RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error) {
	if k.fired.Swap(true) || !k.after {
		k.cancel()
		return nil, context.Canceled
	}
	resp, err := k.Cloud.RenewInstances(ctx, region, req)
	k.cancel()
	return resp, err
}

// run plans and applies once with r; daemon runs save the state after, as
// the daemon does after a cycle.
func (c *renewChaos) run(who string, r *reconcile.Reconciler, save bool) {
	c.quiesce()
	at := c.emu.Clock.Now()
	line := c.runOnce(who, r, save)
	c.ran(at)
	c.logf("%s", line)
}

// runOnce is run without the bookkeeping, for runners at once.
func (c *renewChaos) runOnce(who string, r *reconcile.Reconciler, save bool) string {
	p, err := r.Plan(c.ctx, c.fleets)
	if err != nil {
		c.fatalf("%s: plan: %v", who, err)
	}
	p.Check(reconcile.NoLimits())
	res, err := r.Apply(c.ctx, p, false)
	if err != nil {
		c.fatalf("%s: apply: %v", who, err)
	}
	if save {
		if err := r.State().Save(c.statePath); err != nil {
			c.fatalf("save state: %v", err)
		}
	}
	renewStats.renewed.Add(int64(res.Renewed))
	renewStats.ambiguous.Add(int64(res.RenewAmbiguous))
	renewStats.refused.Add(int64(res.RenewFailed))
	return fmt.Sprintf("%s: %d renewals planned (%s), %d creates; renewed %d, ambiguous %d, not done %d, created %d",
		who, p.Totals.Renewals, renewSummary(p), p.Totals.Creates, res.Renewed, res.RenewAmbiguous, res.RenewFailed, res.Created)
}

// ran records a run at at: clean when no fault is active and the balance
// is unlimited.
func (c *renewChaos) ran(at time.Time) {
	renewStats.runs.Add(1)
	if c.faulty || c.unpaid {
		c.cleanSince = time.Time{}
		return
	}
	if c.cleanSince.IsZero() {
		c.cleanSince = at
	}
	if at.Sub(c.cleanSince) >= reconcile.DefaultExpectWindow+c.opDelay+time.Second {
		c.counting = append(c.counting, at)
	}
}

func renewSummary(p *reconcile.Plan) string {
	var out []string
	for _, fp := range p.Fleets {
		for _, rn := range fp.Renewals {
			out = append(out, fmt.Sprintf("%s %s %s", rn.InstanceID, rn.Verdict, rn.Expires.Format(time.RFC3339)))
			if rn.Verdict != reconcile.RenewSend {
				out[len(out)-1] += " (" + rn.Reason + ")"
			}
		}
	}
	return strings.Join(out, "; ")
}

// renewStep draws and carries out one step; it returns how many runners
// applied in it.
func (c *renewChaos) renewStep() int {
	rng, srv := c.rng, c.emu.Server
	minBefore := 7 * 24 * time.Hour
	for _, b := range c.before {
		if b > 0 {
			minBefore = min(minBefore, b)
		}
	}
	switch r := rng.IntN(100); {
	case r < 22:
		c.run("daemon", c.daemon, true)
		return 1
	case r < 30:
		c.run("one-shot", reconcile.New(c.emu.Client, nil, c.opts), false)
		return 1
	case r < 36:
		renewStats.twoRunners.Add(1)
		first := c.daemon
		if rng.IntN(2) == 0 {
			first = reconcile.New(c.emu.Client, nil, c.opts)
		}
		second := reconcile.New(c.emu.Client, nil, c.opts)
		c.quiesce()
		at := c.emu.Clock.Now()
		var wg sync.WaitGroup
		var logs [2]string
		for i, r := range []*reconcile.Reconciler{first, second} {
			wg.Go(func() { logs[i] = c.runOnce(fmt.Sprintf("runner %d", i), r, r == c.daemon) })
		}
		wg.Wait()
		c.ran(at)
		renewStats.runs.Add(1)
		c.logf("two runners: %s | %s", logs[0], logs[1])
		return 2
	case r < 42:
		c.kill(rng.IntN(2) == 0)
		return 1
	case r < 46:
		c.planOnly(false)
	case r < 66:
		d := []time.Duration{
			time.Duration(1+rng.IntN(120)) * time.Second,
			time.Duration(5+rng.IntN(175)) * time.Minute,
			time.Duration(1+rng.IntN(int(minBefore/time.Hour/3)+1)) * time.Hour,
		}[rng.IntN(3)]
		c.emu.Clock.Advance(d)
		c.logf("advance %s", d)
	case r < 76:
		c.expire(rng)
	case r < 86:
		kinds := []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultInternalError, emulator.FaultHTTP5xx,
			emulator.FaultRequestLimitExceeded, emulator.FaultOperationFailure, emulator.FaultDescribeLag}
		actions := []string{lighthouse.ActionRenewInstances, lighthouse.ActionRenewInstances, lighthouse.ActionInquirePriceRenewInstances,
			lighthouse.ActionDescribeInstancesDeniedActions, lighthouse.ActionDescribeInstances}
		f := emulator.Fault{Kind: kinds[rng.IntN(len(kinds))], Action: actions[rng.IntN(len(actions))]}
		switch f.Kind {
		case emulator.FaultDescribeLag:
			f.Action, f.Delay = lighthouse.ActionDescribeInstances, time.Duration(10+rng.IntN(200))*time.Second
		case emulator.FaultOperationFailure:
			f.Action = lighthouse.ActionRenewInstances
		}
		if rng.IntN(2) == 0 {
			f.Count = 1 + rng.IntN(3)
		} else {
			f.Probability = 0.2 + 0.6*rng.Float64()
		}
		srv.InjectFault(f)
		c.faulty = true
		renewStats.faults.Add(1)
		c.logf("fault %s", describeFault(f))
	case r < 92:
		srv.ClearFaults()
		c.faulty = false
		c.logf("clear faults")
	default:
		if c.unpaid || rng.IntN(2) == 0 {
			if err := srv.SetBalance(0); err != nil {
				c.fatalf("%v", err)
			}
			c.unpaid = false
			c.logf("balance unlimited")
		} else {
			avail := float64(rng.IntN(200))
			if err := srv.SetAvailable(avail); err != nil {
				c.fatalf("%v", err)
			}
			c.unpaid = true
			c.logf("balance: %.0f CNY left", avail)
		}
	}
	return 0
}

// kill runs the daemon until its first RenewInstances, just before or
// just after it is sent, and starts it again from its persisted state.
func (c *renewChaos) kill(after bool) {
	renewStats.kills.Add(1)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	st, err := reconcile.LoadState(c.statePath)
	if err != nil {
		c.fatalf("load state: %v", err)
	}
	opts := c.opts
	var r *reconcile.Reconciler
	opts.Persist = func() error { return r.State().Save(c.statePath) }
	r = reconcile.New(&killCloud{Cloud: c.emu.Client, after: after, cancel: cancel}, st, opts)
	c.quiesce()
	p, err := r.Plan(ctx, c.fleets)
	if err == nil {
		p.Check(reconcile.NoLimits())
		_, err = r.Apply(ctx, p, false)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		c.fatalf("killed run: %v", err)
	}
	c.cleanSince = time.Time{} // a killed run is not clean
	renewStats.runs.Add(1)
	c.logf("daemon killed at its first RenewInstances (after the send: %v); restarted from its state", after)
	c.restart()
}

// expire brings an instance of the scenario near its expiry, or past it
// (on purpose: exempt from invariant 2).
func (c *renewChaos) expire(rng *rand.Rand) {
	var ids []string
	now := c.emu.Clock.Now()
	for _, in := range c.emu.Server.Instances() {
		created, _ := time.Parse(lighthouse.TimeLayout, *in.CreatedTime)
		// Not a young one: no instance expires minutes after it was
		// bought, and the emulator's Describe lag hides young ones.
		// Nor one an operation runs on: only the operation moves its
		// expiry then (the emulator's renewal log takes From when the
		// operation ends).
		if reconcile.Live(in.InstanceState) && in.InstanceState != lighthouse.StatePending && now.Sub(created) > 10*time.Minute && !in.OperationInProgress() {
			ids = append(ids, in.InstanceId)
		}
	}
	if len(ids) == 0 {
		c.logf("expire: nothing to expire")
		return
	}
	slices.Sort(ids)
	id := ids[rng.IntN(len(ids))]
	d := time.Duration(1+rng.IntN(8*24)) * time.Hour
	if rng.IntN(6) == 0 {
		d = -time.Minute
		c.exempt[id] = true
		renewStats.expiredOnPurpose.Add(1)
	}
	if err := c.emu.Server.SetExpiredTime(id, now.Add(d)); err != nil {
		c.fatalf("%v", err)
	}
	c.setAt[id] = len(c.counting)
	for k := range c.seen {
		if strings.HasPrefix(k, id+"@") {
			delete(c.seen, k)
		}
	}
	c.logf("%s expires in %s", id, d)
}

// fleetOf maps an instance name to its fleet definition.
func (c *renewChaos) fleetOf(in lighthouse.Instance) (fleetDef, int, bool) {
	for _, d := range c.defs {
		if d.region != regionOf(in.Zone) {
			continue
		}
		var slot int
		if _, err := fmt.Sscanf(strings.TrimPrefix(in.InstanceName, d.name+"-"), "%d", &slot); err == nil && strings.HasPrefix(in.InstanceName, d.name+"-") {
			return d, slot, true
		}
	}
	return fleetDef{}, 0, false
}

// checkRenewals holds the emulator's renewals and expiries to invariants
// 1 and 2.
func (c *renewChaos) checkRenewals(where string) {
	c.quiesce()
	all := c.emu.Server.Instances()
	byID := map[string]lighthouse.Instance{}
	for _, in := range all {
		byID[in.InstanceId] = in
	}
	log := c.emu.Server.RenewalLog()
	for _, rn := range log[c.checked:] {
		k := rn.InstanceId + "@" + rn.From.Format(time.RFC3339)
		if c.seen[k] {
			c.fatalf("invariant 1 after %s: %s renewed twice from %s", where, rn.InstanceId, rn.From)
		}
		c.seen[k] = true
		in, ok := byID[rn.InstanceId]
		d, _, claimed := c.fleetOf(in)
		before := c.before[d.name]
		switch {
		case !ok || !claimed:
			// Gone since: nothing to hold it to.
		case before == 0:
			c.fatalf("invariant 1 after %s: %s of fleet %s, which has no renewBefore, was renewed: %+v", where, rn.InstanceId, d.name, rn)
		case rn.From.Sub(rn.Started) > before:
			c.fatalf("invariant 1 after %s: %s was renewed at %s from %s, outside its fleet's renewBefore %s: a second renewal for one expiry", where, rn.InstanceId, rn.Started, rn.From, before)
		}
	}
	c.checked = len(log)
	for _, in := range all {
		d, slot, ok := c.fleetOf(in)
		before := c.before[d.name]
		if !ok || before == 0 || slot >= d.count || c.exempt[in.InstanceId] || in.InstanceState != lighthouse.StateShutdown || !in.ShutDownByExpiry() {
			continue
		}
		exp, _ := time.Parse(lighthouse.TimeLayout, *in.ExpiredTime)
		for _, at := range c.counting[c.setAt[in.InstanceId]:] {
			if !at.Before(exp.Add(-before)) && at.Before(exp.Add(-c.opDelay-time.Second)) {
				c.fatalf("invariant 2 after %s: %s of fleet %s (renewBefore %s) expired at %s although a clean run at %s was inside its window", where, in.InstanceId, d.name, before, exp, at)
			}
		}
		if !c.exempt[in.InstanceId] {
			c.exempt[in.InstanceId] = true // counted once
			renewStats.shutdownExcused.Add(1)
		}
	}
}

// converge stops the faults, makes the balance unlimited and runs the
// daemon until every slot is filled and no instance of a renewing fleet
// expires within its window: what a scenario left undone is done.
func (c *renewChaos) converge() {
	c.emu.Server.ClearFaults()
	c.faulty = false
	if err := c.emu.Server.SetBalance(0); err != nil {
		c.fatalf("%v", err)
	}
	c.unpaid = false
	c.emu.Clock.Advance(reconcile.DefaultExpectWindow + c.opDelay + emulator.DefaultLaunchDelay + time.Second)
	c.logf("faults stop")
	for run := 0; ; run++ {
		left := c.unfinished()
		if left == "" {
			break
		}
		if run >= 8 {
			c.fatalf("invariant 3: not converged after %d daemon runs once faults stopped: %s", run, left)
		}
		before := c.truth()
		c.run("converge", c.daemon, true)
		c.check(fmt.Sprintf("convergence run %d", run), before, 1)
		c.checkRenewals(fmt.Sprintf("convergence run %d", run))
		c.emu.Clock.Advance(max(reconcile.DefaultExpectWindow, reconcile.DefaultLaunchBackoff) + c.opDelay + emulator.DefaultLaunchDelay + time.Second)
	}
	if p, err := reconcile.New(c.emu.Client, nil, c.opts).Plan(c.ctx, c.fleets); err != nil || p.Changes() {
		c.fatalf("invariant 3: a final plan has work: %v %s", err, renewSummary(p))
	}
}

// unfinished says what is not converged: an empty slot, or an instance of
// a renewing fleet expiring within its window.
func (c *renewChaos) unfinished() string {
	if m := c.missing(); m != "" {
		return m
	}
	now := c.emu.Clock.Now()
	var out []string
	for _, in := range c.emu.Server.Instances() {
		d, slot, ok := c.fleetOf(in)
		before := c.before[d.name]
		if !ok || before == 0 || slot >= d.count || !reconcile.Live(in.InstanceState) || in.ExpiredTime == nil {
			continue
		}
		if exp, _ := time.Parse(lighthouse.TimeLayout, *in.ExpiredTime); exp.Sub(now) <= before {
			out = append(out, fmt.Sprintf("%s expires %s", in.InstanceId, exp))
		}
	}
	return strings.Join(out, "; ")
}
