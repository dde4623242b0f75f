package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// live counts the live instances of each fleet in the emulator, by name.
func live(srv *emulator.Server, fleets []*spec.Fleet) map[string]int {
	ix := spec.NewNameIndex(fleets)
	out := map[string]int{}
	for _, in := range srv.Instances() {
		if f, _, ok := ix.Lookup(in.InstanceName); ok && reconcile.Live(in.InstanceState) {
			out[f.Name()]++
		}
	}
	return out
}

func TestLostResponseIsResentWithItsToken(t *testing.T) {
	e := newScaleEnv(t, 0)
	fleets := genFleets(t, 1, 1)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse})
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	_, res := once(t, r, fleets)
	if res.Ambiguous != 1 || res.OK() {
		t.Fatalf("result %+v; want one ambiguous create", res)
	}
	e.srv.ClearFaults()
	p, res := once(t, r, fleets)
	if c := p.Fleets[0].Creates; len(c) != 0 {
		// The instance bought by the lost call is listed: nothing to do.
		t.Fatalf("second plan creates %+v", c)
	}
	if n := live(e.srv, fleets)["f0000"]; n != 1 || !res.OK() {
		t.Fatalf("%d live instances, result %+v", n, res)
	}
}

func TestAmbiguousCreateUnseenIsResentWithTheSameToken(t *testing.T) {
	e := newScaleEnv(t, 0)
	fleets := genFleets(t, 1, 1)
	// The create is carried out and its answer lost, and Describe does not
	// show it yet: the slot must wait or resend the same token, never buy
	// a second instance.
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse})
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultDescribeLag, Delay: time.Minute})
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	once(t, r, fleets)
	e.srv.ClearFaults()
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultDescribeLag, Delay: time.Minute})
	p, _ := once(t, r, fleets)
	if c := p.Fleets[0].Creates; len(c) != 1 || !c[0].Resend || c[0].ClientToken != reconcile.Token("ap-guangzhou", "f0000", 0, 0) {
		t.Fatalf("creates %+v; want the same token sent again", c)
	}
	e.manual().Advance(2 * time.Minute)
	p, _ = once(t, r, fleets)
	if p.Changes() {
		t.Fatalf("plan after the lag %+v", p.Fleets[0])
	}
	if n := len(e.srv.Instances()); n != 1 {
		t.Fatalf("%d instances bought, want 1", n)
	}
}

func TestLaunchFailedIsReplacedWithTheNextIncarnation(t *testing.T) {
	for _, stateful := range []bool{true, false} {
		// Every launch fails in the first emulator; its state moves to a
		// second one where launches succeed.
		failing := newScaleEnv(t, 0, func(c *emulator.Config) { c.LaunchFailureProbability = 1 })
		fleets := genFleets(t, 1, 2)
		r := reconcile.New(failing.client, nil, reconcile.Options{Now: failing.clock.Now})
		once(t, r, fleets)
		failing.manual().Advance(time.Minute)
		var buf strings.Builder
		if err := failing.srv.SaveState(&buf); err != nil {
			t.Fatal(err)
		}
		e := newScaleEnv(t, 0)
		if err := e.srv.LoadState(strings.NewReader(buf.String())); err != nil {
			t.Fatal(err)
		}
		e.manual().Set(failing.clock.Now())
		if stateful {
			r = reconcile.New(e.client, r.State(), reconcile.Options{Now: e.clock.Now})
		} else {
			r = reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
		}
		p, res := once(t, r, fleets)
		if fp := p.Fleets[0]; len(fp.Creates) != 2 || fp.Failed != 2 || res.Created != 2 {
			t.Fatalf("stateful=%v: plan %+v result %+v", stateful, fp, res)
		}
		for _, c := range res.Fleets[0].Created {
			if c.Incarnation != 1 {
				t.Errorf("stateful=%v: slot %d created with incarnation %d, want 1", stateful, c.Slot, c.Incarnation)
			}
		}
		e.manual().Advance(time.Minute)
		if n := live(e.srv, fleets)["f0000"]; n != 2 {
			t.Errorf("stateful=%v: %d live", stateful, n)
		}
		if p, _ := once(t, r, fleets); p.Changes() {
			t.Errorf("stateful=%v: third plan has changes: %+v", stateful, p.Fleets[0].Creates)
		}
	}
}

