package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// outcome is what one cycle did. The steps of cycle fill it in; record is
// the one place that turns it into the status, the metrics and the log,
// and result and errors are the one place that judge it.
type outcome struct {
	run Run
	end time.Time
	// release ends a push's hold on the collector (collector.go).
	release func()

	// sync
	fetched    bool   // the source synced
	syncFailed bool   // it did not (syncErr is nil when the cycle was canceled)
	syncErr    error  // why not
	syncGood   string // the revision reconciled meanwhile, if any
	load       *loadEvent
	// invalid is set while the revision synced is invalid and not the
	// last good one; refused when the source refused it (its signature).
	invalid *InvalidRevision
	refused bool

	// reconcile
	follower    bool // another daemon leads: nothing was planned
	canceled    bool // the daemon was told to stop during the cycle
	noGood      bool // no good revision to reconcile yet
	planErr     error
	becameReady bool // the first sync and observe have both succeeded now (markReady ran)
	plan        *reconcile.Plan
	held        []reconcile.Violation // the limits the plan exceeds; not applied
	approved    *Approval             // the approval that released the plan over its limits (approve.go)
	res         *reconcile.Result
	applyErr    error
	// push is what the revision this cycle adopted changed, and fast
	// what a push's fast path applied before the full plan (fastpath.go).
	push     *pushChange
	fast     *reconcile.Result
	fastPlan *reconcile.Plan // the focused plan fast was applied from
	// adopting is the revision this cycle loaded while its copy is being
	// saved, when a push's fast path plans from it meanwhile (adopt.go).
	adopting *adoption
	// after is the fleets as the cloud listed them after an apply that
	// sent anything (Reconciler.Observe); afterErr why it could not be had.
	after    *reconcile.Plan
	afterErr error

	// state
	stateErr error  // the state file could not be saved
	good     string // the last good revision after the cycle, short
}

// loadEvent is a revision synced for the first time (or refused, then
// accepted, or the other way round).
type loadEvent struct {
	rev     Revision
	at      time.Time
	fleets  int              // fleets loaded, when valid
	invalid *InvalidRevision // its problems; nil when valid
	refused bool             // invalid because the source refused its signature
	// openSecrets are the password files of its fleets that group or
	// others may read.
	openSecrets []string
	// saveErr is why the copy of a valid revision could not be saved; it
	// is not adopted as the last good revision then.
	saveErr error
}

// result is the cycle's result, one of the Result* constants.
func (o *outcome) result() string {
	switch {
	case o.follower:
		return ResultFollower
	case o.canceled:
		return ResultCanceled
	case o.noGood, o.planErr != nil, o.applyErr != nil:
		return ResultError
	case o.held != nil:
		return ResultHeld
	case o.res != nil && !o.res.OK():
		return ResultPartial
	}
	return ResultSuccess
}

// reconciled reports whether the last good revision was planned and
// checked (applied, partly applied or held).
func (o *outcome) reconciled() bool {
	switch o.result() {
	case ResultSuccess, ResultPartial, ResultHeld:
		return true
	}
	return false
}

// ok reports whether the cycle went well: the next one waits the interval,
// not the backoff.
func (o *outcome) ok() bool {
	switch o.result() {
	case ResultSuccess, ResultHeld, ResultFollower:
		return !o.syncFailed && o.stateErr == nil && (o.load == nil || o.load.saveErr == nil)
	}
	return false
}

