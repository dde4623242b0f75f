package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/spec"
)

// This file holds what the plan says of a fleet's life beyond its count:
// suspended (spec.suspend), failing (launches that keep failing, see
// backoff.go) and its next expiry.

// Fleet conditions, as FleetPlan.Condition names them.
const (
	ConditionError     = "error"
	ConditionSuspended = "suspended"
	ConditionFailing   = "failing"
)

// condition is the fleet's condition in one word for the tables: error,
// suspended, failing or "" (none of these).
func (fp *FleetPlan) condition() string {
	switch {
	case fp.Error != nil:
		return ConditionError
	case fp.Suspended:
		return ConditionSuspended
	case fp.Failing:
		return ConditionFailing
	}
	return ""
}

// Condition is the fleet's condition in one word: ConditionError,
// ConditionSuspended, ConditionFailing or "" when none applies.
func (fp *FleetPlan) Condition() string { return fp.condition() }

// acts reports whether Apply acts on the fleet: not in error, not
// suspended.
func (fp *FleetPlan) acts() bool { return fp.Error == nil && !fp.Suspended }

// Failing returns the fleet plans that are failing (FleetPlan.Failing).
func (p *Plan) Failing() []*FleetPlan {
	var out []*FleetPlan
	for _, fp := range p.Fleets {
		if fp.Failing && fp.Error == nil {
			out = append(out, fp)
		}
	}
	return out
}

// Suspended returns the fleet plans of suspended fleets.
func (p *Plan) Suspended() []*FleetPlan {
	var out []*FleetPlan
	for _, fp := range p.Fleets {
		if fp.Suspended {
			out = append(out, fp)
		}
	}
	return out
}

// lifecycle fills in what diffFleet leaves to it: suspension and the next
// expiry of the fleet's live instances.
func lifecycle(fp *FleetPlan, f *spec.Fleet, o *Observation) {
	fp.Suspended = f.Spec.Suspend
	if o == nil {
		return
	}
	for _, in := range o.Fleets[f.Name()] {
		if !in.Live() || in.Expires.IsZero() {
			continue
		}
		if fp.NextExpiry.IsZero() || in.Expires.Before(fp.NextExpiry) || in.Expires.Equal(fp.NextExpiry) && in.ID < fp.NextExpiring {
			fp.NextExpiry, fp.NextExpiring = in.Expires, in.ID
		}
	}
}

// FailingText says why the fleet is failing, "" when it is not.
func (fp *FleetPlan) FailingText() string {
	if !fp.Failing {
		return ""
	}
	return fmt.Sprintf("launches keep failing (%s in a row in one slot); check the bundle, blueprint and zone in the console, or remove the LAUNCH_FAILED instances to try again at once",
		plural(fp.LaunchFailures, "launch failure"))
}

// Text says when a slot whose launches failed is tried again.
func (bo Backoff) Text() string {
	return fmt.Sprintf("slot %d backs off until %s after %s in a row (newest %s, created %s)",
		bo.Slot, bo.Until.UTC().Format(time.RFC3339), plural(bo.Failures, "launch failure"), bo.LastFailed, bo.LastCreated.UTC().Format(time.RFC3339))
}

// expiryCell is a fleet's next expiry as the tables show it.
func expiryCell(fp *FleetPlan) string {
	if fp.NextExpiry.IsZero() {
		return "-"
	}
	return fp.NextExpiry.UTC().Format(time.RFC3339)
}

// would turns what a suspended fleet would do into words: "create" becomes
// "would create".
func would(fp *FleetPlan, verb string) string {
	if fp.Suspended {
		return "would " + verb
	}
	return verb
}

// suspendedCell shows a number a suspended fleet would change, in
// parentheses: it is not done.
func suspendedCell(fp *FleetPlan, s string) string {
	if !fp.Suspended || s == "-" || s == "0" {
		return s
	}
	return "(" + strings.TrimSpace(s) + ")"
}

// shortDuration writes d without zero units: 1m, 2h, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// vanished records a create whose token returned an instance that
// DescribeInstances does not list: deleted by hand since the token made it
// (the service still answers a replayed token with it), or not listed yet.
// The slot waits, as for any create whose instance is not listed, until
// the expectation window ends; a new server is bought then if the
// instance is still missing. It is not counted as created. A rollout's
// replacement keeps its replacement expectation, so that no other
// replacement goes beside it meanwhile (rollout chaos seed 1338).
func (r *Reconciler) vanished(fp *FleetPlan, fr *FleetResult, c Create, inc int, token, id string, replacement bool, now time.Time) bool {
	key := SlotKey{fp.Region, fp.Fleet, c.Slot}
	r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, InstanceID: id, Since: now, Replacement: replacement})
	w := Waiting{Slot: c.Slot, InstanceID: id, Since: now, Until: now.Add(r.opts.Diff.ExpectWindow)}
	r.log.Warn("the token returned an instance that is not listed; the slot waits", "fleet", fp.Fleet, "slot", c.Slot, "instance", id,
		"incarnation", inc, "newServerAt", w.Until.UTC().Format(time.RFC3339))
	fr.mu.Lock()
	fr.Waiting = append(fr.Waiting, w)
	fr.mu.Unlock()
	return true
}
