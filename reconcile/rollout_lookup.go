package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file is the I/O of a rollout's plan: settling the journal and the
// ready times with an observation, asking the service what instances may
// become (only when some instance differs: a fleet in its shape costs no
// call beyond the DescribeInstances sweep), and pricing the updates.

// settleRollouts settles, with each region's observation, the intents of
// the journal (done ones leave it, a reset's recording what it gave the
// instance; failed ones are marked) and the ready times of the instances
// of fleets with a rollout.
func (r *Reconciler) settleRollouts(obs map[string]*Observation, fleets []*spec.Fleet, now time.Time) {
	window := r.opts.Diff.ExpectWindow
	for _, o := range obs {
		tracked := map[string]bool{}
		for _, f := range fleets {
			if f.Spec.Region == o.Region && f.Spec.Update.Strategy != spec.UpdateReport && f.Spec.Update.Strategy != "" {
				tracked[f.Name()] = true
			}
		}
		r.state.settleRollout(o, tracked, window)
		var byID map[string]*Instance // at the region's first intent
		for _, it := range r.state.Intents() {
			if it.Region != o.Region || it.Action == lighthouse.ActionRenewInstances {
				continue // renewals: settleRenewals and the plan's judge
			}
			if byID == nil {
				byID = o.byID()
			}
			in, ok := byID[it.InstanceID]
			if !ok {
				if _, listed := o.Seen[it.InstanceID]; !listed && now.Sub(it.Since) > window {
					r.state.dropIntent(it.InstanceID, it.Action) // the instance is gone
				}
				continue
			}
			op := Op{Action: it.Action, Target: it.Target, Shows: it.Shows, From: it.From, Record: it.Record}
			switch j := Judge(*in, op, &it, now, window); j.Verdict {
			case VerdictDone:
				r.state.dropIntent(it.InstanceID, it.Action)
				if it.Record != "" {
					r.state.recordShape(it.InstanceID, it.Region, it.Record, in.LatestOperationRequestID, now)
				}
				r.log.Info("operation done", "fleet", it.Fleet, "instance", it.InstanceID, "action", it.Action, "why", j.Reason)
			case VerdictFailed:
				if it.Failed == "" {
					it.Failed = in.LatestOperationRequestID
					r.state.setIntent(it)
					r.log.Error("operation failed; the fleet's rollout pauses", "fleet", it.Fleet, "instance", it.InstanceID, "action", it.Action, "why", j.Reason)
				}
			}
		}
	}
}