// errors lists what went wrong, for Status.LastError and the log.
func (o *outcome) errors(fleets []FleetStatus) []string {
	var errs []string
	if o.syncErr != nil {
		msg := fmt.Sprintf("sync: %v", o.syncErr)
		if o.syncGood != "" {
			msg += fmt.Sprintf(" (reconciling revision %s meanwhile)", o.syncGood)
		}
		errs = append(errs, msg)
	}
	if ev := o.load; ev != nil && ev.saveErr != nil {
		errs = append(errs, fmt.Sprintf("revision %s is valid but not applied: cannot keep a copy of it in the state directory: %v (%s)",
			ev.rev.Short(), ev.saveErr, o.stillReconciling()))
	}
	if inv := o.invalid; inv != nil {
		n := spec.Errors(inv.Errors).Count()
		errs = append(errs, fmt.Sprintf("revision %s is invalid (%d problem%s, first: %s); %s", inv.Short, n, plural(n), inv.Errors[0].Error(), o.stillReconciling()))
	}
	if o.noGood && len(errs) == 0 {
		errs = append(errs, "no revision synced yet")
	}
	if o.planErr != nil {
		errs = append(errs, fmt.Sprintf("plan: %v", o.planErr))
	}
	if o.held != nil {
		errs = append(errs, "plan held, not applied: "+violations(o.held))
	}
	if o.applyErr != nil {
		errs = append(errs, fmt.Sprintf("apply: %v", o.applyErr))
	} else if o.res != nil && !o.canceled {
		for _, fs := range fleets {
			if fs.Error != "" {
				errs = append(errs, fmt.Sprintf("fleet %q: %s", fs.Name, fs.Error))
			}
		}
		for _, fp := range o.plan.Failing() {
			errs = append(errs, fmt.Sprintf("fleet %q is failing: %s", fp.Fleet, fp.FailingText()))
		}
	}
	if o.stateErr != nil {
		errs = append(errs, fmt.Sprintf("state: %v (expectations may be lost on restart; tokens still make creates safe)", o.stateErr))
	}
	return errs
}

// stillReconciling says what is reconciled instead of the newest revision.
func (o *outcome) stillReconciling() string {
	if o.good != "" {
		return "still reconciling the last good revision " + o.good
	}
	return "no good revision to reconcile yet"
}

func violations(vs []reconcile.Violation) string {
	msgs := make([]string, 0, len(vs))
	for _, v := range vs {
		msgs = append(msgs, v.Message)
	}
	return strings.Join(msgs, "; ")
}

