package reconcile_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
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
	fleets, err := spec.Load(fstest.MapFS{"web.yaml": {Data: []byte(fleetYAML)}}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv, err := emulator.New(emulator.Config{Credentials: map[string]string{"AKIDx": "k"}, Clock: clock, RateLimits: emulator.NoRateLimits(), MaxClockSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, err := lighthouse.New(lighthouse.Options{Credential: lighthouse.NewCredential("AKIDx", "k", "", "t"), Endpoint: hs.URL,
		RateLimits: map[string]float64{lighthouse.ActionCreateInstances: 0, lighthouse.ActionDescribeInstances: 0}})
	if err != nil {
		t.Fatal(err)
	}
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
