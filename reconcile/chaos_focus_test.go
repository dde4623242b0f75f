package reconcile_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The focused chaos suite: the scenarios of the chaos suite (the same
// draw), on a site that takes tags, with fleets whose names collide under a
// fuzzy name match (web, myweb, web2, xweb), the emulator's instance-name
// filter exact for even seeds and substring for odd ones, and two changes:
// each daemon run is a push, a focused plan and apply of a random part of
// the fleets (PlanFocused, a filtered observation) and then the full plan
// and apply, as the daemon's fast path does (docs/design.md section 5.10);
// and an out-of-band step may rename an instance (its tags stay), remove
// its tags, or both, instead of deleting it, as half the pushes do just
// before their focused plan. The invariants are the chaos
// suite's, checked after the focused apply too.
//
//	go test ./reconcile/ -run ChaosFocused -chaos.focus.n 2000
var chaosFocusN = flag.Int("chaos.focus.n", 40, "number of focused chaos scenarios (seeds from -chaos.from)")

var focusStats struct {
	pushes, filtered, fallbacks, compared, created, renamed, untagged atomic.Int64
}

// fuzzyNames collide under a substring match: web-1 is in myweb-1 and
// xweb-1, and web2-1 holds web.
var fuzzyNames = []string{"web", "myweb", "web2", "xweb"}

func TestChaosFocused(t *testing.T) {
	t.Cleanup(func() {
		s := &focusStats
		t.Logf("focused chaos: %d pushes, %d filtered plans (%d fell back, %d compared with a full plan), %d created by them; %d instances renamed, %d untagged",
			s.pushes.Load(), s.filtered.Load(), s.fallbacks.Load(), s.compared.Load(), s.created.Load(), s.renamed.Load(), s.untagged.Load())
	})
	for _, seed := range chaosSeeds(*chaosFocusN, nil) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runFocusedScenario(t, seed)
		})
	}
}

func runFocusedScenario(t *testing.T, seed int64) {
	p := draw(seed)
	p.tags, p.cfg.Site = true, ""
	for i := range p.defs {
		p.defs[i].name = fuzzyNames[i]
	}
	p.cfg.InstanceNameMatch = []emulator.NameMatch{emulator.NameExact, emulator.NameSubstring}[seed%2]
	s := newScenario(t, seed, p)
	s.daemon.FocusAtAnyCost()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x666f637573))
	s.logf("focused: name match %s", p.cfg.InstanceNameMatch)
	for i, st := range p.steps {
		before := s.truth()
		runners := 0
		switch {
		case st.kind == stepDaemon:
			focusPush(s, rng, st.maxCreates)
			runners = 1
		case st.kind == stepDelete && rng.IntN(3) != 0:
			outOfBand(s, rng, st.pick)
		default:
			runners = s.step(st)
		}
		s.check(fmt.Sprintf("step %d (%s)", i, st), before, runners)
	}
	s.converge()
	s.logTrace()
}

// focusPush is a push: a focused plan and apply of some fleets, checked,
// then the daemon's full plan and apply.
func focusPush(s *scenario, rng *rand.Rand, maxCreates int) {
	focusStats.pushes.Add(1)
	if rng.IntN(2) == 0 {
		// What the last full sweep saw changes just before the push.
		outOfBand(s, rng, rng.IntN(1<<20))
	}
	var focus []string
	for _, f := range s.fleets {
		if rng.IntN(2) == 0 {
			focus = append(focus, f.Name())
		}
	}
	if len(focus) == 0 && len(s.fleets) > 0 {
		focus = append(focus, s.fleets[rng.IntN(len(s.fleets))].Name())
	}
	before := s.truth()
	compare := !describeFaults(s)
	p, err := s.daemon.PlanFocused(s.ctx, s.fleets, focus)
	var fb *reconcile.FocusFallback
	switch {
	case errors.As(err, &fb):
		focusStats.fallbacks.Add(1)
		s.logf("push %v: no focused plan (%s)", focus, fb.Code)
	case err != nil:
		s.fatalf("push: focused plan: %v", err)
	case p.Check(reconcile.Limits{MaxCreates: maxCreates, MaxMonthlySpend: reconcile.NoLimit, MaxIsolates: reconcile.NoLimit}):
		s.logf("push %v: focused plan over --max-creates %d with %d creates: not applied", focus, maxCreates, p.Totals.Creates)
	default:
		focusStats.filtered.Add(1)
		if compare {
			sameAsFull(s, p)
		}
		res, err := s.daemon.Apply(s.ctx, p, false)
		if err != nil {
			s.fatalf("push: focused apply: %v", err)
		}
		focusStats.created.Add(int64(res.Created))
		s.logf("push %v: focused plan %d creates %s; created %d, ambiguous %d, failed %d", focus, p.Totals.Creates, summarize(p), res.Created, res.Ambiguous, res.Failed)
		s.check("the focused apply", before, 1)
	}
	s.apply("daemon (after the push)", s.daemon, maxCreates)
}

