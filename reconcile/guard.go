package reconcile

import "fmt"

// NoLimit is the value of a limit that sets none. Every limit of Limits
// follows one rule, and so do the front ends' flags and keys that set
// them: 0 or more is the most one run may do (0: nothing), and NoLimit (-1;
// any negative value reads the same) is no limit at all.
const NoLimit = -1

// Limits are the guards an apply must stay within, each as NoLimit says.
// The zero value allows nothing: no create, no spend, no isolation.
type Limits struct {
	// MaxCreates caps the creates of one run.
	MaxCreates int
	// MaxMonthlySpend caps the monthly delta of one run, in the price's
	// currency; a plan with a price unknown exceeds any cap.
	MaxMonthlySpend float64
	// MaxIsolates caps the isolations of one run; at 0 the isolations a
	// plan would make are only reported (see Check).
	MaxIsolates int
	// MaxUpdates caps the resets, bundle changes and replacements of one
	// run (a rollout's; renew flags and the isolations that end a
	// replacement are not counted); at 0 they are only reported. Unlike
	// the other limits it fails no plan: what is over it waits for the
	// next run, as a rollout's later batches do (see Check).
	MaxUpdates int
	// MaxRenewalSpend caps what the renewals of one run cost (their
	// commitment), in the price's currency; a plan with a renewal price
	// unknown exceeds any cap.
	MaxRenewalSpend float64
}

// NoLimits returns Limits with every limit NoLimit.
func NoLimits() Limits {
	return Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit, MaxUpdates: NoLimit, MaxRenewalSpend: NoLimit}
}

// limited reports whether a limit is set.
func limited[T int | float64](v T) bool { return v >= 0 }

// DefaultMaxCreates is the default cap on creates per run.
const DefaultMaxCreates = 20

// The limits, as Violation.Limit and Surplus.HeldBy name them.
const (
	LimitCreates      = "max-creates"
	LimitMonthlySpend = "max-monthly-spend"
	LimitIsolates     = "max-isolates"
	LimitUpdates      = "max-updates"
	LimitRenewalSpend = "max-renewal-spend"
)

// Check records in p.Violations each limit the plan exceeds, as data, and
// returns whether there are any. A spend limit with prices unknown is
// exceeded: the plan cannot show it stays below. With MaxIsolates 0 the
// isolations the plan would make are turned into reports held by that
// limit (Surplus.HeldBy), so they block nothing. A front end words the
// violations in its users' terms with Word.
func (p *Plan) Check(l Limits) bool {
	p.Violations = nil
	if l.MaxIsolates == 0 && p.Totals.Isolates > 0 {
		for _, fp := range p.Fleets {
			for i := range fp.Surplus {
				if s := &fp.Surplus[i]; s.Action == ActionIsolate {
					s.Action, s.HeldBy = ActionReport, LimitIsolates
				}
			}
		}
		p.total()
	}
	if limited(l.MaxUpdates) && p.Totals.Updates > l.MaxUpdates {
		p.holdUpdates(l.MaxUpdates)
		p.total()
	}
	t := p.Totals
	if limited(l.MaxCreates) && t.Creates > l.MaxCreates {
		p.Violations = append(p.Violations, Violation{Limit: LimitCreates, Planned: float64(t.Creates), Max: float64(l.MaxCreates)})
	}
	if limited(l.MaxMonthlySpend) && t.Creates+t.Updates > 0 && (t.Money.Unknown || t.Money.Monthly > l.MaxMonthlySpend) {
		p.Violations = append(p.Violations, Violation{Limit: LimitMonthlySpend, Planned: t.Money.Monthly, Max: l.MaxMonthlySpend,
			Currency: t.Money.Currency, PricesUnknown: t.Money.Unknown})
	}
	if limited(l.MaxIsolates) && t.Isolates > l.MaxIsolates {
		p.Violations = append(p.Violations, Violation{Limit: LimitIsolates, Planned: float64(t.Isolates), Max: float64(l.MaxIsolates)})
	}
	if rs := t.RenewalSpend; limited(l.MaxRenewalSpend) && t.Renewals > 0 && (rs.Unknown || rs.Commitment > l.MaxRenewalSpend) {
		p.Violations = append(p.Violations, Violation{Limit: LimitRenewalSpend, Planned: rs.Commitment, Max: l.MaxRenewalSpend,
			Currency: rs.Currency, PricesUnknown: rs.Unknown})
	}
	return len(p.Violations) > 0
}

