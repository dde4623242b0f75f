package reconcile_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// bulk is the count of a fleet that makes the region three pages, so that
// a filtered view (two or three calls) is cheaper than a sweep.
const bulk = 250

// unlimited lifts the emulator's instance quota.
var unlimited = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}

// A focused plan creates the empty slots of the fleets it is given, and
// nothing of the others (myweb's missing slot waits for the full plan),
// from filtered calls only; the full plan after it sees the creates as
// expected and creates only what the focused one left.
func TestPlanFocusedCreatesOnlyTheFocusFleets(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), InstanceNameMatch: emulator.NameSubstring, Quotas: unlimited})
	ctx := context.Background()
	r := reconcile.New(h.Client, nil, reconcile.Options{Tags: true, Now: h.Clock.Now})
	apply(t, r, focusFleets(t, "", "web", 4, "myweb", 3, "bulk", bulk))
	apply(t, r, focusFleets(t, "", "web", 4, "myweb", 3, "bulk", bulk)) // settles
	srv := h.Server
	if err := srv.DeleteInstance(idOf(t, srv, "myweb-0")); err != nil {
		t.Fatal(err)
	}
	fleets := focusFleets(t, "", "web", 6, "myweb", 3, "bulk", bulk)
	calls := srv.Calls(lighthouse.ActionDescribeInstances, "")
	p, err := r.PlanFocused(ctx, fleets, []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(lighthouse.ActionDescribeInstances, "") - calls; n != 2 {
		t.Errorf("%d DescribeInstances calls, want 2 (names, tag), not a sweep of 3 pages", n)
	}
	if len(p.Fleets) != 1 || p.Fleets[0].Fleet != "web" {
		t.Fatalf("plan fleets %+v; want web alone", p.Fleets)
	}
	var got []int
	for _, c := range p.Fleets[0].Creates {
		got = append(got, c.Slot)
	}
	if !slices.Equal(got, []int{4, 5}) || p.Totals.Creates != 2 || p.Totals.Money.Monthly <= 0 {
		t.Fatalf("creates %v (totals %+v); want slots 4, 5, priced", got, p.Totals)
	}
	if p.Check(reconcile.NoLimits()) {
		t.Fatal("over no limits")
	}
	res, err := r.Apply(ctx, p, false)
	if err != nil || res.Created != 2 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	full, err := r.Plan(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range full.Fleets {
		want := map[string]int{"web": 0, "myweb": 1, "bulk": 0}[fp.Fleet]
		if len(fp.Creates) != want {
			t.Errorf("full plan: fleet %s creates %d, want %d (%s)", fp.Fleet, len(fp.Creates), want, summarize(full))
		}
		if fp.Fleet == "web" && fp.Live+fp.Expected != 6 {
			t.Errorf("full plan: web has %d live and %d expected, want 6 in all", fp.Live, fp.Expected)
		}
	}
}

// Each reason not to trust or not to afford a focused plan is a
// FocusFallback with its code, and nothing is created.
func TestPlanFocusedFallsBack(t *testing.T) {
	type setup struct {
		tags    bool
		extra   string // YAML lines of web's spec
		bulk    int
		swept   bool
		fault   bool
		focused string
	}
	for _, tc := range []struct {
		name string
		s    setup
		code string
	}{
		{"no tags", setup{tags: false, bulk: bulk, swept: true}, reconcile.FallbackNoTags},
		{"suspended", setup{tags: true, extra: "  suspend: true\n", bulk: bulk, swept: true}, reconcile.FallbackSuspended},
		{"rollout", setup{tags: true, extra: "  update: {strategy: replace, maxUnavailable: 0, maxSurge: 1}\n", bulk: bulk, swept: true}, reconcile.FallbackRollout},
		{"first cycle", setup{tags: true, bulk: bulk}, reconcile.FallbackNoSweep},
		{"small account", setup{tags: true, bulk: 0, swept: true}, reconcile.FallbackCalls},
		{"describe fails", setup{tags: true, bulk: bulk, swept: true, fault: true}, reconcile.FallbackDescribe},
		{"unknown fleet", setup{tags: true, bulk: bulk, swept: true, focused: "nope"}, reconcile.FallbackUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), Quotas: unlimited})
			ctx := context.Background()
			opts := reconcile.Options{Tags: tc.s.tags, Now: h.Clock.Now}
			var fleets []*spec.Fleet
			if tc.s.bulk > 0 {
				fleets = focusFleets(t, tc.s.extra, "web", 2, "bulk", tc.s.bulk)
			} else {
				fleets = focusFleets(t, tc.s.extra, "web", 2)
			}
			r := reconcile.New(h.Client, nil, opts)
			if tc.s.swept {
				apply(t, reconcile.New(h.Client, nil, reconcile.Options{Tags: true, Now: h.Clock.Now}), fleets)
				if _, err := r.Plan(ctx, fleets); err != nil {
					t.Fatal(err)
				}
			}
			creates := h.Server.Calls(lighthouse.ActionCreateInstances, "")
			if tc.s.fault {
				h.Server.InjectFault(emulator.Fault{Kind: emulator.FaultInternalError, Action: lighthouse.ActionDescribeInstances, Count: 100})
			}
			focus := "web"
			if tc.s.focused != "" {
				focus = tc.s.focused
			}
			p, err := r.PlanFocused(ctx, fleets, []string{focus})
			var fb *reconcile.FocusFallback
			if !errors.As(err, &fb) || fb.Code != tc.code || p != nil {
				t.Fatalf("PlanFocused: %v, %v; want a FocusFallback %s", p, err, tc.code)
			}
			if n := h.Server.Calls(lighthouse.ActionCreateInstances, "") - creates; n != 0 {
				t.Errorf("%d creates sent", n)
			}
		})
	}
}

