package main

import (
	"context"
	"iter"
	"sync"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// prefetchCloud is the API client with each region's DescribeInstances
// sweep started early: while the fleet specs still load, as soon as a
// parsed fleet names the region (spec.Options.Parsed). The plan's first
// full listing of a region takes over the sweep under way, the instances
// listed so far at once and the rest as they come, so that loading the
// specs overlaps the pacing of the pages instead of coming before it
// (docs/design.md section 6). Every other call, and any later listing of
// the region, goes to the client as it is.
//
// Only reads start early: a sweep listed before the specs are known to be
// valid is thrown away if they are not, and nothing else is sent before
// the plan.
type prefetchCloud struct {
	reconcile.Cloud
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	sweeps map[string]*sweep // by region; nil once taken
}

// newPrefetchCloud wraps cloud; stop ends the sweeps nobody took.
func newPrefetchCloud(ctx context.Context, cloud reconcile.Cloud) *prefetchCloud {
	ctx, cancel := context.WithCancel(ctx)
	return &prefetchCloud{Cloud: cloud, ctx: ctx, cancel: cancel, sweeps: map[string]*sweep{}}
}

// parsed is spec.Options.Parsed: it starts the sweep of f's region, once.
func (c *prefetchCloud) parsed(f *spec.Fleet) {
	region := f.Spec.Region
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sweeps[region]; ok || c.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	s := &sweep{cancel: cancel, signal: make(chan struct{}, 1)}
	c.sweeps[region] = s
	c.wg.Go(func() { s.run(ctx, c.Cloud.Instances(ctx, region, nil)) })
}

// stop cancels the sweeps still running and waits for them to end.
func (c *prefetchCloud) stop() {
	c.cancel()
	c.wg.Wait()
}

// Instances is the client's, except that a full listing (req nil) of a
// region whose sweep started early takes that sweep, the first time.
func (c *prefetchCloud) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	if req == nil {
		c.mu.Lock()
		s := c.sweeps[region]
		if s != nil {
			c.sweeps[region] = nil
		}
		c.mu.Unlock()
		if s != nil {
			return s.take(ctx)
		}
	}
	return c.Cloud.Instances(ctx, region, req)
}

// sweep is one region's listing under way: the instances listed and not
// yet taken, and how it ended.
type sweep struct {
	cancel context.CancelFunc
	signal chan struct{} // a send after each change, never blocking

	mu    sync.Mutex
	items []lighthouse.Instance
	done  bool
	err   error
}

// run lists the instances into s until the listing ends.
func (s *sweep) run(ctx context.Context, list iter.Seq2[lighthouse.Instance, error]) {
	defer s.cancel()
	for in, err := range list {
		s.mu.Lock()
		if err != nil {
			s.err = err
		} else {
			s.items = append(s.items, in)
		}
		s.mu.Unlock()
		s.notify()
		if err != nil {
			break
		}
	}
	s.mu.Lock()
	s.done = true
	if s.err == nil {
		s.err = ctx.Err() // canceled before the end: not a whole listing
	}
	s.mu.Unlock()
	s.notify()
}

func (s *sweep) notify() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// take returns the listing as the client's Instances would: each
// instance once, in the order listed, then the error that ended it, if
// any. What it has yielded is no longer held.
func (s *sweep) take(ctx context.Context) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		defer s.cancel()
		for {
			s.mu.Lock()
			batch, done, err := s.items, s.done, s.err
			s.items = nil
			s.mu.Unlock()
			for _, in := range batch {
				if !yield(in, nil) {
					return
				}
			}
			if len(batch) > 0 {
				continue
			}
			if done {
				if err != nil {
					yield(lighthouse.Instance{}, err)
				}
				return
			}
			select {
			case <-s.signal:
			case <-ctx.Done():
				yield(lighthouse.Instance{}, ctx.Err())
				return
			}
		}
	}
}
