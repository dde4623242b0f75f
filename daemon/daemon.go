package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Defaults of Options (DefaultInterval is in config.go).
const (
	DefaultMinBackoff    = 5 * time.Second
	DefaultShutdownGrace = 30 * time.Second
	// DefaultConcurrency bounds the creates in flight. A create handed to
	// the client may be waiting for its rate limiter; when the daemon is
	// told to stop, those calls still go out (nothing can take them back
	// from the client), so the bound is kept near what the rate limit
	// sends in two seconds, rather than the engine's 32.
	DefaultConcurrency = 8
	// DefaultTriggerGap is the least time between the starts of two
	// cycles that webhooks ask for: a burst of webhooks (a replay, a busy
	// repository) costs at most one cycle more.
	DefaultTriggerGap = 5 * time.Second
	// StateFile is the name of the reconcile state in Options.StateDir.
	StateFile = "state.json"
)

// Options configure a Daemon. Source and Cloud are required.
type Options struct {
	// Source yields the revisions to reconcile. If it is also a Watcher,
	// its changes trigger cycles.
	Source Source
	// Cloud is the Lighthouse API (a *lighthouse.Client). The daemon wraps
	// it to count calls and to start no mutating call once stopping.
	Cloud reconcile.Cloud
	// Reconcile configures the engine. Its Logger defaults to Logger, its
	// Concurrency to DefaultConcurrency.
	Reconcile reconcile.Options
	// Limits are the guards of every cycle: a plan over one is held.
	Limits reconcile.Limits
	// Spec bounds what spec.Load accepts.
	Spec spec.Options
	// Path is the directory of the revision that holds the fleets ("" or
	// "." for the whole revision).
	Path string
	// Following names what Source follows (the repository and its
	// branch, tag or commit), for the status; its Path is Options.Path.
	// FromConfig fills it in; for a DirSource, the directory is the
	// repository when it is left empty.
	Following Following
	// Exclude hides files and directories from the fleet load: the globs
	// of validate --exclude (spec.Options.Exclude), matched against the
	// path inside Path, "**" for any number of directories; an excluded
	// directory is not entered.
	Exclude []string
	// Interval is the time between cycles (default DefaultInterval).
	Interval time.Duration
	// TriggerGap is the least time between the starts of two cycles that
	// webhooks ask for (Trigger, and a follower's forwarded webhook;
	// default DefaultTriggerGap; negative: none). The triggers that come
	// sooner are coalesced into one cycle that starts when the gap has
	// passed, so a burst costs at most one cycle more. A change the
	// source's watch reports, and being elected leader, start a cycle at
	// once.
	TriggerGap time.Duration
	// Jitter is the largest random time added to each wait (default a
	// tenth of Interval; negative: none), so that daemons that started
	// together do not call the API together.
	Jitter time.Duration
	// MinBackoff is the wait after a first failed cycle (default
	// DefaultMinBackoff); it doubles with each failure in a row, up to
	// MaxBackoff (default Interval).
	MinBackoff, MaxBackoff time.Duration
	// ShutdownGrace bounds how long the calls in flight may take once Run's
	// context has ended (default DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// StateDir is where the reconcile state is kept (StateFile, loaded by
	// New and saved after each cycle); "" keeps it in memory only.
	StateDir string
	// RequireSigned says that the source verifies signatures
	// (repository.verify): a saved copy of the last good revision
	// (LastGoodFile) that names no signer, because it was saved before
	// verification was configured, is not reconciled at start.
	RequireSigned bool
	// Listen is the address Run serves Handler on ("" serves nothing; the
	// caller may serve Handler itself).
	Listen string
	// Webhook, if set, is served at POST /hooks/git. It should call
	// Trigger for a valid push.
	Webhook http.Handler
	// Logger receives the daemon's log lines; nil discards them.
	Logger *slog.Logger
	// Registry receives the daemon's metrics and is what /metrics serves;
	// nil means a new registry with the Go and process collectors.
	Registry *prom.Registry
	// Now is the clock of the status; nil means time.Now.
	Now func() time.Time
	// Leadership, if set, makes this daemon one of several that follow
	// the same fleets: only the one that leads reconciles (see
	// Leadership). Nil: this daemon acts alone.
	Leadership Leadership
	// Notify are the routes of the notifications (notify.go); none: no
	// notification is sent.
	Notify []notify.Route
	// PublicURL is the status page's URL as people reach it: the link of
	// every notification ("" for none).
	PublicURL string
	// NotifyGrace bounds how long the notifications queued may take to go
	// out once Run's context has ended (default notify.DefaultGrace).
	NotifyGrace time.Duration
	// NotConvergedCycles is how many cycles in a row a fleet has fewer
	// live instances than its count before EventFleetNotConverged
	// (default DefaultNotConvergedCycles).
	NotConvergedCycles int
	// Approvers may release a held plan, each with a bearer token
	// (approve.go); none: POST /approve refuses every request.
	Approvers []ApproverToken
	// Collector, if set, is told when a push's cycle starts and when a
	// cycle ends, to pace the garbage collector (collector.go); nil: the
	// collector runs as the runtime paces it.
	Collector Collector
	// Previous, if set, is the daemon this one replaces (a reload of the
	// configuration); it must have stopped. The new daemon keeps its
	// registry and metrics (Registry is not used then), and the counters
	// and history of its status (cycles run, the last cycle, success and
	// error, terms as leader), so that a reload resets nothing an
	// operator counts on.
	Previous *Daemon
}

