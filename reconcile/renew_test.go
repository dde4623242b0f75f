package reconcile_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Tests of renewal before expiry (renew.go) against the emulator over
// HTTP, on its manual clock: what a plan renews, that Apply renews once,
// and that nothing renews an instance twice for one expiry.

// renewEnv is an emulator with a fleet of count instances created and
// RUNNING, and their IDs in creation order.
func renewEnv(t *testing.T, cfg emulator.Config, defs ...fleetDef) (*reconciletest.Emulator, []*spec.Fleet, []string) {
	t.Helper()
	if cfg.Quotas == nil {
		cfg.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}
	}
	emu := reconciletest.StartEmulator(t, cfg, lighthouse.Options{RetryMax: -1})
	fleets := fleetsOf(t, defs...)
	created := fleetsOf(t, func() []fleetDef {
		out := slices.Clone(defs)
		for i := range out {
			out[i].suspend = false
		}
		return out
	}()...)
	once(t, reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now}), created)
	emu.Clock.Advance(emulator.DefaultLaunchDelay)
	var ids []string
	for _, in := range emu.Server.Instances() {
		ids = append(ids, in.InstanceId)
	}
	slices.Sort(ids)
	return emu, fleets, ids
}

func webRenewing(count int) fleetDef {
	return fleetDef{name: "web", region: "ap-guangzhou", bundle: "bundle_gen_01", count: count, renewBefore: "7d"}
}

func instanceByID(emu *reconciletest.Emulator, id string) lighthouse.Instance {
	for _, in := range emu.Server.Instances() {
		if in.InstanceId == id {
			return in
		}
	}
	return lighthouse.Instance{}
}

// expiry sets id's ExpiredTime to now + d (to the second) and returns it.
func expiry(t *testing.T, emu *reconciletest.Emulator, id string, d time.Duration) time.Time {
	t.Helper()
	at := emu.Clock.Now().Add(d).Truncate(time.Second)
	if err := emu.Server.SetExpiredTime(id, at); err != nil {
		t.Fatal(err)
	}
	return at
}

// renewedOnce checks the emulator's renewals: each (instance, expiry) at
// most once, and returns how many there were.
func renewedOnce(t *testing.T, emu *reconciletest.Emulator) int {
	t.Helper()
	seen := map[string]bool{}
	log := emu.Server.RenewalLog()
	for _, rn := range log {
		k := rn.InstanceId + "@" + rn.From.Format(time.RFC3339)
		if seen[k] {
			t.Fatalf("%s was renewed twice from %s: %+v", rn.InstanceId, rn.From, log)
		}
		seen[k] = true
	}
	return len(log)
}

func TestRenewalWithinTheWindowRenewsOnce(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(2))
	exp := expiry(t, emu, ids[0], 3*24*time.Hour)
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
	p, res := once(t, r, fleets)
	fp := p.Fleets[0]
	if len(fp.Renewals) != 1 || len(fp.Creates) != 0 {
		t.Fatalf("plan: %+v", fp)
	}
	rn := fp.Renewals[0]
	if rn.InstanceID != ids[0] || rn.Verdict != reconcile.RenewSend || !rn.Expires.Equal(exp) || !rn.NewExpiry.Equal(exp.AddDate(0, 1, 0)) ||
		rn.Price <= 0 || rn.Currency != "CNY" || rn.Period != 1 || !strings.Contains(rn.Reason, "within spec.charge.renewBefore 7d") {
		t.Errorf("renewal %+v", rn)
	}
	if p.Totals.Renewals != 1 || p.Totals.RenewalSpend.Commitment != rn.Price || !p.Changes() {
		t.Errorf("totals %+v", p.Totals)
	}
	if res.Renewed != 1 || len(res.Fleets[0].Renewed) != 1 || !res.OK() {
		t.Fatalf("result %+v", res)
	}
	// While it runs, neither this runner nor one without state sends it
	// again: the plan says it runs.
	for _, rr := range []*reconcile.Reconciler{r, reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})} {
		p, res := once(t, rr, fleets)
		if fp := p.Fleets[0]; len(fp.Renewals) != 1 || fp.Renewals[0].Verdict != reconcile.RenewRunning || p.Totals.Renewals != 0 || res.Renewed != 0 {
			t.Fatalf("while the renewal runs: %+v, %+v", fp.Renewals, res)
		}
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	if got := instanceByID(emu, ids[0]).ExpiredTime; got == nil || *got != exp.AddDate(0, 1, 0).Format(lighthouse.TimeLayout) {
		t.Fatalf("ExpiredTime %v, want %s", got, exp.AddDate(0, 1, 0))
	}
	p, _ = once(t, r, fleets)
	if p.Changes() || len(p.Fleets[0].Renewals) != 0 || r.State().Intents() != nil && len(r.State().Intents()) != 0 {
		t.Fatalf("after the renewal: %+v, journal %+v", p.Fleets[0], r.State().Intents())
	}
	if n := renewedOnce(t, emu); n != 1 {
		t.Fatalf("%d renewals", n)
	}
}

