package reconcile

import (
	"reflect"
	"regexp"
	"testing"
	"time"
)

// TestPlanIDNamesWhatThePlanWouldDo: two plans that would make the same
// calls have the same ID whenever they were made; a plan that would create
// another slot, another incarnation, isolate instead of report or spend
// another amount has another.
func TestPlanIDNamesWhatThePlanWouldDo(t *testing.T) {
	fleets := loadFleets(t, "web:3:", "iso:1:scaleDown: isolate")
	obs := func(extra ...string) map[string]*Observation {
		return observe(fleets, append([]string{"web-1=RUNNING", "iso-0=RUNNING", "iso-1=RUNNING@iso/1"}, extra...)...)
	}
	base := Diff(fleets, obs(), nil, t0, DiffOptions{})
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(base.ID) {
		t.Fatalf("ID %q: want %d hex digits", base.ID, PlanIDLength)
	}
	later := Diff(fleets, obs(), nil, t0.Add(time.Hour), DiffOptions{})
	if later.ID != base.ID {
		t.Errorf("the same plan an hour later has ID %s, want %s (the time is not what it does)", later.ID, base.ID)
	}

	fewer := Diff(fleets, obs("web-2=RUNNING"), nil, t0, DiffOptions{})
	if fewer.ID == base.ID {
		t.Errorf("a plan with one create less has the same ID %s", base.ID)
	}

	st := NewState()
	st.expect(Expectation{SlotKey: SlotKey{"ap-guangzhou", "web", 0}, Incarnation: 1, Token: Token("ap-guangzhou", "web", 0, 1), Since: t0.Add(-time.Hour)})
	reinc := Diff(fleets, obs(), st, t0.Add(time.Hour), DiffOptions{ExpectWindow: time.Minute})
	if got := slots(reinc.Fleets[1].Creates); !reflect.DeepEqual(got, []int{0, 2}) {
		t.Fatalf("creates %v", got)
	}
	if reinc.Fleets[1].Creates[0].Incarnation == 0 {
		t.Fatalf("the expectation did not move the incarnation on: %+v", reinc.Fleets[1].Creates[0])
	}
	if reinc.ID == base.ID {
		t.Errorf("a create of another incarnation (another token) has the same ID %s", base.ID)
	}

	held := Diff(fleets, obs(), nil, t0, DiffOptions{})
	if held.ID != base.ID {
		t.Fatalf("same inputs, IDs %s and %s", held.ID, base.ID)
	}
	held.Check(Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit, MaxIsolates: 0}) // isolations become reports
	if held.Totals.Isolates != 0 || held.ID == base.ID {
		t.Errorf("isolations turned into reports: isolates %d, ID %s unchanged", held.Totals.Isolates, held.ID)
	}

	priced := Diff(fleets, obs(), nil, t0, DiffOptions{})
	priced.Fleets[1].Money = Money{Currency: "USD", Monthly: 7, Commitment: 7}
	priced.total()
	dearer := Diff(fleets, obs(), nil, t0, DiffOptions{})
	dearer.Fleets[1].Money = Money{Currency: "USD", Monthly: 9, Commitment: 9}
	dearer.total()
	if priced.ID == dearer.ID || priced.ID == base.ID {
		t.Errorf("plans that spend 0, 7 and 9 a month: IDs %s, %s, %s", base.ID, priced.ID, dearer.ID)
	}

	// Reasons, warnings and the observed counts are not what it does.
	noted := Diff(fleets, obs(), nil, t0, DiffOptions{})
	noted.Fleets[1].Creates[0].Reason = "another reason"
	noted.Fleets[1].Warnings = append(noted.Fleets[1].Warnings, "a warning")
	noted.Fleets[1].Pending = 5
	noted.total()
	if noted.ID != base.ID {
		t.Errorf("reasons and warnings changed the ID: %s, want %s", noted.ID, base.ID)
	}
}

// TestPlanIDNamesUpdatesAndRenewals: an approval releases every limit,
// maxUpdatesPerRun and maxRenewalSpendPerRun included, so a plan whose
// updates or renewals changed must have another ID; updates only reported
// or waiting, and renewals not sent, do not count.
func TestPlanIDNamesUpdatesAndRenewals(t *testing.T) {
	fleets := loadFleets(t, "web:1:")
	obs := observe(fleets, "web-0=RUNNING")
	plan := func(edit func(fp *FleetPlan)) string {
		p := Diff(fleets, obs, nil, t0, DiffOptions{})
		edit(p.Fleets[0])
		p.total()
		return p.ID
	}
	base := plan(func(*FleetPlan) {})
	reset := func(status, to string) func(fp *FleetPlan) {
		return func(fp *FleetPlan) {
			fp.Rollout = &Rollout{Strategy: "inPlace", Updates: []Update{{Slot: 0, InstanceID: "lhins-1", Action: UpdateReset, Status: status,
				Changes: []Change{{Field: "blueprintId", From: "lhbp-old", To: to}}}}}
		}
	}
	planned := plan(reset(StatusPlanned, "lhbp-new"))
	if planned == base {
		t.Errorf("a plan that resets an instance has the ID %s of one that does nothing", base)
	}
	if other := plan(reset(StatusPlanned, "lhbp-other")); other == planned {
		t.Errorf("resets to two blueprints have the same ID %s", planned)
	}
	if waiting := plan(reset("waiting", "lhbp-new")); waiting != base {
		t.Errorf("an update this run does not make changed the ID: %s, want %s", waiting, base)
	}

	renew := func(verdict string, expires time.Time) func(fp *FleetPlan) {
		return func(fp *FleetPlan) {
			fp.Renewals = []Renewal{{Slot: 0, InstanceID: "lhins-1", Verdict: verdict, Expires: expires, Period: 1}}
		}
	}
	sent := plan(renew(RenewSend, t0.Add(48*time.Hour)))
	if sent == base {
		t.Errorf("a plan that renews an instance has the ID %s of one that does nothing", base)
	}
	if later := plan(renew(RenewSend, t0.Add(72*time.Hour))); later == sent {
		t.Errorf("renewals from two expiries have the same ID %s", sent)
	}
}
