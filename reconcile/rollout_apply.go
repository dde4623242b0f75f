package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// This file carries out a plan's rollouts (Apply calls it after the
// creates, which include the replacement creates): the renew flags, then
// per fleet, after confirming its instances and the bounds once more, the
// resets and bundle changes (through the intent journal, operation.go) and
// the isolations that end a replacement or start one without surge.

// UpdateResult is what an apply did about one update of a rollout.
type UpdateResult struct {
	Slot       int    `json:"slot"`
	InstanceID string `json:"instanceId"`
	Action     string `json:"action"`
	// Outcome is "sent" (the service took it), "unknown" (the answer was
	// lost: it may have happened; the journal holds it), "refused", "not
	// sent" (Reason says why), or, when the confirmation just before the
	// send found it so, the judge's verdict: "running", "waiting", "done",
	// "failed".
	Outcome   string `json:"outcome"`
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// UpdateResult.Outcome's own values (besides the judge's verdicts).
const (
	OutcomeSent    = "sent"
	OutcomeUnknown = "unknown"
	OutcomeRefused = "refused"
	OutcomeNotSent = "not sent"
)

// applyRollouts makes the planned updates of the plan's rollouts, fleet
// by fleet; report is called after each.
func (r *Reconciler) applyRollouts(ctx context.Context, p *Plan, fleets []*FleetResult, report func(bool)) {
	for i, fp := range p.Fleets {
		fr := fleets[i]
		if !fp.acts() || fr.Error != nil || fp.Rollout == nil || ctx.Err() != nil {
			continue
		}
		r.applyRollout(ctx, fp, fr, report)
	}
}

// rolloutJobs counts the updates applyRollouts will try (for the progress
// line): every planned one but the replacement creates, which run as
// creates.
func (fp *FleetPlan) rolloutJobs() (n int) {
	if fp.Rollout == nil || !fp.acts() {
		return 0
	}
	for _, u := range fp.Rollout.Updates {
		if u.Status == StatusPlanned && u.create == nil {
			n++
		}
	}
	return n
}

func (r *Reconciler) applyRollout(ctx context.Context, fp *FleetPlan, fr *FleetResult, report func(bool)) {
	ro := fp.Rollout
	add := func(ur UpdateResult) {
		fr.mu.Lock()
		fr.Updates = append(fr.Updates, ur)
		fr.mu.Unlock()
		report(ur.Outcome != OutcomeRefused && ur.Outcome != OutcomeUnknown && ur.Outcome != "failed")
	}
	// The renew flags: a value set, repeat-safe, 100 to a call.
	flags := map[string][]*Update{}
	var disruptive, isolations []*Update
	for i := range ro.Updates {
		u := &ro.Updates[i]
		if u.Status != StatusPlanned {
			continue
		}
		switch {
		case u.Action == UpdateRenewFlag:
			flags[u.renewFlag] = append(flags[u.renewFlag], u)
		case u.Action == UpdateIsolateReplaced || u.Action == UpdateReplace && u.IsolateFirst:
			isolations = append(isolations, u)
			if u.IsolateFirst {
				disruptive = append(disruptive, u)
			}
		case u.Action == UpdateReset || u.Action == UpdateModifyBundle:
			disruptive = append(disruptive, u)
		}
	}
	for _, flag := range slices.Sorted(maps.Keys(flags)) {
		for chunk := range slices.Chunk(flags[flag], lighthouse.MaxRenewFlagIDs) {
			ids := make([]string, len(chunk))
			for i, u := range chunk {
				ids[i] = u.InstanceID
			}
			resp, err := r.cloud.ModifyInstancesRenewFlag(ctx, fp.Region, &lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: ids, RenewFlag: flag})
			for _, u := range chunk {
				ur := UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeSent}
				if err != nil {
					ur.Outcome, ur.Reason = OutcomeRefused, err.Error()
					r.updateFailure(fr, u, err)
				} else {
					ur.RequestID = resp.RequestId
				}
				add(ur)
			}
			r.log.Info("renew flag set", "fleet", fp.Fleet, "flag", flag, "instances", len(ids), "err", err)
		}
	}
	if len(disruptive)+len(isolations) == 0 {
		return
	}
	// Confirm every instance of the fleet by ID, and the bounds with it:
	// what the plan saw may have changed (another runner, an operation that
	// ended or began).
	ids := make([]string, 0, len(ro.slots))
	for id := range ro.slots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	seen, err := r.describeIDs(ctx, fp.Region, ids)
	if err != nil {
		for _, u := range append(disruptive, isolations...) {
			add(UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeNotSent, Reason: "could not confirm the fleet's instances first: " + err.Error()})
		}
		return
	}
	serving := map[int]bool{}
	for id, in := range seen {
		if slot, ok := ro.slots[id]; ok && ready(&in) {
			serving[slot] = true
		}
	}
	allowance := len(serving) - (ro.Total - ro.MaxUnavailable)
	allowed := map[*Update]bool{}
	for _, u := range disruptive {
		in, ok := seen[u.InstanceID]
		cost := 0
		if ok && ready(&in) {
			cost = 1
		}
		if cost > allowance {
			add(UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeNotSent,
				Reason: fmt.Sprintf("the bounds changed since the plan: %d of %d slots serve now, at least %d must (maxUnavailable %d); next run", len(serving), ro.Total, ro.Total-ro.MaxUnavailable, ro.MaxUnavailable)})
			continue
		}
		allowance -= cost
		allowed[u] = true
	}
	// Resets and bundle changes, through the journal.
	var calls []opCall
	var ups []*Update
	pw := ""
	for _, u := range disruptive {
		if !allowed[u] || u.Action == UpdateReplace {
			continue
		}
		send, err := r.sender(ctx, fp, u, &pw)
		if err != nil {
			add(UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeNotSent, Reason: err.Error()})
			continue
		}
		calls = append(calls, opCall{Key: SlotKey{fp.Region, fp.Fleet, u.Slot}, InstanceID: u.InstanceID, Op: u.op, Send: send})
		ups = append(ups, u)
	}
	for i, o := range r.operateConfirmed(ctx, calls, seen) {
		u := ups[i]
		ur := UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, RequestID: o.RequestID, Reason: o.Reason}
		switch {
		case o.Sent && o.Ambiguous:
			ur.Outcome, ur.Reason = OutcomeUnknown, o.Err.Error()
			r.updateFailure(fr, u, o.Err)
		case o.Sent:
			ur.Outcome = OutcomeSent
		case o.Verdict == VerdictFailed && o.Err != nil:
			ur.Outcome = OutcomeRefused
			r.updateFailure(fr, u, o.Err)
		case o.Err != nil:
			ur.Outcome, ur.Reason = OutcomeNotSent, o.Err.Error()
			if o.Verdict == VerdictRunning {
				ur.Outcome = "running"
			}
		default:
			ur.Outcome = o.Verdict.String()
		}
		r.log.Info("rollout: "+u.Action, "fleet", fp.Fleet, "slot", u.Slot, "instance", u.InstanceID, "outcome", ur.Outcome, "requestId", ur.RequestID, "reason", ur.Reason)
		add(ur)
	}
	// The isolations of the rollout (allowed by it, not by max-isolates).
	for _, u := range isolations {
		if u.IsolateFirst && !allowed[u] {
			continue
		}
		if u.Action == UpdateIsolateReplaced {
			if by, ok := seen[u.by]; !ok || !ready(&by) {
				add(UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeNotSent, Reason: fmt.Sprintf("its replacement %s is not ready any more; next run", u.by)})
				continue
			}
		}
		ok := r.isolate(ctx, fp, fr, Surplus{Instance: Instance{ID: u.InstanceID, Name: u.Name, Slot: u.Slot, Fleet: fp.Fleet}, Action: ActionIsolate})
		ur := UpdateResult{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Outcome: OutcomeSent}
		if !ok {
			ur.Outcome = OutcomeRefused
		}
		add(ur)
	}
}

