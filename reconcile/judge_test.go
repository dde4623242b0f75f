package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// The judge is the safety core of day two: these tests hold it to its
// rules case by case, then over every combination of what an instance can
// show, what the journal can hold and when.

var judgeNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const judgeWindow = 5 * time.Minute

// resetOp is a reset from lhbp-old to lhbp-new; with unobservable it only
// changes containers (the blueprint stays).
func resetOp(unobservable bool) reconcile.Op {
	if unobservable {
		return reconcile.Op{Action: lighthouse.ActionResetInstance, Target: "shape-2", From: "lhbp-old|lhkp-a", Shows: "lhbp-old|lhkp-a"}
	}
	return reconcile.Op{Action: lighthouse.ActionResetInstance, Target: "shape-2", From: "lhbp-old|lhkp-a", Shows: "lhbp-new|lhkp-a"}
}

func bundleOp() reconcile.Op {
	return reconcile.Op{Action: lighthouse.ActionModifyInstancesBundle, Target: "bundle_gen_02", From: "bundle_gen_01", Shows: "bundle_gen_02"}
}

func renewOp() reconcile.Op {
	return reconcile.Op{Action: lighthouse.ActionRenewInstances, Target: "2026-04-01T12:00:00Z", From: "2026-04-01T12:00:00Z"}
}

// before is an instance as it is before any of the ops: lhbp-old with key
// lhkp-a, bundle_gen_01, expiring 2026-04-01, its latest operation the
// create (RequestId r-prev) long ago.
func before() reconcile.Instance {
	return reconcile.Instance{ID: "lhins-aaaaaaaa", State: lighthouse.StateRunning, BlueprintID: "lhbp-old", KeyIDs: []string{"lhkp-a"},
		BundleID: "bundle_gen_01", Expires: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC),
		LatestOperation: lighthouse.ActionCreateInstances, LatestOperationState: lighthouse.OperationSuccess,
		LatestOperationRequestID: "r-prev", LatestOperationStarted: judgeNow.Add(-30 * 24 * time.Hour)}
}

// after is the instance once op succeeded.
func after(op reconcile.Op, in reconcile.Instance) reconcile.Instance {
	switch op.Action {
	case lighthouse.ActionResetInstance:
		if op.Shows != op.From {
			in.BlueprintID = "lhbp-new"
		}
	case lighthouse.ActionModifyInstancesBundle:
		in.BundleID = "bundle_gen_02"
	case lighthouse.ActionRenewInstances:
		in.Expires = in.Expires.AddDate(0, 1, 0)
	}
	return in
}

func withOp(in reconcile.Instance, action, state, rid string, started time.Time) reconcile.Instance {
	in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestID, in.LatestOperationStarted = action, state, rid, started
	in.Operating = state == lighthouse.OperationOperating
	return in
}

func intentFor(op reconcile.Op, since time.Time, rid string) *reconcile.OpIntent {
	return &reconcile.OpIntent{InstanceID: "lhins-aaaaaaaa", Action: op.Action, Target: op.Target, Shows: op.Shows, From: op.From,
		Since: since, PrevRequestID: "r-prev", RequestID: rid}
}

