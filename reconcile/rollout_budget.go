package reconcile

import (
	"fmt"
	"strings"

	"github.com/lightkeeper/lightkeeper/spec"
)

// This file spends a rollout's bounds: which of the updates that
// rollout_plan.go found each slot needs this run may make (maxUnavailable,
// maxSurge, a pause), and in which batch each of the rest will come
// (docs/design.md section 11.2).

// budget turns the candidates into planned, later or paused updates, in
// slot order: disruptive ones while the slots ready stay at least count -
// maxUnavailable, replacement creates while the live instances stay at
// most count + maxSurge; none while the fleet's rollout is paused.
func (ro *rollout) budget(fp *FleetPlan, r *Rollout, cands []*Update, pendingReplacements int) {
	count := ro.f.Spec.Count
	unavailable := r.Ready - (count - ro.maxUnavailable)
	surge := count + ro.maxSurge - ro.live - pendingReplacements - fp.Expected - len(fp.Creates)
	for _, up := range r.Updates {
		if up.Status == StatusFailed {
			r.Paused = fmt.Sprintf("slot %d (%s): %s", up.Slot, up.InstanceID, up.Reason)
			break
		}
	}
	// A change costs one of the budget when its slot serves now (ready,
	// minReady or not): the budget counts only slots ready for minReady,
	// so those that serve stay at least count - maxUnavailable.
	serving := map[int]bool{}
	for _, s := range ro.slots {
		serving[s.slot] = ready(s.current)
	}
	for _, up := range cands {
		switch {
		case r.Paused != "":
			up.Status, up.Reason = StatusPaused, "the fleet's rollout is paused after a failure (see above); "+up.Reason
		case up.Action == UpdateReplace && !up.IsolateFirst:
			if surge >= 1 {
				up.Status, surge = StatusPlanned, surge-1
			} else {
				up.Status = StatusLater
				up.Reason = fmt.Sprintf("later: %d live instances of count %d + maxSurge %d; %s", ro.live+pendingReplacements+fp.Expected+len(fp.Creates), count, ro.maxSurge, up.Reason)
				if n := ro.dups; n > 0 {
					up.Reason = fmt.Sprintf("%s (%d duplicate instances, reported above, take the room: isolate them)", up.Reason, n)
				}
			}
		default:
			cost := 0
			if serving[up.Slot] {
				cost = 1
			}
			if cost <= unavailable {
				up.Status, unavailable = StatusPlanned, unavailable-cost
			} else {
				up.Status = StatusLater
				up.Reason = fmt.Sprintf("later: %d of %d slots ready, at least %d must stay ready (maxUnavailable %d); %s", r.Ready, count, count-ro.maxUnavailable, ro.maxUnavailable, up.Reason)
			}
		}
	}
	// A reset waiting for a bundle change of the same instance stays later;
	// what waits, and for what, in a few words.
	var running, waiting, later int
	for _, up := range r.Updates {
		switch up.Status {
		case StatusRunning:
			running++
		case StatusWaiting:
			waiting++
		case StatusLater:
			later++
		}
	}
	var what []string
	if running > 0 {
		what = append(what, fmt.Sprintf("%d changing", running))
	}
	if waiting > 0 {
		what = append(what, fmt.Sprintf("%d waiting (to show, or to be ready%s)", waiting, ro.forMinReady()))
	}
	if later > 0 {
		what = append(what, fmt.Sprintf("%d for a later batch", later))
	}
	r.Waiting = strings.Join(what, ", ")
}

// number gives each pending update its batch: this run's is the current
// batch, later ones an estimate, a batch being as many as the bounds let
// change at once.
func (ro *rollout) number(r *Rollout) {
	size := ro.maxUnavailable
	if ro.f.Spec.Update.Strategy == spec.UpdateReplace && ro.maxSurge > 0 {
		size = ro.maxSurge
	}
	size = max(size, 1)
	current := r.Updated/size + 1
	last, later := 0, 0
	for i := range r.Updates {
		up := &r.Updates[i]
		switch up.Status {
		case StatusPlanned:
			if up.Action == UpdateRenewFlag {
				continue
			}
			up.Batch, r.Batch = current, current
		case StatusLater, StatusPaused, StatusHeld:
			up.Batch = current + 1 + later/size
			later++
		default:
			continue
		}
		last = max(last, up.Batch)
	}
	r.Batches = max((r.Total+size-1)/size, last)
}
