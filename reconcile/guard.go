package reconcile

import "fmt"

// Limits are the guards an apply must stay within.
type Limits struct {
	// MaxCreates caps the creates of one run; negative means no cap.
	MaxCreates int
	// MaxMonthlySpend caps the monthly delta of one run in the price's
	// currency; 0 means no cap.
	MaxMonthlySpend float64
	// MaxIsolates caps the isolations of one run; 0 allows none (surplus is
	// then only reported), negative means no cap.
	MaxIsolates int
}

// DefaultMaxCreates is the default cap on creates per run.
const DefaultMaxCreates = 20

// Check records in p.Violations each limit the plan exceeds, and returns
// whether there are any. A spend limit with prices unknown is exceeded: the
// plan cannot show it stays below. With MaxIsolates 0 the isolations the
// plan would make are turned into reports (surplus is only reported), so
// they block nothing.
func (p *Plan) Check(l Limits) bool {
	p.Violations = nil
	if l.MaxIsolates == 0 && p.Totals.Isolates > 0 {
		for _, fp := range p.Fleets {
			for i := range fp.Surplus {
				if s := &fp.Surplus[i]; s.Action == ActionIsolate {
					s.Action = ActionReport
					s.Reason += "; reported only: --max-isolates is 0 (allow isolations with --max-isolates N)"
				}
			}
		}
		p.total()
	}
	add := func(limit string, planned, maxv float64, format string, args ...any) {
		p.Violations = append(p.Violations, Violation{Limit: limit, Planned: planned, Max: maxv, Message: fmt.Sprintf(format, args...)})
	}
	t := p.Totals
	if l.MaxCreates >= 0 && t.Creates > l.MaxCreates {
		add("max-creates", float64(t.Creates), float64(l.MaxCreates),
			"the plan creates %s, %d over --max-creates %d", instances(t.Creates), t.Creates-l.MaxCreates, l.MaxCreates)
	}
	if l.MaxMonthlySpend > 0 && t.Creates > 0 {
		switch {
		case t.Money.Unknown:
			add("max-monthly-spend", t.Money.Monthly, l.MaxMonthlySpend,
				"some prices are unknown, so the plan cannot show it stays under --max-monthly-spend %.2f", l.MaxMonthlySpend)
		case t.Money.Monthly > l.MaxMonthlySpend:
			add("max-monthly-spend", t.Money.Monthly, l.MaxMonthlySpend,
				"the plan adds %.2f %s a month, %.2f over --max-monthly-spend %.2f", t.Money.Monthly, t.Money.Currency, t.Money.Monthly-l.MaxMonthlySpend, l.MaxMonthlySpend)
		}
	}
	if l.MaxIsolates >= 0 && t.Isolates > l.MaxIsolates {
		add("max-isolates", float64(t.Isolates), float64(l.MaxIsolates),
			"the plan isolates %s, %d over --max-isolates %d", instances(t.Isolates), t.Isolates-l.MaxIsolates, l.MaxIsolates)
	}
	return len(p.Violations) > 0
}

// instances says "1 instance" or "n instances".
func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return fmt.Sprintf("%d instances", n)
}