// Words are a front end's names for the knobs a plan's explanations refer
// to, so that they are its users' words: flags for the command line
// (--max-creates), configuration keys for the daemon
// (limits.maxCreatesPerRun). A name left "" is the limit's own
// (LimitCreates, ...).
type Words struct {
	MaxCreates, MaxMonthlySpend, MaxIsolates, MaxUpdates, MaxRenewalSpend string
	// AllowOverLimit is how a person applies a plan over a limit anyway;
	// "" when the front end has no way to.
	AllowOverLimit string
}

// Name is what w calls limit.
func (w Words) Name(limit string) string {
	name := map[string]string{LimitCreates: w.MaxCreates, LimitMonthlySpend: w.MaxMonthlySpend, LimitIsolates: w.MaxIsolates, LimitUpdates: w.MaxUpdates,
		LimitRenewalSpend: w.MaxRenewalSpend}[limit]
	if name == "" {
		return limit
	}
	return name
}

// Word fills in the Message of each violation in w's terms (Violation.Text)
// and keeps w for the text and Markdown renderers, which also name the
// limit that held an isolation and w.AllowOverLimit. Call it after Check.
func (p *Plan) Word(w Words) {
	p.words = w
	for i := range p.Violations {
		p.Violations[i].Message = p.Violations[i].Text(w)
	}
}

// Text says in a sentence what v is, naming the limit as w does.
func (v Violation) Text(w Words) string {
	name := w.Name(v.Limit)
	switch v.Limit {
	case LimitCreates:
		return fmt.Sprintf("the plan creates %s, %d over %s %d", instances(int(v.Planned)), int(v.Planned-v.Max), name, int(v.Max))
	case LimitIsolates:
		return fmt.Sprintf("the plan isolates %s, %d over %s %d", instances(int(v.Planned)), int(v.Planned-v.Max), name, int(v.Max))
	case LimitMonthlySpend:
		if v.PricesUnknown {
			return fmt.Sprintf("some prices are unknown, so the plan cannot show it stays under %s %.2f", name, v.Max)
		}
		return fmt.Sprintf("the plan adds %.2f %s a month, %.2f over %s %.2f", v.Planned, v.Currency, v.Planned-v.Max, name, v.Max)
	case LimitRenewalSpend:
		if v.PricesUnknown {
			return fmt.Sprintf("some renewal prices are unknown, so the plan cannot show its renewals stay under %s %.2f", name, v.Max)
		}
		return fmt.Sprintf("the plan's renewals cost %.2f %s, %.2f over %s %.2f", v.Planned, v.Currency, v.Planned-v.Max, name, v.Max)
	}
	return fmt.Sprintf("the plan's %g is over %s %g", v.Planned, name, v.Max)
}

// heldText says why an isolation became a report, naming the limit as w
// does; "" for a surplus no limit held.
func heldText(s Surplus, w Words) string {
	if s.HeldBy == "" {
		return ""
	}
	name := w.Name(s.HeldBy)
	return fmt.Sprintf("; reported only: %s is 0 (allow isolations with %s N)", name, name)
}

// holdUpdates holds the counted updates of the plan beyond the first max
// (in fleet and slot order): they wait for the next run.
func (p *Plan) holdUpdates(max int) {
	n := 0
	for _, fp := range p.Fleets {
		if fp.Error != nil || fp.Rollout == nil {
			continue
		}
		for i := range fp.Rollout.Updates {
			u := &fp.Rollout.Updates[i]
			if u.Status != StatusPlanned || !u.counted() {
				continue
			}
			if n < max {
				n++
				continue
			}
			u.Status, u.HeldBy = StatusHeld, LimitUpdates
		}
	}
}

// heldUpdateText says why an update is held, naming the limit as w does.
func heldUpdateText(u Update, w Words) string {
	if u.HeldBy == "" {
		return ""
	}
	name := w.Name(u.HeldBy)
	return fmt.Sprintf("; held: over %s for this run (0 only reports; allow updates with %s N, or -1 for no limit)", name, name)
}

// instances says "1 instance" or "n instances".
func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return fmt.Sprintf("%d instances", n)
}
