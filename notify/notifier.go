package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults of Options and Route.
const (
	DefaultQueueSize   = 256
	DefaultMaxAttempts = 5
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
	// DefaultGrace is how long Close lets the queues drain.
	DefaultGrace = 5 * time.Second
	// DefaultRepeat is how often a condition that holds is sent again
	// (Alertmanager's own repeat_interval default).
	DefaultRepeat = 4 * time.Hour
)

// Results of Options.Observe.
const (
	// ResultSent: the sink took the event.
	ResultSent = "sent"
	// ResultRetried: an attempt failed; the event is tried again.
	ResultRetried = "retried"
	// ResultFailed: the sink refused the event, or every attempt failed.
	ResultFailed = "failed"
	// ResultDropped: the event was not sent: the queue was full (the
	// oldest goes) or the grace period of Close ended first.
	ResultDropped = "dropped"
)

// Results lists the results of Options.Observe.
var Results = []string{ResultSent, ResultRetried, ResultFailed, ResultDropped}

// Sink sends one event somewhere; the Notifier retries it.
type Sink interface {
	// Name names the sink in metrics and logs; it holds no secret.
	Name() string
	// Send makes one attempt. An error wrapped with Permanent is not
	// retried; an error never holds the sink's URL or secret.
	Send(ctx context.Context, ev Event) error
}

// Resender is a Sink whose receiver forgets a condition that is not sent
// again in time (Alertmanager resolves an alert whose endsAt has passed):
// the Notifier sends every condition that holds to it again every
// ResendEvery, between the calls of Conditions too.
type Resender interface {
	ResendEvery() time.Duration
}

// Route is a sink and the events it takes.
type Route struct {
	Sink Sink
	// Kinds are the event kinds the sink takes; empty: all.
	Kinds []string
	// MinSeverity is the lowest severity the sink takes.
	MinSeverity Severity
	// Repeat is how long a condition that holds waits before it is sent
	// again, unchanged (default DefaultRepeat).
	Repeat time.Duration
	// ConditionsOnly: the sink takes no Once event (Alertmanager: an alert
	// is a condition).
	ConditionsOnly bool
}

// takes reports whether the route takes an event of kind at severity.
func (r *Route) takes(ev *Event) bool {
	if ev.Severity < r.MinSeverity || r.ConditionsOnly && ev.Status == Once {
		return false
	}
	return len(r.Kinds) == 0 || slices.Contains(r.Kinds, ev.Kind)
}

// Options configure a Notifier.
type Options struct {
	Routes []Route
	// PublicURL is the daemon's status page, linked from every event.
	PublicURL string
	// QueueSize bounds each sink's queue (default DefaultQueueSize).
	QueueSize int
	// MaxAttempts bounds the attempts of one event (default
	// DefaultMaxAttempts).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff (defaults DefaultMinBackoff,
	// DefaultMaxBackoff); a Retry-After a sink sends is honoured up to
	// MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
	// Observe, if set, counts each outcome by sink name and result (one
	// of Results).
	Observe func(sink, result string)
	// Logger receives a line for each event that fails or is dropped;
	// nil discards.
	Logger *slog.Logger
	// Now is the clock of the events; nil means time.Now.
	Now func() time.Time
	// Previous, if set, is the Notifier this one replaces (a reload): the
	// conditions it sent to a sink of the same name are known to this one,
	// so that nothing is sent again because of the reload. Close it first.
	Previous *Notifier
}

// Notifier sends events to its routes. Its methods never block on a sink.
type Notifier struct {
	opts   Options
	log    *slog.Logger
	queues []*queue

	stop      chan struct{} // closed by Close: ends the resenders
	resenders sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// sent holds, per route, the conditions sent as firing by key.
	sent []map[string]*sent
}

// sent is a condition as last sent to a route.
type sent struct {
	ev    Event // as last sent
	scope string
}