// record reports a cycle's outcome: the one place where a cycle changes
// the status, the metrics and the log. (Readiness is live state: markReady
// sets it as soon as the plan is made, and record only logs it.)
func (d *Daemon) record(o *outcome) {
	result := o.result()
	o.run.Result = result
	var fleets []FleetStatus
	observed := o.plan // what the fleets' counts and instances come from
	if o.plan != nil {
		fleets = fleetStatuses(o.plan, o.res, o.after)
		if o.after != nil {
			observed = o.after
		}
	}
	errs := o.errors(fleets)
	// Kept for the status until the next cycle: the plan's fleets, and the
	// instances they were listed with, compressed (observed.go); not what
	// the plan was made from. Only this goroutine sets d.observed.
	var kept *observedInstances
	if observed != nil {
		var err error
		if kept, err = packInstances(observed, d.observed); err != nil {
			d.log.Error("the fleet pages show no instances until the next cycle", "err", err)
			kept = &observedInstances{}
		}
	}
	o.plan.Trim()
	o.after.Trim()

	// Metrics.
	m := d.m
	switch {
	case o.fetched:
		m.fetches.WithLabelValues("success").Inc()
	case o.syncErr != nil:
		m.fetches.WithLabelValues("error").Inc()
	}
	if ev := o.load; ev != nil {
		valid := ev.invalid == nil
		m.revisionLoads.WithLabelValues(validLabel(valid)).Inc()
		m.invalid.Set(gauge(!valid))
		m.setRevision(ev.rev.ID, valid && ev.saveErr == nil)
		if ev.saveErr != nil {
			m.stateSaveFails.Inc()
		}
	}
	if o.plan != nil {
		m.observePlan(o.plan, observed)
		m.held.Set(gauge(o.held != nil))
	}
	if o.res != nil {
		m.observeResult(o.res)
	}
	if o.fast != nil {
		m.observeResult(o.fast)
	}
	if o.stateErr != nil {
		m.stateSaveFails.Inc()
	}
	m.duration.Observe(o.run.Duration)
	m.runs.WithLabelValues(result).Inc()
	if result == ResultSuccess {
		m.lastSuccess.Set(float64(o.end.UnixNano()) / 1e9)
	}

	run := o.run

	// Log.
	log := d.log
	if ev := o.load; ev != nil {
		rlog := log.With("revision", ev.rev.Short())
		switch {
		case ev.refused:
			if o.good != "" {
				rlog = rlog.With("reconciling", o.good)
			}
			rlog.Error("revision refused: its signature does not verify", "problem", ev.invalid.Errors[0].Error())
		case ev.invalid != nil:
			for _, e := range ev.invalid.Errors {
				rlog.Error("invalid revision", "problem", e.Error())
			}
		case ev.saveErr != nil:
			rlog.Error("cannot keep a copy of the new revision; it is not applied until one is saved (a restart must reconcile what /status calls the last good revision)", "err", ev.saveErr)
		default:
			rlog.Info("new revision loaded", "subject", ev.rev.Subject, "fleets", ev.fleets)
		}
		for _, w := range ev.openSecrets {
			rlog.Warn("a password file is open to others", "problem", w)
		}
	}
	if o.syncErr != nil {
		log.Error("cannot sync the fleet repository", "err", o.syncErr)
	}
	if o.becameReady {
		log.Info("ready: first sync and observe done")
	}
	if o.held != nil {
		log.Warn("plan exceeds a safety limit; held, nothing applied", "plan", o.plan.ID, "violations", violations(o.held))
	}
	if a := o.approved; a != nil {
		d.applied(a, o.end)
		log.Info("approved plan applied over its limits", "plan", a.Plan, "by", a.By, "approved_at", a.At, "violations", violations(o.plan.Violations))
	}
	if o.stateErr != nil {
		log.Error("cannot save the state; expectations may be lost on restart (tokens still make creates safe)", "err", o.stateErr)
	}
	log = log.With("result", result, "trigger", run.Trigger, "seconds", run.Duration)
	if o.good != "" {
		log = log.With("revision", o.good)
	}
	switch result {
	case ResultFollower:
		log.Debug("synced; the leader reconciles")
	case ResultSuccess, ResultCanceled:
		level := slog.LevelInfo
		if len(errs) > 0 {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "reconcile cycle ended", "created", run.Created, "errors", strings.Join(errs, "; "))
	default:
		log.Warn("reconcile cycle ended", "created", run.Created, "failed", run.Failed, "errors", strings.Join(errs, "; "))
	}

	// Status, after the log: whoever sees the run counted (waits for a
	// cycle) finds its lines written.
	d.setStatus(func(s *Status) {
		if ev := o.load; ev != nil {
			s.Revision = revisionInfo(ev.rev, ev.at)
			s.Invalid = ev.invalid
			if ev.invalid == nil && ev.saveErr == nil {
				s.LastGood = revisionInfo(ev.rev, ev.at)
			}
		}
		switch {
		case o.follower:
			s.Plan, s.Result, s.Held, s.Fleets = nil, nil, nil, nil
			s.FleetsObserved, s.FleetsAfterApply, d.observed = time.Time{}, false, nil
		case o.plan != nil:
			s.Plan, s.Result, s.Held, s.Fleets = o.plan, o.res, o.held, fleets
			s.FleetsObserved, s.FleetsAfterApply, d.observed = observed.At, o.after != nil, kept
		}
		s.Runs++
		s.Events = addEvents(s.Events, o.events(s.Runs, fleets))
		s.LastRun = &run
		if result == ResultSuccess {
			s.LastSuccess = o.end
		}
		s.LastError = strings.Join(errs, "; ")
		if len(errs) > 0 {
			s.LastErrorAt = o.end
		}
		switch saveErr := o.saveError(); {
		case saveErr != "":
			s.StateError, s.StateErrorAt = saveErr, o.end
		case o.stateErr == nil && d.opts.StateDir != "":
			s.StateError, s.StateErrorAt = "", time.Time{}
		}
	})

	// Notifications (notifications.go).
	d.notifyCycle(o, fleets)
}

// saveError is the save failure of the cycle, for Status.StateError.
func (o *outcome) saveError() string {
	var msgs []string
	if ev := o.load; ev != nil && ev.saveErr != nil {
		msgs = append(msgs, fmt.Sprintf("copy of revision %s: %v", ev.rev.Short(), ev.saveErr))
	}
	if o.stateErr != nil {
		msgs = append(msgs, fmt.Sprintf("state file: %v", o.stateErr))
	}
	return strings.Join(msgs, "; ")
}

// gauge is a gauge's value for a condition.
func gauge(on bool) float64 {
	if on {
		return 1
	}
	return 0
}

// validLabel is the result label of lightkeeper_revision_loads_total.
func validLabel(valid bool) string {
	if valid {
		return "valid"
	}
	return "invalid"
}
