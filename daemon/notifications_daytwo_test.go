package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// TestDayTwoEvents: the events of a fleet's day two light up from what a
// cycle saw of it (fleetDayTwo): a rollout paused and launches failing as
// conditions of the plan, updates and renewals that failed as conditions
// of the apply, each keyed by its fleet and changed by what it is about;
// updates and renewals alone make a revision.applied that counts them.
// Nothing lights up from a fleet that has none of it.
func TestDayTwoEvents(t *testing.T) {
	quiet := fleetDayTwo{fleet: "web", region: "ap-guangzhou"}
	if ev := append(dayTwoPlanConditions(quiet, "r1"), dayTwoApplyConditions(quiet, "r1")...); len(ev) != 0 {
		t.Errorf("a quiet fleet: %+v", ev)
	}

	dt := quiet
	dt.rolloutPaused = "slot 2 (lhins-2): ResetInstance ended FAILED"
	dt.failing, dt.launchFailures = true, 4
	plan := dayTwoPlanConditions(dt, "r1")
	if len(plan) != 2 {
		t.Fatalf("plan conditions %+v", plan)
	}
	p, f := plan[0], plan[1]
	if p.Kind != EventRolloutPaused || p.Key != "rollout.paused/web" || p.Fingerprint != dt.rolloutPaused || p.Severity != notify.Warning ||
		p.Summary != "fleet web: rollout paused: slot 2 (lhins-2): ResetInstance ended FAILED" || p.Region != "ap-guangzhou" || p.Revision != "r1" {
		t.Errorf("rollout paused: %+v", p)
	}
	if f.Kind != EventFleetFailing || f.Key != "fleet.failing/web" || f.Severity != notify.Critical ||
		f.Summary != "fleet web is failing: a slot's launches failed 4 times in a row" || f.Details["launchFailures"] != 4 {
		t.Errorf("fleet failing: %+v", f)
	}
	dt.launchFailures = 5 // a failure more is the same condition: not sent again at once
	if again := dayTwoPlanConditions(dt, "r1")[1]; again.Fingerprint != f.Fingerprint {
		t.Errorf("the fingerprint follows the count: %q, then %q", f.Fingerprint, again.Fingerprint)
	}

	dt = quiet
	dt.updateFailures = []dayTwoFailure{{slot: 1, instance: "lhins-1", action: "reset", code: "FailedOperation", msg: "the reset failed"},
		{slot: 3, instance: "lhins-3", action: "modify-bundle", code: "FailedOperation", msg: "the bundle change failed"}}
	dt.renewFailures = []dayTwoFailure{{slot: 0, instance: "lhins-0", code: "FailedOperation.InsufficientBalance", msg: "the account cannot pay"}}
	apply := dayTwoApplyConditions(dt, "r2")
	if len(apply) != 2 {
		t.Fatalf("apply conditions %+v", apply)
	}
	u, r := apply[0], apply[1]
	if u.Kind != EventUpdateFailed || u.Key != "update.failed/web" || u.Fingerprint != "FailedOperation" || u.Severity != notify.Warning ||
		u.Summary != "fleet web: 2 updates failed: slot 1 (lhins-1) reset: the reset failed" || !strings.Contains(u.Description, "slot 3 (lhins-3) modify-bundle: the bundle change failed") {
		t.Errorf("update failed: %+v", u)
	}
	if r.Kind != EventRenewFailed || r.Key != "renew.failed/web" || r.Severity != notify.Critical || r.Fingerprint != "FailedOperation.InsufficientBalance" ||
		r.Summary != "fleet web: 1 renewal failed: slot 0 (lhins-0): the account cannot pay" || !strings.Contains(r.Description, "SHUTDOWN") {
		t.Errorf("renew failed: %+v", r)
	}
	for _, ev := range slices.Concat(plan, apply) {
		if !conditionKinds[ev.Kind] || !slices.Contains(EventKinds, ev.Kind) {
			t.Errorf("%s is not a condition kind the configuration takes", ev.Kind)
		}
	}

	// Updates and renewals alone are a revision applied.
	o := &outcome{plan: &reconcile.Plan{ID: "0123456789abcdef"}, res: &reconcile.Result{Fleets: []*reconcile.FleetResult{{Fleet: "web", Region: "ap-guangzhou"}, {Fleet: "db", Region: "ap-guangzhou"}}}}
	d := &Daemon{good: &goodState{rev: Revision{ID: "4f0c2d9e8b7a65432109"}}}
	if ev, ok := d.appliedEvent(o, []fleetDayTwo{quiet, {fleet: "db"}}); ok {
		t.Errorf("nothing done, yet %+v", ev)
	}
	done := quiet
	done.updated, done.renewed = 2, 1
	ev, ok := d.appliedEvent(o, []fleetDayTwo{done, {fleet: "db"}})
	if !ok || ev.Summary != "revision 4f0c2d9e8b7a applied: 0 created, 0 isolated, 2 updated, 1 renewed (web +0 -0)" ||
		ev.Details["updated"] != 2 || ev.Details["renewed"] != 1 || !slices.Equal(ev.Fleets, []string{"web"}) || ev.Revision != "4f0c2d9e8b7a65432109" {
		t.Errorf("applied: %v %+v", ok, ev)
	}

	// dayTwoOfResult reads each fleet of the result, in its order, with
	// its plan's name and region (a fleet without a plan: the result's).
	fp := &reconcile.FleetPlan{Fleet: "web", Region: "ap-guangzhou"}
	if got := dayTwoOfResult(&reconcile.Plan{Fleets: []*reconcile.FleetPlan{fp}}, o.res); len(got) != 2 || got[0].fleet != "web" || got[1].fleet != "db" ||
		got[0].region != "ap-guangzhou" {
		t.Errorf("dayTwoOfResult: %+v", got)
	}
}

