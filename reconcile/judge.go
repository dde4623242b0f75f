package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// This file is the judge: the pure function that decides, from one
// observed instance, the operation wanted on it, the intent the journal
// holds for it (if any) and the time, whether a non-idempotent operation
// (ResetInstance, ModifyInstancesBundle, RenewInstances) may be sent. It is
// the safety core of day two (docs/design.md section 11.3): nothing of
// those actions is sent but on its VerdictSend.

// Verdict is what the judge decides.
type Verdict int

// Verdicts.
const (
	// VerdictSend: nothing shows that an attempt of the operation is under
	// way or happened; it may be sent (after confirming it, see operate).
	VerdictSend Verdict = iota
	// VerdictDone: the instance shows the operation's effect, or (for an
	// effect DescribeInstances cannot show) the operation succeeded.
	VerdictDone
	// VerdictRunning: an operation runs on the instance (whatever it is):
	// nothing may be sent to it now.
	VerdictRunning
	// VerdictWait: an attempt may have happened and not show yet; wait
	// until it shows or the window passes.
	VerdictWait
	// VerdictFailed: an attempt failed (LatestOperationState FAILED) or
	// did not have its effect: the fleet's change pauses, it is reported,
	// and it is not sent again for this change.
	VerdictFailed
)

var verdictNames = [...]string{"send", "done", "running", "wait", "failed"}

func (v Verdict) String() string { return verdictNames[v] }

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Judgement is a verdict and why, in words for a plan.
type Judgement struct {
	Verdict Verdict
	Reason  string
}

// Op is an operation wanted on an instance: the action and what it moves
// the instance to, in the terms the judge compares (OpView).
type Op struct {
	// Action is lighthouse.ActionResetInstance, ActionModifyInstancesBundle
	// or ActionRenewInstances.
	Action string `json:"action"`
	// Target names what the action moves the instance to: the shape hash
	// of a reset, the bundle ID of a bundle change, the ExpiredTime renewed
	// from for a renewal. An intent for another target is an earlier
	// change's.
	Target string `json:"target"`
	// Shows is OpView of the instance once the operation succeeded; From
	// is OpView before it. A reset whose Shows equals its From changes
	// only what DescribeInstances cannot show (containers, a password). A
	// renewal's From is the ExpiredTime it renews from; it is done once the
	// ExpiredTime is after it.
	Shows string `json:"shows,omitempty"`
	From  string `json:"from,omitempty"`
	// Known is, for a change DescribeInstances cannot show, the
	// LatestOperationRequestId the instance had when the State recorded
	// its shape: a later operation of the same action, sent by no intent
	// of this State, is someone else's (another runner's, or a person's),
	// and the instance is then taken to have the spec's shape.
	Known string `json:"known,omitempty"`
	// Record is what the State records of the instance once the operation
	// is done (a reset: the hash of what DescribeInstances cannot show,
	// ShapeRecord); "" records nothing.
	Record string `json:"record,omitempty"`
}

// OpView is what DescribeInstances shows of an instance that action
// changes: for a reset the blueprint and the login key IDs
// ("lhbp-x|lhkp-a,lhkp-b"), for a bundle change the bundle, for a renewal
// the ExpiredTime (RFC 3339).
func OpView(action string, in Instance) string {
	switch action {
	case lighthouse.ActionResetInstance:
		return in.BlueprintID + "|" + strings.Join(in.KeyIDs, ",")
	case lighthouse.ActionModifyInstancesBundle:
		return in.BundleID
	case lighthouse.ActionRenewInstances:
		return in.Expires.UTC().Format(time.RFC3339)
	}
	return ""
}

// observable reports whether DescribeInstances shows op's effect.
func (op Op) observable() bool {
	return op.Action == lighthouse.ActionRenewInstances || op.Shows != op.From
}

// retryable reports whether a failed attempt of op on in may be sent
// again (after the window, where the time is known): a renewal that ended
// FAILED bought nothing, as the ExpiredTime that has not moved shows (the
// service refunds a failed renewal), so sending it again cannot renew the
// instance twice for one expiry, and not sending it would let the
// instance expire. A failed reset or bundle change stays failed until a
// person looks: what it left is not known.
func (op Op) retryable(in Instance) bool {
	return op.Action == lighthouse.ActionRenewInstances && in.LatestOperation == op.Action &&
		in.LatestOperationState == lighthouse.OperationFailed && !op.shown(in)
}

// shown reports whether in shows op's effect.
func (op Op) shown(in Instance) bool {
	if op.Action == lighthouse.ActionRenewInstances {
		from, err := time.Parse(time.RFC3339, op.From)
		return err == nil && in.Expires.After(from)
	}
	return op.observable() && OpView(op.Action, in) == op.Shows
}

