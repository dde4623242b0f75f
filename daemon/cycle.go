package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// cycle runs one reconcile: sync the source, load a new revision, plan the
// last good revision's fleets, check the limits, apply. It reports whether
// the cycle went well (a failed one is retried with backoff). An invalid
// revision is not a failure: retrying would not fix it, a new commit will.
func (d *Daemon) cycle(ctx context.Context, trigger string) bool {
	start := d.opts.Now()
	t0 := time.Now()
	run := &Run{Trigger: trigger, Started: start}
	var errs []string
	syncOK := d.sync(ctx, &errs)
	d.progress()
	var result string
	if d.leading() {
		result = d.reconcile(ctx, run, &errs)
		if d.good != nil && (result == ResultSuccess || result == ResultPartial || result == ResultHeld) {
			d.publish(ctx, d.good.rev.ID)
		}
	} else {
		// The leader reconciles; what this daemon planned while it led
		// is stale now.
		result = ResultFollower
		d.setStatus(func(s *Status) { s.Plan, s.Result, s.Held, s.Fleets = nil, nil, nil, nil })
	}
	run.Duration = time.Since(t0).Seconds()
	run.Result = result
	d.m.duration.Observe(run.Duration)
	d.m.runs.WithLabelValues(result).Inc()
	d.saveState()
	end := d.opts.Now()
	d.setStatus(func(s *Status) {
		s.Runs++
		s.LastRun = run
		if result == ResultSuccess {
			s.LastSuccess = end
		}
		s.LastError = strings.Join(errs, "; ")
		if len(errs) > 0 {
			s.LastErrorAt = end
		}
	})
	if result == ResultSuccess {
		d.m.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	}
	log := d.log.With("result", result, "trigger", trigger, "seconds", run.Duration)
	if d.good != nil {
		log = log.With("revision", d.good.rev.Short())
	}
	switch result {
	case ResultFollower:
		log.Debug("synced; the leader reconciles")
	case ResultSuccess, ResultCanceled:
		log.Info("reconcile cycle ended", "created", run.Created)
	default:
		log.Warn("reconcile cycle ended", "created", run.Created, "failed", run.Failed, "errors", strings.Join(errs, "; "))
	}
	return syncOK && (result == ResultSuccess || result == ResultHeld || result == ResultFollower)
}

// sync fetches the current revision and, when it is new, loads its fleets.
// It reports whether the sync succeeded.
func (d *Daemon) sync(ctx context.Context, errs *[]string) bool {
	rev, err := d.opts.Source.Sync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		d.m.fetches.WithLabelValues("error").Inc()
		msg := fmt.Sprintf("sync: %v", err)
		if d.good != nil {
			msg += fmt.Sprintf(" (reconciling revision %s meanwhile)", d.good.rev.Short())
		}
		*errs = append(*errs, msg)
		d.log.Error("cannot sync the fleet repository", "err", err)
		return false
	}
	d.m.fetches.WithLabelValues("success").Inc()
	d.synced = true
	// A commit refused, then accepted (or the other way round: a tag
	// re-signed, or replaced by a lightweight one) is news too.
	if rev.ID == d.current.ID && d.current.ID != "" && (rev.Refused == nil) == (d.current.Refused == nil) {
		if msg := d.invalidMessage(); msg != "" && (d.good == nil || d.good.rev.ID != rev.ID) {
			*errs = append(*errs, msg)
		}
		return true
	}
	d.current = rev
	now := d.opts.Now()
	if rev.Refused != nil { // refused.go
		d.refuse(rev, now, errs)
		return true
	}
	fleets, err := d.load(rev)
	if err != nil {
		problems := specErrors(err)
		d.setInvalid(rev, now, problems, errs)
		for _, e := range problems {
			d.log.Error("invalid revision", "revision", rev.Short(), "problem", e.Error())
		}
		return true
	}
	d.m.revisionLoads.WithLabelValues("valid").Inc()
	d.m.invalid.Set(0)
	d.m.setRevision(rev.ID, true)
	d.good = &goodState{rev: rev, fleets: fleets}
	d.setStatus(func(s *Status) {
		s.Revision = revisionInfo(rev, now)
		s.LastGood = revisionInfo(rev, now)
		s.Invalid = nil
	})
	d.log.Info("new revision loaded", "revision", rev.Short(), "subject", rev.Subject, "fleets", len(fleets))
	if err := d.saveLastGood(rev); err != nil {
		d.m.stateSaveFails.Inc()
		d.log.Error("cannot keep a copy of the last good revision; a restart under an invalid revision would reconcile nothing", "err", err)
	}
	return true
}

// setInvalid reports rev, which is not applied because of problems, in the
// metrics and /status, and adds the invalid revision to errs.
func (d *Daemon) setInvalid(rev Revision, now time.Time, problems []*spec.Error, errs *[]string) {
	d.m.revisionLoads.WithLabelValues("invalid").Inc()
	d.m.invalid.Set(1)
	d.m.setRevision(rev.ID, false)
	inv := &InvalidRevision{RevisionInfo: *revisionInfo(rev, now), Errors: problems}
	d.setStatus(func(s *Status) { s.Revision = revisionInfo(rev, now); s.Invalid = inv })
	*errs = append(*errs, d.invalidMessage())
}

