package daemon

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// MaxEvents is how many events Status.Events keeps.
const MaxEvents = 50

// Kinds of Event.
const (
	// EventCycle: a cycle ended; its result and the trigger that started
	// it.
	EventCycle = "cycle"
	// EventRevision: a revision was synced for the first time: loaded,
	// invalid, refused for its signature, or valid but not adopted.
	EventRevision = "revision"
	// EventCreate: instances created for a fleet.
	EventCreate = "create"
	// EventIsolate: surplus instances of a fleet isolated.
	EventIsolate = "isolate"
	// EventFailure: something failed: a fleet (its plan, its creates, its
	// isolations), the sync, the plan, the apply or the state directory.
	EventFailure = "failure"
	// EventHeld: the plan exceeds a limit and was held, not applied.
	EventHeld = "held"
)

// Event is one entry of the timeline of Status.Events: what a cycle did
// that an operator wants to see. record makes them, from the outcome of
// each cycle, and nothing else does.
type Event struct {
	// At is when the cycle that made it ended (for a repeated event, the
	// last one).
	At time.Time `json:"at"`
	// Cycle numbers the cycle that made it, as Status.Runs counts.
	Cycle int `json:"cycle"`
	// Kind is one of the Event* constants.
	Kind string `json:"kind"`
	// Fleet is the fleet it is about, if one.
	Fleet string `json:"fleet,omitempty"`
	// Revision is the revision it is about (short), if one.
	Revision string `json:"revision,omitempty"`
	// Message says what happened, in a sentence.
	Message string `json:"message"`
	// Repeats counts the cycles after the first that made the same
	// events, one after the other (a steady state: nothing to do, or the
	// same failure); 0 when it happened once.
	Repeats int `json:"repeats,omitempty"`
}

// same reports whether e and f say the same thing.
func (e Event) same(f Event) bool {
	return e.Kind == f.Kind && e.Fleet == f.Fleet && e.Revision == f.Revision && e.Message == f.Message
}

// addEvents puts the events of one cycle (in the order they happened)
// before list (newest first) and keeps MaxEvents. When the cycle made
// exactly what the cycle before it made, those are counted again instead:
// a steady state takes one entry per event, not one per cycle.
func addEvents(list, cycle []Event) []Event {
	if len(cycle) == 0 {
		return list
	}
	n := len(cycle)
	if len(list) >= n {
		prev := list[:n]
		same := (n == len(list) || list[n].Cycle != prev[0].Cycle) // a whole cycle's
		for i := 0; same && i < n; i++ {
			same = prev[i].Cycle == prev[0].Cycle && prev[i].same(cycle[n-1-i])
		}
		if same {
			out := slices.Clone(list)
			for i := range prev {
				out[i].At, out[i].Cycle = cycle[n-1-i].At, cycle[n-1-i].Cycle
				out[i].Repeats++
			}
			return out
		}
	}
	out := make([]Event, 0, min(len(list)+n, MaxEvents))
	for i := n - 1; i >= 0 && len(out) < MaxEvents; i-- {
		out = append(out, cycle[i])
	}
	for _, e := range list {
		if len(out) == MaxEvents {
			break
		}
		out = append(out, e)
	}
	return out
}

// maxListed is how many instances an event names before "and N more".
const maxListed = 5

