package daemon

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// This file holds the events of a fleet's day two: updates and renewals an
// apply made (in revision.applied), a rollout paused, a fleet whose
// launches keep failing, updates and renewals that failed. What a cycle
// saw of them is read from its plan and result in one place, dayTwoOf; the
// events are derived from that alone.

// fleetDayTwo is what a cycle saw of one fleet's rollout, renewals and
// launches.
type fleetDayTwo struct {
	fleet, region string

	// From the plan. failing: a slot's launches keep failing, the most in
	// a row being launchFailures. rolloutPaused: why the fleet's rollout
	// stopped and waits for a person; "" while it does not.
	failing        bool
	launchFailures int
	rolloutPaused  string

	// From the apply. updated: the rollout's updates the service took;
	// updateFailures: those that failed. renewed: the renewals the service
	// took; renewFailures: those refused, deferred or unknown.
	updated        int
	updateFailures []dayTwoFailure
	renewed        int
	renewFailures  []dayTwoFailure
}

// dayTwoFailure is one update or renewal that failed: the slot, the
// instance, the update's action ("" for a renewal), the service's code and
// the message (reconcile.Failure's fields).
type dayTwoFailure struct {
	slot                        int
	instance, action, code, msg string
}

// dayTwoOf reads what fp (and fr, what the apply did of the fleet; nil
// when nothing was applied) hold of the fleet's rollout, renewals and
// launches: the rollout's (FleetPlan.Rollout.Paused, FleetResult.Updates
// and the Failures with an Action) and the lifecycle's (FleetPlan.Failing
// and LaunchFailures, FleetResult.Renewed and RenewFailures).
// TestDayTwoEventsThroughTheDaemon proves the reading through real cycles.
func dayTwoOf(fp *reconcile.FleetPlan, fr *reconcile.FleetResult) fleetDayTwo {
	dt := fleetDayTwo{fleet: fp.Fleet, region: fp.Region, failing: fp.Failing, launchFailures: fp.LaunchFailures}
	if fp.Rollout != nil {
		dt.rolloutPaused = fp.Rollout.Paused
	}
	if fr == nil {
		return dt
	}
	for _, u := range fr.Updates {
		if u.Outcome == reconcile.OutcomeSent {
			dt.updated++
		}
	}
	for _, f := range fr.Failures {
		if f.Action != "" {
			dt.updateFailures = append(dt.updateFailures, dayTwoFailure{slot: f.Slot, instance: f.InstanceID, action: f.Action, code: f.Code, msg: f.Message})
		}
	}
	dt.renewed = len(fr.Renewed)
	for _, f := range fr.RenewFailures {
		dt.renewFailures = append(dt.renewFailures, dayTwoFailure{slot: f.Slot, instance: f.InstanceID, code: f.Code, msg: f.Message})
	}
	return dt
}

// dayTwoPlanConditions are the conditions of a fleet's plan: its rollout
// paused, its launches failing. rev is the revision reconciled.
func dayTwoPlanConditions(dt fleetDayTwo, rev string) []notify.Event {
	var out []notify.Event
	if dt.rolloutPaused != "" {
		out = append(out, notify.Event{Kind: EventRolloutPaused, Key: EventRolloutPaused + "/" + dt.fleet, Fingerprint: dt.rolloutPaused,
			Severity: notify.Warning, Fleets: []string{dt.fleet}, Region: dt.region, Revision: rev,
			Summary:     fmt.Sprintf("fleet %s: rollout paused: %s", dt.fleet, dt.rolloutPaused),
			Description: "The rollout stopped after a failure and makes no more updates until a person looks: fix the cause (the fleet's row on the status page says which instance), or revert the spec change.",
			Details:     map[string]any{"paused": dt.rolloutPaused}})
	}
	if dt.failing {
		out = append(out, notify.Event{Kind: EventFleetFailing, Key: EventFleetFailing + "/" + dt.fleet, Fingerprint: "launches",
			Severity: notify.Critical, Fleets: []string{dt.fleet}, Region: dt.region, Revision: rev,
			Summary:     fmt.Sprintf("fleet %s is failing: a slot's launches failed %d times in a row", dt.fleet, dt.launchFailures),
			Description: "Lightkeeper backs off the slot's creates and tries again: look at why the instances end in LAUNCH_FAILED (the bundle, blueprint or zone sold out or unfit) and change the spec if it persists.",
			Details:     map[string]any{"launchFailures": dt.launchFailures}})
	}
	return out
}

// dayTwoApplyConditions are the conditions of what an apply did of a
// fleet: updates that failed, renewals that failed.
func dayTwoApplyConditions(dt fleetDayTwo, rev string) []notify.Event {
	var out []notify.Event
	for _, c := range []struct {
		kind     string
		what     string
		severity notify.Severity
		failures []dayTwoFailure
		hint     string
	}{
		{EventUpdateFailed, "update", notify.Warning, dt.updateFailures,
			"The rollout pauses at a failed update: fix its cause, and the next cycle goes on."},
		{EventRenewFailed, "renewal", notify.Critical, dt.renewFailures,
			"An instance not renewed goes SHUTDOWN at its expiry: top up the account or renew it in the console; the next cycle tries again."},
	} {
		if len(c.failures) == 0 {
			continue
		}
		var lines, codes []string
		for _, f := range c.failures {
			who := fmt.Sprintf("slot %d", f.slot)
			if f.instance != "" {
				who += " (" + f.instance + ")"
			}
			if f.action != "" {
				who += " " + f.action
			}
			lines = append(lines, who+": "+f.msg)
			codes = append(codes, f.code)
		}
		slices.Sort(codes)
		codes = slices.Compact(codes)
		out = append(out, notify.Event{Kind: c.kind, Key: c.kind + "/" + dt.fleet, Fingerprint: strings.Join(codes, ","),
			Severity: c.severity, Fleets: []string{dt.fleet}, Region: dt.region, Revision: rev,
			Summary:     fmt.Sprintf("fleet %s: %d %s%s failed: %s", dt.fleet, len(lines), c.what, plural(len(lines)), lines[0]),
			Description: strings.Join(lines, "\n") + "\n" + c.hint,
			Details:     map[string]any{"failures": lines, "codes": codes}})
	}
	return out
}

// dayTwoCounts sums what the apply updated and renewed.
func dayTwoCounts(dts []fleetDayTwo) (updated, renewed int) {
	for _, dt := range dts {
		updated += dt.updated
		renewed += dt.renewed
	}
	return updated, renewed
}

// dayTwoOfResult reads the day two of each fleet the apply of p reported
// on, in the result's order.
func dayTwoOfResult(p *reconcile.Plan, res *reconcile.Result) []fleetDayTwo {
	plans := map[string]*reconcile.FleetPlan{}
	for _, fp := range p.Fleets {
		plans[fp.Region+"/"+fp.Fleet] = fp
	}
	out := make([]fleetDayTwo, 0, len(res.Fleets))
	for _, fr := range res.Fleets {
		fp := plans[fr.Region+"/"+fr.Fleet]
		if fp == nil {
			fp = &reconcile.FleetPlan{Fleet: fr.Fleet, Region: fr.Region}
		}
		out = append(out, dayTwoOf(fp, fr))
	}
	return out
}