// priceFirst is a Cloud whose filtered listings wait until a create has
// been priced: a focused plan that asked the price only once it had
// observed would wait for ever (the wait gives up after a minute and
// fails the listing, and the test).
type priceFirst struct {
	reconcile.Cloud
	priced chan struct{}
	once   sync.Once
}

func (c *priceFirst) InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	c.once.Do(func() { close(c.priced) })
	return c.Cloud.InquirePriceCreateInstances(ctx, region, req)
}

func (c *priceFirst) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	if req == nil || len(req.Filters)+len(req.InstanceIds) == 0 {
		return c.Cloud.Instances(ctx, region, req)
	}
	select {
	case <-c.priced:
		return c.Cloud.Instances(ctx, region, req)
	case <-time.After(time.Minute):
		return func(yield func(lighthouse.Instance, error) bool) {
			yield(lighthouse.Instance{}, errors.New("no create was priced while the fleets were observed"))
		}
	}
}

// A focused plan asks its creates' prices while it observes, not after:
// a push's first create waits for one round trip, not two. The price is
// asked once, and the plan is priced as before.
func TestPlanFocusedPricesWhileObserving(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), InstanceNameMatch: emulator.NameSubstring, Quotas: unlimited})
	ctx := context.Background()
	cloud := &priceFirst{Cloud: h.Client, priced: make(chan struct{})}
	r := reconcile.New(cloud, nil, reconcile.Options{Tags: true, Now: h.Clock.Now})
	apply(t, r, focusFleets(t, "", "web", 4, "bulk", bulk))
	apply(t, r, focusFleets(t, "", "web", 4, "bulk", bulk))     // settles
	cloud.priced, cloud.once = make(chan struct{}), sync.Once{} // the setup's creates were priced
	prices := h.Server.Calls(lighthouse.ActionInquirePriceCreateInstances, "")
	p, err := r.PlanFocused(ctx, focusFleets(t, "", "web", 6, "bulk", bulk), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Totals.Creates != 2 || p.Totals.Money.Monthly <= 0 || p.Fleets[0].Money.Unknown {
		t.Fatalf("totals %+v, money %+v; want 2 creates, priced", p.Totals, p.Fleets[0].Money)
	}
	if n := h.Server.Calls(lighthouse.ActionInquirePriceCreateInstances, "") - prices; n != 1 {
		t.Errorf("%d InquirePriceCreateInstances calls, want 1 (asked ahead, not again)", n)
	}
}