// Daemon runs the reconcile loop and serves its status.
type Daemon struct {
	opts  Options
	log   *slog.Logger
	rec   *reconcile.Reconciler
	m     *metrics
	reg   *prom.Registry
	kick  *asked                          // a pending cycle a webhook asked for (TriggerGap)
	now   *asked                          // a pending cycle to start at once
	stop  atomic.Pointer[<-chan struct{}] // Run's ctx.Done()
	run   atomic.Bool                     // Run is running
	ready atomic.Bool
	busy  atomic.Bool   // a cycle is running
	touch atomic.Int64  // unix nanoseconds of the loop's last sign of progress
	first chan struct{} // closed when the first cycle has ended
	once  sync.Once     // closes first

	// Owned by the loop goroutine.
	current  Revision         // last revision synced
	synced   bool             // a sync has succeeded
	good     *goodState       // last good revision and its fleets
	parsed   spec.Cache       // the last good load's fleets by blob, for the next load (contentKeys)
	invalid  *InvalidRevision // the revision synced, while it is invalid
	failures int              // failed cycles in a row

	mu       sync.Mutex // guards status and observed
	status   Status
	observed *observedInstances // the instances Status.Fleets were listed with

	lead leadState      // with Options.Leadership
	lm   *leaderMetrics // with Options.Leadership (or a previous daemon's)

	notifier  atomic.Pointer[notify.Notifier] // while Run runs, with Options.Notify
	short     map[string]int                  // cycles in a row each fleet was short (loop goroutine)
	approvals approvals

	closers []io.Closer // what FromConfig opened; see Close
}

// goodState is a revision whose fleets loaded.
type goodState struct {
	rev    Revision
	fleets []*spec.Fleet
}

