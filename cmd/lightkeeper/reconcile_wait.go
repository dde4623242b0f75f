package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/escape"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// Poll intervals of --wait: the real service (the first look after 1 s,
// then less and less often, up to every 5 s), and the in-process emulator.
const (
	waitPollFirst    = time.Second
	waitPollMax      = 5 * time.Second
	waitPollEmulated = 500 * time.Millisecond
)

// waitRunning is --wait after an apply: it observes again every few
// seconds until every fleet has its count RUNNING and no slot waits for a
// create's instance to be listed. A plan that still has creates (a launch
// that failed, a create whose outcome was unknown) is applied again, within
// what remains of the guards. res gathers what every apply did. It returns
// what is still pending when it gives up.
func (run *reconcileRun) waitRunning(ctx context.Context, first *reconcile.Plan, res *reconcile.Result) ([]string, error) {
	deadline := time.Now().Add(run.f.wait.d)
	poll, pollMax := waitPollFirst, waitPollMax
	if run.emulated {
		poll, pollMax = waitPollEmulated, waitPollEmulated
	}
	used := reconcile.Totals{Creates: first.Totals.Creates, Isolates: res.Isolated, Updates: first.Totals.Updates, Money: first.Totals.Money, RenewalSpend: first.Totals.RenewalSpend}
	run.ui.start("waiting for RUNNING")
	defer run.ui.stop()
	var pending []string
	for {
		p, err := run.r.Plan(ctx, run.fleets)
		if err != nil {
			return pending, interrupted(ctx, fmt.Errorf("plan: %w", err))
		}
		pending = pendingOf(p)
		if len(pending) == 0 {
			return nil, nil
		}
		if errs := p.Errors(); len(errs) > 0 {
			return pending, &exitCodeError{code: exitError, err: fmt.Errorf("stopped waiting: %s", escape.Text(fmt.Sprintf("fleet %s: %s", errs[0].Fleet, errs[0].Error.Message)))}
		}
		if failing := p.Failing(); len(failing) > 0 {
			return pending, &exitCodeError{code: exitError, err: fmt.Errorf("stopped waiting: %s", escape.Text(fmt.Sprintf("fleet %s is failing: its launches keep failing (%d in a row in one slot)", failing[0].Fleet, failing[0].LaunchFailures)))}
		}
		if p.Changes() {
			if check(p, remaining(run.f.limits, used)) && !run.f.allowOverLimit {
				return pending, &exitCodeError{code: exitOverLimit, err: fmt.Errorf("stopped waiting: the creates still needed pass what remains of the limits: %s", overLimitError(p))}
			}
			if stuck := stuckRollouts(p); stuck != "" {
				return pending, &exitCodeError{code: exitError, err: fmt.Errorf("stopped waiting: %s", escape.Text(stuck))}
			}
			more, err := run.r.Apply(ctx, p, run.f.allowOverLimit)
			mergeResult(res, more)
			used.Creates += p.Totals.Creates
			used.Isolates += more.Isolated
			used.Updates += p.Totals.Updates
			used.Money.Monthly += p.Totals.Money.Monthly
			used.RenewalSpend.Commitment += p.Totals.RenewalSpend.Commitment
			if err != nil {
				return pending, interrupted(ctx, err)
			}
			if more.Failed > 0 || more.RenewFailed > 0 || hasFleetError(more) {
				return pending, &exitCodeError{code: exitError, err: fmt.Errorf("stopped waiting: %s", applyFailures(p, more))}
			}
		}
		run.ui.status(escape.Text(strings.Join(pending, "; ")))
		if !time.Now().Before(deadline) {
			return pending, &exitCodeError{code: exitError, err: fmt.Errorf("--wait %s ran out; still pending: %s", run.f.wait.d, escape.Text(strings.Join(pending, "; ")))}
		}
		select {
		case <-ctx.Done():
			return pending, interrupted(ctx, ctx.Err())
		case <-time.After(min(poll, time.Until(deadline)+time.Millisecond)):
		}
		poll = min(pollMax, poll*3/2)
	}
}

// pendingOf lists the fleets of p that are not yet RUNNING at their count.
func pendingOf(p *reconcile.Plan) []string {
	var out []string
	for _, fp := range p.Fleets {
		if fp.Error != nil {
			out = append(out, fmt.Sprintf("%s: %s", fp.Fleet, fp.Error.Message))
			continue
		}
		running := fp.Live - fp.Pending
		if fp.Suspended {
			continue // a suspended fleet is not waited for: nothing is done for it
		}
		if ro := fp.Rollout; ro != nil && len(ro.Updates) > 0 {
			out = append(out, rolloutProgress(fp))
			continue
		}
		if running >= fp.Desired && fp.Expected == 0 && len(fp.Creates) == 0 {
			continue
		}
		s := fmt.Sprintf("%s %d/%d RUNNING", fp.Fleet, running, fp.Desired)
		var more []string
		if fp.Pending > 0 {
			more = append(more, fmt.Sprintf("%d PENDING", fp.Pending))
		}
		if fp.Expected > 0 {
			more = append(more, fmt.Sprintf("%d not listed yet", fp.Expected))
		}
		if n := len(fp.Creates); n > 0 {
			more = append(more, fmt.Sprintf("%d to create", n))
		}
		for _, bo := range fp.Backoff {
			more = append(more, fmt.Sprintf("slot %d backs off until %s after %d launch failures", bo.Slot, bo.Until.UTC().Format(time.RFC3339), bo.Failures))
		}
		if len(more) > 0 {
			s += " (" + strings.Join(more, ", ") + ")"
		}
		out = append(out, s)
	}
	return out
}

