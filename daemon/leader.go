package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/prom"
)

// Leadership is a leader election among daemons that follow the same
// fleets from several hosts (election.Elector, adapted in cmd). With one
// set, only the leader plans and applies; the others follow: they keep
// their copy of the repository fresh and report invalid revisions, but
// call no Lighthouse API, and pass the webhooks they accept to the leader.
type Leadership interface {
	// Run takes part in the election until ctx ends, calling lead with
	// each change of this daemon's leadership (true: it leads) and
	// trigger for each cycle a follower asked of the leader. When ctx
	// ends while it leads, it calls lead(false) and hands the leadership
	// over at once.
	Run(ctx context.Context, lead func(bool), trigger func())
	// Check returns nil only if this daemon leads now, confirmed with the
	// election's store. It is asked before every call that changes
	// something (the command also gives it to the API client as its
	// fence, right before a request goes on the wire).
	Check(ctx context.Context) error
	// Leader returns the current leader as last seen, and whether one is
	// known.
	Leader() (LeaderInfo, bool)
	// Publish tells the followers which revision the leader reconciles.
	// The daemon calls it after each of its cycles as leader, so a
	// revision already published should cost nothing.
	Publish(ctx context.Context, revision string) error
	// Forward asks the leader for a cycle.
	Forward(ctx context.Context) error
	// ID names this daemon in the election.
	ID() string
}

// LeaderInfo is what a leader publishes about itself.
type LeaderInfo struct {
	ID       string
	URL      string
	Revision string
	Since    time.Time
}

// HAStatus is the election part of Status, set when the daemon runs with a
// Leadership.
type HAStatus struct {
	// ID names this daemon.
	ID string `json:"id"`
	// Leader is true while this daemon leads.
	Leader bool `json:"leader"`
	// LeaderID, LeaderURL and LeaderRevision describe the current leader
	// (this daemon, when it leads); empty while none is known.
	LeaderID       string    `json:"leaderId,omitempty"`
	LeaderURL      string    `json:"leaderURL,omitempty"`
	LeaderRevision string    `json:"leaderRevision,omitempty"`
	LeaderSince    time.Time `json:"leaderSince,omitzero"`
	// ElectionsWon and ElectionsLost count this daemon's terms as leader
	// since it started.
	ElectionsWon  int `json:"electionsWon"`
	ElectionsLost int `json:"electionsLost"`
}

// ResultFollower is the result of a cycle of a daemon that does not lead:
// it synced and loaded, and left the reconcile to the leader.
const ResultFollower = "follower"

// leadState is the daemon's side of the election.
type leadState struct {
	mu        sync.Mutex
	leading   bool
	since     time.Time     // start of the current term
	total     time.Duration // of the terms that ended
	won, lost int
	cancel    context.CancelFunc // ends the cycle running, if any
}

// leaderMetrics are the election's collectors.
type leaderMetrics struct {
	leader     *prom.Gauge
	elections  *prom.CounterVec
	etcdErrors *prom.CounterVec
	// owner is the daemon whose terms lightkeeper_leader_seconds_total
	// sums: the newest of those that share these collectors.
	owner atomic.Pointer[Daemon]
}

func (d *Daemon) registerLeaderMetrics(reg *prom.Registry) error {
	lm := &leaderMetrics{
		leader: prom.NewGauge("lightkeeper_leader",
			"1 while this daemon leads the election (only the leader reconciles)."),
		elections: prom.NewCounterVec("lightkeeper_leader_elections_total",
			"Terms as leader by result: won (became the leader), lost (stopped leading: lease lost, etcd unreachable, or handed over on shutdown).",
			"result"),
		etcdErrors: prom.NewCounterVec("lightkeeper_etcd_errors_total",
			"Failed etcd calls of the leader election by operation: session, campaign, check (the leader's confirmation before a mutating call), observe, proclaim, forward, watch, resign.",
			"op"),
	}
	seconds := prom.NewCounterFunc("lightkeeper_leader_seconds_total",
		"Time this daemon has led the election since it started.", func() float64 {
			d := lm.owner.Load()
			d.lead.mu.Lock()
			defer d.lead.mu.Unlock()
			t := d.lead.total
			if d.lead.leading {
				t += time.Since(d.lead.since)
			}
			return t.Seconds()
		})
	lm.owner.Store(d)
	for _, c := range []prom.Collector{lm.leader, lm.elections, lm.etcdErrors, seconds} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	lm.elections.WithLabelValues("won")
	lm.elections.WithLabelValues("lost")
	d.lm = lm
	return nil
}