// New checks opts, loads the state from opts.StateDir and returns a Daemon
// ready to Run.
func New(opts Options) (*Daemon, error) {
	if opts.Source == nil {
		return nil, errors.New("daemon: no source")
	}
	if opts.Cloud == nil {
		return nil, errors.New("daemon: no cloud")
	}
	for _, p := range opts.Exclude {
		if err := spec.CheckExclude(p); err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
	}
	if opts.Path == "" {
		opts.Path = "."
	}
	if !fs.ValidPath(opts.Path) {
		return nil, fmt.Errorf("daemon: fleets path %q: want a slash-separated path inside the repository", opts.Path)
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Jitter == 0 {
		opts.Jitter = opts.Interval / 10
	}
	if opts.TriggerGap == 0 {
		opts.TriggerGap = DefaultTriggerGap
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = opts.Interval
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg, m, err := opts.Registry, (*metrics)(nil), error(nil)
	switch prev := opts.Previous; {
	case prev != nil && prev.Running():
		return nil, errors.New("daemon: Options.Previous is still running")
	case prev != nil:
		reg, m = prev.reg, prev.m
		m.ready.Set(0) // until this daemon's first sync and observe
	default:
		if reg == nil {
			reg = prom.NewRegistry()
			reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
		}
		if m, err = newMetrics(reg); err != nil {
			return nil, fmt.Errorf("daemon: register metrics: %w", err)
		}
	}
	m.interval.Set(opts.Interval.Seconds())
	d := &Daemon{opts: opts, log: log, m: m, reg: reg, kick: newAsked(), now: newAsked(), first: make(chan struct{})}
	if prev := opts.Previous; prev != nil {
		d.carryOver(prev)
	}
	f := opts.Following
	if ds, ok := opts.Source.(DirSource); ok && f.Repository == "" {
		f.Repository = ds.Dir
	}
	f.Path = opts.Path
	d.status.Following = &f
	st, err := d.loadState()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	// The gate refuses before the call is counted: a call not sent is
	// not an API call.
	cloud := &mutationGate{cloud: &countingCloud{Cloud: opts.Cloud, calls: m.apiCalls, touch: d.progress}, stopping: d.stopping}
	if opts.Leadership != nil && d.lm == nil {
		if err := d.registerLeaderMetrics(reg); err != nil {
			return nil, fmt.Errorf("daemon: register metrics: %w", err)
		}
		cloud.leading = d.leading
	}
	ropts := opts.Reconcile
	if ropts.Logger == nil {
		ropts.Logger = log
	}
	if ropts.Concurrency <= 0 {
		ropts.Concurrency = DefaultConcurrency
	}
	if opts.StateDir != "" && ropts.Persist == nil {
		// The intent of a reset, bundle change or renewal is on disk
		// before the call goes out (docs/design.md section 11.3).
		path := filepath.Join(opts.StateDir, StateFile)
		ropts.Persist = func() error {
			if err := st.Save(path); err != nil {
				m.stateSaveFails.Inc()
				return err
			}
			return nil
		}
	}
	d.rec = reconcile.New(cloud, st, ropts)
	good, saved, err := d.loadLastGood()
	if err != nil {
		log.Error("the saved last good revision does not load; waiting for the source", "err", err)
	} else if good != nil {
		d.good = good
		d.status.LastGood = revisionInfo(good.rev, saved)
		log.Info("reconciling the saved last good revision until the source syncs a good one", "revision", good.rev.Short(), "fleets", len(good.fleets))
	}
	return d, nil
}

// loadState reads the reconcile state from the state directory. A file
// that does not hold a state (corrupt, or of another version) is renamed
// aside with the time in its name, reported in the log and the status,
// and the daemon starts from an empty state: the state is optional by
// design, and the cloud shows what matters.
func (d *Daemon) loadState() (*reconcile.State, error) {
	if d.opts.StateDir == "" {
		return reconcile.NewState(), nil
	}
	file := filepath.Join(d.opts.StateDir, StateFile)
	st, err := reconcile.LoadState(file)
	if !errors.Is(err, reconcile.ErrCorruptState) {
		return st, err
	}
	aside := file + ".corrupt-" + d.opts.Now().UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(file, aside); rerr != nil {
		return nil, fmt.Errorf("%w; setting it aside failed too: %w", err, rerr)
	}
	d.log.Warn("the state file does not load; set aside, starting from what the cloud shows (tokens keep creates safe)", "set_aside", aside, "err", err)
	d.status.StateSetAside = aside
	return reconcile.NewState(), nil
}

// carryOver takes the counters and history of the daemon this one
// replaces (Options.Previous).
func (d *Daemon) carryOver(prev *Daemon) {
	ps := prev.Status()
	d.status.Runs, d.status.LastRun, d.status.LastSuccess = ps.Runs, ps.LastRun, ps.LastSuccess
	d.status.LastError, d.status.LastErrorAt = ps.LastError, ps.LastErrorAt
	d.status.StateError, d.status.StateErrorAt, d.status.StateSetAside = ps.StateError, ps.StateErrorAt, ps.StateSetAside
	d.status.Events = ps.Events
	prev.lead.mu.Lock()
	d.lead.total, d.lead.won, d.lead.lost = prev.lead.total, prev.lead.won, prev.lead.lost
	prev.lead.mu.Unlock()
	d.short = prev.short
	prev.approvals.mu.Lock()
	d.approvals.held, d.approvals.pending, d.approvals.last = prev.approvals.held, prev.approvals.pending, prev.approvals.last
	d.approvals.used, d.approvals.order = prev.approvals.used, prev.approvals.order
	prev.approvals.mu.Unlock()
	if d.lm = prev.lm; d.lm != nil {
		d.lm.owner.Store(d)
		d.lm.leader.Set(0)
	}
}

// Close releases what FromConfig opened for the daemon (the election's
// connection to etcd). Call it once Run has returned.
func (d *Daemon) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// stopping returns the channel closed when Run's context ends (nil, which
// never closes, before Run).
func (d *Daemon) stopping() <-chan struct{} {
	if p := d.stop.Load(); p != nil {
		return *p
	}
	return nil
}

// Trigger asks for a cycle as soon as the one running (if any) ends.
// Triggers that come while one is pending are coalesced into it. It never
// blocks and is safe to call from any goroutine (a webhook handler).
//
// A follower (with Options.Leadership, while another daemon leads) also
// passes the trigger to the leader, and syncs its own copy.
func (d *Daemon) Trigger() {
	d.countTrigger(TriggerWebhook)
	if !d.leading() {
		d.forward()
	}
	d.kick.ask(TriggerWebhook)
}

// ObserveWebhook counts one request to the webhook by result and reason
// (it fits gitsync.WebhookOptions.Observe).
func (d *Daemon) ObserveWebhook(result, reason string) {
	d.m.webhooks.WithLabelValues(result, reason).Inc()
}

// Run runs cycles until ctx ends, then lets the calls in flight finish,
// saves the state and returns nil. It serves Handler on Options.Listen if
// set. It returns an error only if it cannot start (the address is taken)
// or is already running.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.run.CompareAndSwap(false, true) {
		return errors.New("daemon: already running")
	}
	defer d.run.Store(false)
	done := ctx.Done()
	d.stop.Store(&done)
	if d.opts.Listen != "" {
		ln, err := net.Listen("tcp", d.opts.Listen)
		if err != nil {
			return fmt.Errorf("daemon: listen: %w", err)
		}
		srv := NewServer(d.Handler(), ServerOptions{Logger: d.log.With("component", "http")})
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http server stopped", "err", err)
			}
		}()
		d.log.Info("serving status", "addr", ln.Addr().String())
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	d.startNotifier() // notifications.go
	// Stopped after the election (deferred below) has ended: a leadership
	// lost at the end goes out too, within the grace.
	defer d.stopNotifier()
	if w, ok := d.opts.Source.(Watcher); ok {
		ch, err := w.Watch(ctx)
		if err != nil {
			d.log.Warn("cannot watch the source; following it on the interval only", "err", err)
		} else {
			go func() {
				for range ch {
					d.countTrigger(TriggerWatch)
					d.now.ask(TriggerWatch)
				}
			}()
		}
	}
	if l := d.opts.Leadership; l != nil {
		// The election outlives the loop: the leadership is handed over
		// only once the calls in flight have ended and the state is saved.
		lctx, endTerm := context.WithCancel(context.WithoutCancel(ctx))
		elected := make(chan struct{})
		if r, ok := l.(Relay); ok {
			r.OnMessage(d.message) // approvals a follower passes on (approve.go)
		}
		go func() {
			defer close(elected)
			l.Run(lctx, d.setLeading, d.forwarded)
		}()
		defer func() {
			endTerm()
			<-elected
		}()
		d.log.Info("taking part in the leader election; following until elected", "id", l.ID())
	}
	d.log.Info("daemon started", "interval", d.opts.Interval, "path", d.opts.Path)
	timer := time.NewTimer(0) // the first cycle starts at once
	defer timer.Stop()
	next, due := TriggerStart, time.Now() // why the timer is set, and when it fires
	hook := false                         // the timer is set for a cycle a webhook asked for
	var hooked time.Time                  // the start of the last cycle a webhook asked for
	for {
		var trigger string
		select {
		case <-ctx.Done():
			return d.shutdown()
		case <-timer.C:
			trigger = next
			if hook { // counted when it came
				hooked = time.Now()
			} else {
				d.countTrigger(trigger)
			}
		case <-d.now.ch:
			trigger = d.now.take(TriggerWatch) // counted by the watch or setLeading
		case <-d.kick.ch:
			// Counted by Trigger or forwarded. Too soon after the last
			// cycle a webhook asked for, it waits for the gap, and what
			// else comes meanwhile joins it.
			name := d.kick.take(TriggerWebhook)
			if wait := time.Until(hooked.Add(d.opts.TriggerGap)); wait > 0 {
				if time.Until(due) > wait {
					timer.Reset(wait)
					next, due, hook = name, time.Now().Add(wait), true
					d.setStatus(func(s *Status) { s.NextRun = d.opts.Now().Add(wait) })
				}
				continue
			}
			trigger, hooked = name, time.Now()
		}
		d.busy.Store(true)
		d.progress()
		cctx, endCycle := d.cycleContext(ctx)
		ok := d.cycle(cctx, trigger)
		endCycle()
		d.collect()
		d.busy.Store(false)
		d.once.Do(func() { close(d.first) })
		if ctx.Err() != nil {
			return d.shutdown()
		}
		wait, why := d.nextWait(ok)
		d.setStatus(func(s *Status) { s.NextRun = d.opts.Now().Add(wait) })
		d.log.Debug("next cycle", "in", wait, "reason", why)
		timer.Reset(wait)
		next, due, hook = why, time.Now().Add(wait), false
	}
}