func TestJudgeCases(t *testing.T) {
	reset, hidden, bundle, renew := resetOp(false), resetOp(true), bundleOp(), renewOp()
	recent, old := judgeNow.Add(-time.Minute), judgeNow.Add(-time.Hour)
	const reboot = "RebootInstances"
	for _, tc := range []struct {
		name   string
		in     reconcile.Instance
		op     reconcile.Op
		intent *reconcile.OpIntent
		want   reconcile.Verdict
	}{
		{"nothing happened, no intent", before(), reset, nil, reconcile.VerdictSend},
		{"our reset runs", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationOperating, "r-ours", recent), reset, intentFor(reset, recent, "r-ours"), reconcile.VerdictRunning},
		{"someone's reboot runs", withOp(before(), reboot, lighthouse.OperationOperating, "r-x", recent), reset, nil, reconcile.VerdictRunning},
		{"our reset succeeded", withOp(after(reset, before()), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-ours", recent), reset, intentFor(reset, recent, "r-ours"), reconcile.VerdictDone},
		{"shows the target, no intent", after(reset, before()), reset, nil, reconcile.VerdictDone},
		{"our reset failed", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-ours", recent), reset, intentFor(reset, recent, "r-ours"), reconcile.VerdictFailed},
		{"lost answer, reset failed", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-new", recent), reset, intentFor(reset, recent, ""), reconcile.VerdictFailed},
		{"our reset succeeded without its effect", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-ours", recent), reset, intentFor(reset, recent, "r-ours"), reconcile.VerdictFailed},
		{"lost answer, nothing shows yet", before(), reset, intentFor(reset, recent, ""), reconcile.VerdictWait},
		{"lost answer, nothing showed in the window", before(), reset, intentFor(reset, old, ""), reconcile.VerdictSend},
		{"killed before the send, window passed", before(), bundle, intentFor(bundle, old, ""), reconcile.VerdictSend},
		{"lost answer, a reboot followed", withOp(before(), reboot, lighthouse.OperationSuccess, "r-x", recent), reset, intentFor(reset, old, ""), reconcile.VerdictFailed},
		{"hidden reset, lost answer, a reboot followed", withOp(before(), reboot, lighthouse.OperationSuccess, "r-x", recent), hidden, intentFor(hidden, old, ""), reconcile.VerdictDone},
		{"hidden reset succeeded", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-new", recent), hidden, intentFor(hidden, recent, ""), reconcile.VerdictDone},
		{"hidden reset, no intent, recent reset", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-new", recent), hidden, nil, reconcile.VerdictWait},
		{"hidden reset, no intent, reset since the record", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-new", old), withKnown(hidden, "r-prev"), nil, reconcile.VerdictDone},
		{"no intent, a reset failed recently", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-x", recent), reset, nil, reconcile.VerdictFailed},
		{"no intent, a reset failed long ago (chaos seed 242)", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-x", old), reset, nil, reconcile.VerdictFailed},
		{"no intent, a bundle change failed: no reset either (chaos seed 3471)", withOp(before(), lighthouse.ActionModifyInstancesBundle, lighthouse.OperationFailed, "r-x", old), reset, nil, reconcile.VerdictFailed},
		{"no intent, a reset failed at a time not shown (intl)", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-x", time.Time{}), reset, nil, reconcile.VerdictFailed},
		{"no intent, another runner's reset to elsewhere just ended", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-x", recent), reset, nil, reconcile.VerdictWait},
		{"no intent, an old reset", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationSuccess, "r-x", old), reset, nil, reconcile.VerdictSend},
		{"failed intent still the latest", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-x", old), reset, failed(intentFor(reset, old, "r-x"), "r-x"), reconcile.VerdictFailed},
		{"failed intent cleared by a reboot", withOp(before(), reboot, lighthouse.OperationSuccess, "r-boot", old), reset, failed(intentFor(reset, old, "r-x"), "r-x"), reconcile.VerdictSend},
		{"an earlier change's intent, nothing shows yet", before(), reset, retarget(intentFor(reset, recent, ""), "shape-1"), reconcile.VerdictWait},
		{"an earlier change's intent, it failed", withOp(before(), lighthouse.ActionResetInstance, lighthouse.OperationFailed, "r-new", old), reset, retarget(intentFor(reset, old, ""), "shape-1"), reconcile.VerdictFailed},
		{"bundle changed by our lost call", withOp(after(bundle, before()), lighthouse.ActionModifyInstancesBundle, lighthouse.OperationSuccess, "r-new", recent), bundle, intentFor(bundle, recent, ""), reconcile.VerdictDone},
		{"renewal shows", withOp(after(renew, before()), lighthouse.ActionRenewInstances, lighthouse.OperationSuccess, "r-ours", recent), renew, intentFor(renew, recent, "r-ours"), reconcile.VerdictDone},
		{"renewal lost, not shown yet", before(), renew, intentFor(renew, recent, ""), reconcile.VerdictWait},
		{"renewal succeeded without a later expiry", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationSuccess, "r-ours", recent), renew, intentFor(renew, recent, "r-ours"), reconcile.VerdictFailed},
		{"our renewal failed, within the window", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationFailed, "r-ours", recent), renew, intentFor(renew, recent, "r-ours"), reconcile.VerdictFailed},
		{"our renewal failed, window passed: sent again", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationFailed, "r-ours", old), renew, intentFor(renew, old, "r-ours"), reconcile.VerdictSend},
		{"renewal's failure recorded, window passed: sent again", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationFailed, "r-x", old), renew, failed(intentFor(renew, old, "r-x"), "r-x"), reconcile.VerdictSend},
		{"no intent, a renewal failed at a time not shown (intl): sent again", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationFailed, "r-x", time.Time{}), renew, nil, reconcile.VerdictSend},
		{"no intent, a renewal failed recently", withOp(before(), lighthouse.ActionRenewInstances, lighthouse.OperationFailed, "r-x", recent), renew, nil, reconcile.VerdictFailed},
		{"lost renewal answer, a reboot followed", withOp(before(), reboot, lighthouse.OperationSuccess, "r-x", recent), renew, intentFor(renew, old, ""), reconcile.VerdictFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := reconcile.Judge(tc.in, tc.op, tc.intent, judgeNow, judgeWindow)
			if j.Verdict != tc.want {
				t.Errorf("verdict %s (%s), want %s", j.Verdict, j.Reason, tc.want)
			}
			if j.Verdict != reconcile.VerdictSend && j.Reason == "" {
				t.Errorf("verdict %s without a reason", j.Verdict)
			}
		})
	}
}

func withKnown(op reconcile.Op, rid string) reconcile.Op { op.Known = rid; return op }

func failed(it *reconcile.OpIntent, rid string) *reconcile.OpIntent { it.Failed = rid; return it }

func retarget(it *reconcile.OpIntent, target string) *reconcile.OpIntent {
	it.Target = target
	return it
}

// TestJudgeExhaustive runs the judge over every combination of operation,
// journal, latest operation, its state, RequestId, effect, time and start
// time, and checks the rules that make an operation happen at most once
// for one change.
func TestJudgeExhaustive(t *testing.T) {
	ops := map[string]reconcile.Op{"reset": resetOp(false), "hidden-reset": resetOp(true), "bundle": bundleOp(), "renew": renewOp()}
	type intentKind string
	intents := []intentKind{"none", "sent", "answered", "unknown", "earlier-change", "failed"}
	rids := []string{"r-prev", "r-ours", "r-new", "r-x"}
	latest := []string{"", "self", "RebootInstances"}
	states := []string{lighthouse.OperationSuccess, lighthouse.OperationOperating, lighthouse.OperationFailed}
	sinces := map[string]time.Time{"within": judgeNow.Add(-time.Minute), "past": judgeNow.Add(-judgeWindow - time.Second)}
	starts := map[string]time.Time{"unknown": {}, "recent": judgeNow.Add(-time.Minute), "old": judgeNow.Add(-time.Hour)}
	n := 0
	for opName, op := range ops {
		for _, ik := range intents {
			for _, la := range latest {
				for _, state := range states {
					for _, rid := range rids {
						for _, shown := range []bool{false, true} {
							for sinceName, since := range sinces {
								for startName, started := range starts {
									in := before()
									if shown {
										in = after(op, in)
									}
									action := la
									if la == "self" {
										action = op.Action
									}
									in = withOp(in, action, state, rid, started)
									var it *reconcile.OpIntent
									switch ik {
									case "sent":
										it = intentFor(op, since, "")
									case "answered":
										it = intentFor(op, since, "r-ours")
									case "unknown":
										it = intentFor(op, since, "")
										it.Unknown = true
									case "earlier-change":
										it = retarget(intentFor(op, since, "r-ours"), "earlier")
									case "failed":
										it = failed(intentFor(op, since, "r-ours"), "r-x")
									}
									j := reconcile.Judge(in, op, it, judgeNow, judgeWindow)
									where := fmt.Sprintf("%s, intent %s, latest %q %s %s, shown %v, since %s, started %s: %s (%s)",
										opName, ik, action, state, rid, shown, sinceName, startName, j.Verdict, j.Reason)
									checkJudgement(t, where, op, in, it, j, shown && (opName != "hidden-reset"), since)
									n++
								}
							}
						}
					}
				}
			}
		}
	}
	if n < 5000 {
		t.Fatalf("only %d combinations", n)
	}
	t.Logf("%d combinations", n)
}

// checkJudgement holds one verdict to the judge's rules.
func checkJudgement(t *testing.T, where string, op reconcile.Op, in reconcile.Instance, it *reconcile.OpIntent, j reconcile.Judgement, shown bool, since time.Time) {
	t.Helper()
	v := j.Verdict
	switch {
	case in.LatestOperationState == lighthouse.OperationOperating:
		// Whatever runs, nothing is sent to it.
		if v != reconcile.VerdictRunning {
			t.Errorf("an operation in progress must be running: %s", where)
		}
		return
	case shown:
		if v != reconcile.VerdictDone {
			t.Errorf("the effect shows, must be done: %s", where)
		}
		return
	}
	if v != reconcile.VerdictSend && j.Reason == "" {
		t.Errorf("a verdict without a reason: %s", where)
	}
	sameChange := it != nil && it.Target == op.Target
	// A renewal that ended FAILED bought nothing: once the window has
	// passed since it was sent (or at once when no time shows it), it may
	// be sent again (Op.retryable).
	renewRetry := op.Action == lighthouse.ActionRenewInstances && in.LatestOperation == op.Action && in.LatestOperationState == lighthouse.OperationFailed &&
		(it != nil && !judgeNow.Before(since.Add(judgeWindow)) || it == nil && in.LatestOperationStarted.IsZero())
	evidence := false
	if it != nil {
		evidence = in.LatestOperation == op.Action && (in.LatestOperationRequestID != it.PrevRequestID || it.RequestID != "" && in.LatestOperationRequestID == it.RequestID)
	}
	switch {
	case sameChange && it.Failed != "" && in.LatestOperationRequestID == it.Failed && renewRetry:
		if v != reconcile.VerdictSend {
			t.Errorf("a failed renewal whose window passed must be sent again: %s", where)
		}
	case sameChange && it.Failed != "" && in.LatestOperationRequestID == it.Failed:
		if v != reconcile.VerdictFailed {
			t.Errorf("a failed change whose failure is still the latest operation must stay failed: %s", where)
		}
	case sameChange && it.Failed == "" && evidence && renewRetry:
		if v != reconcile.VerdictSend {
			t.Errorf("an attempt of this renewal failed and its window passed: must be sent again: %s", where)
		}
	case sameChange && it.Failed == "" && evidence:
		// An attempt of this change happened: never again.
		if v == reconcile.VerdictSend || v == reconcile.VerdictWait {
			t.Errorf("an attempt of this change shows: must be done or failed: %s", where)
		}
		if in.LatestOperationState == lighthouse.OperationFailed && v != reconcile.VerdictFailed {
			t.Errorf("an attempt of this change failed: must be failed: %s", where)
		}
	case sameChange && it.Failed == "" && in.LatestOperationRequestID == it.PrevRequestID:
		// No operation since the confirm read: wait out the window, then
		// it did not happen.
		want := reconcile.VerdictSend
		switch {
		case judgeNow.Before(since.Add(judgeWindow)):
			want = reconcile.VerdictWait
		case blockedByFailure(op, in):
			// A failure before the intent still blocks (failedStays).
			want = reconcile.VerdictFailed
		}
		if v != want {
			t.Errorf("no operation since the intent: want %s: %s", want, where)
		}
	case sameChange && it.Failed == "":
		// Another action since hides ours: never sent again for this change.
		if v == reconcile.VerdictSend {
			t.Errorf("another action hides the attempt: must not send: %s", where)
		}
	case it == nil && renewRetry:
		if v != reconcile.VerdictSend {
			t.Errorf("a renewal that failed at a time not shown changed nothing: must be sent again: %s", where)
		}
	case it == nil && in.LatestOperation == op.Action && in.LatestOperationState == lighthouse.OperationFailed &&
		(in.LatestOperationStarted.IsZero() || judgeNow.Sub(in.LatestOperationStarted) <= judgeWindow):
		if v != reconcile.VerdictFailed {
			t.Errorf("a recent failure of this action without a record must be failed: %s", where)
		}
	case it == nil && in.LatestOperation == op.Action && !in.LatestOperationStarted.IsZero() && judgeNow.Sub(in.LatestOperationStarted) <= judgeWindow:
		if v != reconcile.VerdictWait && v != reconcile.VerdictDone {
			t.Errorf("a recent operation of this action without a record (another runner's?) must be waited for: %s", where)
		}
	case it == nil && in.LatestOperation != op.Action:
		if v != reconcile.VerdictSend {
			t.Errorf("nothing of this action shows and no intent: must send: %s", where)
		}
	}
	if v == reconcile.VerdictSend && blockedByFailure(op, in) {
		t.Errorf("sent while a failed reset or bundle change is the latest operation: %s", where)
	}
	if v == reconcile.VerdictSend && sameChange && it.Failed == "" && in.LatestOperationRequestID != it.PrevRequestID && !renewRetry {
		t.Errorf("sent again although an operation started since the intent: %s", where)
	}
}

// blockedByFailure: no reset or bundle change is sent while the latest
// operation is a failed reset or bundle change (chaos seeds 242, 3471).
func blockedByFailure(op reconcile.Op, in reconcile.Instance) bool {
	return op.Action != lighthouse.ActionRenewInstances && in.LatestOperationState == lighthouse.OperationFailed &&
		(in.LatestOperation == lighthouse.ActionResetInstance || in.LatestOperation == lighthouse.ActionModifyInstancesBundle)
}