// An instance SHUTDOWN by its expiry is renewed, not replaced, in a fleet
// with renewBefore: same ID, back RUNNING, no new server bought. Without
// renewBefore, its slot is filled anew, as before.
func TestExpiredInstanceIsRenewedNotReplaced(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(1))
	exp := expiry(t, emu, ids[0], -time.Hour)
	if s := instanceByID(emu, ids[0]).InstanceState; s != lighthouse.StateShutdown {
		t.Fatalf("expired instance is %s", s)
	}
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
	p, res := once(t, r, fleets)
	fp := p.Fleets[0]
	if len(fp.Creates) != 0 || len(fp.Renewals) != 1 || !fp.Renewals[0].Expired || res.Renewed != 1 {
		t.Fatalf("plan %+v, result %+v", fp, res)
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	p, res = once(t, r, fleets)
	in := instanceByID(emu, ids[0])
	if p.Changes() || res.Created != 0 || len(emu.Server.Instances()) != 1 || in.InstanceState != lighthouse.StateRunning ||
		*in.ExpiredTime != exp.AddDate(0, 1, 0).Format(lighthouse.TimeLayout) {
		t.Fatalf("after the renewal: %+v; %d instances, %s %v", p.Fleets[0], len(emu.Server.Instances()), in.InstanceState, *in.ExpiredTime)
	}

	// Without renewBefore: today's behaviour, a new server for the slot.
	plain := webRenewing(1)
	plain.renewBefore = ""
	emu2, fleets2, ids2 := renewEnv(t, emulator.Config{}, plain)
	expiry(t, emu2, ids2[0], -time.Hour)
	p, _ = once(t, reconcile.New(emu2.Client, nil, reconcile.Options{Now: emu2.Clock.Now}), fleets2)
	if fp := p.Fleets[0]; len(fp.Renewals) != 0 || len(fp.Creates) != 1 || !strings.Contains(fp.Creates[0].Reason, "SHUTDOWN") {
		t.Fatalf("without renewBefore: %+v", fp)
	}
	if n := renewedOnce(t, emu2); n != 0 {
		t.Fatalf("a fleet without renewBefore was renewed %d times", n)
	}
}

// A renewal whose answer was lost, timed out or came back as a 5xx is
// confirmed through ExpiredTime and the latest operation: never sent
// again, by the runner that sent it, a runner without state, or two at
// once.
func TestRenewalWithALostAnswerIsNeverSentTwice(t *testing.T) {
	for _, kind := range []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultInternalError, emulator.FaultHTTP5xx} {
		t.Run(string(kind), func(t *testing.T) {
			emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(1))
			expiry(t, emu, ids[0], 2*24*time.Hour)
			r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
			emu.Server.InjectFault(emulator.Fault{Kind: kind, Action: lighthouse.ActionRenewInstances, Count: 1})
			_, res := once(t, r, fleets)
			if res.RenewAmbiguous != 1 || res.OK() {
				t.Fatalf("first run: %+v", res)
			}
			if it := r.State().Intents(); len(it) != 1 || !it[0].Unknown {
				t.Fatalf("journal %+v", it)
			}
			// The runner that sent it never sends it again; one without
			// state sends it only if nothing shows it happened (a 5xx or
			// an InternalError did not run it; a dropped answer did).
			for range 3 {
				for i, rr := range []*reconcile.Reconciler{r, reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})} {
					if _, res := once(t, rr, fleets); res.RenewAmbiguous != 0 || res.Renewed != 0 && (i == 0 || kind == emulator.FaultDropResponse) {
						t.Fatalf("a resend by runner %d: %+v", i, res)
					}
				}
				emu.Clock.Advance(2 * time.Second)
			}
			emu.Clock.Advance(emulator.DefaultOperationDelay)
			if n := renewedOnce(t, emu); n != 1 {
				t.Fatalf("%d renewals, want 1", n)
			}
			if n := emu.Server.Calls(lighthouse.ActionRenewInstances, ""); n != 1 {
				t.Errorf("%d RenewInstances carried out, want 1", n)
			}
			if p, _ := once(t, r, fleets); p.Changes() || len(r.State().Intents()) != 0 {
				t.Fatalf("after: %+v, journal %+v", p.Fleets[0], r.State().Intents())
			}
		})
	}
}

