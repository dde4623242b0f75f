package reconcile

import (
	"strings"
	"testing"
)

// --max-isolates 0 (the default) means surplus is only reported: the
// isolations a fleet's scaleDown: isolate would make are demoted to
// reports, and they do not block the creates of other fleets.
func TestCheckMaxIsolatesZeroReportsOnly(t *testing.T) {
	p := renderPlan(t)
	if p.Totals.Isolates != 1 {
		t.Fatalf("fixture: %d isolates, want 1", p.Totals.Isolates)
	}
	if p.Check(Limits{MaxCreates: -1}) {
		t.Fatalf("violations with --max-isolates 0: %+v", p.Violations)
	}
	if p.Totals.Isolates != 0 || p.Changes() != (p.Totals.Creates > 0) {
		t.Errorf("totals after the check: %+v", p.Totals)
	}
	for _, fp := range p.Fleets {
		for _, s := range fp.Surplus {
			if s.Action != ActionReport {
				t.Errorf("%s: %s still %s", fp.Fleet, s.ID, s.Action)
			}
			if s.ID == "lhins-api00003" && !strings.Contains(s.Reason, "--max-isolates") {
				t.Errorf("reason does not say why it is only reported: %q", s.Reason)
			}
		}
	}
}

// A positive cap below the isolations planned is a violation.
func TestCheckMaxIsolatesExceeded(t *testing.T) {
	p := renderPlan(t)
	p.Fleets[1].Surplus = append(p.Fleets[1].Surplus, p.Fleets[1].Surplus[0])
	p.total()
	if !p.Check(Limits{MaxCreates: -1, MaxIsolates: 1}) || p.Violations[0].Limit != "max-isolates" {
		t.Errorf("violations: %+v", p.Violations)
	}
	p = renderPlan(t)
	if p.Check(Limits{MaxCreates: -1, MaxIsolates: -1}) || p.Totals.Isolates != 1 {
		t.Errorf("no cap: %+v %+v", p.Violations, p.Totals)
	}
}
