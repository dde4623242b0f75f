package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// ErrNotPriced is returned by Apply for what Observe returned: its creates
// were not priced, so no guard on spend could hold them.
var ErrNotPriced = errors.New("reconcile: Apply was given what Observe made, which is unpriced; apply a Plan")

// ErrOverLimit is returned by Apply for a plan that exceeds a guard; it
// creates nothing. The plan's Violations say which and by how much.
var ErrOverLimit = errors.New("the plan exceeds a safety limit; nothing was created (review the plan, then raise the limit or allow the plan over it)")

// Result is what an apply did.
type Result struct {
	FormatVersion int            `json:"formatVersion"`
	Fleets        []*FleetResult `json:"fleets"`
	Created       int            `json:"created"`   // creates that returned an instance ID
	Ambiguous     int            `json:"ambiguous"` // creates whose outcome is unknown (sent again next run, same token)
	Failed        int            `json:"failed"`    // creates refused
	Isolated      int            `json:"isolated"`
}

// FleetResult is what an apply did to one fleet.
type FleetResult struct {
	Fleet    string      `json:"fleet"`
	Region   string      `json:"region"`
	Created  []Created   `json:"created,omitempty"`
	Failures []Failure   `json:"failures,omitempty"`
	Isolated []string    `json:"isolated,omitempty"`
	Error    *FleetError `json:"error,omitempty"`
	mu       sync.Mutex  // guards the slices during the apply
}

// Created is one slot's create that the service answered with an instance.
type Created struct {
	Slot        int    `json:"slot"`
	InstanceID  string `json:"instanceId"`
	Incarnation int    `json:"incarnation"`
	ClientToken string `json:"clientToken"`
}

// Failure is one create or isolation that did not succeed.
type Failure struct {
	Slot       int    `json:"slot"`
	InstanceID string `json:"instanceId,omitempty"`
	Code       string `json:"code,omitempty"`
	Class      string `json:"class"` // "ambiguous", "retry-later", "permanent"
	Message    string `json:"message"`
}

// OK reports whether everything planned was done.
func (r *Result) OK() bool {
	if r.Failed > 0 || r.Ambiguous > 0 {
		return false
	}
	for _, fr := range r.Fleets {
		if fr.Error != nil {
			return false
		}
	}
	return true
}

// Apply carries out a plan made by Plan: every create concurrently (the
// client's rate limiter paces them), then the isolations. A plan with
// violations returns ErrOverLimit and does nothing unless allowOverLimit.
// A failed create stops nothing else; a fleet with an error in the plan is
// skipped. Apply records expectations in the State as it goes, so a crash
// loses at most the create in flight, whose token the next run replays.
func (r *Reconciler) Apply(ctx context.Context, p *Plan, allowOverLimit bool) (*Result, error) {
	res := &Result{FormatVersion: FormatVersion}
	if p.unpriced {
		return res, ErrNotPriced
	}
	if len(p.Violations) > 0 && !allowOverLimit {
		return res, ErrOverLimit
	}
	type job struct {
		fp *FleetPlan
		fr *FleetResult
		c  Create
		pw string
	}
	var jobs []job
	total := 0
	for _, fp := range p.Fleets {
		fr := &FleetResult{Fleet: fp.Fleet, Region: fp.Region}
		res.Fleets = append(res.Fleets, fr)
		if fp.Error != nil {
			fr.Error = fp.Error
			continue
		}
		if len(fp.Creates) > 0 {
			pw, err := r.password(ctx, fp)
			if err != nil {
				// This fleet alone: the others are created.
				fr.Error = passwordError(err)
				continue
			}
			for _, c := range fp.Creates {
				jobs = append(jobs, job{fp, fr, c, pw})
			}
		}
		total += fp.isolations()
	}
	total += len(jobs)
	var (
		mu   sync.Mutex
		done int
		bad  int
	)
	report := func(ok bool) {
		mu.Lock()
		done++
		if !ok {
			bad++
		}
		pr := Progress{Done: done, Total: total, Failed: bad}
		mu.Unlock()
		if r.opts.Progress != nil {
			r.opts.Progress(pr)
		}
	}
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			report(r.create(ctx, p, j.fp, j.fr, j.c, j.pw))
		})
	}
	wg.Wait()
	for i, fp := range p.Fleets {
		fr := res.Fleets[i] // made in the order of p.Fleets
		if fp.Error != nil || fr.Error != nil {
			continue
		}
		for _, s := range fp.Surplus {
			if s.Action != ActionIsolate || ctx.Err() != nil {
				continue
			}
			report(r.isolate(ctx, fp, fr, s))
		}
	}
	for _, fr := range res.Fleets {
		slices.SortFunc(fr.Created, func(a, b Created) int { return a.Slot - b.Slot })
		slices.SortFunc(fr.Failures, func(a, b Failure) int { return a.Slot - b.Slot })
		res.Created += len(fr.Created)
		res.Isolated += len(fr.Isolated)
		for _, f := range fr.Failures {
			if f.InstanceID != "" {
				continue // a refused isolation
			}
			if f.Class == "ambiguous" {
				res.Ambiguous++
			} else {
				res.Failed++
			}
		}
	}
	return res, ctx.Err()
}