func TestServiceRefusalsNameTheField(t *testing.T) {
	e := newScaleEnv(t, 0, func(c *emulator.Config) { c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": 2} })
	fleets := genFleets(t, 1, 3)
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	_, res := once(t, r, fleets)
	fr := res.Fleets[0]
	if res.Created != 2 || res.Failed != 1 || fr.Error == nil || fr.Error.Field != "spec.count" ||
		!strings.Contains(fr.Error.Message, "LimitExceeded.InstanceQuotaLimitExceeded") || !strings.Contains(fr.Error.Message, "lower spec.count") {
		t.Fatalf("result %+v, error %+v", res, fr.Error)
	}
}

func TestPlanPricesOncePerShapeAndBuysNothing(t *testing.T) {
	e := newScaleEnv(t, 0)
	fleets := genFleets(t, 3, 4) // one shape, 12 creates
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now, APIDryRun: true})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Calls(lighthouse.ActionInquirePriceCreateInstances, ""); n != 1 {
		t.Errorf("%d price inquiries, want 1", n)
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("a plan bought %d instances", n)
	}
	m := p.Totals.Money
	if m.Currency != "CNY" || m.Monthly <= 0 || m.Commitment != m.Monthly || m.Unknown {
		t.Errorf("money %+v", m)
	}
	if p.Check(reconcile.Limits{MaxCreates: 10, MaxMonthlySpend: m.Monthly - 1, MaxIsolates: 0}) != true || len(p.Violations) != 2 {
		t.Errorf("violations %+v", p.Violations)
	}
	if _, err := r.Apply(context.Background(), p, false); err != reconcile.ErrOverLimit {
		t.Errorf("apply over the limit: %v", err)
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("an apply over the limit bought %d instances", n)
	}
}

func TestRateLimitedCreateIsNotAmbiguous(t *testing.T) {
	e := newScaleEnv(t, 0)
	fleets := genFleets(t, 1, 1)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultRequestLimitExceeded})
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	_, res := once(t, r, fleets)
	if res.Ambiguous != 0 || res.Failed != 1 || res.Fleets[0].Failures[0].Class != "retry-later" {
		t.Fatalf("result %+v %+v", res, res.Fleets[0].Failures)
	}
	if exp := r.State().Expectations(); len(exp) != 0 {
		t.Errorf("a refused create left expectations %+v", exp)
	}
	e.srv.ClearFaults()
	if p, res := once(t, r, fleets); len(p.Fleets[0].Creates) != 1 || p.Fleets[0].Creates[0].Resend || res.Created != 1 {
		t.Fatalf("second run: plan %+v result %+v", p.Fleets[0].Creates, res)
	}
}

// A refused token proves that a create with it was carried out, not that its
// instance is dead. A one-shot run with no state, after an unanswered
// create and a spec change, while Describe does not list the instance yet,
// must wait rather than buy the slot again with the next incarnation.
func TestRefusedTokenWaitsForItsInstance(t *testing.T) {
	e := newScaleEnv(t, 0, func(c *emulator.Config) { c.TokenMismatch = emulator.TokenReject })
	before := genFleets(t, 1, 1)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse, Count: 1})
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultDescribeLag, Delay: time.Minute})
	once(t, reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now}), before)

	after := loadSpec(t, strings.Replace(fleetDoc("f0000", 1), "bundle_gen_01", "bundle_gen_02", 1))
	_, res := once(t, reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now}), after)
	if n := len(e.srv.Instances()); n != 1 {
		t.Fatalf("%d instances after the refused token, want 1 (result %+v)", n, res.Fleets[0].Failures)
	}
	if f := res.Fleets[0].Failures; len(f) != 1 || f[0].Class != "retry-later" || f[0].Code != "UnsupportedOperation.IdempotentParameterMismatch" {
		t.Errorf("failures %+v", f)
	}
	e.manual().Advance(2 * time.Minute)
	p, _ := once(t, reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now}), after)
	if p.Changes() || len(p.Fleets[0].Drift) != 1 || len(e.srv.Instances()) != 1 {
		t.Errorf("once listed: plan %+v, %d instances", p.Fleets[0], len(e.srv.Instances()))
	}
}

// A create cancelled before it was sent (while it waits for the rate limit)
// cannot have bought anything: its slot does not wait.
func TestCreateNotSentIsNotAmbiguous(t *testing.T) {
	e := newScaleEnv(t, 0)
	slow := e.h.NewClient(t, func(o *lighthouse.Options) {
		o.RateLimits = map[string]float64{lighthouse.ActionCreateInstances: 0.001}
	})
	fleets := genFleets(t, 1, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first create to end cancels the run: the other one is still
	// waiting for the rate limit (one create per 1,000 s).
	r := reconcile.New(slow, nil, reconcile.Options{Now: e.clock.Now, Progress: func(reconcile.Progress) { cancel() }})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.Apply(ctx, p, false)
	if res.Ambiguous != 0 || res.Created != 1 || len(e.srv.Instances()) != 1 {
		t.Fatalf("result %+v %+v", res, res.Fleets[0].Failures)
	}
	for _, x := range r.State().Expectations() {
		if x.InstanceID == "" {
			t.Errorf("the create that was never sent left an ambiguous expectation: %+v", x)
		}
	}
}
