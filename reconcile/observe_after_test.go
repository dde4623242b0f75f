package reconcile_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
)

// TestObserveAfterApply: Observe reports the fleets as the cloud shows them
// after an apply: what a create returned and Describe does not list yet
// is Expected, nothing is left to create, and no price is asked and no
// create sent. What it returns is never applied. Once the instances are
// listed, Instances returns them with the IDs the creates returned.
func TestObserveAfterApply(t *testing.T) {
	cloud, clock := fakeCloud()
	cloud.DescribeLag = time.Minute
	fleets := fleetsOf(t, web(2))
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	_, res := once(t, r, fleets)
	if res.Created != 2 {
		t.Fatalf("apply: %+v", res)
	}
	created := map[string]bool{}
	for _, c := range res.Fleets[0].Created {
		created[c.InstanceID] = true
	}
	prices, creates := cloud.Calls(lighthouse.ActionInquirePriceCreateInstances), cloud.Calls(lighthouse.ActionCreateInstances)

	ctx := context.Background()
	after, err := r.Observe(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	fp := after.Fleets[0]
	if fp.Desired != 2 || fp.Live != 0 || fp.Expected != 2 || len(fp.Creates) != 0 || after.Totals.Creates != 0 {
		t.Errorf("right after the apply: desired %d live %d expected %d creates %d; want 2, 0, 2 (not listed yet), 0", fp.Desired, fp.Live, fp.Expected, len(fp.Creates))
	}
	if n := len(after.Instances("web")); n != 0 {
		t.Errorf("%d instances listed before the Describe lag passed", n)
	}
	if _, err := r.Apply(ctx, after, true); !errors.Is(err, reconcile.ErrNotPriced) {
		t.Errorf("Apply(Observe's) = %v, want ErrNotPriced", err)
	}

	clock.Advance(2 * time.Minute)
	after, err = r.Observe(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	fp = after.Fleets[0]
	if fp.Live != 2 || fp.Expected != 0 {
		t.Errorf("once listed: live %d expected %d; want 2, 0", fp.Live, fp.Expected)
	}
	ins := after.Instances("web")
	if len(ins) != 2 || !created[ins[0].ID] || !created[ins[1].ID] || ins[0].Slot != 0 || ins[1].Slot != 1 {
		t.Errorf("Instances(web) = %+v; want the two created, by slot", ins)
	}
	if got := after.Instances("api"); got != nil {
		t.Errorf("Instances of a fleet not in the plan: %+v", got)
	}
	if p := cloud.Calls(lighthouse.ActionInquirePriceCreateInstances); p != prices {
		t.Errorf("Observe asked %d prices", p-prices)
	}
	if c := cloud.Calls(lighthouse.ActionCreateInstances); c != creates {
		t.Errorf("Observe sent %d creates", c-creates)
	}
}

// TestObservePublicIPs: an instance's public addresses, as the emulator
// lists them once it runs, are kept for the status page.
func TestObservePublicIPs(t *testing.T) {
	env := reconciletest.EmulatorEnv(t, reconciletest.Config{LaunchDelay: time.Second})
	fleets := fleetsOf(t, web(1))
	r := reconcile.New(env.Cloud, nil, reconcile.Options{Now: env.Now})
	once(t, r, fleets)
	env.Advance(time.Minute)
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	ins := p.Instances("web")
	if len(ins) != 1 || ins[0].State != lighthouse.StateRunning || len(ins[0].PublicIPs) != 1 {
		t.Fatalf("Instances(web) = %+v; want one RUNNING with a public IP", ins)
	}
	if _, err := netip.ParseAddr(ins[0].PublicIPs[0]); err != nil {
		t.Errorf("public IP %q: %v", ins[0].PublicIPs[0], err)
	}
}
