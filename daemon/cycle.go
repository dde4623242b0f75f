package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// cycle runs one reconcile: sync the source, load a new revision, plan the
// last good revision's fleets, check the limits, apply, save the state.
// Each step notes what it did in one outcome, and record reports it in
// the status, the metrics and the log (outcome.go). cycle reports whether
// the cycle went well (a failed one is retried with backoff). An invalid
// revision is not a failure: retrying would not fix it, a new commit will.
func (d *Daemon) cycle(ctx context.Context, trigger string) bool {
	o := &outcome{run: Run{Trigger: trigger, Started: d.opts.Now()}}
	t0 := time.Now()
	d.hold(o) // a push: until its first creates (collector.go)
	defer o.unhold()
	d.sync(ctx, o)
	d.progress()
	if d.leading() {
		d.reconcile(ctx, o)
		if d.good != nil && o.reconciled() {
			d.publish(ctx, d.good.rev.ID)
		}
	} else {
		// The leader reconciles; what this daemon planned while it led
		// is stale now.
		o.follower = true
	}
	d.settle(o) // adopt.go
	o.stateErr = d.saveState()
	if d.good != nil {
		o.good = d.good.rev.Short()
	}
	o.run.Duration = time.Since(t0).Seconds()
	o.end = d.opts.Now()
	d.record(o)
	return o.ok()
}

// sync fetches the current revision and, when it is new, loads its fleets.
func (d *Daemon) sync(ctx context.Context, o *outcome) {
	rev, err := d.opts.Source.Sync(ctx)
	if err != nil {
		o.syncFailed = true
		if ctx.Err() == nil {
			o.syncErr = err
			if d.good != nil {
				o.syncGood = d.good.rev.Short()
			}
		}
		return
	}
	o.fetched = true
	d.synced = true
	// A commit refused, then accepted (or the other way round: a tag
	// re-signed, or replaced by a lightweight one) is news too.
	if rev.ID == d.current.ID && d.current.ID != "" && (rev.Refused == nil) == (d.current.Refused == nil) {
		if d.invalid != nil && (d.good == nil || d.good.rev.ID != rev.ID) {
			o.invalid, o.refused = d.invalid, rev.Refused != nil
		}
		return
	}
	prev := d.current
	d.current = rev
	ev := &loadEvent{rev: rev, at: d.opts.Now()}
	o.load = ev
	if rev.Refused != nil { // refused.go
		ev.refused = true
		d.setInvalid(ev, []*spec.Error{refusalProblem(rev)})
		o.invalid, o.refused = d.invalid, true
		return
	}
	fleets, read, err := d.load(rev)
	if err != nil {
		d.setInvalid(ev, specErrors(err))
		o.invalid = d.invalid
		return
	}
	ev.fleets = len(fleets)
	ev.openSecrets = passwordFileWarnings(fleets)
	d.invalid = nil
	o.push = changedFleets(d.good, fleets) // fastpath.go
	a := &adoption{ev: ev, prev: prev, good: &goodState{rev: rev, fleets: fleets}}
	save := func() error { return d.saveLastGood(rev, read, d.contentKeys(rev)) }
	if pushTrigger(o.run.Trigger) && o.push.reason == "" {
		// The push's fast path observes while the copy is written, and
		// waits for it before it applies anything (adopt.go).
		a.saving = make(chan error, 1)
		go func() { a.saving <- save() }()
		o.adopting = a
		return
	}
	d.adopt(a, save())
}

