package notify

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// queue is one sink's bounded queue and its worker, which sends the
// events in order, each until it is sent or given up.
type queue struct {
	sink Sink
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	items []Event
	wake  chan struct{} // buffered 1: an event was pushed

	closing chan struct{}      // closed by drain: send what is queued, then stop
	ctx     context.Context    // ends the attempt in flight and the backoff when the grace ends
	abort   context.CancelFunc //
	done    chan struct{}      // closed when run returns
}

func newQueue(s Sink, opts Options, log *slog.Logger) *queue {
	ctx, abort := context.WithCancel(context.Background())
	return &queue{sink: s, opts: opts, log: log, wake: make(chan struct{}, 1), closing: make(chan struct{}),
		ctx: ctx, abort: abort, done: make(chan struct{})}
}

// push queues ev; when the queue is full its oldest event is dropped.
func (q *queue) push(ev Event) {
	q.mu.Lock()
	if len(q.items) >= q.opts.QueueSize {
		old := q.items[0]
		q.items = q.items[1:]
		q.opts.Observe(q.sink.Name(), ResultDropped)
		q.log.Warn("notification queue full: the oldest event is dropped", "kind", old.Kind, "key", old.key(), "status", old.Status, "queue", q.opts.QueueSize)
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest event.
func (q *queue) pop() (Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return Event{}, false
	}
	ev := q.items[0]
	q.items[0] = Event{}
	q.items = q.items[1:]
	return ev, true
}

// run sends the events as they come until drain, then what is left.
func (q *queue) run() {
	defer close(q.done)
	for {
		ev, ok := q.pop()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-q.closing:
				if ev, ok = q.pop(); !ok {
					return
				}
			}
		}
		if q.ctx.Err() != nil {
			q.opts.Observe(q.sink.Name(), ResultDropped)
			q.log.Warn("notification dropped: the grace period ended", "kind", ev.Kind, "key", ev.key(), "status", ev.Status)
			continue
		}
		q.deliver(ev)
	}
}

// deliver sends ev, retrying with backoff up to MaxAttempts.
func (q *queue) deliver(ev Event) {
	wait := q.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		timeout := q.opts.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		ctx, cancel := context.WithTimeout(q.ctx, timeout)
		err := q.sink.Send(ctx, ev)
		cancel()
		switch {
		case err == nil:
			q.opts.Observe(q.sink.Name(), ResultSent)
			return
		case q.ctx.Err() != nil:
			q.opts.Observe(q.sink.Name(), ResultDropped)
			q.log.Warn("notification dropped: the grace period ended", "kind", ev.Kind, "key", ev.key(), "status", ev.Status)
			return
		case isPermanent(err) || attempt >= q.opts.MaxAttempts:
			q.opts.Observe(q.sink.Name(), ResultFailed)
			q.log.Error("notification not delivered", "kind", ev.Kind, "key", ev.key(), "status", ev.Status, "attempts", attempt, "err", err)
			return
		}
		q.opts.Observe(q.sink.Name(), ResultRetried)
		d := wait/2 + rand.N(wait) // 0.5 to 1.5 times
		if ra, ok := retryAfter(err); ok {
			d = max(d, ra)
		}
		d = min(d, q.opts.MaxBackoff)
		q.log.Debug("notification attempt failed; trying again", "kind", ev.Kind, "attempt", attempt, "in", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-q.ctx.Done():
			t.Stop()
			q.opts.Observe(q.sink.Name(), ResultDropped)
			return
		}
		wait = min(2*wait, q.opts.MaxBackoff)
	}
}

// drain stops the worker once what is queued is sent, or when ctx ends:
// then the attempt in flight is cut short and the rest is dropped.
func (q *queue) drain(ctx context.Context) error {
	close(q.closing)
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
	}
	q.abort()
	<-q.done
	return errors.New(q.sink.Name() + ": events dropped at the end of the grace period")
}

// length is the number of events queued, for tests.
func (q *queue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