// A renewal the service refuses (a failed call, not a lost one) did not
// happen and is sent again; one that ended FAILED is sent again once its
// window passed; a balance that does not cover it is said so, with what to
// do, and it is renewed once topped up.
func TestRenewalRefusedFailedAndUnpaid(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(1))
	exp := expiry(t, emu, ids[0], 2*24*time.Hour)
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})

	emu.Server.InjectFault(emulator.Fault{Kind: emulator.FaultRequestLimitExceeded, Action: lighthouse.ActionRenewInstances, Count: 1})
	if _, res := once(t, r, fleets); res.RenewFailed != 1 || len(r.State().Intents()) != 0 {
		t.Fatalf("rate limited: %+v, journal %+v", res, r.State().Intents())
	}

	emu.Server.InjectFault(emulator.Fault{Kind: emulator.FaultOperationFailure, Action: lighthouse.ActionRenewInstances, Count: 1})
	if _, res := once(t, r, fleets); res.Renewed != 1 {
		t.Fatalf("sent: %+v", res)
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	p, res := once(t, r, fleets)
	if rn := p.Fleets[0].Renewals; len(rn) != 1 || rn[0].Verdict != reconcile.RenewFailed || res.Renewed != 0 {
		t.Fatalf("within the window of a failed renewal: %+v %+v", rn, res)
	}
	emu.Clock.Advance(reconcile.DefaultExpectWindow)

	if err := emu.Server.SetAvailable(1); err != nil {
		t.Fatal(err)
	}
	_, res = once(t, r, fleets)
	if res.RenewFailed != 1 || len(res.Fleets[0].RenewFailures) != 1 {
		t.Fatalf("unpaid: %+v", res)
	}
	if f := res.Fleets[0].RenewFailures[0]; f.Code != "FailedOperation.InsufficientBalance" || !strings.Contains(f.Message, "top up the account") {
		t.Errorf("unpaid renewal: %+v", f)
	}
	if err := emu.Server.SetBalance(0); err != nil {
		t.Fatal(err)
	}
	if _, res = once(t, r, fleets); res.Renewed != 1 {
		t.Fatalf("topped up: %+v", res)
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	if log := emu.Server.RenewalLog(); len(log) != 1 || !log[0].From.Equal(exp) {
		t.Fatalf("renewals %+v", log)
	}
	renewedOnce(t, emu)
}

// The renewals are a guard of their own: over --max-renewal-spend the
// apply does nothing, and 0 renews nothing.
func TestRenewalSpendGuard(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(2))
	for _, id := range ids {
		expiry(t, emu, id, 24*time.Hour)
	}
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	spend := p.Totals.RenewalSpend.Commitment
	for _, limit := range []float64{0, spend - 0.01} {
		l := reconcile.NoLimits()
		l.MaxRenewalSpend = limit
		if !p.Check(l) || len(p.Violations) != 1 || p.Violations[0].Limit != reconcile.LimitRenewalSpend {
			t.Fatalf("limit %.2f: violations %+v", limit, p.Violations)
		}
		p.Word(reconcile.Words{MaxRenewalSpend: "--max-renewal-spend"})
		if msg := p.Violations[0].Message; !strings.Contains(msg, "renewals cost") || !strings.Contains(msg, "--max-renewal-spend") {
			t.Errorf("message %q", msg)
		}
		if _, err := r.Apply(context.Background(), p, false); !errors.Is(err, reconcile.ErrOverLimit) {
			t.Fatalf("apply over the limit: %v", err)
		}
	}
	l := reconcile.NoLimits()
	l.MaxRenewalSpend = spend
	if p.Check(l) {
		t.Fatalf("at the limit: %+v", p.Violations)
	}
	if n := renewedOnce(t, emu); n != 0 {
		t.Fatalf("%d renewals over the guard", n)
	}
}