// New starts a Notifier: one worker per route. Close stops them.
func New(opts Options) (*Notifier, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observe == nil {
		opts.Observe = func(string, string) {}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names := map[string]bool{}
	for i := range opts.Routes {
		r := &opts.Routes[i]
		if r.Sink == nil {
			return nil, fmt.Errorf("notify: route %d has no sink", i)
		}
		if names[r.Sink.Name()] {
			return nil, fmt.Errorf("notify: two sinks are named %q", r.Sink.Name())
		}
		names[r.Sink.Name()] = true
		if r.Repeat <= 0 {
			r.Repeat = DefaultRepeat
		}
	}
	n := &Notifier{opts: opts, log: log, stop: make(chan struct{})}
	for i := range opts.Routes {
		r := &opts.Routes[i]
		q := newQueue(r.Sink, opts, log.With("sink", r.Sink.Name()))
		n.queues = append(n.queues, q)
		n.sent = append(n.sent, map[string]*sent{})
		if p := opts.Previous; p != nil {
			p.mu.Lock()
			for j, pr := range p.opts.Routes {
				if pr.Sink.Name() == r.Sink.Name() {
					for k, s := range p.sent[j] {
						cp := *s
						n.sent[i][k] = &cp
					}
				}
			}
			p.mu.Unlock()
		}
		go q.run()
		if rs, ok := r.Sink.(Resender); ok && rs.ResendEvery() > 0 {
			n.resenders.Add(1)
			go n.resend(i, rs.ResendEvery())
		}
	}
	return n, nil
}

// resend sends the conditions that hold to route i again every d, until
// Close.
func (n *Notifier) resend(i int, d time.Duration) {
	defer n.resenders.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return
		}
		now := n.opts.Now()
		for _, key := range sortedKeys(n.sent[i]) {
			s := n.sent[i][key]
			if now.Sub(s.ev.At) < d/2 {
				continue // sent lately (Conditions)
			}
			s.ev.At, s.ev.Repeat = now, true
			n.queues[i].push(s.ev)
		}
		n.mu.Unlock()
	}
}

// Notify sends a one-off event to every route that takes it.
func (n *Notifier) Notify(ev Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	ev.Status = Once
	ev.At = n.opts.Now()
	ev.Since = ev.At
	ev.URL = n.opts.PublicURL
	for i := range n.opts.Routes {
		if n.opts.Routes[i].takes(&ev) {
			n.queues[i].push(ev)
		}
	}
}

// Conditions reports every condition that holds now in scope (the caller's
// name for a set of conditions it learns together: those of a plan, those
// of a revision). A condition of the scope that was sent and is no longer
// listed is sent as resolved. A condition is sent when it is new to a
// route, when its Fingerprint or Severity changed, or when the route's
// repeat interval has passed since it was last sent.
func (n *Notifier) Conditions(scope string, active []Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	now := n.opts.Now()
	for i := range n.opts.Routes {
		r, sentTo := &n.opts.Routes[i], n.sent[i]
		holds := map[string]bool{}
		for _, ev := range active {
			ev.Status, ev.At, ev.URL = Firing, now, n.opts.PublicURL
			key := ev.key()
			if !r.takes(&ev) {
				continue
			}
			holds[key] = true
			prev := sentTo[key]
			switch {
			case prev == nil:
				ev.Since = now
			case prev.ev.Fingerprint != ev.Fingerprint || prev.ev.Severity != ev.Severity:
				ev.Since = prev.ev.Since
			case now.Sub(prev.ev.At) >= r.Repeat:
				ev.Since, ev.Repeat = prev.ev.Since, true
			default:
				continue
			}
			sentTo[key] = &sent{ev: ev, scope: scope}
			n.queues[i].push(ev)
		}
		for _, key := range sortedKeys(sentTo) {
			s := sentTo[key]
			if s.scope != scope || holds[key] {
				continue
			}
			ev := s.ev
			ev.Status, ev.At, ev.Repeat = Resolved, now, false
			delete(sentTo, key)
			n.queues[i].push(ev)
		}
	}
}

// Forget drops what the Notifier knows of scope's conditions without
// resolving them: another daemon reports them now (a leadership lost), and
// a resolution from this one would contradict it.
func (n *Notifier) Forget(scope string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, sentTo := range n.sent {
		for key, s := range sentTo {
			if s.scope == scope {
				delete(sentTo, key)
			}
		}
	}
}

// Active returns the conditions that hold, as last sent to any route, by
// key, sorted.
func (n *Notifier) Active() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]Event{}
	for _, sentTo := range n.sent {
		for key, s := range sentTo {
			if _, ok := seen[key]; !ok {
				seen[key] = s.ev
			}
		}
	}
	out := make([]Event, 0, len(seen))
	for _, key := range sortedKeys(seen) {
		out = append(out, seen[key])
	}
	return out
}

// Close stops taking events and lets the queues drain until ctx ends (give
// it DefaultGrace or so); what is left is dropped and counted. It returns
// ctx's error if something was dropped.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	n.resenders.Wait()
	var errs []error
	for _, q := range n.queues {
		if err := q.drain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("notify: %w", errors.Join(errs...))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
