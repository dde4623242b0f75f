package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// This file is the one mechanism for the actions that carry no ClientToken
// and act again when repeated: ResetInstance, ModifyInstancesBundle and
// RenewInstances (docs/design.md section 11.3). Before such a call goes out:
//
//  1. the instance is described again by ID, and the judge (judge.go) must
//     say send, given what it shows and the intent journal;
//  2. an intent is recorded in the State (OpIntent: the instance, the
//     action, what it moves to, what the instance showed before and its
//     LatestOperationRequestId then), and the State is persisted
//     (Options.Persist) where it has a file; if that fails nothing is sent;
//  3. the call is sent; its answer's RequestId (or that the outcome is
//     unknown) is recorded.
//
// A later run judges the intent against what DescribeInstances shows; a
// settled intent (done, or proved not to have happened) leaves the journal.

// OpIntent is one non-idempotent operation lightkeeper decided to send to
// an instance, recorded before the call went out.
type OpIntent struct {
	SlotKey
	InstanceID string `json:"instanceId"`
	// Action, Target, Shows and From are those of the Op sent.
	Action string `json:"action"`
	Target string `json:"target"`
	Shows  string `json:"shows,omitempty"`
	From   string `json:"from,omitempty"`
	Record string `json:"record,omitempty"`
	// Since is when the intent was recorded, just before the send.
	Since time.Time `json:"since"`
	// PrevRequestID is the instance's LatestOperationRequestId when it was
	// confirmed just before the send: any operation since has another.
	PrevRequestID string `json:"prevRequestId,omitempty"`
	// RequestID is the answer's RequestId; "" until an answer came.
	RequestID string `json:"requestId,omitempty"`
	// Unknown reports that the call ended without a usable answer (lost
	// response, timeout, 5xx): it may or may not have happened.
	Unknown bool `json:"unknown,omitempty"`
	// Failed is, once the judge found the attempt failed (or the service
	// refused it), the instance's LatestOperationRequestId then: the change
	// is not sent again while that operation stays the instance's latest.
	Failed string `json:"failed,omitempty"`
	// Refusal is the code and message of the service's refusal, when it
	// refused the call.
	Refusal string `json:"refusal,omitempty"`
}

func intentKey(id, action string) string { return id + "/" + action }

// intent returns the journal's intent for the instance and action, if any.
func (st *State) intent(id, action string) (OpIntent, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	it, ok := st.s.Intents[intentKey(id, action)]
	return it, ok
}

// setIntent records (or replaces) an intent.
func (st *State) setIntent(it OpIntent) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Intents[intentKey(it.InstanceID, it.Action)] = it
}

// dropIntent removes the intent of the instance and action.
func (st *State) dropIntent(id, action string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.s.Intents, intentKey(id, action))
}

// Intents returns the intent journal, sorted by instance and action.
func (st *State) Intents() []OpIntent {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]OpIntent, 0, len(st.s.Intents))
	for _, it := range st.s.Intents {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b OpIntent) int {
		return cmp.Or(cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.Action, b.Action))
	})
	return out
}

// opCall is one operation to make on one instance: its slot, the Op, and
// send, which makes the call and returns the answer's RequestId.
type opCall struct {
	Key        SlotKey
	InstanceID string
	Op         Op
	Send       func(ctx context.Context) (requestID string, err error)
	// Batch, if set, sends this call with the other calls of the same
	// batch that the judge lets through, in one request, instead of Send:
	// an action that takes a list of instances (RenewInstances) goes out
	// up to its batch size at a time. Each instance is confirmed, judged
	// and journaled on its own all the same.
	Batch *opBatch
}

// opBatch sends the calls that share it in one request: ids are those the
// judge let through.
type opBatch struct {
	Send func(ctx context.Context, ids []string) (requestID string, err error)
}