// remaining is what is left of limits after used; NoLimit stays.
func remaining(l reconcile.Limits, used reconcile.Totals) reconcile.Limits {
	if l.MaxCreates >= 0 {
		l.MaxCreates = max(0, l.MaxCreates-used.Creates)
	}
	if l.MaxIsolates >= 0 {
		l.MaxIsolates = max(0, l.MaxIsolates-used.Isolates)
	}
	if l.MaxMonthlySpend >= 0 {
		l.MaxMonthlySpend = max(0, l.MaxMonthlySpend-used.Money.Monthly)
	}
	if l.MaxRenewalSpend >= 0 {
		l.MaxRenewalSpend = max(0, l.MaxRenewalSpend-used.RenewalSpend.Commitment)
	}
	if l.MaxUpdates >= 0 {
		l.MaxUpdates = max(0, l.MaxUpdates-used.Updates)
	}
	return l
}

// rolloutProgress says where a fleet's rollout stands, in a few words.
func rolloutProgress(fp *reconcile.FleetPlan) string {
	ro := fp.Rollout
	s := fmt.Sprintf("%s %d/%d updated", fp.Fleet, ro.Updated, ro.Total)
	var more []string
	if ro.Batch > 0 {
		more = append(more, fmt.Sprintf("batch %d of %d", ro.Batch, ro.Batches))
	}
	if ro.Waiting != "" {
		more = append(more, ro.Waiting)
	}
	if ro.Paused != "" {
		more = append(more, "paused: "+ro.Paused)
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, "; ") + ")"
	}
	return s
}

// stuckRollouts says why a rollout cannot go on by waiting, or "": one
// paused after a failure, or one whose every update a limit holds or the
// strategy cannot make.
func stuckRollouts(p *reconcile.Plan) string {
	for _, fp := range p.Fleets {
		ro := fp.Rollout
		if ro == nil || fp.Error != nil || len(ro.Updates) == 0 {
			continue
		}
		if ro.Paused != "" {
			return fmt.Sprintf("the rollout of fleet %s is paused: %s", fp.Fleet, ro.Paused)
		}
		held, cannot := 0, 0
		for _, u := range ro.Updates {
			switch u.Status {
			case reconcile.StatusHeld:
				held++
			case reconcile.StatusCannot:
				cannot++
			}
		}
		if held+cannot == len(ro.Updates) {
			if held > 0 {
				return fmt.Sprintf("the rollout of fleet %s is held by --max-updates (what remains of it: raise it, or -1 for no limit)", fp.Fleet)
			}
			return fmt.Sprintf("the rollout of fleet %s cannot go on in strategy %s: %s", fp.Fleet, ro.Strategy, ro.Updates[0].Reason)
		}
	}
	return ""
}

// mergeResult adds what another apply did to res.
func mergeResult(res, more *reconcile.Result) {
	for _, m := range more.Fleets {
		var fr *reconcile.FleetResult
		for _, f := range res.Fleets {
			if f.Fleet == m.Fleet && f.Region == m.Region {
				fr = f
			}
		}
		if fr == nil {
			fr = &reconcile.FleetResult{Fleet: m.Fleet, Region: m.Region}
			res.Fleets = append(res.Fleets, fr)
		}
		fr.Created = append(fr.Created, m.Created...)
		fr.Failures = append(fr.Failures, m.Failures...)
		fr.Isolated = append(fr.Isolated, m.Isolated...)
		fr.Waiting = append(fr.Waiting, m.Waiting...)
		fr.Renewed = append(fr.Renewed, m.Renewed...)
		fr.RenewFailures = append(fr.RenewFailures, m.RenewFailures...)
		fr.Suspended, fr.Failing = m.Suspended, m.Failing
		fr.Updates = append(fr.Updates, m.Updates...)
		if m.Error != nil {
			fr.Error = m.Error
		}
	}
	res.Waiting += more.Waiting
	res.Renewed += more.Renewed
	res.RenewFailed += more.RenewFailed
	res.RenewAmbiguous += more.RenewAmbiguous
	res.Created += more.Created
	res.Ambiguous += more.Ambiguous
	res.Failed += more.Failed
	res.Isolated += more.Isolated
	res.Updated += more.Updated
}

func hasFleetError(res *reconcile.Result) bool {
	for _, fr := range res.Fleets {
		if fr.Error != nil {
			return true
		}
	}
	return false
}
