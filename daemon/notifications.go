package daemon

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file turns what the daemon sees into notifications: the events of a
// cycle are derived in one place, notifyCycle, which record calls with the
// cycle's outcome; the leadership's and the approvals' are sent where they
// happen. Only the daemon that reconciles (the leader, or a daemon alone)
// sends the events of a cycle, so that several daemons send one.

// DefaultNotConvergedCycles is Options.NotConvergedCycles's default.
const DefaultNotConvergedCycles = 3

// Scopes of conditions (notify.Notifier.Conditions): the conditions that
// one kind of knowledge settles. A cycle that did not learn a scope (the
// sync failed, no plan was made, nothing was applied) leaves its
// conditions as they were.
const (
	scopeRevision = "revision" // the revision synced: invalid, unsigned
	scopePlan     = "plan"     // the plan: held, fleets failing, not converged, expiring
	scopeApply    = "apply"    // the apply: failures
)

// startNotifier starts the notifier of Options.Notify, taking over what
// the daemon this one replaces had sent.
func (d *Daemon) startNotifier() {
	if len(d.opts.Notify) == 0 {
		return
	}
	var prev *notify.Notifier
	if p := d.opts.Previous; p != nil {
		prev = p.notifier.Load()
	}
	for _, r := range d.opts.Notify {
		for _, res := range notify.Results {
			d.m.notifications.WithLabelValues(r.Sink.Name(), res)
		}
	}
	n, err := notify.New(notify.Options{Routes: d.opts.Notify, PublicURL: d.opts.PublicURL, Previous: prev, Now: d.opts.Now,
		Logger: d.log.With("component", "notify"),
		Observe: func(sink, result string) {
			d.m.notifications.WithLabelValues(sink, result).Inc()
		}})
	if err != nil {
		d.log.Error("notifications are off: the notifier does not start", "err", err)
		return
	}
	d.notifier.Store(n)
}

// stopNotifier lets the notifications queued go out for the grace period,
// then drops the rest.
func (d *Daemon) stopNotifier() {
	n := d.notifier.Load()
	if n == nil {
		return
	}
	grace := d.opts.NotifyGrace
	if grace <= 0 {
		grace = notify.DefaultGrace
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		d.log.Warn("notifications not sent before the daemon stopped", "err", err)
	}
}

// notifyOnce sends a one-off event, if notifications are on.
func (d *Daemon) notifyOnce(ev notify.Event) {
	if n := d.notifier.Load(); n != nil {
		n.Notify(ev)
	}
}

// notifyLeadership sends the change of this daemon's leadership; a daemon
// that stops leading forgets the conditions of the plan, which the next
// leader reports.
func (d *Daemon) notifyLeadership(on bool) {
	n := d.notifier.Load()
	if n == nil {
		return
	}
	id := d.opts.Leadership.ID()
	if on {
		n.Notify(notify.Event{Kind: EventLeadershipGained, Severity: notify.Info, Summary: id + " leads now: it reconciles the fleets",
			Details: map[string]any{"id": id}})
		return
	}
	n.Forget(scopeRevision)
	n.Forget(scopePlan)
	n.Forget(scopeApply)
	n.Notify(notify.Event{Kind: EventLeadershipLost, Severity: notify.Warning, Summary: id + " no longer leads: it stopped reconciling",
		Details: map[string]any{"id": id}})
}

// notifyCycle derives the events of a cycle from its outcome: the one
// place where a cycle's notifications are decided. It runs on the loop
// goroutine (record) and never waits for a sink.
func (d *Daemon) notifyCycle(o *outcome, fleets []FleetStatus) {
	d.countNotConverged(o)
	n := d.notifier.Load()
	if n == nil || o.follower {
		return
	}
	if o.fetched {
		n.Conditions(scopeRevision, d.revisionConditions(o))
	}
	if o.plan != nil {
		n.Conditions(scopePlan, d.planConditions(o, fleets))
	}
	var dts []fleetDayTwo
	if o.res != nil {
		dts = dayTwoOfResult(o.plan, o.res)
		n.Conditions(scopeApply, d.applyConditions(o, dts))
	}
	if o.res != nil || o.fast != nil { // a push's fast path may have created when the full plan was held
		if ev, ok := d.appliedEvent(o, dts); ok {
			n.Notify(ev)
		}
	}
}

