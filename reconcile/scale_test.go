package reconcile_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// fleetDoc is the YAML of one fleet of count in ap-guangzhou.
func fleetDoc(name string, count int) string { return fleetgen.Minimal(name, "ap-guangzhou", count) }

// loadSpec loads fleets from YAML.
func loadSpec(tb testing.TB, yaml string) []*spec.Fleet {
	tb.Helper()
	fleets, err := spec.Load(fstest.MapFS{"fleets.yaml": {Data: []byte(yaml)}}, spec.Options{MaxTotalCount: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return fleets
}

// genFleets returns n fleets of count each in ap-guangzhou.
func genFleets(tb testing.TB, n, count int) []*spec.Fleet {
	tb.Helper()
	var b strings.Builder
	for i := range n {
		b.WriteString(fleetDoc(fmt.Sprintf("f%04d", i), count))
	}
	return loadSpec(tb, b.String())
}

// scaleEnv is an emulator on httptest with a client; rate is the
// CreateInstances limit on both sides (0: none).
type scaleEnv struct {
	h      *emulatortest.Harness
	srv    *emulator.Server
	client *lighthouse.Client
	clock  emulator.Clock
}

func newScaleEnv(tb testing.TB, createRate float64, tune ...func(*emulator.Config)) *scaleEnv {
	tb.Helper()
	cfg := emulator.Config{RateLimits: emulator.NoRateLimits(), MaxClockSkew: -1, Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}}
	opts := []emulatortest.Option{
		emulatortest.WithStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = 0 }), // the client's default retries
	}
	if createRate > 0 {
		cfg.RateLimits = emulator.DefaultRateLimits()
		cfg.RateLimits[lighthouse.ActionDescribeInstances] = 0
		// Rate limits refill with the emulator's clock: a real one here.
		opts = append(opts, emulatortest.RealTime(),
			emulatortest.WithClientRateLimits(map[string]float64{lighthouse.ActionDescribeInstances: 0}))
	}
	for _, f := range tune {
		f(&cfg)
	}
	h := emulatortest.New(tb, cfg, opts...)
	return &scaleEnv{h, h.Server, h.Client, h.Config.Clock}
}

// fill creates every slot of fleets and lets them reach RUNNING.
func (e *scaleEnv) fill(tb testing.TB, fleets []*spec.Fleet) {
	tb.Helper()
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now, Concurrency: 64})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		tb.Fatal(err)
	}
	if res, err := r.Apply(context.Background(), p, true); err != nil || !res.OK() {
		tb.Fatalf("fill: %v, %+v", err, res)
	}
	e.advance(time.Minute)
}

// advance moves a manual clock.
func (e *scaleEnv) advance(d time.Duration) {
	if e.h.Clock != nil {
		e.h.Clock.Advance(d)
	}
}

// apiCalls returns the calls the emulator answered, by action.
func (e *scaleEnv) apiCalls() map[string]int {
	out := map[string]int{}
	for action, codes := range e.srv.Stats() {
		for _, n := range codes {
			out[action] += n
		}
	}
	return out
}

// steadyRun is one plan+apply by a fresh reconciler (no state: a one-shot
// run) over fleets that are all at their count; it returns the API calls it
// made.
func steadyRun(tb testing.TB, e *scaleEnv, fleets []*spec.Fleet) map[string]int {
	tb.Helper()
	before := e.apiCalls()
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		tb.Fatal(err)
	}
	if p.Changes() {
		tb.Fatalf("steady state plan has changes: %+v", p.Totals)
	}
	if _, err := r.Apply(context.Background(), p, false); err != nil {
		tb.Fatal(err)
	}
	calls := map[string]int{}
	for a, n := range e.apiCalls() {
		if d := n - before[a]; d > 0 {
			calls[a] = d
		}
	}
	return calls
}

// TestSteadyStateCalls: a run over fleets at their count makes one
// DescribeInstances page per 100 instances and no other call.
func TestSteadyStateCalls(t *testing.T) {
	e := newScaleEnv(t, 0)
	fleets := genFleets(t, 100, 10) // 1,000 instances
	e.fill(t, fleets)
	calls := steadyRun(t, e, fleets)
	if want := map[string]int{lighthouse.ActionDescribeInstances: 10}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("steady-state run made %v, want %v", calls, want)
	}
}

