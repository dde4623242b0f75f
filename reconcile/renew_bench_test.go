package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// BenchmarkRenew1000AtRateLimits measures a renewal run (plan and apply,
// one-shot, no state) for 1,000 instances of one region that all expire
// within renewBefore, with the emulator enforcing every action's
// documented rate limit on its real clock and the client keeping to them
// (burst 1: calls of one action leave at least 1/rate apart). Documented
// batches: InquirePriceRenewInstances 50 IDs (20 calls at 10/s: 1.9 s at
// least), RenewInstances 100 IDs (10 calls at 20/s: 0.45 s at least),
// DescribeInstances 100 a page (10 pages, then 10 confirmations by ID, at
// 100/s). The phases follow each other, so the lower bound is about
// 1.9 + 0.45 + 0.19 = 2.5 s. Run with -benchtime 1x.
func BenchmarkRenew1000AtRateLimits(b *testing.B) {
	// 10 fleets of 100 with renewBefore 7d, filled on a manual clock set
	// to now, every instance then set to expire in 2 days; the state moves
	// to an emulator on real time.
	var doc strings.Builder
	for i := range 10 {
		doc.WriteString(strings.Replace(fleetDoc(fmt.Sprintf("f%04d", i), 100), "charge: {period: 1}", "charge: {period: 1, renewBefore: 7d}", 1))
	}
	fleets := loadSpec(b, doc.String())
	fill := newScaleEnv(b, 0)
	fill.manual().Set(time.Now().Truncate(time.Second))
	fill.fill(b, fleets)
	for _, in := range fill.srv.Instances() {
		if err := fill.srv.SetExpiredTime(in.InstanceId, fill.clock.Now().Add(48*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	var state strings.Builder
	if err := fill.srv.SaveState(&state); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		h := emulatortest.New(b, emulator.Config{RateLimits: emulator.DefaultRateLimits(), MaxClockSkew: -1,
			Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}},
			emulatortest.RealTime(), emulatortest.WithClientRateLimits(nil), emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = 0 }))
		if err := h.Server.LoadState(strings.NewReader(state.String())); err != nil {
			b.Fatal(err)
		}
		r := reconcile.New(h.Client, nil, reconcile.Options{Concurrency: 64})
		b.StartTimer()
		start := time.Now()
		p, err := r.Plan(context.Background(), fleets)
		if err != nil {
			b.Fatal(err)
		}
		planned := time.Since(start)
		res, err := r.Apply(context.Background(), p, false)
		wall := time.Since(start)
		b.StopTimer()
		if err != nil || p.Totals.Renewals != 1000 || res.Renewed != 1000 || res.RenewFailed+res.RenewAmbiguous != 0 {
			b.Fatalf("renewal run: %v, %d planned, result %+v", err, p.Totals.Renewals, res)
		}
		calls, total := map[string]int{}, 0
		for action, codes := range h.Server.Stats() {
			for code, n := range codes {
				calls[action] += n
				total += n
				if code == "RequestLimitExceeded" {
					b.Errorf("%d %s refused for the rate limit", n, action)
				}
			}
		}
		if calls[lighthouse.ActionRenewInstances] != 10 || calls[lighthouse.ActionInquirePriceRenewInstances] != 20 {
			b.Errorf("calls %v: want 10 RenewInstances and 20 InquirePriceRenewInstances", calls)
		}
		b.Logf("calls %v; plan %.2f s, plan and apply %.2f s", calls, planned.Seconds(), wall.Seconds())
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(float64(total), "calls/run")
		b.ReportMetric(float64(calls[lighthouse.ActionDescribeInstances]), "DescribeInstances/run")
		b.ReportMetric(float64(calls[lighthouse.ActionInquirePriceRenewInstances]), "InquirePriceRenewInstances/run")
		b.ReportMetric(float64(calls[lighthouse.ActionRenewInstances]), "RenewInstances/run")
		b.StartTimer()
	}
}
