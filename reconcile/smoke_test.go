package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

const fleetYAML = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: web
spec:
  region: ap-guangzhou
  count: 3
  bundleId: bundle_gen_01
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
`

func TestSmoke(t *testing.T) {
	fleets := loadSpec(t, fleetYAML)
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()}, emulatortest.WithStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	c, srv, clock := h.Client, h.Server, h.Clock
	r := reconcile.New(c, nil, reconcile.Options{Now: clock.Now})
	ctx := context.Background()
	p, err := r.Plan(ctx, fleets)
	if err != nil {
		t.Fatal(err)
	}
	if p.Totals.Creates != 3 {
		t.Fatalf("plan creates %d, want 3: %+v", p.Totals.Creates, p.Fleets[0])
	}
	res, err := r.Apply(ctx, p, false)
	if err != nil || !res.OK() || res.Created != 3 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	p, err = r.Plan(ctx, fleets)
	if err != nil || p.Changes() {
		t.Fatalf("second plan: %v %+v", err, p.Fleets[0])
	}
	if n := len(srv.Instances()); n != 3 {
		t.Fatalf("%d instances", n)
	}
}