// countNotConverged counts, per fleet, the cycles in a row that ended
// with fewer instances live, expected or just created than the count (a
// fleet in error is not counted: fleet.failing says why).
func (d *Daemon) countNotConverged(o *outcome) {
	if o.plan == nil {
		return
	}
	created := map[string]int{}
	if o.res != nil {
		for _, fr := range o.res.Fleets {
			created[fr.Fleet] += len(fr.Created)
		}
	}
	short := map[string]int{}
	for _, fp := range o.plan.Fleets {
		// What this cycle created, and what earlier ones wait for, is on
		// its way: not short.
		if fp.Error == nil && fp.Live+fp.Expected+created[fp.Fleet] < fp.Desired {
			short[fp.Fleet] = d.short[fp.Fleet] + 1
		}
	}
	d.short = short
}

// revisionConditions: the revision synced is invalid or refused.
func (d *Daemon) revisionConditions(o *outcome) []notify.Event {
	inv := o.invalid
	if inv == nil {
		return nil
	}
	n := spec.Errors(inv.Errors).Count()
	first := inv.Errors[0].Error()
	ev := notify.Event{Kind: EventRevisionInvalid, Key: EventRevisionInvalid, Fingerprint: inv.ID, Severity: notify.Critical, Revision: inv.ID,
		Details: map[string]any{"problems": problemList(inv.Errors, 10), "problemCount": n}}
	still := o.stillReconciling()
	if o.good != "" && d.good != nil {
		ev.Details["lastGood"] = d.good.rev.ID
	}
	if o.refused {
		ev.Kind, ev.Key = EventRevisionUnsigned, EventRevisionUnsigned
		ev.Summary = fmt.Sprintf("revision %s is refused: %s; %s", inv.Short, first, still)
		ev.Description = "Only revisions signed by the keys of repository.verify are applied: sign the commit (or tag) with a trusted key, or add the signer's key."
		return []notify.Event{ev}
	}
	ev.Summary = fmt.Sprintf("revision %s is invalid (%d problem%s, first: %s); %s", inv.Short, n, plural(n), first, still)
	ev.Description = "Problems:\n" + strings.Join(problemList(inv.Errors, 10), "\n") + "\nFix them in a new commit (lightkeeper validate finds them before you push)."
	return []notify.Event{ev}
}

// problemList writes the first max problems, one per line.
func problemList(es []*spec.Error, max int) []string {
	var out []string
	for i, e := range es {
		if i == max {
			out = append(out, fmt.Sprintf("and %d more", len(es)-max))
			break
		}
		out = append(out, e.Error())
	}
	return out
}

