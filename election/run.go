package election

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
	sess, err := e.newSession(ctx)
	if err != nil {
		e.fail("session", err)
		return err
	}
	defer e.revoke(sess)

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
	b, err := e.campaign(cctx, sess, encode(self))
	switch {
	case ctx.Err() != nil:
		return nil
	case sess.lost():
		e.fail("campaign", errors.New("lease lost"))
		return errors.New("campaign: the etcd lease was lost")
	case err != nil:
		e.fail("campaign", err)
		return fmt.Errorf("campaign: %w", err)
	}
	// Elected: publish when, then lead.
	self.Since = time.Now().UTC()
	pctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	if err := e.proclaim(pctx, sess, b, encode(self)); err != nil && ctx.Err() == nil {
		e.fail("proclaim", err)
	}
	cancel()
	e.mu.Lock()
	e.sess, e.ballot, e.self = sess, b, self
	e.mu.Unlock()
	e.log.Info("became the leader", "id", e.opts.ID, "lease_ttl", e.opts.LeaseTTL)
	ev.Lead(true)
	why := e.lead(ctx, sess, ev)
	e.mu.Lock()
	e.sess, e.ballot = nil, ballot{}
	e.mu.Unlock()
	e.log.Warn("lost the leadership", "id", e.opts.ID, "reason", why)
	ev.Lead(false)
	return nil
}

// lead runs a term until the session is lost or ctx ends, and says which.
// It waits on nothing else: an etcd call can block while etcd is frozen
// or cut off, and the lease's end must never wait for one.
func (e *Elector) lead(ctx context.Context, sess *session, ev Events) string {
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

// follow watches the keys under prefix (key alone when prefix is false)
// from rev on (0: from now) until ctx ends, calling fn with each batch of
// changes. A watch that fails is made again from where it stopped, so
// that no change is lost or repeated meanwhile; one whose revision was
// compacted starts again from the oldest left.
func (e *Elector) follow(ctx context.Context, key string, prefix bool, rev int64, fn func([]event) bool) {
	var end []byte
	if prefix {
		end = prefixEnd(key)
	}
	for ctx.Err() == nil {
		next, err := e.etcd.watch(ctx, key, end, rev, fn)
		rev = next
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			return // fn asked
		}
		e.fail("watch", err)
		sleep(ctx, 200*time.Millisecond)
	}
}

// watchMessages sends on out each message written under the message
// prefix from the start of the term on, until ctx ends.
func (e *Elector) watchMessages(ctx context.Context, out chan<- message) {
	prefix := e.opts.Prefix + messagePrefix
	e.follow(ctx, prefix, true, 0, func(evs []event) bool {
		for _, ev := range evs {
			if ev.deleted() {
				continue
			}
			select {
			case out <- message{topic: strings.TrimPrefix(string(ev.Kv.Key), prefix), data: ev.Kv.Value}:
			case <-ctx.Done():
				return false
			}
		}
		return true
	})
}

// watchTriggers sends on out (without blocking: triggers coalesce) for
// each trigger forwarded by a follower, until ctx ends.
func (e *Elector) watchTriggers(ctx context.Context, out chan<- struct{}) {
	e.follow(ctx, e.opts.Prefix+"trigger", false, 0, func([]event) bool {
		select {
		case out <- struct{}{}:
		default:
		}
		return true
	})
}

// revoke ends a session: its lease is revoked, which deletes the leader
// key at once (a successor does not wait for the TTL).
func (e *Elector) revoke(sess *session) {
	sess.close()
	ctx, cancel := context.WithTimeout(context.Background(), min(e.opts.DialTimeout, 2*time.Second))
	defer cancel()
	if err := e.etcd.revoke(ctx, sess.lease); err != nil {
		// The lease expires on its own within its TTL.
		e.fail("resign", err)
	}
}

// observe follows the leader key until ctx ends.
func (e *Elector) observe(ctx context.Context) {
	prefix := e.leaderPrefix()
	for ctx.Err() == nil {
		gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
		resp, err := e.etcd.get(gctx, rangeRequest{Key: []byte(prefix), RangeEnd: prefixEnd(prefix), SortTarget: "CREATE", SortOrder: "ASCEND", Limit: 1})
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
		// Any change under the prefix: read the leader again.
		_, err = e.etcd.watch(ctx, prefix, prefixEnd(prefix), resp.Header.Revision+1, func([]event) bool { return false })
		if err != nil && ctx.Err() == nil {
			e.fail("observe", err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
}