// Judge decides whether op may be sent to in, given the intent the journal
// holds for in and op.Action (nil if none), the time now and the window
// within which an attempt shows in DescribeInstances. It is pure.
//
// In this order:
//   - an operation in progress (LatestOperationState OPERATING), whatever
//     it is: running;
//   - the instance shows op's effect: done;
//   - with an intent: the attempt is known by the instance's
//     LatestOperationRequestId, which differs from the one recorded just
//     before the send (PrevRequestID) once any operation started since, and
//     equals the answer's RequestId when the answer came. An operation of
//     op.Action since: FAILED is failed; SUCCESS is done where the effect
//     cannot show, failed where it could and does not. Another action
//     since hides ours, which may have run before it: where the effect
//     could show and does not, ours failed or never happened, which
//     cannot be told (failed); where it cannot show, done (never twice).
//     No operation since: wait until the window has passed since the
//     intent, then send (it did not happen).
//   - without an intent (a runner without state, or another runner's
//     operation): the latest operation being op.Action and FAILED within
//     the window (or at a time the site does not show) is failed; SUCCESS
//     within the window is wait (it may be another runner's for this
//     change); anything else is send.
//   - last, whatever the intent: a reset or bundle change is never sent
//     while the instance's latest operation is a FAILED reset or bundle
//     change (failedStays), however old the failure.
func Judge(in Instance, op Op, intent *OpIntent, now time.Time, window time.Duration) Judgement {
	if in.LatestOperationState == lighthouse.OperationOperating {
		return Judgement{VerdictRunning, fmt.Sprintf("%s is in progress on %s (RequestId %s)", orNone(in.LatestOperation), in.ID, orNone(in.LatestOperationRequestID))}
	}
	if op.shown(in) {
		return Judgement{VerdictDone, fmt.Sprintf("%s shows %s", in.ID, shownText(op, in))}
	}
	var j Judgement
	if intent != nil && intent.Action == op.Action && intent.InstanceID == in.ID {
		j = judgeIntent(in, op, intent, now, window)
	} else {
		j = judgeStateless(in, op, now, window)
	}
	if j.Verdict == VerdictSend && failedStays(in, op) {
		return Judgement{VerdictFailed, fmt.Sprintf("a %s of %s failed (RequestId %s) and is still its latest operation; whichever change it was for, no reset or bundle change is sent while it is: look at the instance, then clear the failure by an operation on it (a reboot will do)", actionName(in.LatestOperation), in.ID, orNone(in.LatestOperationRequestID))}
	}
	return j
}

// failedStays reports whether in's latest operation is a failed attempt of
// op's action that blocks sending it again: a failed reset or bundle change
// may have left the instance half done, and without a record no runner can
// tell which change in git it was for (one without state, another runner's,
// an earlier change's whose window passed), so it stays failed until an
// operation on the instance clears it. Found by the rollout chaos (seed
// 242): a runner with state sent a reset again after another runner's
// reset for the same change failed and the window passed. A failed renewal
// changed nothing and has its own rule (Op.retryable).
//
// Either failure blocks either action: a bundle change sent on an instance
// whose reset failed became its latest operation, hid the failure, and let
// the reset go again (chaos seed 3471).
func failedStays(in Instance, op Op) bool {
	return op.Action != lighthouse.ActionRenewInstances && in.LatestOperationState == lighthouse.OperationFailed &&
		(in.LatestOperation == lighthouse.ActionResetInstance || in.LatestOperation == lighthouse.ActionModifyInstancesBundle)
}