// planConditions: the plan is held, fleets fail, fleets stay short,
// instances expire.
func (d *Daemon) planConditions(o *outcome, fleets []FleetStatus) []notify.Event {
	p := o.plan
	rev := ""
	if d.good != nil {
		rev = d.good.rev.ID
	}
	var out []notify.Event
	if o.held != nil {
		out = append(out, d.heldEvent(p, o.held, rev))
	}
	for _, fp := range p.Fleets {
		if fp.Error != nil {
			out = append(out, notify.Event{Kind: EventFleetFailing, Key: EventFleetFailing + "/" + fp.Fleet, Fingerprint: fp.Error.Message,
				Severity: notify.Critical, Fleets: []string{fp.Fleet}, Region: fp.Region, Revision: rev,
				Summary: fmt.Sprintf("fleet %s cannot be reconciled: %s", fp.Fleet, fp.Error.Message),
				Details: map[string]any{"code": fp.Error.Code, "field": fp.Error.Field, "file": fp.File}})
		} else {
			out = append(out, dayTwoPlanConditions(dayTwoOf(fp, nil), rev)...)
		}
		for _, x := range fp.Expiring {
			left := x.Expires.Sub(p.At)
			sev := notify.Warning
			if left < 24*time.Hour {
				sev = notify.Critical
			}
			out = append(out, notify.Event{Kind: EventInstanceExpiring, Key: EventInstanceExpiring + "/" + fp.Fleet + "/" + x.InstanceID,
				Fingerprint: x.Expires.UTC().Format(time.RFC3339), Severity: sev, Fleets: []string{fp.Fleet}, Region: fp.Region,
				Instance: x.InstanceID, Revision: rev,
				Summary: fmt.Sprintf("instance %s (%s) of fleet %s expires %s, in %s, and is not renewed automatically",
					x.InstanceID, x.Name, fp.Fleet, x.Expires.UTC().Format(time.RFC3339), left.Round(time.Hour)),
				Description: fmt.Sprintf("Renew it (console, or spec.charge.renewFlag: NOTIFY_AND_AUTO_RENEW), or it goes SHUTDOWN and lightkeeper buys a new one for slot %d.", x.Slot),
				Details:     map[string]any{"expires": x.Expires.UTC().Format(time.RFC3339), "name": x.Name, "slot": x.Slot}})
		}
	}
	limit := d.opts.NotConvergedCycles
	if limit <= 0 {
		limit = DefaultNotConvergedCycles
	}
	for _, fs := range fleets {
		if c := d.short[fs.Name]; c >= limit {
			out = append(out, notify.Event{Kind: EventFleetNotConverged, Key: EventFleetNotConverged + "/" + fs.Name, Severity: notify.Warning,
				Fleets: []string{fs.Name}, Region: fs.Region, Revision: rev,
				Summary: fmt.Sprintf("fleet %s has %d of %d instances live after %d cycles", fs.Name, fs.Live+fs.Created, fs.Desired, c),
				Details: map[string]any{"desired": fs.Desired, "live": fs.Live + fs.Created, "pending": fs.Pending, "failed": fs.Failed, "cycles": c}})
		}
	}
	return out
}

// heldEvent is the condition of a plan held by a limit: its ID, the
// violations, what it would do and how to approve it.
func (d *Daemon) heldEvent(p *reconcile.Plan, held []reconcile.Violation, rev string) notify.Event {
	var fleets, region []string
	for _, fp := range p.Fleets {
		if heldActs(fp) {
			fleets = append(fleets, fp.Fleet)
			if !slices.Contains(region, fp.Region) {
				region = append(region, fp.Region)
			}
		}
	}
	msgs := make([]string, 0, len(held))
	for _, v := range held {
		msgs = append(msgs, v.Message)
	}
	t := p.Totals
	what := fmt.Sprintf("The plan creates %d and isolates %d instances", t.Creates, t.Isolates)
	var also []string // the day two the plan would make too
	if t.Updates > 0 {
		what += fmt.Sprintf(", updates %d", t.Updates)
		also = append(also, fmt.Sprintf("%d update%s", t.Updates, plural(t.Updates)))
	}
	if t.Money.Monthly > 0 {
		what += fmt.Sprintf(", adding %.2f %s a month", t.Money.Monthly, t.Money.Currency)
	}
	if t.Renewals > 0 {
		spend := renewalSpend(t.RenewalSpend)
		what += fmt.Sprintf(", and renews %d for %s", t.Renewals, spend)
		also = append(also, fmt.Sprintf("%d renewal%s for %s", t.Renewals, plural(t.Renewals), spend))
	}
	desc := "Held: " + strings.Join(msgs, "; ") + ".\n" + what + "."
	approve := ""
	if len(d.opts.Approvers) > 0 {
		url := d.opts.PublicURL
		if url == "" {
			url = "URL"
		}
		approve = fmt.Sprintf("lightkeeper approve --daemon %s --token-file FILE %s", strings.TrimSuffix(url, "/"), p.ID)
		desc += "\nApprove this plan, once: " + approve
	} else {
		desc += "\nNo approvers are configured: raise the limit in the configuration, or add approvers to release held plans."
	}
	ev := notify.Event{Kind: EventPlanHeld, Key: EventPlanHeld, Fingerprint: p.ID, Severity: notify.Warning, Fleets: fleets, Revision: rev,
		Summary:     fmt.Sprintf("plan %s held, nothing applied: %s", p.ID, strings.Join(msgs, "; ")),
		Description: desc,
		Details: map[string]any{"planId": p.ID, "violations": msgs, "creates": t.Creates, "isolates": t.Isolates,
			"updates": t.Updates, "renewals": t.Renewals, "monthlySpend": t.Money.Monthly, "renewalSpend": t.RenewalSpend.Commitment,
			"currency": t.Money.Currency}}
	if len(also) > 0 {
		ev.Summary += " (with " + strings.Join(also, " and ") + ")"
	}
	if approve != "" {
		ev.Details["approve"] = approve
	}
	if t.Money.Currency == "" && t.RenewalSpend.Currency != "" {
		ev.Details["currency"] = t.RenewalSpend.Currency
	}
	if len(region) == 1 {
		ev.Region = region[0]
	}
	return ev
}

