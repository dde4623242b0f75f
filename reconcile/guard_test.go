package reconcile

import (
	"bytes"
	"strings"
	"testing"
)

// daemonWords are the daemon's names of the limits (package daemon), for
// the tests that show a second front end wording the same data.
var daemonWords = Words{MaxCreates: "limits.maxCreatesPerRun", MaxMonthlySpend: "limits.maxMonthlySpend", MaxIsolates: "limits.maxIsolatesPerRun"}

// --max-isolates 0 (the default) means surplus is only reported: the
// isolations a fleet's scaleDown: isolate would make are demoted to
// reports held by that limit, and they do not block the creates of other
// fleets. Each front end names the limit in its own words.
func TestCheckMaxIsolatesZeroReportsOnly(t *testing.T) {
	p := renderPlan(t)
	if p.Totals.Isolates != 1 {
		t.Fatalf("fixture: %d isolates, want 1", p.Totals.Isolates)
	}
	if p.Check(Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit}) {
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
			if held := s.ID == "lhins-api00003"; held != (s.HeldBy == LimitIsolates) || strings.Contains(s.Reason, "max-isolates") {
				t.Errorf("%s: held by %q, reason %q", s.ID, s.HeldBy, s.Reason)
			}
		}
	}
	for words, want := range map[Words]string{
		cliWords:    "reported only: --max-isolates is 0 (allow isolations with --max-isolates N)",
		daemonWords: "reported only: limits.maxIsolatesPerRun is 0 (allow isolations with limits.maxIsolatesPerRun N)",
	} {
		p.Word(words)
		for format, render := range map[string]func(*bytes.Buffer) error{
			"text":     func(b *bytes.Buffer) error { return RenderText(b, p, nil, false) },
			"markdown": func(b *bytes.Buffer) error { return RenderMarkdown(b, p, nil) },
		} {
			var b bytes.Buffer
			if err := render(&b); err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(b.String(), `\`, ""); !strings.Contains(got, want) {
				t.Errorf("%s with %s does not say %q:\n%s", format, words.MaxIsolates, want, b.String())
			}
		}
	}
}

// A positive cap below the isolations planned is a violation.
func TestCheckMaxIsolatesExceeded(t *testing.T) {
	p := renderPlan(t)
	p.Fleets[1].Surplus = append(p.Fleets[1].Surplus, p.Fleets[1].Surplus[0])
	p.total()
	if !p.Check(Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit, MaxIsolates: 1}) || len(p.Violations) != 1 || p.Violations[0].Limit != LimitIsolates {
		t.Errorf("violations: %+v", p.Violations)
	}
	p = renderPlan(t)
	if p.Check(NoLimits()) || p.Totals.Isolates != 1 {
		t.Errorf("no cap: %+v %+v", p.Violations, p.Totals)
	}
}

// Every limit follows one rule: NoLimit (any negative value) is no limit,
// 0 allows nothing, and a number is the most one run may do. The zero
// Limits allow nothing at all.
func TestLimitsFollowOneRule(t *testing.T) {
	// renderPlan: 3 creates at 230.00 CNY a month, 1 isolation.
	for _, tc := range []struct {
		name string
		l    Limits
		want []string // the limits violated
	}{
		{"no limits", NoLimits(), nil},
		{"any negative is no limit", Limits{MaxCreates: -7, MaxMonthlySpend: -0.5, MaxIsolates: -2}, nil},
		{"the zero value allows nothing", Limits{}, []string{LimitCreates, LimitMonthlySpend}},
		{"creates 0", Limits{MaxCreates: 0, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit}, []string{LimitCreates}},
		{"creates 3", Limits{MaxCreates: 3, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit}, nil},
		{"spend 0", Limits{MaxCreates: NoLimit, MaxMonthlySpend: 0, MaxIsolates: NoLimit}, []string{LimitMonthlySpend}},
		{"spend 230", Limits{MaxCreates: NoLimit, MaxMonthlySpend: 230, MaxIsolates: NoLimit}, nil},
		{"spend 229.99", Limits{MaxCreates: NoLimit, MaxMonthlySpend: 229.99, MaxIsolates: NoLimit}, []string{LimitMonthlySpend}},
		{"isolates 1", Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit, MaxIsolates: 1}, nil},
	} {
		p := renderPlan(t)
		p.Check(tc.l)
		var got []string
		for _, v := range p.Violations {
			got = append(got, v.Limit)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: violations %v, want %v", tc.name, got, tc.want)
		}
	}
	// A price unknown exceeds any spend limit, 0 included, and no other.
	p := renderPlan(t)
	p.Totals.Money.Unknown = true
	if !p.Check(Limits{MaxCreates: NoLimit, MaxMonthlySpend: 1e9, MaxIsolates: NoLimit}) || !p.Violations[0].PricesUnknown {
		t.Errorf("unknown prices under a spend limit: %+v", p.Violations)
	}
	if p.Check(NoLimits()) {
		t.Errorf("unknown prices with no spend limit: %+v", p.Violations)
	}
}

// Check records violations as data; each front end words them (Word) in
// its own terms, and nothing of one front end's words is in the data.
func TestViolationsAreDataWordedByTheFrontEnd(t *testing.T) {
	p := renderPlan(t)
	p.Check(Limits{MaxCreates: 2, MaxMonthlySpend: 200, MaxIsolates: 0})
	want := []Violation{
		{Limit: LimitCreates, Planned: 3, Max: 2},
		{Limit: LimitMonthlySpend, Planned: 230, Max: 200, Currency: "CNY"},
	}
	if len(p.Violations) != len(want) {
		t.Fatalf("violations %+v, want %+v", p.Violations, want)
	}
	for i, v := range p.Violations {
		if v != want[i] {
			t.Errorf("violation %d: %+v, want %+v (no words before Word)", i, v, want[i])
		}
	}
	for words, msgs := range map[Words][]string{
		cliWords: {"the plan creates 3 instances, 1 over --max-creates 2",
			"the plan adds 230.00 CNY a month, 30.00 over --max-monthly-spend 200.00"},
		daemonWords: {"the plan creates 3 instances, 1 over limits.maxCreatesPerRun 2",
			"the plan adds 230.00 CNY a month, 30.00 over limits.maxMonthlySpend 200.00"},
		{}: {"the plan creates 3 instances, 1 over max-creates 2",
			"the plan adds 230.00 CNY a month, 30.00 over max-monthly-spend 200.00"},
	} {
		p.Word(words)
		for i, v := range p.Violations {
			if v.Message != msgs[i] {
				t.Errorf("words %+v: %q, want %q", words, v.Message, msgs[i])
			}
		}
		var b bytes.Buffer
		if err := RenderText(&b, p, nil, false); err != nil {
			t.Fatal(err)
		}
		allow := "Over 2 safety limits: nothing is created."
		if words.AllowOverLimit != "" {
			allow = "Over 2 safety limits: nothing is created without " + words.AllowOverLimit + "."
		}
		if !strings.Contains(b.String(), allow) || (words != cliWords && strings.Contains(b.String(), "--")) {
			t.Errorf("words %+v: the text does not say %q, or names a flag:\n%s", words, allow, b.String())
		}
	}
	// Unknown prices.
	v := Violation{Limit: LimitMonthlySpend, Planned: 10, Max: 5, PricesUnknown: true}
	if got := v.Text(daemonWords); got != "some prices are unknown, so the plan cannot show it stays under limits.maxMonthlySpend 5.00" {
		t.Errorf("unknown prices: %q", got)
	}
}