// 120 instances expiring in one region go out as two RenewInstances (100 to
// a call) after three price inquiries (50 to a call).
func TestRenewalsAreBatched(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(120))
	for _, id := range ids {
		expiry(t, emu, id, 24*time.Hour)
	}
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
	p, res := once(t, r, fleets)
	if p.Totals.Renewals != 120 || res.Renewed != 120 {
		t.Fatalf("plan %d renewals, %d renewed", p.Totals.Renewals, res.Renewed)
	}
	if n := emu.Server.Calls(lighthouse.ActionRenewInstances, ""); n != 2 {
		t.Errorf("%d RenewInstances calls, want 2", n)
	}
	if n := emu.Server.Calls(lighthouse.ActionInquirePriceRenewInstances, ""); n != 3 {
		t.Errorf("%d InquirePriceRenewInstances calls, want 3", n)
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	if n := renewedOnce(t, emu); n != 120 {
		t.Fatalf("%d renewals", n)
	}
}

// A batch the service refuses outright holds up no instance but the one it
// refuses: the others are sent again one at a time.
func TestRenewalBatchRefusedForOneInstance(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, webRenewing(3))
	for _, id := range ids {
		expiry(t, emu, id, 24*time.Hour)
	}
	r := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	// Between the plan and the apply, someone stops one instance and
	// isolates another: the batch is refused for the isolated one.
	if _, err := emu.Client.IsolateInstances(context.Background(), "ap-guangzhou", &lighthouse.IsolateInstancesRequest{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	emu.Clock.Advance(emulator.DefaultOperationDelay)
	p.Check(reconcile.NoLimits())
	res, err := r.Apply(context.Background(), p, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Renewed != 2 || res.RenewFailed != 1 || res.Fleets[0].RenewFailures[0].InstanceID != ids[0] {
		t.Fatalf("result %+v %+v", res, res.Fleets[0].RenewFailures)
	}
}

// A suspended fleet's renewals are planned for the record and not sent.
func TestSuspendedFleetIsNotRenewed(t *testing.T) {
	def := webRenewing(1)
	def.suspend = true
	emu, fleets, ids := renewEnv(t, emulator.Config{}, def)
	expiry(t, emu, ids[0], time.Hour)
	p, res := once(t, reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now}), fleets)
	if fp := p.Fleets[0]; !fp.Suspended || len(fp.Renewals) != 1 || p.Totals.Renewals != 0 || res.Renewed != 0 || !res.Fleets[0].Suspended {
		t.Fatalf("plan %+v, totals %+v, result %+v", fp, p.Totals, res)
	}
	if n := renewedOnce(t, emu); n != 0 {
		t.Fatalf("a suspended fleet was renewed %d times", n)
	}
}

// An instance on automatic renewal that shut down at its expiry is one
// whose automatic renewal failed for lack of balance: the plan says so.
func TestFailedAutoRenewalIsWarned(t *testing.T) {
	emu, fleets, ids := renewEnv(t, emulator.Config{}, web(1))
	if _, err := emu.Client.ModifyInstancesRenewFlag(context.Background(), "ap-guangzhou",
		&lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: ids, RenewFlag: lighthouse.RenewNotifyAuto}); err != nil {
		t.Fatal(err)
	}
	if err := emu.Server.SetAvailable(1); err != nil {
		t.Fatal(err)
	}
	expiry(t, emu, ids[0], -time.Minute)
	p, err := reconcile.New(emu.Client, nil, reconcile.Options{Now: emu.Clock.Now}).Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(p.Fleets[0].Warnings, "\n"); !strings.Contains(w, "its automatic renewal failed, for lack of balance") || !strings.Contains(w, ids[0]) {
		t.Fatalf("warnings: %s", w)
	}
}