// sender returns the call of a reset or a bundle change, its request built
// with the plan; a reset's login password is read once per fleet (into
// *pw), only now, and added to the copy sent.
func (r *Reconciler) sender(ctx context.Context, fp *FleetPlan, u *Update, pw *string) (func(context.Context) (string, error), error) {
	switch u.Action {
	case UpdateModifyBundle:
		req := *u.modify
		return func(ctx context.Context) (string, error) {
			resp, err := r.cloud.ModifyInstancesBundle(ctx, fp.Region, &req)
			if err != nil {
				return "", err
			}
			return resp.RequestId, nil
		}, nil
	case UpdateReset:
		req := *u.reset
		if fp.passwordFrom != nil {
			if *pw == "" {
				p, err := r.password(ctx, fp)
				if err != nil {
					return nil, passwordError(err)
				}
				*pw = p
			}
			lc := lighthouse.LoginConfiguration{Password: *pw}
			req.LoginConfiguration = &lc
		}
		return func(ctx context.Context) (string, error) {
			resp, err := r.cloud.ResetInstance(ctx, fp.Region, &req)
			if err != nil {
				return "", err
			}
			return resp.RequestId, nil
		}, nil
	}
	return nil, fmt.Errorf("no call for a %s", u.Action)
}

// updateFailure records a failed update in the fleet's result.
func (r *Reconciler) updateFailure(fr *FleetResult, u *Update, err error) {
	class := lighthouse.ClassOf(err).String()
	if ambiguous(err) {
		class = "ambiguous"
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.Failures = append(fr.Failures, Failure{Slot: u.Slot, InstanceID: u.InstanceID, Action: u.Action, Code: lighthouse.ErrorCode(err), Class: class, Message: message(err)})
}