// judgeIntent is Judge with an intent of the instance and action.
func judgeIntent(in Instance, op Op, it *OpIntent, now time.Time, window time.Duration) Judgement {
	name := actionName(op.Action)
	since := it.Since.UTC().Format(time.RFC3339)
	later := in.LatestOperationRequestID != it.PrevRequestID
	ours := it.RequestID != "" && in.LatestOperationRequestID == it.RequestID
	if it.Failed != "" {
		if in.LatestOperationRequestID == it.Failed && it.Refusal != "" {
			return Judgement{VerdictFailed, fmt.Sprintf("the service refused the %s sent at %s (%s); not sent again for this change: fix what it says, then clear the refusal by an operation on %s (a reboot will do) or change the spec", name, since, it.Refusal, in.ID)}
		}
		if in.LatestOperationRequestID == it.Failed {
			if op.retryable(in) && !now.Before(it.Since.Add(window)) {
				return Judgement{VerdictSend, fmt.Sprintf("the %s sent at %s failed (RequestId %s) and changed nothing (ExpiredTime is still %s): sent again", name, since, it.Failed, OpView(op.Action, in))}
			}
			return Judgement{VerdictFailed, fmt.Sprintf("the %s sent at %s failed (RequestId %s); not sent again for this change: look at %s, then clear the failure by an operation on it (a reboot will do) or change the spec", name, since, it.Failed, in.ID)}
		}
		// An operation since the failure cleared it: a person acted on the
		// instance. Judge as if there were no intent.
		return judgeStateless(in, op, now, window)
	}
	if it.Target != op.Target {
		// The intent is an earlier change's. Once its attempt shows (or
		// proved not to have happened), the new change is judged on its own.
		if !later && now.Before(it.Since.Add(window)) {
			return Judgement{VerdictWait, fmt.Sprintf("the %s sent at %s for an earlier change may not show yet; waiting until %s", name, since, it.Since.Add(window).UTC().Format(time.RFC3339))}
		}
		return judgeStateless(in, op, now, window)
	}
	if in.LatestOperation == op.Action && (ours || later) {
		rid := in.LatestOperationRequestID
		switch {
		case in.LatestOperationState == lighthouse.OperationFailed && op.retryable(in) && !now.Before(it.Since.Add(window)):
			return Judgement{VerdictSend, fmt.Sprintf("the %s sent at %s failed (RequestId %s) and changed nothing (ExpiredTime is still %s): sent again", name, since, rid, OpView(op.Action, in))}
		case in.LatestOperationState == lighthouse.OperationFailed && op.retryable(in):
			return Judgement{VerdictFailed, fmt.Sprintf("the %s sent at %s failed (LatestOperationState FAILED, RequestId %s); a failed renewal changes nothing, it is sent again after %s", name, since, rid, it.Since.Add(window).UTC().Format(time.RFC3339))}
		case in.LatestOperationState == lighthouse.OperationFailed:
			return Judgement{VerdictFailed, fmt.Sprintf("the %s sent at %s failed (LatestOperationState FAILED, RequestId %s); not sent again for this change", name, since, rid)}
		case op.observable():
			return Judgement{VerdictFailed, fmt.Sprintf("the %s sent at %s ended %s (RequestId %s) but %s shows %s, not %s; not sent again for this change", name, since, in.LatestOperationState, rid, in.ID, OpView(op.Action, in), op.Shows)}
		}
		return Judgement{VerdictDone, fmt.Sprintf("the %s sent at %s ended %s (RequestId %s)", name, since, in.LatestOperationState, rid)}
	}
	if later {
		// Another action started since: ours may have run (and ended)
		// before it, and its LatestOperation* are gone.
		other := fmt.Sprintf("a %s (RequestId %s) followed the %s sent at %s", orNone(in.LatestOperation), in.LatestOperationRequestID, name, since)
		if op.observable() {
			return Judgement{VerdictFailed, fmt.Sprintf("%s, and %s does not show %s: the %s did not take effect, and whether it failed cannot be told; not sent again for this change: look at the instance", other, in.ID, op.Shows, name)}
		}
		return Judgement{VerdictDone, fmt.Sprintf("%s, which may have happened before it: taken as done, never sent twice (if the instance lacks the change, reset it by hand)", other)}
	}
	if until := it.Since.Add(window); now.Before(until) {
		what := "its answer"
		if it.Unknown {
			what = "its outcome (the answer was lost)"
		}
		return Judgement{VerdictWait, fmt.Sprintf("the %s sent at %s does not show yet (%s); waiting until %s before it counts as not sent", name, since, what, until.UTC().Format(time.RFC3339))}
	}
	return Judgement{VerdictSend, fmt.Sprintf("the %s sent at %s never showed within %s: it did not happen", name, since, window)}
}

// judgeStateless is Judge without an intent.
func judgeStateless(in Instance, op Op, now time.Time, window time.Duration) Judgement {
	name := actionName(op.Action)
	if in.LatestOperation != op.Action {
		return Judgement{VerdictSend, ""}
	}
	rid := in.LatestOperationRequestID
	if !op.observable() && op.Known != "" && rid != op.Known {
		return Judgement{VerdictDone, fmt.Sprintf("%s had a %s (RequestId %s) since lightkeeper recorded its shape: taken to have the spec's", in.ID, name, rid)}
	}
	started := in.LatestOperationStarted
	recent := !started.IsZero() && now.Sub(started) <= window
	at := "at a time the site does not show"
	if !started.IsZero() {
		at = "at " + started.UTC().Format(time.RFC3339)
	}
	switch {
	case in.LatestOperationState == lighthouse.OperationFailed && started.IsZero() && op.retryable(in):
		return Judgement{VerdictSend, fmt.Sprintf("a %s of %s failed (RequestId %s) and changed nothing (ExpiredTime is still %s): sent again", name, in.ID, rid, OpView(op.Action, in))}
	case in.LatestOperationState == lighthouse.OperationFailed && (recent || started.IsZero()):
		return Judgement{VerdictFailed, fmt.Sprintf("a %s of %s failed %s (RequestId %s) and nothing records what it was for; not sent while that failure is the latest operation: look at the instance", name, in.ID, at, rid)}
	case recent:
		return Judgement{VerdictWait, fmt.Sprintf("a %s of %s started %s (RequestId %s), perhaps by another runner for this change; waiting until %s", name, in.ID, at, rid, started.Add(window).UTC().Format(time.RFC3339))}
	}
	return Judgement{VerdictSend, ""}
}

// actionName says what an action does, for the reasons.
func actionName(action string) string {
	switch action {
	case lighthouse.ActionResetInstance:
		return "reset"
	case lighthouse.ActionModifyInstancesBundle:
		return "bundle change"
	case lighthouse.ActionRenewInstances:
		return "renewal"
	}
	return action
}

func shownText(op Op, in Instance) string {
	if op.Action == lighthouse.ActionRenewInstances {
		return "ExpiredTime " + in.Expires.UTC().Format(time.RFC3339) + ", after " + op.From
	}
	return OpView(op.Action, in)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
