package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The fast path of a push (docs/design.md sections 5.10 and 8): a cycle
// that a push started (a watched change or a webhook) and that adopted a
// new revision first observes only the fleets the revision added or grew,
// with filtered DescribeInstances calls, and sends their creates; then the
// cycle's full sweep plans everything as always. Whenever the filtered
// view cannot be trusted, or would cost more than the sweep, the full
// sweep plans alone.

// Kinds of lightkeeper_observations_total.
const (
	observeFiltered = "filtered"
	observeFull     = "full"
)

// Why a push cycle takes no fast path, beside reconcile's Fallback codes
// (lightkeeper_push_fallbacks_total's reason).
const (
	// fallbackFirst: no good revision before this one to compare with.
	fallbackFirst = "first-revision"
	// fallbackRemoved: a fleet was removed or renamed; its instances are
	// orphans only a full sweep shows.
	fallbackRemoved = "fleet-removed"
	// fallbackMoved: a fleet moved to another region.
	fallbackMoved = "fleet-moved"
	// fallbackNothing: no fleet is new or grew; nothing to create first.
	fallbackNothing = "nothing-to-create"
	// fallbackOverLimit: the focused plan is over a limit; the full plan
	// is held or approved as always.
	fallbackOverLimit = "over-limit"
	// fallbackError: the focused plan failed otherwise (the cycle was
	// canceled).
	fallbackError = "error"
	// fallbackUnsaved: the copy of the pushed revision could not be saved;
	// it is not adopted, and nothing of it applied (adopt.go).
	fallbackUnsaved = "copy-not-saved"
)

// fallbackReasons are the reasons lightkeeper_push_fallbacks_total starts
// at 0 for.
var fallbackReasons = []string{fallbackFirst, fallbackRemoved, fallbackMoved, fallbackNothing, fallbackOverLimit, fallbackError, fallbackUnsaved,
	reconcile.FallbackNoTags, reconcile.FallbackSuspended, reconcile.FallbackRollout, reconcile.FallbackNoSweep,
	reconcile.FallbackCalls, reconcile.FallbackDescribe, reconcile.FallbackUnknown}

// fastMetrics count which observation ran and why a push took no fast path.
type fastMetrics struct {
	observations *prom.CounterVec
	fallbacks    *prom.CounterVec
}

func newFastMetrics() *fastMetrics {
	fm := &fastMetrics{
		observations: prom.NewCounterVec("lightkeeper_observations_total",
			"Observations a cycle planned from, by kind: full (every page of every region of the fleets), filtered (a push's fast path: only the fleets the new revision added or grew, by name, tag and ID).",
			"kind"),
		fallbacks: prom.NewCounterVec("lightkeeper_push_fallbacks_total",
			"Push cycles (watch, webhook) with a new revision that took no fast path, by reason; the full sweep planned alone (docs/design.md section 5.10).",
			"reason"),
	}
	fm.observations.WithLabelValues(observeFiltered)
	fm.observations.WithLabelValues(observeFull)
	for _, r := range fallbackReasons {
		fm.fallbacks.WithLabelValues(r)
	}
	return fm
}

func (fm *fastMetrics) collectors() []prom.Collector {
	return []prom.Collector{fm.observations, fm.fallbacks}
}

// pushChange is what a newly adopted revision changed: the fleets a push
// acts on first, or why it acts on none.
type pushChange struct {
	fleets         []string
	reason, detail string
}

// pushTrigger reports whether a cycle started by trigger is a push.
func pushTrigger(trigger string) bool {
	return trigger == TriggerWatch || trigger == TriggerWebhook || trigger == TriggerForwarded
}