// opOutcome is what became of an opCall.
type opOutcome struct {
	// Judgement is the judge's, on the instance as confirmed just before
	// the send; its verdict is VerdictSend when the call was sent.
	Judgement
	// Instance is the instance as confirmed (zero if it was not listed).
	Instance Instance
	// Sent reports that the call went out; RequestID is its answer's.
	Sent      bool
	RequestID string
	// Err is why the call was not sent (the confirmation or the journal
	// failed) or what it answered; Ambiguous that it may have happened.
	Err       error
	Ambiguous bool
}

// codeGone is the opOutcome error code of an instance the confirmation
// did not list.
const codeGone = "ClientError.InstanceNotListed"

// operate makes calls on instances of region through the intent journal:
// it confirms every instance by ID, judges each call, records an intent for
// each one the judge says to send, persists the State once (Options.Persist;
// if that fails nothing is sent), sends them one after another, and
// records each answer. It settles the journal with every verdict: done
// removes the intent, failed marks it.
func (r *Reconciler) operate(ctx context.Context, region string, calls []opCall) []opOutcome {
	ids := make([]string, 0, len(calls))
	for _, c := range calls {
		ids = append(ids, c.InstanceID)
	}
	seen, err := r.describeIDs(ctx, region, ids)
	if err != nil {
		out := make([]opOutcome, len(calls))
		for i := range out {
			out[i].Err = fmt.Errorf("not sent: could not confirm the instance first: %w", err)
		}
		return out
	}
	return r.operateConfirmed(ctx, calls, seen)
}

// operateConfirmed is operate on instances described just before (seen,
// by describeIDs).
func (r *Reconciler) operateConfirmed(ctx context.Context, calls []opCall, seen map[string]Instance) []opOutcome {
	out := make([]opOutcome, len(calls))
	now := r.opts.Now()
	window := r.opts.Diff.ExpectWindow
	var send []int
	for i, c := range calls {
		in, ok := seen[c.InstanceID]
		if !ok {
			out[i].Err = &lighthouse.Error{Action: lighthouse.ActionDescribeInstances, Region: c.Key.Region, Code: codeGone,
				Message: fmt.Sprintf("not sent: DescribeInstances does not list %s", c.InstanceID)}
			continue
		}
		var prev *OpIntent
		if it, ok := r.state.intent(c.InstanceID, c.Op.Action); ok {
			prev = &it
		}
		j := Judge(in, c.Op, prev, now, window)
		out[i].Judgement, out[i].Instance = j, in
		switch j.Verdict {
		case VerdictDone:
			r.state.dropIntent(c.InstanceID, c.Op.Action)
		case VerdictFailed:
			if prev != nil && prev.Failed == "" && prev.Target == c.Op.Target {
				prev.Failed = in.LatestOperationRequestID
				r.state.setIntent(*prev)
			}
		case VerdictSend:
			r.state.setIntent(OpIntent{SlotKey: c.Key, InstanceID: c.InstanceID, Action: c.Op.Action, Target: c.Op.Target,
				Shows: c.Op.Shows, From: c.Op.From, Record: c.Op.Record, Since: now, PrevRequestID: in.LatestOperationRequestID})
			send = append(send, i)
		}
	}
	if len(send) == 0 {
		return out
	}
	if r.opts.Persist != nil {
		if err := r.opts.Persist(); err != nil {
			for _, i := range send {
				r.state.dropIntent(calls[i].InstanceID, calls[i].Op.Action)
				out[i].Err = fmt.Errorf("not sent: the intent could not be recorded in the state directory first: %w", err)
			}
			return out
		}
	}
	done := make(map[int]bool, len(send))
	for _, i := range send {
		if done[i] {
			continue
		}
		group := []int{i}
		if b := calls[i].Batch; b != nil {
			for _, j := range send {
				if j != i && calls[j].Batch == b {
					group = append(group, j)
				}
			}
		}
		for _, j := range group {
			done[j] = true
		}
		if ctx.Err() != nil {
			for _, j := range group {
				r.state.dropIntent(calls[j].InstanceID, calls[j].Op.Action)
				out[j].Err = fmt.Errorf("not sent: %w", ctx.Err())
			}
			continue
		}
		var rid string
		var err error
		if b := calls[i].Batch; b != nil {
			ids := make([]string, len(group))
			for k, j := range group {
				ids[k] = calls[j].InstanceID
			}
			rid, err = b.Send(ctx, ids)
		} else {
			rid, err = calls[i].Send(ctx)
		}
		for _, j := range group {
			r.settleSend(calls[j], &out[j], rid, err)
		}
	}
	return out
}

