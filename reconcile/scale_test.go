package reconcile_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
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
	url    string
	srv    *emulator.Server
	client *lighthouse.Client
	clock  emulator.Clock
}

func newScaleEnv(tb testing.TB, createRate float64, tune ...func(*emulator.Config)) *scaleEnv {
	tb.Helper()
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	limits := emulator.NoRateLimits()
	clientLimits := map[string]float64{}
	for a := range limits {
		clientLimits[a] = 0
	}
	if createRate > 0 {
		limits = emulator.DefaultRateLimits()
		limits[lighthouse.ActionDescribeInstances] = 0
		clientLimits = map[string]float64{lighthouse.ActionDescribeInstances: 0}
	}
	var c emulator.Clock = clock
	if createRate > 0 {
		// Rate limits refill with the emulator's clock: a real one here.
		c = realClock{}
	}
	cfg := emulator.Config{Credentials: map[string]string{"AKIDscale": "k"}, Clock: c, RateLimits: limits,
		MaxClockSkew: -1, Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}}
	for _, f := range tune {
		f(&cfg)
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	cl, err := lighthouse.New(lighthouse.Options{Credential: lighthouse.NewCredential("AKIDscale", "k", "", "t"), Endpoint: hs.URL, RateLimits: clientLimits,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return &scaleEnv{hs.URL, srv, cl, c}
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
	if m, ok := e.clock.(*emulator.ManualClock); ok {
		m.Advance(d)
	}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

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
func (e *scaleEnv) manual() *emulator.ManualClock { return e.clock.(*emulator.ManualClock) }