// heldActs reports whether a held plan would act on the fleet: create,
// isolate, update (a rollout's planned update) or renew.
func heldActs(fp *reconcile.FleetPlan) bool {
	if fp.Error != nil || fp.Suspended {
		return false
	}
	if len(fp.Creates) > 0 || slices.ContainsFunc(fp.Surplus, func(s reconcile.Surplus) bool { return s.Action == reconcile.ActionIsolate }) ||
		slices.ContainsFunc(fp.Renewals, func(rn reconcile.Renewal) bool { return rn.Verdict == reconcile.RenewSend }) {
		return true
	}
	return fp.Rollout != nil && slices.ContainsFunc(fp.Rollout.Updates, func(u reconcile.Update) bool { return u.Status == reconcile.StatusPlanned })
}

// renewalSpend words what a plan's renewals cost.
func renewalSpend(m reconcile.Money) string {
	s := fmt.Sprintf("%.2f", m.Commitment)
	if m.Currency != "" {
		s += " " + m.Currency
	}
	if m.Unknown {
		s += " (some prices unknown)"
	}
	return s
}

// applyConditions: creates of a fleet failed in this apply (not those the
// daemon deferred because it was stopping or lost the leadership), and
// its updates and renewals that failed (dts, dayTwoOfResult).
func (d *Daemon) applyConditions(o *outcome, dts []fleetDayTwo) []notify.Event {
	rev := ""
	if d.good != nil {
		rev = d.good.rev.ID
	}
	var out []notify.Event
	for _, fr := range o.res.Fleets {
		var lines, codes []string
		if fr.Error != nil {
			lines = append(lines, fr.Error.Message)
			codes = append(codes, fr.Error.Code)
		}
		for _, f := range fr.Failures {
			if f.InstanceID != "" || f.Action != "" || f.Code == CodeShuttingDown || f.Code == lighthouse.CodeFenced {
				continue
			}
			lines = append(lines, fmt.Sprintf("slot %d: %s", f.Slot, f.Message))
			codes = append(codes, f.Code)
		}
		if len(lines) == 0 {
			continue
		}
		slices.Sort(codes)
		out = append(out, notify.Event{Kind: EventCreateFailed, Key: EventCreateFailed + "/" + fr.Fleet, Fingerprint: strings.Join(slices.Compact(codes), ","),
			Severity: notify.Warning, Fleets: []string{fr.Fleet}, Region: fr.Region, Revision: rev,
			Summary:     fmt.Sprintf("fleet %s: %d create%s failed: %s", fr.Fleet, len(lines), plural(len(lines)), lines[0]),
			Description: strings.Join(lines, "\n"),
			Details:     map[string]any{"failures": lines, "codes": slices.Compact(codes)}})
	}
	for _, dt := range dts {
		out = append(out, dayTwoApplyConditions(dt, rev)...)
	}
	return out
}

