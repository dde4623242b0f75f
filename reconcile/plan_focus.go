package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Why a focused plan is not made (FocusFallback.Code): the full sweep then
// plans alone, as it always does after a focused plan.
const (
	// FallbackNoTags: the site takes no tags, so no tag filter finds a
	// renamed instance that a full sweep would not group either; the name
	// filter alone is not proven enough for every site.
	FallbackNoTags = "no-tags"
	// FallbackSuspended: a fleet to focus on is suspended.
	FallbackSuspended = "suspended"
	// FallbackRollout: a fleet to focus on has a rollout strategy
	// (spec.update inPlace or replace).
	FallbackRollout = "rollout"
	// FallbackNoSweep: a region of the fleets has not been swept in full
	// by this Reconciler yet (the first cycle).
	FallbackNoSweep = "no-sweep"
	// FallbackCalls: the filtered view takes more calls than the region's
	// full sweep has pages.
	FallbackCalls = "calls"
	// FallbackDescribe: a filtered DescribeInstances failed.
	FallbackDescribe = "describe-error"
	// FallbackUnknown: a fleet to focus on is not among the fleets.
	FallbackUnknown = "unknown-fleet"
)

// FocusFallback is PlanFocused's error when a focused plan cannot be
// trusted: nothing was sent, and the caller relies on the full plan.
type FocusFallback struct {
	// Code is one of the Fallback constants.
	Code string
	// Detail names the fleet, region or error.
	Detail string
	// Err is the failed call's error, for FallbackDescribe.
	Err error
}

func (e *FocusFallback) Error() string {
	return fmt.Sprintf("no focused plan (%s): %s", e.Code, e.Detail)
}

// Unwrap returns the failed call's error.
func (e *FocusFallback) Unwrap() error { return e.Err }

// sweepSize is what the last full sweep of a region listed: every
// instance (total), and those the fleets claimed.
type sweepSize struct{ total, claimed int }

