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
	// Waiting counts creates whose token returned an instance that
	// DescribeInstances does not list (FleetResult.Waiting): never counted
	// as created.
	Waiting int `json:"waiting,omitempty"`
	// Renewed counts the renewals the service accepted, RenewFailed those
	// that were refused or deferred, RenewAmbiguous those whose outcome is
	// unknown (confirmed through ExpiredTime next run, never sent twice).
	Renewed        int `json:"renewed,omitempty"`
	RenewFailed    int `json:"renewFailed,omitempty"`
	RenewAmbiguous int `json:"renewAmbiguous,omitempty"`
	// Updated counts the rollouts' updates the service took (renew flags,
	// resets, bundle changes, isolations of a replacement; replacement
	// creates count as Created).
	Updated int `json:"updated"`
}

// FleetResult is what an apply did to one fleet.
type FleetResult struct {
	Fleet    string    `json:"fleet"`
	Region   string    `json:"region"`
	Created  []Created `json:"created,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
	Isolated []string  `json:"isolated,omitempty"`
	// Updates is what the apply did about each planned update of the
	// fleet's rollout (replacement creates are under Created).
	Updates []UpdateResult `json:"updates,omitempty"`
	Error   *FleetError    `json:"error,omitempty"`
	mu      sync.Mutex     // guards the slices during the apply

	// Waiting lists the slots whose create returned an instance that
	// DescribeInstances does not list: deleted by hand (a replayed token
	// returns it all the same) or not listed yet. The slot waits until
	// Until, when a new server is bought if it is still missing.
	Waiting []Waiting `json:"waiting,omitempty"`
	// Suspended: the fleet is suspended (spec.suspend), nothing was done.
	Suspended bool `json:"suspended,omitempty"`
	// Failing: the fleet's launches keep failing (FleetPlan.Failing); the
	// apply is not a success.
	Failing bool `json:"failing,omitempty"`
	// Renewed lists the renewals the service accepted; RenewFailures
	// those that were refused, deferred or whose outcome is unknown.
	Renewed       []Renewed `json:"renewed,omitempty"`
	RenewFailures []Failure `json:"renewFailures,omitempty"`
}

// Created is one slot's create that the service answered with an instance.
type Created struct {
	Slot        int    `json:"slot"`
	InstanceID  string `json:"instanceId"`
	Incarnation int    `json:"incarnation"`
	ClientToken string `json:"clientToken"`
}

// Failure is one create, isolation or update that did not succeed.
type Failure struct {
	Slot       int    `json:"slot"`
	InstanceID string `json:"instanceId,omitempty"`
	// Action is the update's (UpdateReset, ...) for a rollout's failure;
	// "" for a create's or an isolation's.
	Action  string `json:"action,omitempty"`
	Code    string `json:"code,omitempty"`
	Class   string `json:"class"` // "ambiguous", "retry-later", "permanent"
	Message string `json:"message"`
}

// OK reports whether everything planned was done.
func (r *Result) OK() bool {
	if r.Failed > 0 || r.Ambiguous > 0 || r.RenewFailed > 0 || r.RenewAmbiguous > 0 {
		return false
	}
	for _, fr := range r.Fleets {
		if fr.Error != nil || fr.Failing || slices.ContainsFunc(fr.Failures, func(f Failure) bool { return f.Action != "" }) {
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
	if p.trimmed {
		return res, ErrTrimmed
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
		fr.Failing = fp.Failing
		if fp.Suspended {
			fr.Suspended = true
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
		if fp.Rollout != nil {
			// A replacement create is a create of the slot's next
			// instance; no password is needed unless one is sent.
			for _, u := range fp.Rollout.Updates {
				if u.Status != StatusPlanned || u.create == nil {
					continue
				}
				pw, err := r.password(ctx, fp)
				if err != nil {
					fr.Error = passwordError(err)
					break
				}
				jobs = append(jobs, job{fp, fr, *u.create, pw})
			}
		}
		total += fp.isolations() + fp.rolloutJobs() + fp.renewals()
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
	results := make(map[*FleetPlan]*FleetResult, len(p.Fleets))
	for i, fp := range p.Fleets {
		results[fp] = res.Fleets[i] // made in the order of p.Fleets
	}
	r.renew(ctx, p, results, report)
	r.applyRollouts(ctx, p, res.Fleets, report)
	for i, fp := range p.Fleets {
		fr := res.Fleets[i] // made in the order of p.Fleets
		if !fp.acts() || fr.Error != nil {
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
		slices.SortFunc(fr.Waiting, func(a, b Waiting) int { return a.Slot - b.Slot })
		res.Created += len(fr.Created)
		res.Isolated += len(fr.Isolated)
		res.Waiting += len(fr.Waiting)
		res.Renewed += len(fr.Renewed)
		slices.SortFunc(fr.RenewFailures, func(a, b Failure) int { return a.Slot - b.Slot })
		for _, f := range fr.RenewFailures {
			if f.Class == "ambiguous" {
				res.RenewAmbiguous++
			} else {
				res.RenewFailed++
			}
		}
		for _, u := range fr.Updates {
			if u.Outcome == OutcomeSent {
				res.Updated++
			}
		}
		for _, f := range fr.Failures {
			if f.InstanceID != "" {
				continue // a refused isolation or update
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
	// A replacement's attempts are not the slot's incarnations: its walk
	// moves no incarnation, and its expectation is its own.
	replacement := c.Shape != ""
	advance := func(next int) {
		if !replacement {
			r.state.advance(key, next)
		}
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
				e, open := r.state.expectation(key, c.Shape != "")
				switch {
				case !open || e.InstanceID != "" || e.Incarnation != inc:
					r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, Since: now, Replacement: replacement})
					r.log.Warn("token refused; the slot waits for the instance it may have bought", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
					return fail("retry-later", err)
				case now.Sub(e.Since) <= r.opts.Diff.ExpectWindow:
					r.log.Warn("token refused; the slot still waits for the instance it may have bought", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
					return fail("retry-later", err)
				}
				r.log.Info("token refused and its slot empty for a whole window; next incarnation", "fleet", fp.Fleet, "slot", c.Slot, "incarnation", inc)
				advance(inc + 1)
				inc++
				continue
			case ambiguous(err):
				r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, Since: now, Replacement: replacement})
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
		byID := false // looked up by its ID just now, not listed by the sweep
		if !listed && !dead[id] {
			// Not in this plan's sweep: a new instance, or one the token
			// made before that is gone (deleted by hand) or not listed
			// yet. Only a look by its ID tells them apart.
			found, err := r.describeIDs(ctx, fp.Region, []string{id})
			in, ok := found[id]
			switch {
			case err != nil:
				r.log.Warn("could not look the created instance up; counted as created", "fleet", fp.Fleet, "slot", c.Slot, "instance", id, "err", err)
				listed, state, byID = true, lighthouse.StatePending, true
			case ok:
				listed, state, byID = true, in.State, true
			default:
				r.state.recordShape(id, fp.Region, c.hidden, resp.RequestId, now)
				return r.vanished(fp, fr, c, inc, token, id, replacement, now)
			}
		}
		if dead[id] || listed && !Live(state) {
			// A replay of a dead incarnation: nothing was bought.
			r.log.Info("token maps to a dead instance, next incarnation", "fleet", fp.Fleet, "slot", c.Slot, "instance", id, "incarnation", inc)
			advance(inc + 1)
			inc++
			continue
		}
		if listed && !byID {
			// The token maps to a live instance the sweep listed under
			// another name than the slot's (renamed by hand): that
			// incarnation is spent. One not in the sweep is the create's
			// own, whatever DescribeInstances calls it a moment later.
			r.log.Warn("token maps to a live instance under another name", "fleet", fp.Fleet, "slot", c.Slot, "instance", id)
			advance(inc + 1)
			inc++
			continue
		}
		r.state.expect(Expectation{SlotKey: key, Incarnation: inc, Token: token, InstanceID: id, Since: now, Replacement: replacement})
		r.state.recordShape(id, fp.Region, c.hidden, resp.RequestId, now)
		r.log.Info("created", "fleet", fp.Fleet, "slot", c.Slot, "instance", id, "incarnation", inc, "replacement", replacement)
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