// BenchmarkSteadyState1000Fleets10000Instances measures a steady-state
// run at the size and reports its API calls.
func BenchmarkSteadyState1000Fleets10000Instances(b *testing.B) {
	e := newScaleEnv(b, 0)
	fleets := genFleets(b, 1000, 10)
	e.fill(b, fleets)
	var calls map[string]int
	for b.Loop() {
		calls = steadyRun(b, e, fleets)
	}
	total := 0
	for _, n := range calls {
		total += n
	}
	b.ReportMetric(float64(calls[lighthouse.ActionDescribeInstances]), "DescribeInstances/run")
	b.ReportMetric(float64(total), "calls/run")
}

// BenchmarkDiff1000Fleets10000Instances measures the pure diff at the
// issue's size, with its peak heap.
func BenchmarkDiff1000Fleets10000Instances(b *testing.B) {
	e := newScaleEnv(b, 0)
	fleets := genFleets(b, 1000, 10)
	e.fill(b, fleets)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	obs, err := reconcile.Observe(context.Background(), e.client, "ap-guangzhou", fleets, e.clock.Now())
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	regions := map[string]*reconcile.Observation{"ap-guangzhou": obs}
	b.ReportAllocs()
	var p *reconcile.Plan
	for b.Loop() {
		p = reconcile.Diff(fleets, regions, nil, e.clock.Now(), reconcile.DiffOptions{})
	}
	if p.Changes() {
		b.Fatal("diff has changes")
	}
	// The observation the diff reads, as it stays in memory.
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "observation-MB")
}

// BenchmarkCreate300AtRateLimit creates 300 missing slots with the
// emulator enforcing CreateInstances at 5/s and the client keeping to it;
// the lower bound is 300 / 5 = 60 s. Run with -benchtime 1x.
func BenchmarkCreate300AtRateLimit(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newScaleEnv(b, 5)
		fleets := genFleets(b, 30, 10)
		r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now, Concurrency: 300})
		p, err := r.Plan(context.Background(), fleets)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := r.Apply(context.Background(), p, true)
		wall := time.Since(start)
		if err != nil || !res.OK() || res.Created != 300 {
			b.Fatalf("apply: %v %+v", err, res)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(wall.Seconds()/60, "ratio-to-60s")
		b.ReportMetric(float64(e.srv.Calls(lighthouse.ActionCreateInstances, "RequestLimitExceeded")), "RequestLimitExceeded")
	}
}

// manual returns the manual clock of an env made without a rate.
func (e *scaleEnv) manual() *emulator.ManualClock { return e.h.Clock }

// BenchmarkPlanFocused1000Fleets10000Instances measures the plan of a
// push (issue 21, goal 1) at the size: one fleet observed with
// filtered DescribeInstances and priced, after a full plan has recorded
// the region's sweep. The emulator answers in the same process, without
// rate limits: this is the engine's and client's own cost.
func BenchmarkPlanFocused1000Fleets10000Instances(b *testing.B) {
	e := newScaleEnv(b, 0)
	fleets := genFleets(b, 1000, 10)
	e.fill(b, fleets)
	ctx := context.Background()
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now, Tags: true})
	if _, err := r.Plan(ctx, fleets); err != nil {
		b.Fatal(err)
	}
	before := e.apiCalls()[lighthouse.ActionDescribeInstances]
	runs := 0
	for b.Loop() {
		runs++
		p, err := r.PlanFocused(ctx, fleets, []string{"f0500"})
		if err != nil {
			b.Fatal(err)
		}
		if p.Changes() {
			b.Fatalf("a focused plan of a fleet at its count has changes: %+v", p.Totals)
		}
	}
	b.ReportMetric(float64(e.apiCalls()[lighthouse.ActionDescribeInstances]-before)/float64(runs), "DescribeInstances/op")
}
