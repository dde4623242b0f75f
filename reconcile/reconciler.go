package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Options configure a Reconciler. The zero value is usable: no tags, the
// default windows, real time, the process environment for passwords.
type Options struct {
	// Tags says the site is the China one, which takes Tags on create:
	// lightkeeper's lightkeeper-fleet and lightkeeper-slot tags and the
	// fleet's user tags are sent with each create. The international site
	// refuses Tags (UnknownParameter), and a create refused for its tags is
	// never re-sent without them under the same token; without Tags, a
	// fleet with a container restart policy, which that site also refuses,
	// is a fleet error in the plan.
	Tags bool
	// Diff tunes the expectation window and the expiry warning.
	Diff DiffOptions
	// MaxIncarnationSteps bounds how many dead incarnations one create walks
	// past in one run (default 8); a slot with more continues next run.
	MaxIncarnationSteps int
	// APIDryRun makes Plan send one DryRun CreateInstances per distinct
	// creation shape, so that what the service would refuse (quota,
	// balance, sold out, a key pair or a blueprint it does not know) shows
	// in the plan. It needs permission for CreateInstances; nothing is
	// bought.
	APIDryRun bool
	// Concurrency bounds the creates in flight (default 32); the client's
	// rate limiter paces them.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Getenv resolves spec.login.passwordFrom.env; nil means the process
	// environment. A passwordFrom.file is read with spec.ReadPasswordFile.
	Getenv func(string) string
	// Logger receives one line per create and isolation; nil means silent.
	Logger *slog.Logger
	// Progress, if set, is called after each create or isolation ends.
	Progress func(Progress)
	// Persist, if set, saves the State where it is kept (its file in the
	// state directory). Apply calls it after recording the intent of an
	// operation that carries no ClientToken (a reset, a bundle change, a
	// renewal) and before sending it; if it fails, the operation is not
	// sent and the fleet reports why. Without it the intents live as long
	// as the Reconciler (docs/design.md section 11.3 says what a run
	// without a state directory relies on).
	Persist func() error
}

// Progress is the state of an apply, for a progress line.
type Progress struct {
	Done, Total, Failed int
}

// Reconciler observes, plans and applies. It keeps a State between calls;
// one Reconciler serves one runner (the daemon keeps one for its life).
type Reconciler struct {
	cloud Cloud
	state *State
	opts  Options
	log   *slog.Logger

	mu    sync.Mutex
	swept map[string]sweepSize // each region's last full sweep (plan_focus.go, observe_compact.go)
	// anyFocusCost lifts PlanFocused's bound on calls (the chaos suite's
	// small accounts; export_test.go).
	anyFocusCost bool
}