// create sends the create of one slot and walks past dead incarnations: a
// token that returns an instance seen dead in this plan's observation maps
// to a dead incarnation, so the next one is tried, up to
// MaxIncarnationSteps. It reports whether the slot ended with an instance.
func (r *Reconciler) create(ctx context.Context, p *Plan, fp *FleetPlan, fr *FleetResult, c Create, pw string) bool {
	key := SlotKey{fp.Region, fp.Fleet, c.Slot}
	dead := map[string]bool{}
	for _, id := range c.Replaces {
		dead[id] = true
	}
	var seen map[string]string
	if o := p.obs[fp.Region]; o != nil {
		seen = o.Seen
	}
	fail := func(class string, err error) bool {
		fr.mu.Lock()
		defer fr.mu.Unlock()
		fe := fleetError(err)
		fr.Failures = append(fr.Failures, Failure{Slot: c.Slot, Code: fe.Code, Class: class, Message: fe.Message})
		if class == "permanent" && fe.Field != "" && fr.Error == nil {
			fr.Error = fe
		}
		return false
	}
	inc := c.Incarnation
	for step := 0; step < r.opts.MaxIncarnationSteps; step++ {
		req, err := c.sendable(fp.Region, fp.Fleet, inc, pw)
		if err != nil {
			return fail("permanent", err)
		}
		token := req.ClientToken
		resp, err := r.cloud.CreateInstances(ctx, fp.Region, req)
		now := r.opts.Now()
		if err != nil {
			switch {
			case lighthouse.ErrorCode(err) == codeIdempotentMismatch:
				// The service refuses the token because it was used with
				// other parameters (the spec changed since). That proves a
				// create with it was carried out, not that its instance is
				// dead: Describe may not list it yet. So the slot waits one
				// expectation window from the first refusal (or from the
				// create whose outcome was unknown), and only if it is still
				// empty then is the incarnation spent.
				e, open := r.state.expectation(key)
				switch {
				case !open || e.InstanceID != "" || e.Incarnation != inc:
					r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, Since: now})
					r.log.Warn("token refused; the slot waits for the instance it may have bought", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
					return fail("retry-later", err)
				case now.Sub(e.Since) <= r.opts.Diff.ExpectWindow:
					r.log.Warn("token refused; the slot still waits for the instance it may have bought", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
					return fail("retry-later", err)
				}
				r.log.Info("token refused and its slot empty for a whole window; next incarnation", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
				r.state.advance(key, inc+1)
				inc++
				continue
			case ambiguous(err):
				r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, Since: now})
				r.log.Warn("create outcome unknown; the slot waits and the same token is sent next run", "fleet", fp.Fleet, "slot", c.Slot, "err", err)
				return fail("ambiguous", err)
			case lighthouse.ClassOf(err) != lighthouse.Permanent:
				r.log.Info("create deferred", "fleet", fp.Fleet, "slot", c.Slot, "err", err)
				return fail("retry-later", err)
			default:
				r.log.Error("create refused", "fleet", fp.Fleet, "slot", c.Slot, "err", err)
				return fail("permanent", err)
			}
		}
		if len(resp.InstanceIdSet) == 0 {
			return fail("permanent", fmt.Errorf("CreateInstances for slot %d answered no instance ID (RequestId %s)", c.Slot, resp.RequestId))
		}
		id := resp.InstanceIdSet[0]
		state, listed := seen[id]
		if dead[id] || listed && !Live(state) {
			// A replay of a dead incarnation: nothing was bought.
			r.log.Info("token maps to a dead instance, next incarnation", "fleet", fp.Fleet, "slot", c.Slot, "instance", id, "incarnation", inc)
			r.state.advance(key, inc+1)
			inc++
			continue
		}
		if listed {
			// The token maps to a live instance that no longer carries the
			// slot's name (renamed by hand): that incarnation is spent.
			r.log.Warn("token maps to a live instance under another name", "fleet", fp.Fleet, "slot", c.Slot, "instance", id)
			r.state.advance(key, inc+1)
			inc++
			continue
		}
		r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, InstanceID: id, Since: now})
		r.log.Info("created", "fleet", fp.Fleet, "slot", c.Slot, "instance", id, "incarnation", inc)
		fr.mu.Lock()
		fr.Created = append(fr.Created, Created{Slot: c.Slot, InstanceID: id, Incarnation: inc, ClientToken: token})
		fr.mu.Unlock()
		return true
	}
	return fail("retry-later", fmt.Errorf("slot %d: %d incarnations in a row map to dead instances; continuing next run", c.Slot, r.opts.MaxIncarnationSteps))
}

// isolate returns one surplus instance. A refusal because the instance may
// not be returned is remembered, so it is reported once, not retried.
func (r *Reconciler) isolate(ctx context.Context, fp *FleetPlan, fr *FleetResult, s Surplus) bool {
	_, err := r.cloud.IsolateInstances(ctx, fp.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{s.ID}})
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if err != nil {
		code := lighthouse.ErrorCode(err)
		if code == codeNotReturnable || code == codeIsolateLimit {
			r.state.refuseIsolation(s.ID, code)
		}
		r.log.Warn("isolate refused", "fleet", fp.Fleet, "instance", s.ID, "err", err)
		fr.Failures = append(fr.Failures, Failure{Slot: s.Slot, InstanceID: s.ID, Code: code, Class: lighthouse.ClassOf(err).String(), Message: message(err)})
		return false
	}
	r.log.Info("isolated", "fleet", fp.Fleet, "instance", s.ID, "slot", s.Slot)
	fr.Isolated = append(fr.Isolated, s.ID)
	return true
}