// TestAppliedEventCountsTheFastPath: what a push's fast path created is in
// the "revision applied" event with the full plan's apply (counts, fleets,
// money), and makes one on its own when the full plan was held.
func TestAppliedEventCountsTheFastPath(t *testing.T) {
	fastPlan := &reconcile.Plan{ID: "fast", Fleets: []*reconcile.FleetPlan{{Fleet: "web", Region: "ap-guangzhou",
		Creates: []reconcile.Create{{Slot: 4}, {Slot: 5}}, Money: reconcile.Money{Currency: "CNY", Monthly: 60}}},
		Totals: reconcile.Totals{Money: reconcile.Money{Currency: "CNY", Monthly: 60}}}
	fast := &reconcile.Result{Created: 2, Fleets: []*reconcile.FleetResult{{Fleet: "web", Region: "ap-guangzhou",
		Created: []reconcile.Created{{Slot: 4, InstanceID: "lhins-4"}, {Slot: 5, InstanceID: "lhins-5"}}}}}
	full := &reconcile.Plan{ID: "0123456789abcdef", Fleets: []*reconcile.FleetPlan{
		{Fleet: "web", Region: "ap-guangzhou"},
		{Fleet: "db", Region: "ap-guangzhou", Creates: []reconcile.Create{{Slot: 0}}, Money: reconcile.Money{Currency: "CNY", Monthly: 40}}},
		Totals: reconcile.Totals{Money: reconcile.Money{Currency: "CNY", Monthly: 40}}}
	fullRes := &reconcile.Result{Created: 1, Fleets: []*reconcile.FleetResult{{Fleet: "web", Region: "ap-guangzhou"},
		{Fleet: "db", Region: "ap-guangzhou", Created: []reconcile.Created{{Slot: 0, InstanceID: "lhins-d"}}}}}
	d := &Daemon{good: &goodState{rev: Revision{ID: "4f0c2d9e8b7a65432109"}}}

	ev, ok := d.appliedEvent(&outcome{fastPlan: fastPlan, fast: fast, plan: full, res: fullRes}, nil)
	if !ok || ev.Summary != "revision 4f0c2d9e8b7a applied: 3 created, 0 isolated (web +2 -0, db +1 -0), +100.00 CNY a month" ||
		ev.Details["created"] != 3 || ev.Details["planId"] != "0123456789abcdef" || !slices.Equal(ev.Fleets, []string{"web", "db"}) {
		t.Errorf("fast path and full apply: %v %+v", ok, ev)
	}
	// The full plan held: the fast path's creates are an apply of their own.
	ev, ok = d.appliedEvent(&outcome{fastPlan: fastPlan, fast: fast, plan: full}, nil)
	if !ok || ev.Summary != "revision 4f0c2d9e8b7a applied: 2 created, 0 isolated (web +2 -0), +60.00 CNY a month" || ev.Details["planId"] != "fast" {
		t.Errorf("fast path alone: %v %+v", ok, ev)
	}
	// Nothing created anywhere: no event.
	if ev, ok := d.appliedEvent(&outcome{plan: full, res: &reconcile.Result{}}, nil); ok {
		t.Errorf("nothing done, yet %+v", ev)
	}
}