// setInvalid makes ev's revision, which is not applied because of
// problems, the invalid one.
func (d *Daemon) setInvalid(ev *loadEvent, problems []*spec.Error) {
	ev.invalid = &InvalidRevision{RevisionInfo: *revisionInfo(ev.rev, ev.at), Errors: problems}
	d.invalid = ev.invalid
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

// load reads the fleets of a revision, and returns the files it read for
// saveLastGood.
func (d *Daemon) load(rev Revision) ([]*spec.Fleet, *recordFS, error) {
	fsys, err := d.fleetFS(rev)
	if err != nil {
		return nil, nil, err
	}
	display := ""
	if d.opts.Path != "." {
		display = d.opts.Path
	}
	read := newRecordFS(fsys)
	opts := d.specOptions()
	opts.Cache = &d.parsed
	fleets, err := spec.LoadInputs([]spec.Input{{FS: read, Display: display, Root: rev.ID + "/" + d.opts.Path, Key: d.contentKeys(rev)}}, opts)
	return fleets, read, err
}

// contentKeys names the content of a fleet file of rev (a path under
// Path) when rev's files can (a git revision names each file's blob; see
// gitsync.ContentKeyer), else it is nil. With it a load parses only the
// files whose blob the last good revision's load did not (spec.Cache),
// and saveLastGood copies the others from the last copy saved.
func (d *Daemon) contentKeys(rev Revision) func(name string) string {
	k, ok := rev.FS.(interface{ ContentKey(name string) string })
	if !ok {
		return nil
	}
	return func(name string) string { return k.ContentKey(path.Join(d.opts.Path, name)) }
}

// specOptions are the options of every fleet load: Options.Spec with
// Options.Exclude, matched as validate --exclude matches.
func (d *Daemon) specOptions() spec.Options {
	o := d.opts.Spec
	o.Exclude = d.opts.Exclude
	return o
}

// reconcile plans and applies the last good revision's fleets.
func (d *Daemon) reconcile(ctx context.Context, o *outcome) {
	if ctx.Err() != nil {
		o.canceled = true
		return
	}
	if d.good == nil {
		o.noGood = true
		return
	}
	limits := d.fastPath(ctx, o) // settles the revision being adopted
	o.unhold()                   // the full sweep runs as every cycle does
	o.run.Revision = d.good.rev.ID
	p, err := d.rec.Plan(ctx, d.good.fleets)
	if err != nil {
		if ctx.Err() != nil {
			o.canceled = true
			return
		}
		o.planErr = err
		return
	}
	d.m.fast.observations.WithLabelValues(observeFull).Inc()
	// Readiness is live state, not the cycle's outcome: a load balancer
	// may send to this daemon as soon as it has synced and observed, not
	// once a long apply has ended.
	o.becameReady = d.synced && !d.ready.Load() && d.markReady()
	o.plan = p
	o.run.Creates = p.Totals.Creates
	over := p.Check(limits)
	if over {
		// Worded in the configuration's terms: the key to change.
		p.Word(configWords)
		// A plan over a limit is applied only with an approval of exactly
		// this plan (approve.go), used once.
		if o.approved = d.useApproval(p); o.approved == nil {
			o.held = p.Violations
			return
		}
	} else {
		d.notHeld()
	}
	res, err := d.apply(ctx, p, over)
	o.res = res
	o.run.Created += res.Created
	o.run.Failed += res.Failed + res.Ambiguous
	switch {
	case err != nil && ctx.Err() != nil:
		o.canceled = true
		return
	case err != nil:
		o.applyErr = err
	}
	// What the status shows is the state after the apply, not the plan
	// made before it: list the fleets again when the apply sent anything
	// that may have changed them (one sweep per region; nothing is sent
	// when the plan had nothing to do).
	if res.Created+res.Ambiguous+res.Isolated > 0 {
		after, err := d.rec.Observe(ctx, d.good.fleets)
		switch {
		case err == nil:
			o.after = after
		case ctx.Err() == nil:
			o.afterErr = err
		}
	}
}

// apply applies p under a context that outlives Run's by the shutdown
// grace, so that the calls in flight when the daemon is told to stop
// finish (and their outcome is recorded) while the mutationGate starts no
// new one.
func (d *Daemon) apply(ctx context.Context, p *reconcile.Plan, approved bool) (*reconcile.Result, error) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.opts.ShutdownGrace, cancel)
		context.AfterFunc(actx, func() { t.Stop() })
	})
	defer stopGrace()
	res, err := d.rec.Apply(actx, p, approved)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return res, err
}
