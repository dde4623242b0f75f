package election

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Run takes part in the election until ctx ends: it opens a session,
// campaigns, leads until the session is lost, and starts again. It observes
// the leader meanwhile (Leader). When ctx ends while it leads, it revokes
// its lease so that another daemon takes over at once, and calls
// ev.Lead(false) first. Failed etcd calls are retried with backoff up to
// the lease TTL; Run returns only when ctx ends.
func (e *Elector) Run(ctx context.Context, ev Events) {
	if ev.Lead == nil {
		ev.Lead = func(bool) {}
	}
	if ev.Trigger == nil {
		ev.Trigger = func() {}
	}
	if ev.Message == nil {
		ev.Message = func(string, []byte) {}
	}
	octx, stopObserving := context.WithCancel(ctx)
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		e.observe(octx)
	}()
	defer func() {
		stopObserving()
		<-observed
	}()
	const minBackoff = 200 * time.Millisecond
	backoff := minBackoff
	for ctx.Err() == nil {
		if err := e.term(ctx, ev); err != nil && ctx.Err() == nil {
			e.log.Warn("election round failed; trying again", "err", err, "in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, e.opts.LeaseTTL)
			continue
		}
		backoff = minBackoff
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// term is one session: grant a lease, campaign, lead until the lease is
// lost or ctx ends.
func (e *Elector) term(ctx context.Context, ev Events) error {
	gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	lease, err := e.client.Grant(gctx, int64(e.ttl))
	cancel()
	if err != nil {
		e.fail("session", err)
		return fmt.Errorf("grant an etcd lease: %w", err)
	}
	// The session outlives ctx by a little, so that the lease can be
	// revoked once ctx has ended.
	sctx, endSession := context.WithCancel(context.WithoutCancel(ctx))
	defer endSession()
	sess, err := concurrency.NewSession(e.client, concurrency.WithLease(lease.ID), concurrency.WithTTL(e.ttl), concurrency.WithContext(sctx))
	if err != nil {
		e.fail("session", err)
		return fmt.Errorf("keep the etcd lease alive: %w", err)
	}
	defer e.revoke(sess)
	el := concurrency.NewElection(sess, e.opts.Prefix+"leader")

	// Campaign until elected; a lost session or the end of ctx ends it.
	cctx, stopCampaign := context.WithCancel(ctx)
	defer stopCampaign()
	go func() {
		select {
		case <-sess.Done():
			stopCampaign()
		case <-cctx.Done():
		}
	}()
	self := Info{ID: e.opts.ID, URL: e.opts.URL, Since: time.Now().UTC()}
	// Campaign cleans up after a cancel with a call bounded only by the
	// client's life, which hangs while etcd is down: it is not waited
	// for then (Close ends it), so Run returns when asked.
	campaign := make(chan error, 1)
	go func() { campaign <- el.Campaign(cctx, encode(self)) }()
	select {
	case err := <-campaign:
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.fail("campaign", err)
			return fmt.Errorf("campaign: %w", err)
		}
	case <-ctx.Done():
		return nil
	case <-sess.Done():
		e.fail("campaign", errors.New("lease lost"))
		return errors.New("campaign: the etcd lease was lost")
	}
	// Elected: publish when, then lead.
	self.Since = time.Now().UTC()
	pctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	if err := el.Proclaim(pctx, encode(self)); err != nil && ctx.Err() == nil {
		e.fail("proclaim", err)
	}
	cancel()
	e.mu.Lock()
	e.sess, e.el, e.self = sess, el, self
	e.mu.Unlock()
	e.log.Info("became the leader", "id", e.opts.ID, "lease_ttl", e.opts.LeaseTTL)
	ev.Lead(true)
	why := e.lead(ctx, sess, ev)
	e.mu.Lock()
	e.sess, e.el = nil, nil
	e.mu.Unlock()
	e.log.Warn("lost the leadership", "id", e.opts.ID, "reason", why)
	ev.Lead(false)
	return nil
}

// lead runs a term until the session is lost or ctx ends, and says which.
// It waits on nothing else: an etcd call can block while etcd is frozen
// or cut off, and the lease's end must never wait for one.
func (e *Elector) lead(ctx context.Context, sess *concurrency.Session, ev Events) string {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	triggers := make(chan struct{}, 1)
	go e.watchTriggers(wctx, triggers)
	messages := make(chan message, 16)
	go e.watchMessages(wctx, messages)
	for {
		select {
		case <-ctx.Done():
			return "stopping"
		case <-sess.Done():
			return "the etcd lease was lost"
		case <-triggers:
			ev.Trigger()
		case m := <-messages:
			ev.Message(m.topic, m.data)
		}
	}
}

// message is one message a follower sent.
type message struct {
	topic string
	data  []byte
}

// watchMessages sends on out each message written under the message
// prefix from the start of the term on, until ctx ends; a watch that fails
// is made again from where it stopped, so that none is lost or repeated
// meanwhile.
func (e *Elector) watchMessages(ctx context.Context, out chan<- message) {
	prefix := e.opts.Prefix + messagePrefix
	var rev int64 // 0: from now
	for ctx.Err() == nil {
		opts := []clientv3.OpOption{clientv3.WithPrefix()}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		for wr := range e.client.Watch(clientv3.WithRequireLeader(ctx), prefix, opts...) {
			if err := wr.Err(); err != nil {
				if ctx.Err() == nil {
					e.fail("watch", err)
				}
				break
			}
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				rev = ev.Kv.ModRevision + 1
				select {
				case out <- message{topic: strings.TrimPrefix(string(ev.Kv.Key), prefix), data: ev.Kv.Value}:
				case <-ctx.Done():
					return
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// watchTriggers sends on out (without blocking: triggers coalesce) for
// each trigger forwarded by a follower, until ctx ends. A watch that
// fails is made again after a pause; a trigger missed meanwhile is made
// good by the next cycle, which the interval starts.
func (e *Elector) watchTriggers(ctx context.Context, out chan<- struct{}) {
	key := e.opts.Prefix + "trigger"
	for ctx.Err() == nil {
		for wr := range e.client.Watch(clientv3.WithRequireLeader(ctx), key) {
			if err := wr.Err(); err != nil {
				if ctx.Err() == nil {
					e.fail("watch", err)
				}
				break
			}
			if len(wr.Events) > 0 {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// revoke ends a session: its lease is revoked, which deletes the leader
// key at once (a successor does not wait for the TTL).
func (e *Elector) revoke(sess *concurrency.Session) {
	sess.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), min(e.opts.DialTimeout, 2*time.Second))
	defer cancel()
	if _, err := e.client.Revoke(ctx, sess.Lease()); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		// The lease expires on its own within its TTL.
		e.fail("resign", err)
	}
}

// observe follows the leader key until ctx ends.
func (e *Elector) observe(ctx context.Context) {
	prefix := e.opts.Prefix + "leader/"
	for ctx.Err() == nil {
		gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
		resp, err := e.client.Get(gctx, prefix, clientv3.WithFirstCreate()...)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				e.fail("observe", err)
				sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		e.mu.Lock()
		e.hasLead = len(resp.Kvs) > 0
		if e.hasLead {
			e.leader = decode(resp.Kvs[0].Value)
		} else {
			e.leader = Info{}
		}
		e.mu.Unlock()
		wctx, cancel := context.WithCancel(ctx)
		wch := e.client.Watch(clientv3.WithRequireLeader(wctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		for wr := range wch {
			if wr.Err() != nil {
				if ctx.Err() == nil {
					e.fail("observe", wr.Err())
				}
				break
			}
			if len(wr.Events) > 0 {
				break // read the leader again
			}
		}
		cancel()
	}
}