// lookup asks the service what the plan's rollouts need to know before
// they plan an in-place change, once per kind of instance (region, zone,
// bundle, blueprint, target) and once per 100 instances for the denied
// actions, and puts the answers in obs. It reports whether it asked
// anything (Diff must then run again).
func (r *Reconciler) lookup(ctx context.Context, p *Plan, obs map[string]*Observation) bool {
	type group struct {
		kind, region string
		key          string
		target       string
		members      []Instance
	}
	groups := map[string]*group{}
	var order []string
	denied := map[string][]string{}
	for _, fp := range p.Fleets {
		for _, n := range fp.needs {
			if n.Kind == "denied" {
				if !slices.Contains(denied[fp.Region], n.Instance.ID) {
					denied[fp.Region] = append(denied[fp.Region], n.Instance.ID)
				}
				continue
			}
			in := n.Instance
			k := strings.Join([]string{n.Kind, fp.Region, in.Zone, in.BundleID, in.BlueprintID, n.Target}, "|")
			g, ok := groups[k]
			if !ok {
				g = &group{kind: n.Kind, region: fp.Region, key: k, target: n.Target}
				groups[k] = g
				order = append(order, k)
			}
			g.members = append(g.members, in)
		}
	}
	if len(order) == 0 && len(denied) == 0 {
		return false
	}
	lks := map[string]*Lookups{}
	for region := range obs {
		lks[region] = &Lookups{Bundles: map[string]BundleOption{}, Blueprints: map[string]BlueprintOption{}, Denied: map[string][]lighthouse.DeniedAction{}}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range order {
		g := groups[k]
		wg.Go(func() {
			rep := g.members[0]
			switch g.kind {
			case "bundle":
				target := g.target
				opt := BundleOption{Bundle: target}
				resp, err := r.cloud.DescribeModifyInstanceBundles(ctx, g.region, &lighthouse.DescribeModifyInstanceBundlesRequest{InstanceId: rep.ID,
					Filters: []lighthouse.Filter{{Name: "bundle-id", Values: []string{target}}}, Limit: lighthouse.MaxPageSize})
				if err != nil {
					opt.Err = err.Error()
				} else {
					opt.State, opt.Message = "", fmt.Sprintf("DescribeModifyInstanceBundles does not list %s for %s", target, rep.ID)
					for _, b := range resp.ModifyBundleSet {
						if b.Bundle.BundleId == target {
							opt.State, opt.Message, opt.Price = b.ModifyBundleState, b.NotSupportModifyMessage, b.ModifyPrice.InstancePrice
						}
					}
				}
				mu.Lock()
				for _, m := range g.members {
					lks[g.region].Bundles[m.ID] = opt
				}
				mu.Unlock()
			case "blueprint":
				target := g.target
				opt := BlueprintOption{Blueprint: target}
				resp, err := r.cloud.DescribeResetInstanceBlueprints(ctx, g.region, &lighthouse.DescribeResetInstanceBlueprintsRequest{InstanceId: rep.ID,
					Filters: []lighthouse.Filter{{Name: "blueprint-id", Values: []string{target}}}, Limit: lighthouse.MaxPageSize})
				if err != nil {
					opt.Err = err.Error()
				} else {
					opt.Message = fmt.Sprintf("DescribeResetInstanceBlueprints does not list %s for %s", target, rep.ID)
					for _, b := range resp.ResetInstanceBlueprintSet {
						if b.BlueprintInfo.BlueprintId == target {
							opt.Resettable, opt.Message = b.IsResettable, b.NonResettableMessage
						}
					}
				}
				mu.Lock()
				for _, m := range g.members {
					lks[g.region].Blueprints[m.ID] = opt
				}
				mu.Unlock()
			}
		})
	}
	for region, ids := range denied {
		wg.Go(func() {
			for chunk := range slices.Chunk(ids, lighthouse.MaxDeniedActionsIDs) {
				resp, err := r.cloud.DescribeInstancesDeniedActions(ctx, region, &lighthouse.DescribeInstancesDeniedActionsRequest{InstanceIds: chunk})
				if err != nil {
					r.log.Warn("cannot ask which actions instances may not do; the actions will tell", "region", region, "err", err)
					continue
				}
				mu.Lock()
				for _, ia := range resp.InstanceDeniedActionSet {
					lks[region].Denied[ia.InstanceId] = ia.DeniedActions
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for region, lk := range lks {
		obs[region].Lookups = lk
	}
	return true
}

// priceUpdates adds the money of each planned bundle change (the monthly
// difference; the commitment is the price difference the service named)
// and replacement (as a create of the spec's bundle) to its fleet's.
func (r *Reconciler) priceUpdates(ctx context.Context, p *Plan) {
	cache := map[priceKey]priceAnswer{}
	ask := func(k priceKey) priceAnswer {
		a, ok := cache[k]
		if !ok {
			a = r.askPrice(ctx, k)
			cache[k] = a
		}
		return a
	}
	for _, fp := range p.Fleets {
		if fp.Rollout == nil || fp.Error != nil {
			continue
		}
		for i := range fp.Rollout.Updates {
			u := &fp.Rollout.Updates[i]
			if u.Status != StatusPlanned {
				continue
			}
			var m Money
			switch {
			case u.Action == UpdateModifyBundle:
				newer := ask(priceKey{fp.Region, u.op.Target, u.blueprint, 1})
				older := ask(priceKey{fp.Region, u.bundle, u.blueprint, 1})
				if u.Money != nil {
					m = *u.Money
				}
				if newer.err != nil || older.err != nil {
					m.Unknown = true
					fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("price unknown: %v", firstErr(newer.err, older.err)))
				} else {
					m.Currency = newer.price.Currency
					m.Monthly = round2(newer.price.DiscountPrice - older.price.DiscountPrice)
				}
			case u.create != nil:
				c := u.create
				a := ask(createKey(fp.Region, c))
				if a.err != nil {
					m.Unknown = true
					fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("price unknown: %v", a.err))
				} else {
					m.Currency, m.Commitment = a.price.Currency, a.price.DiscountPrice
					if c.Period > 0 {
						m.Monthly = round2(a.price.DiscountPrice / float64(c.Period))
					}
				}
			default:
				continue
			}
			u.Money = &m
			if m.Currency != "" {
				fp.Money.Currency = m.Currency
			}
			fp.Money.Monthly = round2(fp.Money.Monthly + m.Monthly)
			fp.Money.Commitment = round2(fp.Money.Commitment + m.Commitment)
			fp.Money.Unknown = fp.Money.Unknown || m.Unknown
		}
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