// settleSend records the answer of a call operate sent (rid, or err) in
// the journal and in its outcome.
func (r *Reconciler) settleSend(c opCall, out *opOutcome, rid string, err error) {
	it, _ := r.state.intent(c.InstanceID, c.Op.Action)
	switch {
	case err == nil:
		it.RequestID = rid
		r.state.setIntent(it)
		out.Sent, out.RequestID = true, rid
	case ambiguous(err):
		it.Unknown = true
		r.state.setIntent(it)
		out.Sent, out.Err, out.Ambiguous = true, err, true
	case refusal(err):
		// Refused for good (a parameter, the state, the balance): it did
		// not happen, and is not sent again for this change while the
		// instance's latest operation stays what it was.
		it.Failed, it.Refusal = out.Instance.LatestOperationRequestID, fmt.Sprintf("%s: %s", lighthouse.ErrorCode(err), message(err))
		r.state.setIntent(it)
		out.Err = err
		out.Judgement = Judgement{VerdictFailed, "the service refused it: " + it.Refusal}
	default:
		// Never sent, refused for now (rate limit) or while another
		// operation runs: it did not happen.
		r.state.dropIntent(c.InstanceID, c.Op.Action)
		out.Err = err
		if busy(err) {
			out.Judgement = Judgement{VerdictRunning, fmt.Sprintf("the service refused it while an operation runs on %s (%s)", c.InstanceID, lighthouse.ErrorCode(err))}
		}
	}
}

// refusal reports whether err is the service refusing a call for good:
// an answer that says it was not carried out, and that it will not be as
// asked (not a rate limit, not an operation in progress).
func refusal(err error) bool {
	var le *lighthouse.Error
	return errors.As(err, &le) && !le.Ambiguous && le.Class() == lighthouse.Permanent && le.Code != "" && !busy(err)
}

// busy reports whether err refuses an action because an operation runs on
// the instance: nothing was done, and the instance is not to be acted on
// now.
func busy(err error) bool {
	switch lighthouse.ErrorCode(err) {
	case "OperationDenied.InstanceOperationInProgress", "UnsupportedOperation.LatestOperationUnfinished", "OperationDenied.InstanceCreating":
		return true
	}
	return false
}

// describeIDs lists the instances ids of region by ID (100 to a call), as
// they are now. An instance not listed is absent from the map. A service
// that refuses a list naming an unknown ID (ResourceNotFound.InstanceIdNotFound)
// is asked again one ID at a time.
func (r *Reconciler) describeIDs(ctx context.Context, region string, ids []string) (map[string]Instance, error) {
	out := make(map[string]Instance, len(ids))
	for chunk := range slices.Chunk(ids, 100) {
		err := r.listIDs(ctx, region, chunk, out)
		if lighthouse.ErrorCode(err) == "ResourceNotFound.InstanceIdNotFound" && len(chunk) > 1 {
			for _, id := range chunk {
				if err := r.listIDs(ctx, region, []string{id}, out); err != nil && lighthouse.ErrorCode(err) != "ResourceNotFound.InstanceIdNotFound" {
					return nil, err
				}
			}
			continue
		}
		if err != nil && lighthouse.ErrorCode(err) != "ResourceNotFound.InstanceIdNotFound" {
			return nil, err
		}
	}
	return out, nil
}

func (r *Reconciler) listIDs(ctx context.Context, region string, ids []string, out map[string]Instance) error {
	for li, err := range r.cloud.Instances(ctx, region, &lighthouse.DescribeInstancesRequest{InstanceIds: ids}) {
		if err != nil {
			return err
		}
		if slices.Contains(ids, li.InstanceId) {
			out[li.InstanceId] = instanceOf(&li)
		}
	}
	return nil
}