// appliedEvent is the event of an apply that changed something: what it
// created and isolated, per fleet, and the money it adds. A push's fast
// path (o.fast, from o.fastPlan) counts with the full plan's apply.
func (d *Daemon) appliedEvent(o *outcome, dts []fleetDayTwo) (notify.Event, bool) {
	type applied struct {
		p   *reconcile.Plan
		res *reconcile.Result
	}
	var all []applied
	for _, a := range []applied{{o.fastPlan, o.fast}, {o.plan, o.res}} {
		if a.p != nil && a.res != nil {
			all = append(all, a)
		}
	}
	if len(all) == 0 {
		return notify.Event{}, false
	}
	var res reconcile.Result // the counts of all
	for _, a := range all {
		res.Created += a.res.Created
		res.Isolated += a.res.Isolated
		res.Failed += a.res.Failed
		res.Ambiguous += a.res.Ambiguous
	}
	p := all[len(all)-1].p // the full plan when there is one
	updated, renewed := dayTwoCounts(dts)
	if res.Created == 0 && res.Isolated == 0 && updated == 0 && renewed == 0 {
		return notify.Event{}, false
	}
	changed := map[string]bool{}
	for _, dt := range dts {
		changed[dt.fleet] = dt.updated+dt.renewed > 0
	}
	var fleets, parts []string
	monthly, commitment, currency := 0.0, 0.0, p.Totals.Money.Currency
	createdOf, isolatedOf := map[string]int{}, map[string]int{}
	for _, a := range all {
		created := map[string]int{}
		for _, fr := range a.res.Fleets {
			if _, seen := createdOf[fr.Fleet]; !seen && (len(fr.Created)+len(fr.Isolated) > 0 || changed[fr.Fleet]) {
				fleets = append(fleets, fr.Fleet)
				createdOf[fr.Fleet] = 0
			}
			if _, listed := createdOf[fr.Fleet]; listed {
				createdOf[fr.Fleet] += len(fr.Created)
				isolatedOf[fr.Fleet] += len(fr.Isolated)
			}
			created[fr.Fleet] += len(fr.Created)
		}
		for _, fp := range a.p.Fleets {
			if n := len(fp.Creates); n > 0 && created[fp.Fleet] > 0 {
				share := float64(created[fp.Fleet]) / float64(n)
				monthly += fp.Money.Monthly * share
				commitment += fp.Money.Commitment * share
			}
		}
		if currency == "" {
			currency = a.p.Totals.Money.Currency
		}
	}
	for _, f := range fleets {
		parts = append(parts, fmt.Sprintf("%s +%d -%d", f, createdOf[f], isolatedOf[f]))
	}
	rev, short := "", ""
	if d.good != nil {
		rev, short = d.good.rev.ID, d.good.rev.Short()
	}
	counts := fmt.Sprintf("%d created, %d isolated", res.Created, res.Isolated)
	if updated+renewed > 0 {
		counts += fmt.Sprintf(", %d updated, %d renewed", updated, renewed)
	}
	sum := fmt.Sprintf("revision %s applied: %s (%s)", short, counts, strings.Join(parts, ", "))
	if monthly > 0 {
		sum += fmt.Sprintf(", +%.2f %s a month", monthly, currency)
	}
	if f := res.Failed + res.Ambiguous; f > 0 {
		sum += fmt.Sprintf("; %d create%s failed or unknown", f, plural(f))
	}
	details := map[string]any{"planId": p.ID, "created": res.Created, "isolated": res.Isolated, "updated": updated, "renewed": renewed, "failed": res.Failed,
		"ambiguous": res.Ambiguous, "monthlySpend": math.Round(monthly*100) / 100, "commitment": math.Round(commitment*100) / 100, "currency": currency}
	if a := o.approved; a != nil {
		sum += fmt.Sprintf(" — plan %s approved by %s", a.Plan, a.By)
		details["approvedBy"] = a.By
	}
	return notify.Event{Kind: EventRevisionApplied, Severity: notify.Info, Fleets: fleets, Revision: rev, Summary: sum, Details: details}, true
}