// changedFleets compares the fleets of the last good revision (prev) with
// those of the new one: the fleets that are new or whose count grew, all
// else the same, are the ones to act on first. A fleet changed otherwise
// waits for the full sweep (a rollout may follow from it); a fleet removed,
// renamed or moved makes the whole push wait for it.
func changedFleets(prev *goodState, next []*spec.Fleet) *pushChange {
	if prev == nil {
		return &pushChange{reason: fallbackFirst, detail: "no good revision before this one"}
	}
	now := make(map[string]*spec.Fleet, len(next))
	for _, f := range next {
		now[f.Name()] = f
	}
	old := make(map[string]*spec.Fleet, len(prev.fleets))
	for _, f := range prev.fleets {
		old[f.Name()] = f
		g := now[f.Name()]
		switch {
		case g == nil:
			return &pushChange{reason: fallbackRemoved, detail: fmt.Sprintf("fleet %s was removed or renamed", f.Name())}
		case g.Spec.Region != f.Spec.Region:
			return &pushChange{reason: fallbackMoved, detail: fmt.Sprintf("fleet %s moved from %s to %s", f.Name(), f.Spec.Region, g.Spec.Region)}
		}
	}
	ch := &pushChange{}
	for _, f := range next {
		o := old[f.Name()]
		if o == nil {
			ch.fleets = append(ch.fleets, f.Name())
			continue
		}
		if f.Spec.Count <= o.Spec.Count {
			continue
		}
		a, b := f.Spec, o.Spec
		a.Count = b.Count
		if reflect.DeepEqual(a, b) {
			ch.fleets = append(ch.fleets, f.Name())
		}
	}
	if len(ch.fleets) == 0 {
		ch.reason, ch.detail = fallbackNothing, "no fleet is new or grew in count alone"
	}
	return ch
}

// fastPath runs a push's focused plan and apply, when the cycle is a push
// that adopted a revision with fleets to act on first, and returns the
// limits left for the cycle's full plan: the focused plan's creates and
// spend count against the cycle's limits, so that the two together stay
// within them.
func (d *Daemon) fastPath(ctx context.Context, o *outcome) reconcile.Limits {
	limits := d.opts.Limits
	ch := o.push
	if ch == nil || !pushTrigger(o.run.Trigger) {
		d.settle(o)
		return limits
	}
	reason, detail := ch.reason, ch.detail
	if reason == "" {
		t0 := time.Now()
		p, err := d.rec.PlanFocused(ctx, o.pending(d).fleets, ch.fleets)
		var fb *reconcile.FocusFallback
		switch {
		case !d.settle(o):
			reason, detail = fallbackUnsaved, "the revision's copy could not be saved: it is not applied"
		case errors.As(err, &fb):
			reason, detail = fb.Code, fb.Detail
		case err != nil:
			reason, detail = fallbackError, err.Error()
		case p.Check(limits):
			reason, detail = fallbackOverLimit, fmt.Sprintf("the focused plan of %d creates is over a limit; the full plan is held or approved as always", p.Totals.Creates)
		default:
			d.m.fast.observations.WithLabelValues(observeFiltered).Inc()
			res, err := d.apply(ctx, p, false)
			o.fast, o.fastPlan = res, p
			o.run.Created, o.run.Failed = res.Created, res.Failed+res.Ambiguous
			d.log.Info("push: created the new slots before the full sweep", "fleets", ch.fleets, "planned", p.Totals.Creates,
				"created", res.Created, "failed", res.Failed+res.Ambiguous, "took", time.Since(t0).Round(time.Millisecond), "err", err)
			return spent(limits, p)
		}
	}
	d.settle(o)
	d.m.fast.fallbacks.WithLabelValues(reason).Inc()
	d.log.Debug("push: no filtered observation; the full sweep plans alone", "reason", reason, "detail", detail)
	return limits
}

// spent is what is left of l once p's creates and their monthly spend
// are counted (a limit set stays at 0 or more).
func spent(l reconcile.Limits, p *reconcile.Plan) reconcile.Limits {
	if l.MaxCreates >= 0 {
		l.MaxCreates = max(0, l.MaxCreates-p.Totals.Creates)
	}
	if l.MaxMonthlySpend >= 0 {
		l.MaxMonthlySpend = max(0, l.MaxMonthlySpend-p.Totals.Money.Monthly)
	}
	return l
}
