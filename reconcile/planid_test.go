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