// New returns a Reconciler acting through cloud and remembering in state
// (nil: a new empty State).
func New(cloud Cloud, state *State, opts Options) *Reconciler {
	if state == nil {
		state = NewState()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.MaxIncarnationSteps <= 0 {
		opts.MaxIncarnationSteps = 8
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	opts.Diff = opts.Diff.withDefaults()
	opts.Diff.Tags = opts.Tags
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{cloud: cloud, state: state, opts: opts, log: log}
}

// State returns the reconciler's state, to save it.
func (r *Reconciler) State() *State { return r.state }

// Plan observes every region of fleets (one sweep each, concurrently),
// settles the state with what it saw, diffs, and prices the creates, the
// renewals and the rollouts' updates. It
// never calls a mutating action (APIDryRun sends DryRun creates, which buy
// nothing). A region that cannot be observed fails its fleets, not the plan;
// the error returned is for a plan that could not be made at all.
func (r *Reconciler) Plan(ctx context.Context, fleets []*spec.Fleet) (*Plan, error) {
	p, err := r.observe(ctx, fleets)
	if err != nil {
		return nil, err
	}
	r.price(ctx, p)
	r.priceRenewals(ctx, p)
	r.priceUpdates(ctx, p)
	if r.opts.APIDryRun {
		r.dryRun(ctx, p)
	}
	p.clearFailed()
	return p, nil
}

// Observe is Plan without its prices and DryRun creates: the fleets as the
// cloud shows them now, with the expectations of the state (what an apply
// just created and Describe does not list yet is Expected), for a report of
// the state after an apply. Its creates are what is still missing,
// unpriced, and Apply refuses it (ErrNotPriced): only a Plan is applied.
func (r *Reconciler) Observe(ctx context.Context, fleets []*spec.Fleet) (*Plan, error) {
	p, err := r.observe(ctx, fleets)
	if err != nil {
		return nil, err
	}
	p.clearFailed()
	p.unpriced = true
	return p, nil
}

// observe sweeps every region of fleets concurrently, settles the state
// with what it saw and diffs: the plan before prices.
func (r *Reconciler) observe(ctx context.Context, fleets []*spec.Fleet) (*Plan, error) {
	now := r.opts.Now()
	regions := spec.Regions(fleets)
	obs := make(map[string]*Observation, len(regions))
	failed := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, region := range regions {
		var of []*spec.Fleet
		for _, f := range fleets {
			if f.Spec.Region == region {
				of = append(of, f)
			}
		}
		wg.Go(func() {
			o, err := r.observeRegion(ctx, region, of, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[region] = err
				return
			}
			obs[region] = o
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, o := range obs {
		r.recordSweep(o)
		r.state.Settle(o, r.opts.Diff.ExpectWindow)
		r.state.settleRenewals(o, r.opts.Diff.ExpectWindow)
		r.unrenewable(ctx, o, fleets)
	}
	r.settleRollouts(obs, fleets, now)
	p := Diff(fleets, obs, r.state, now, r.opts.Diff)
	if r.lookup(ctx, p, obs) {
		// What a rollout needed to know is in obs now: plan again.
		p = Diff(fleets, obs, r.state, now, r.opts.Diff)
	}
	for _, fp := range p.Fleets {
		if err := failed[fp.Region]; err != nil {
			fp.Error = &FleetError{Code: lighthouse.ErrorCode(err), Message: fmt.Sprintf("could not list the instances of %s: %v", fp.Region, err)}
			fp.Creates, fp.Surplus, fp.Renewals = nil, nil, nil
		}
	}
	return p, nil
}

// clearFailed makes each fleet in error plan nothing (what it would create
// or renew shows once the error is fixed) and totals the plan again.
func (p *Plan) clearFailed() {
	for _, fp := range p.Fleets {
		if fp.Error != nil {
			fp.Creates, fp.Money = nil, Money{}
			fp.Renewals, fp.RenewalMoney = nil, Money{}
		}
	}
	p.total()
}

// priceKey is what a price depends on.
type priceKey struct {
	region, bundle, blueprint string
	period                    int
}

// priceAnswer is what InquirePriceCreateInstances said of a priceKey.
type priceAnswer struct {
	price lighthouse.InstancePrice
	err   error
}

// createKey is the priceKey of create c of a fleet in region.
func createKey(region string, c *Create) priceKey {
	return priceKey{region, c.BundleID, c.BlueprintID, c.Period}
}

// priceKeyOf is the priceKey of the creates fleet f makes outside a
// rollout, read from its request as newCreate reads it.
func priceKeyOf(f *spec.Fleet) priceKey {
	c := newCreate(f, 0, 0, false)
	return createKey(f.Spec.Region, &c)
}

// askPrice asks InquirePriceCreateInstances the price of one instance of k.
func (r *Reconciler) askPrice(ctx context.Context, k priceKey) priceAnswer {
	resp, err := r.cloud.InquirePriceCreateInstances(ctx, k.region, &lighthouse.InquirePriceCreateInstancesRequest{
		BundleId: k.bundle, BlueprintId: k.blueprint, InstanceCount: 1,
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: int64(k.period)},
	})
	if err != nil {
		return priceAnswer{err: err}
	}
	return priceAnswer{price: resp.Price.InstancePrice}
}

// askPrices asks the price of each of keys at once and returns the
// answers once all have come.
func (r *Reconciler) askPrices(ctx context.Context, keys []priceKey) map[priceKey]priceAnswer {
	prices := make(map[priceKey]priceAnswer, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			a := r.askPrice(ctx, k)
			mu.Lock()
			prices[k] = a
			mu.Unlock()
		})
	}
	wg.Wait()
	return prices
}

// price asks InquirePriceCreateInstances once per distinct region, bundle,
// blueprint and period of p's creates, and fills in each fleet's money.
func (r *Reconciler) price(ctx context.Context, p *Plan) { r.priceWith(ctx, p, nil) }

// priceWith is price with the answers known already (asked ahead): only
// the keys they miss are asked.
func (r *Reconciler) priceWith(ctx context.Context, p *Plan, known map[priceKey]priceAnswer) {
	var keys []priceKey
	for _, fp := range p.Fleets {
		for i := range fp.Creates {
			k := createKey(fp.Region, &fp.Creates[i])
			if _, ok := known[k]; !ok && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	prices := r.askPrices(ctx, keys)
	for k, a := range known {
		prices[k] = a
	}
	for _, fp := range p.Fleets {
		for _, c := range fp.Creates {
			a := prices[createKey(fp.Region, &c)]
			if a.err != nil {
				fp.Money.Unknown = true
				fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("price unknown: %v", a.err))
				continue
			}
			fp.Money.Currency = a.price.Currency
			fp.Money.Commitment += a.price.DiscountPrice
			if c.Period > 0 {
				fp.Money.Monthly += a.price.DiscountPrice / float64(c.Period)
			}
		}
		fp.Money.Monthly, fp.Money.Commitment = round2(fp.Money.Monthly), round2(fp.Money.Commitment)
	}
}

// dryRun sends one DryRun create per distinct creation shape (fleet and
// zone) and turns a refusal into the fleet's error.
func (r *Reconciler) dryRun(ctx context.Context, p *Plan) {
	var wg sync.WaitGroup
	for _, fp := range p.Fleets {
		if fp.Error != nil || len(fp.Creates) == 0 {
			continue
		}
		wg.Go(func() {
			pw, err := r.password(ctx, fp)
			if err != nil {
				fp.Error = passwordError(err)
				return
			}
			zones := map[string]bool{}
			for _, c := range fp.Creates {
				if zones[c.Zone] {
					continue
				}
				zones[c.Zone] = true
				req, err := c.sendable(fp.Region, fp.Fleet, c.Incarnation, pw)
				if err != nil {
					fp.Error = &FleetError{Message: err.Error()}
					return
				}
				// No token: a service that remembered the slot's token for a
				// DryRun could answer the real create later with the DryRun's
				// empty ID set. A DryRun buys nothing, so retrying it
				// without a token is safe. (req is a copy: the plan's
				// request keeps its token.)
				req.DryRun, req.ClientToken = true, ""
				if _, err := r.cloud.CreateInstances(ctx, fp.Region, req); err != nil && lighthouse.ErrorCode(err) != "DryRunOperation" {
					fp.Error = fleetError(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// password resolves a fleet plan's login password under ctx, "" when it
// uses none. A password file is read as spec.ReadPasswordFile reads it: a
// regular file, a few hundred bytes at most, so no source can hold up the
// run.
func (r *Reconciler) password(ctx context.Context, fp *FleetPlan) (string, error) {
	if fp.passwordFrom == nil {
		return "", nil
	}
	return fp.passwordFrom.Resolve(ctx, r.opts.Getenv)
}

// passwordError is the fleet error of a password that could not be had.
func passwordError(err error) *FleetError {
	return &FleetError{Field: "spec.login.passwordFrom", Message: err.Error()}
}

// total sums the fleets into the plan's totals.
func (p *Plan) total() {
	p.Totals = Totals{}
	for _, fp := range p.Fleets {
		if !fp.acts() {
			continue
		}
		p.Totals.Creates += len(fp.Creates)
		p.Totals.Isolates += fp.isolations()
		p.Totals.Updates += fp.updates()
		m := &p.Totals.Money
		if fp.Money.Currency != "" {
			m.Currency = fp.Money.Currency
		}
		m.Monthly = round2(m.Monthly + fp.Money.Monthly)
		m.Commitment = round2(m.Commitment + fp.Money.Commitment)
		m.Unknown = m.Unknown || fp.Money.Unknown
		p.totalRenewals(fp)
	}
	p.ID = p.computeID()
}

func round2(f float64) float64 {
	if f < 0 {
		return -round2(-f)
	}
	return float64(int64(f*100+0.5)) / 100
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