// events are what a cycle did, in the order it happened, for the
// timeline; cycle numbers the cycle. fleets are the fleets' statuses of
// the cycle.
func (o *outcome) events(cycle int, fleets []FleetStatus) []Event {
	var evs []Event
	add := func(kind, fleet, rev, msg string) {
		evs = append(evs, Event{At: o.end, Cycle: cycle, Kind: kind, Fleet: fleet, Revision: rev, Message: msg})
	}
	if o.syncErr != nil {
		add(EventFailure, "", "", fmt.Sprintf("sync: %v", o.syncErr))
	}
	if ev := o.load; ev != nil {
		rev := ev.rev.Short()
		subject := ""
		if ev.rev.Subject != "" {
			subject = fmt.Sprintf(" (%s)", ev.rev.Subject)
		}
		switch {
		case ev.refused:
			add(EventRevision, "", rev, fmt.Sprintf("revision %s%s refused, not applied: %s", rev, subject, ev.invalid.Errors[0].Error()))
		case ev.invalid != nil:
			n := spec.Errors(ev.invalid.Errors).Count()
			add(EventRevision, "", rev, fmt.Sprintf("revision %s%s is invalid, not applied: %d problem%s, first: %s", rev, subject, n, plural(n), ev.invalid.Errors[0].Error()))
		case ev.saveErr != nil:
			add(EventRevision, "", rev, fmt.Sprintf("revision %s%s is valid but not applied: its copy cannot be saved: %v", rev, subject, ev.saveErr))
		default:
			add(EventRevision, "", rev, fmt.Sprintf("revision %s%s loaded: %d fleet%s", rev, subject, ev.fleets, plural(ev.fleets)))
		}
	}
	if o.planErr != nil {
		add(EventFailure, "", "", fmt.Sprintf("plan: %v", o.planErr))
	}
	if o.held != nil {
		add(EventHeld, "", "", "plan held, not applied: "+violations(o.held))
	}
	// A push's fast path applied its own plan before the full one
	// (fastpath.go): what it created comes first.
	for _, applied := range []struct {
		plan *reconcile.Plan
		res  *reconcile.Result
	}{{o.fastPlan, o.fast}, {o.plan, o.res}} {
		if applied.res == nil {
			continue
		}
		names := map[string]map[int]string{} // fleet -> slot -> instance name
		if applied.plan != nil {
			for _, fp := range applied.plan.Fleets {
				names[fp.Fleet] = map[int]string{}
				for _, c := range fp.Creates {
					names[fp.Fleet][c.Slot] = c.Name
				}
			}
		}
		for _, fr := range applied.res.Fleets {
			if len(fr.Created) > 0 {
				var ids []string
				for _, c := range fr.Created {
					if name := names[fr.Fleet][c.Slot]; name != "" {
						ids = append(ids, fmt.Sprintf("%s (%s)", name, c.InstanceID))
					} else {
						ids = append(ids, c.InstanceID)
					}
				}
				add(EventCreate, fr.Fleet, "", fmt.Sprintf("created %d: %s", len(fr.Created), listed(ids)))
			}
			if len(fr.Isolated) > 0 {
				add(EventIsolate, fr.Fleet, "", fmt.Sprintf("isolated %d: %s", len(fr.Isolated), listed(fr.Isolated)))
			}
		}
	}
	for _, fs := range fleets {
		switch {
		case fs.CreateFailures > 0:
			add(EventFailure, fs.Name, "", fmt.Sprintf("%d create%s failed: %s", fs.CreateFailures, plural(fs.CreateFailures), fs.Error))
		case fs.Error != "":
			add(EventFailure, fs.Name, "", fs.Error)
		}
	}
	if o.applyErr != nil {
		add(EventFailure, "", "", fmt.Sprintf("apply: %v", o.applyErr))
	}
	if o.afterErr != nil {
		add(EventFailure, "", "", fmt.Sprintf("could not list the instances again after the apply (the fleets show what the plan saw): %v", o.afterErr))
	}
	if o.stateErr != nil {
		add(EventFailure, "", "", fmt.Sprintf("state: %v", o.stateErr))
	}
	msg := o.run.Result + ", started by " + o.run.Trigger
	var did []string
	if o.run.Created > 0 {
		did = append(did, fmt.Sprintf("%d created", o.run.Created))
	}
	if o.res != nil && o.res.Isolated > 0 {
		did = append(did, fmt.Sprintf("%d isolated", o.res.Isolated))
	}
	if o.run.Failed > 0 {
		did = append(did, fmt.Sprintf("%d failed", o.run.Failed))
	}
	switch {
	case len(did) > 0:
		msg += ": " + strings.Join(did, ", ")
	case o.result() == ResultSuccess:
		msg += ": nothing to do"
	case o.follower:
		msg += ": synced; the leader reconciles"
	}
	add(EventCycle, "", o.good, msg)
	return evs
}

// listed joins up to maxListed items and says how many more there are.
func listed(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxListed], ", "), len(items)-maxListed)
}