// recordSweep remembers what a full sweep listed in its region: the total
// bounds the calls a filtered observation may take, and the next sweep
// makes room for as many claimed instances at once (observeRegion).
func (r *Reconciler) recordSweep(o *Observation) {
	if o.Partial {
		return
	}
	claimed := 0
	for _, ins := range o.Fleets {
		claimed += len(ins)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.swept == nil {
		r.swept = map[string]sweepSize{}
	}
	r.swept[o.Region] = sweepSize{total: o.Total, claimed: claimed}
}

// sweepPages is how many pages the last full sweep of region took; ok is
// false when it has not been swept yet.
func (r *Reconciler) sweepPages(region string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.swept[region]
	return max(1, (last.total+lighthouse.MaxPageSize-1)/lighthouse.MaxPageSize), ok
}

// PlanFocused plans only the creates of the fleets named in focus, from a
// filtered observation of each of their regions (ObserveFleets), for a
// push to act on before the full sweep (docs/design.md section 5.10). fleets
// are all the fleets, whose names claim instances as in Plan. The plan
// holds the focus fleets alone, with their creates priced; their surplus,
// renewals, rollouts and drift are left to the full plan, and the state is
// not settled from the partial view. It is checked and applied as any Plan.
//
// It returns a *FocusFallback, having sent nothing but DescribeInstances
// calls (and, once it observes, InquirePriceCreateInstances), when the
// focused view cannot be trusted or would cost more than a full sweep.
func (r *Reconciler) PlanFocused(ctx context.Context, fleets []*spec.Fleet, focus []string) (*Plan, error) {
	if !r.opts.Tags {
		return nil, &FocusFallback{Code: FallbackNoTags, Detail: "the site takes no tags (a renamed instance is found only by a full sweep)"}
	}
	byName := map[string]*spec.Fleet{}
	for _, f := range fleets {
		byName[f.Name()] = f
	}
	var chosen []*spec.Fleet
	for _, name := range focus {
		f := byName[name]
		switch {
		case f == nil:
			return nil, &FocusFallback{Code: FallbackUnknown, Detail: fmt.Sprintf("fleet %s is not in the revision", name)}
		case f.Spec.Suspend:
			return nil, &FocusFallback{Code: FallbackSuspended, Detail: fmt.Sprintf("fleet %s is suspended", name)}
		case f.Spec.Update.Strategy != "" && f.Spec.Update.Strategy != spec.UpdateReport:
			return nil, &FocusFallback{Code: FallbackRollout, Detail: fmt.Sprintf("fleet %s has spec.update.strategy %s", name, f.Spec.Update.Strategy)}
		}
		chosen = append(chosen, f)
	}
	ids := r.expectedIDs(chosen)
	type region struct {
		all, focus []*spec.Fleet
		ids        []string
	}
	regions := map[string]*region{}
	for _, f := range fleets {
		rg := regions[f.Spec.Region]
		if rg == nil {
			rg = &region{}
			regions[f.Spec.Region] = rg
		}
		rg.all = append(rg.all, f)
	}
	for _, f := range chosen {
		rg := regions[f.Spec.Region]
		rg.focus = append(rg.focus, f)
		rg.ids = append(rg.ids, ids[f.Name()]...)
	}
	for name, rg := range regions {
		if len(rg.focus) == 0 {
			delete(regions, name)
			continue
		}
		pages, ok := r.sweepPages(name)
		if !ok {
			return nil, &FocusFallback{Code: FallbackNoSweep, Detail: fmt.Sprintf("region %s has not been swept in full yet", name)}
		}
		if n := len(FocusQueries(rg.focus, rg.ids, true)); n > pages && !r.anyFocusCost {
			return nil, &FocusFallback{Code: FallbackCalls, Detail: fmt.Sprintf("region %s: %d filtered calls, its full sweep is %d pages", name, n, pages)}
		}
	}
	now := r.opts.Now()
	// The creates' prices depend on the fleets alone, not on what is
	// observed: they are asked while the fleets are observed, so that the
	// plan waits for one round trip, not two.
	var keys []priceKey
	for _, f := range chosen {
		if k := priceKeyOf(f); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	asked := make(chan map[priceKey]priceAnswer, 1)
	go func() { asked <- r.askPrices(ctx, keys) }()
	prices := sync.OnceValue(func() map[priceKey]priceAnswer { return <-asked })
	defer prices() // no call outlives the plan
	obs := make(map[string]*Observation, len(regions))
	var failed error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, rg := range regions {
		wg.Go(func() {
			o, err := ObserveFleets(ctx, r.cloud, name, rg.all, rg.focus, rg.ids, true, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			obs[name] = o
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if failed != nil {
		return nil, &FocusFallback{Code: FallbackDescribe, Detail: failed.Error(), Err: failed}
	}
	p := Diff(chosen, obs, r.state, now, r.opts.Diff)
	for _, fp := range p.Fleets {
		// Only the creates of a slot below the count: what else the
		// fleet needs, the full plan that follows sees whole.
		fp.Surplus, fp.Renewals, fp.Rollout, fp.needs = nil, nil, nil, nil
	}
	p.Orphans = nil
	r.priceWith(ctx, p, prices())
	p.clearFailed()
	return p, nil
}

// expectedIDs are the instance IDs of the open expectations of fleets, by
// fleet name, sorted: a filtered observation lists them by ID, so that
// what an apply just bought is judged as a full sweep would judge it.
func (r *Reconciler) expectedIDs(fleets []*spec.Fleet) map[string][]string {
	keys := map[string]bool{}
	for _, f := range fleets {
		keys[f.Spec.Region+"/"+f.Name()] = true
	}
	out := map[string][]string{}
	for _, e := range r.state.Expectations() {
		if e.InstanceID != "" && keys[e.Region+"/"+e.Fleet] {
			out[e.Fleet] = append(out[e.Fleet], e.InstanceID)
		}
	}
	for name, ids := range out {
		slices.Sort(ids)
		out[name] = slices.Compact(ids)
	}
	return out
}