// invalidMessage says which revision is invalid and what is reconciled
// instead.
func (d *Daemon) invalidMessage() string {
	s := d.Status()
	if s.Invalid == nil {
		return ""
	}
	n := spec.Errors(s.Invalid.Errors).Count()
	msg := fmt.Sprintf("revision %s is invalid (%d problem%s, first: %s)", s.Invalid.Short, n, plural(n), s.Invalid.Errors[0].Error())
	if d.good != nil {
		return msg + fmt.Sprintf("; still reconciling the last good revision %s", d.good.rev.Short())
	}
	return msg + "; no good revision to reconcile yet"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// fleetFS is the part of a revision that holds the fleets: Path.
func (d *Daemon) fleetFS(rev Revision) (fs.FS, error) {
	if rev.FS == nil {
		return nil, errors.New("the revision has no files")
	}
	fsys := rev.FS
	if d.opts.Path != "." {
		sub, err := fs.Sub(fsys, d.opts.Path)
		if err != nil {
			return nil, fmt.Errorf("fleets path %q: %w", d.opts.Path, err)
		}
		fsys = sub
	}
	return fsys, nil
}

// load reads the fleets of a revision.
func (d *Daemon) load(rev Revision) ([]*spec.Fleet, error) {
	fsys, err := d.fleetFS(rev)
	if err != nil {
		return nil, err
	}
	display := ""
	if d.opts.Path != "." {
		display = d.opts.Path
	}
	return spec.LoadInputs([]spec.Input{{FS: fsys, Display: display, Root: rev.ID + "/" + d.opts.Path}}, d.specOptions())
}

// specOptions are the options of every fleet load: Options.Spec with
// Options.Exclude, matched as validate --exclude matches.
func (d *Daemon) specOptions() spec.Options {
	o := d.opts.Spec
	o.Exclude = d.opts.Exclude
	return o
}

// reconcile plans and applies the last good revision's fleets and returns
// the cycle's result.
func (d *Daemon) reconcile(ctx context.Context, run *Run, errs *[]string) string {
	if ctx.Err() != nil {
		return ResultCanceled
	}
	if d.good == nil {
		if len(*errs) == 0 {
			*errs = append(*errs, "no revision synced yet")
		}
		return ResultError
	}
	run.Revision = d.good.rev.ID
	p, err := d.rec.Plan(ctx, d.good.fleets)
	if err != nil {
		if ctx.Err() != nil {
			return ResultCanceled
		}
		*errs = append(*errs, fmt.Sprintf("plan: %v", err))
		return ResultError
	}
	if d.synced && !d.ready.Swap(true) {
		d.m.ready.Set(1)
		d.log.Info("ready: first sync and observe done")
	}
	d.m.observePlan(p)
	run.Creates = p.Totals.Creates
	if p.Check(d.opts.Limits) {
		p.Word(configWords)
		d.m.held.Set(1)
		msgs := make([]string, 0, len(p.Violations))
		for _, v := range p.Violations {
			msgs = append(msgs, v.Message)
		}
		*errs = append(*errs, "plan held, not applied: "+strings.Join(msgs, "; "))
		d.log.Warn("plan exceeds a safety limit; held, nothing applied", "violations", strings.Join(msgs, "; "))
		d.setStatus(func(s *Status) {
			s.Plan, s.Result, s.Held = p, nil, p.Violations
			s.Fleets = fleetStatuses(p, nil)
		})
		return ResultHeld
	}
	d.m.held.Set(0)
	res, err := d.apply(ctx, p)
	d.m.observeResult(res)
	run.Created, run.Failed = res.Created, res.Failed+res.Ambiguous
	fleets := fleetStatuses(p, res)
	d.setStatus(func(s *Status) {
		s.Plan, s.Result, s.Held = p, res, nil
		s.Fleets = fleets
	})
	if err != nil && ctx.Err() != nil {
		return ResultCanceled
	}
	if err != nil {
		*errs = append(*errs, fmt.Sprintf("apply: %v", err))
		return ResultError
	}
	for _, fs := range fleets {
		if fs.Error != "" {
			*errs = append(*errs, fmt.Sprintf("fleet %q: %s", fs.Name, fs.Error))
		}
	}
	for _, fp := range p.Failing() {
		*errs = append(*errs, fmt.Sprintf("fleet %q is failing: %s", fp.Fleet, fp.FailingText()))
	}
	if !res.OK() {
		return ResultPartial
	}
	return ResultSuccess
}

// apply applies p under a context that outlives Run's by the shutdown
// grace, so that the calls in flight when the daemon is told to stop
// finish (and their outcome is recorded) while the gate in countingCloud
// starts no new one.
func (d *Daemon) apply(ctx context.Context, p *reconcile.Plan) (*reconcile.Result, error) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.opts.ShutdownGrace, cancel)
		context.AfterFunc(actx, func() { t.Stop() })
	})
	defer stopGrace()
	res, err := d.rec.Apply(actx, p, false)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return res, err
}