// ObserveEtcdError counts one failed etcd call of the election by
// operation (it fits election.Options.OnError). Without a Leadership it
// does nothing.
func (d *Daemon) ObserveEtcdError(op string) {
	if d.lm != nil {
		d.lm.etcdErrors.WithLabelValues(op).Inc()
	}
}

// leading reports whether this daemon may act: always without a
// Leadership.
func (d *Daemon) leading() bool {
	if d.opts.Leadership == nil {
		return true
	}
	d.lead.mu.Lock()
	defer d.lead.mu.Unlock()
	return d.lead.leading
}

// setLeading is Leadership.Run's lead callback.
func (d *Daemon) setLeading(on bool) {
	d.lead.mu.Lock()
	if d.lead.leading == on {
		d.lead.mu.Unlock()
		return
	}
	d.lead.leading = on
	var cancel context.CancelFunc
	if on {
		d.lead.since = time.Now()
		d.lead.won++
	} else {
		d.lead.total += time.Since(d.lead.since)
		d.lead.lost++
		cancel = d.lead.cancel
		d.ready.Store(false) // under the lock: see markReady
		d.m.ready.Set(0)
	}
	d.lead.mu.Unlock()
	d.notifyLeadership(on)
	if on {
		d.lm.leader.Set(1)
		d.lm.elections.WithLabelValues("won").Inc()
		d.log.Info("leading: this daemon reconciles now")
		d.countTrigger(TriggerElected)
		d.now.ask(TriggerElected)
		return
	}
	d.lm.leader.Set(0)
	d.lm.elections.WithLabelValues("lost").Inc()
	if cancel != nil {
		cancel() // the cycle running stops; the gate starts no new mutating call
	}
	d.log.Warn("following: this daemon no longer leads; it stops acting")
}

// markReady makes the daemon ready (the first sync and observe have
// succeeded), unless it has a Leadership and does not lead: a cycle that
// planned as leader may end after the leadership was lost. It reports
// whether the daemon is ready now.
func (d *Daemon) markReady() bool {
	if d.opts.Leadership != nil {
		d.lead.mu.Lock()
		defer d.lead.mu.Unlock()
		if !d.lead.leading {
			return false
		}
	}
	d.ready.Store(true)
	d.m.ready.Set(1)
	return true
}

// forwarded is Leadership.Run's trigger callback: a follower asked for a
// cycle.
func (d *Daemon) forwarded() {
	d.countTrigger(TriggerForwarded)
	d.kick.ask(TriggerForwarded)
}

// cycleContext returns the context of one cycle: it ends with ctx, or when
// this daemon stops leading.
func (d *Daemon) cycleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	if d.opts.Leadership == nil {
		return cctx, cancel
	}
	d.lead.mu.Lock()
	d.lead.cancel = cancel
	d.lead.mu.Unlock()
	return cctx, func() {
		d.lead.mu.Lock()
		d.lead.cancel = nil
		d.lead.mu.Unlock()
		cancel()
	}
}

// forward passes a webhook's trigger to the leader, trying again for up to
// a minute if the election's store does not answer (the leader's interval
// poll would catch the change anyway, later).
func (d *Daemon) forward() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		wait := 250 * time.Millisecond
		for {
			err := d.opts.Leadership.Forward(ctx)
			if err == nil {
				d.log.Info("webhook passed to the leader")
				return
			}
			if ctx.Err() != nil {
				d.log.Error("cannot pass a webhook to the leader; it syncs on its interval instead", "err", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, 8*time.Second)
		}
	}()
}

// publish tells the followers the revision this leader reconciles.
func (d *Daemon) publish(ctx context.Context, revision string) {
	if d.opts.Leadership == nil || revision == "" {
		return
	}
	if err := d.opts.Leadership.Publish(ctx, revision); err != nil {
		d.log.Warn("cannot publish the revision to the followers", "err", err)
	}
}

// haStatus is the election part of the status.
func (d *Daemon) haStatus() *HAStatus {
	l := d.opts.Leadership
	if l == nil {
		return nil
	}
	d.lead.mu.Lock()
	hs := &HAStatus{ID: l.ID(), Leader: d.lead.leading, ElectionsWon: d.lead.won, ElectionsLost: d.lead.lost}
	d.lead.mu.Unlock()
	if info, ok := l.Leader(); ok {
		hs.LeaderID, hs.LeaderURL, hs.LeaderRevision, hs.LeaderSince = info.ID, info.URL, info.Revision, info.Since
	}
	return hs
}