// nextWait is the wait before the next cycle: the interval after a cycle
// that went well, exponential backoff after failures in a row, plus jitter.
func (d *Daemon) nextWait(ok bool) (time.Duration, string) {
	if ok {
		d.failures = 0
		return d.jitter(d.opts.Interval), TriggerInterval
	}
	d.failures++
	wait := d.opts.MinBackoff
	for i := 1; i < d.failures && wait < d.opts.MaxBackoff; i++ {
		wait *= 2
	}
	return d.jitter(min(wait, d.opts.MaxBackoff)), TriggerRetry
}

func (d *Daemon) jitter(wait time.Duration) time.Duration {
	if d.opts.Jitter <= 0 {
		return wait
	}
	return wait + rand.N(d.opts.Jitter)
}

// shutdown saves the state once Run's context has ended.
func (d *Daemon) shutdown() error {
	if err := d.saveState(); err != nil {
		d.m.stateSaveFails.Inc()
		d.log.Error("daemon stopped; cannot save the state: expectations may be lost (tokens still make creates safe)", "err", err)
		return nil
	}
	d.log.Info("daemon stopped; state saved")
	return nil
}

// saveState writes the reconcile state to the state directory.
func (d *Daemon) saveState() error {
	if d.opts.StateDir == "" {
		return nil
	}
	return d.rec.State().Save(filepath.Join(d.opts.StateDir, StateFile))
}

// Handler returns the daemon's HTTP handler: /healthz, /readyz, /metrics,
// /status, / and, with Options.Webhook, POST /hooks/git.
func (d *Daemon) Handler() http.Handler { return d.handler() }

// FirstCycle returns a channel that is closed when the first cycle has
// ended, whatever its result: the moment to tell a supervisor that the
// service has started (sd_notify READY=1).
func (d *Daemon) FirstCycle() <-chan struct{} { return d.first }

// Stalled reports whether a cycle has been running for longer than max
// without a sign of progress (a sync, a plan, an API call that ended): a
// supervisor's watchdog should stop being fed then. An idle loop is not
// stalled.
func (d *Daemon) Stalled(max time.Duration) bool {
	if !d.busy.Load() {
		return false
	}
	return time.Since(time.Unix(0, d.touch.Load())) > max
}

// progress records a sign of progress of the loop.
func (d *Daemon) progress() { d.touch.Store(time.Now().UnixNano()) }

// Ready reports whether the first sync and observe have succeeded.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// Running reports whether Run is running.
func (d *Daemon) Running() bool { return d.run.Load() }
