package election

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// session is a lease this elector holds, kept alive every third of its
// TTL. It ends (Done) when etcd says the lease is gone, or when the lease
// would have expired by this host's clock: its deadline is counted from
// when the last keep-alive that etcd answered was sent, so a session never
// outlives the lease etcd holds.
type session struct {
	lease int64
	ttl   time.Duration // as etcd granted it
	done  chan struct{}
	stop  context.CancelFunc
	ended chan struct{} // the keep-alive loop has returned
}

// Done is closed when the lease is lost.
func (s *session) Done() <-chan struct{} { return s.done }

// lost reports whether the lease is lost.
func (s *session) lost() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// close stops keeping the lease alive (it is not revoked) and waits for
// the loop to return.
func (s *session) close() {
	s.stop()
	<-s.ended
}

// newSession grants a lease and starts keeping it alive until close.
func (e *Elector) newSession(ctx context.Context) (*session, error) {
	gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	sent := time.Now()
	id, ttl, err := e.etcd.grant(gctx, int64(e.ttl))
	if err != nil {
		return nil, fmt.Errorf("grant an etcd lease: %w", err)
	}
	kctx, stop := context.WithCancel(context.Background())
	s := &session{lease: id, ttl: time.Duration(ttl) * time.Second, done: make(chan struct{}), stop: stop, ended: make(chan struct{})}
	go e.keepAlive(kctx, s, sent.Add(s.ttl))
	return s, nil
}

// keepAlive renews s every third of its TTL, and sooner after a failure,
// until ctx ends or the lease is lost. A renewal in flight is cut off at
// the lease's deadline: the session ends then, whatever etcd does.
func (e *Elector) keepAlive(ctx context.Context, s *session, deadline time.Time) {
	defer close(s.ended)
	every := max(s.ttl/3, 100*time.Millisecond)
	next := time.Now().Add(every)
	retry := min(every, 500*time.Millisecond)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sent := time.Now()
		if !sent.Before(deadline) {
			e.loseSession(s, errors.New("no keep-alive answered within the lease's TTL"))
			return
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		ttl, err := e.etcd.keepAlive(rctx, s.lease)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.fail("session", err)
			next = time.Now().Add(retry)
			if next.After(deadline) {
				next = deadline
			}
		case ttl <= 0:
			e.loseSession(s, errors.New("etcd no longer knows the lease (expired or revoked)"))
			return
		default:
			deadline = sent.Add(time.Duration(ttl) * time.Second)
			next = sent.Add(every)
		}
	}
}

func (e *Elector) loseSession(s *session, why error) {
	e.log.Warn("etcd lease lost", "lease", fmt.Sprintf("%x", s.lease), "reason", why)
	close(s.done)
}