// outOfBand renames an instance of a fleet's slot (its tags stay), removes
// its tags, or both, as a person in the console would.
func outOfBand(s *scenario, rng *rand.Rand, pick int) {
	var ins []lighthouse.Instance
	for _, tr := range s.truth() {
		for _, l := range tr.bySlot {
			ins = append(ins, l...)
		}
	}
	if len(ins) == 0 {
		s.logf("out of band: nothing to change")
		return
	}
	slices.SortFunc(ins, func(a, b lighthouse.Instance) int { return strings.Compare(a.InstanceId, b.InstanceId) })
	in := ins[pick%len(ins)]
	srv := s.emu.Server
	what := rng.IntN(3)
	if what != 1 {
		name := fmt.Sprintf("renamed-%d", pick%1000)
		if err := srv.RenameInstance(in.InstanceId, name); err != nil {
			s.fatalf("rename %s: %v", in.InstanceId, err)
		}
		focusStats.renamed.Add(1)
		s.logf("renamed %s (%s) to %s out of band", in.InstanceId, in.InstanceName, name)
	}
	if what != 0 {
		var keep []lighthouse.Tag
		for _, t := range in.Tags {
			if t.Key != spec.TagFleet && t.Key != spec.TagSlot {
				keep = append(keep, t)
			}
		}
		if err := srv.SetTags(in.InstanceId, keep); err != nil {
			s.fatalf("untag %s: %v", in.InstanceId, err)
		}
		focusStats.untagged.Add(1)
		s.logf("removed lightkeeper's tags of %s (%s) out of band", in.InstanceId, in.InstanceName)
	}
}

// sameAsFull checks the focused plan p against a full plan made at the
// same moment from a copy of the daemon's state: every slot the focused
// plan creates, the full plan creates too (a filtered view never sees a
// slot empty that a sweep sees filled). The full plan may create more:
// the other fleets', and a slot whose expired instance the focused plan
// holds for renewal. Its incarnation may be lower: a full plan settles an
// expectation whose instance was renamed away and walks past its token at
// apply time, which the focused plan does at once.
//
// Only when no fault touched DescribeInstances (describeFaults): a lag
// drawn per call, or one that a count of calls consumes, shows two listings
// at the same moment differently.
func sameAsFull(s *scenario, p *reconcile.Plan) {
	path := filepath.Join(s.t.TempDir(), "state.json")
	if err := s.daemon.State().Save(path); err != nil {
		s.fatalf("save state: %v", err)
	}
	st, err := reconcile.LoadState(path)
	if err != nil {
		s.fatalf("load state: %v", err)
	}
	full, err := reconcile.New(s.emu.Client, st, s.opts).Plan(s.ctx, s.fleets)
	if err != nil {
		return
	}
	focusStats.compared.Add(1)
	for _, fp := range p.Fleets {
		i := slices.IndexFunc(full.Fleets, func(x *reconcile.FleetPlan) bool { return x.Fleet == fp.Fleet })
		if i < 0 || full.Fleets[i].Error != nil {
			continue
		}
		want := map[int]bool{}
		for _, c := range full.Fleets[i].Creates {
			want[c.Slot] = true
		}
		for _, c := range fp.Creates {
			if !want[c.Slot] {
				s.fatalf("the focused plan creates slot %d of %s, which a full plan at the same moment does not (%s)", c.Slot, fp.Fleet, summarize(full))
			}
		}
	}
}

// describeFaults reports whether a fault may touch DescribeInstances.
func describeFaults(s *scenario) bool {
	return slices.ContainsFunc(s.emu.Server.Faults(), func(f emulator.Fault) bool {
		return f.Kind == emulator.FaultDescribeLag || f.Action == "" || f.Action == lighthouse.ActionDescribeInstances
	})
}
