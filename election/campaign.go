package election

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The election's keys are etcd's concurrency recipe's, so that daemons of
// either transport take part in one election: each candidate holds
// Prefix+"leader/"+<its lease in hex>, bound to its lease, and the key
// created first leads. A candidate waits for the deletion of the key
// created right before its own, then of the next one before, until none
// is older: then it leads.

// ballot is a candidate's key in the election.
type ballot struct {
	key string
	rev int64 // its create revision
}

// leaderPrefix is the prefix of the candidates' keys.
func (e *Elector) leaderPrefix() string { return e.opts.Prefix + "leader/" }

// campaign puts this candidate's key and waits until it is the oldest
// under the prefix. It returns when elected, or with ctx's end or an error.
func (e *Elector) campaign(ctx context.Context, s *session, value string) (ballot, error) {
	key := fmt.Sprintf("%s%x", e.leaderPrefix(), s.lease)
	pctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	resp, err := e.etcd.putIf(pctx, []byte(key), 0, putRequest{Key: []byte(key), Value: []byte(value), Lease: s.lease}, true)
	cancel()
	if err != nil {
		return ballot{}, fmt.Errorf("put the candidate key: %w", err)
	}
	b := ballot{key: key, rev: resp.Header.Revision}
	if !resp.Succeeded { // a retried put that had reached etcd: the key is ours
		if len(resp.Responses) == 0 || resp.Responses[0].Range == nil || len(resp.Responses[0].Range.Kvs) == 0 {
			return ballot{}, errors.New("put the candidate key: etcd answered neither the put nor the key")
		}
		b.rev = resp.Responses[0].Range.Kvs[0].CreateRevision
	}
	return b, e.waitOlder(ctx, b)
}

// waitOlder waits until no key under the prefix was created before b's.
// A watch that fails is made again after a pause: the key keeps b's place
// in line as long as the lease lives.
func (e *Elector) waitOlder(ctx context.Context, b ballot) error {
	prefix := e.leaderPrefix()
	for {
		gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
		resp, err := e.etcd.get(gctx, rangeRequest{Key: []byte(prefix), RangeEnd: prefixEnd(prefix), MaxCreateRevision: b.rev - 1,
			SortTarget: "CREATE", SortOrder: "DESCEND", Limit: 1})
		cancel()
		if err != nil {
			return fmt.Errorf("read the older candidates: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return nil // the oldest
		}
		before := string(resp.Kvs[0].Key)
		_, err = e.etcd.watch(ctx, before, nil, resp.Header.Revision+1, func(evs []event) bool {
			for _, ev := range evs {
				if ev.deleted() {
					return false
				}
			}
			return true
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			e.fail("campaign", err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

// proclaim writes value into b's key, if the key is still b's.
func (e *Elector) proclaim(ctx context.Context, s *session, b ballot, value string) error {
	resp, err := e.etcd.putIf(ctx, []byte(b.key), b.rev, putRequest{Key: []byte(b.key), Value: []byte(value), Lease: s.lease}, false)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: the leader key %s is gone", ErrNotLeader, b.key)
	}
	return nil
}
