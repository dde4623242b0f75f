package reconcile_test

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The engine's cost at scale (issue 21, goal 5): fleets of 10 instances
// spread over five regions, every fleet at its count, observed from the
// Fake's instances served as a fixed listing, so that what is measured is the engine (Observe, Settle,
// Diff), not HTTP or JSON. The sizes grow tenfold; the per-instance
// metrics should stay flat.

var scaleRegions = []string{"ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-hongkong", "ap-singapore"}

// scaleSizes are the instance counts measured.
var scaleSizes = []int{1_000, 10_000, 100_000}

// regionFleets returns n fleets of 10 instances, round robin over
// scaleRegions.
func regionFleets(tb testing.TB, n int) []*spec.Fleet {
	tb.Helper()
	files := fstest.MapFS{}
	var b strings.Builder
	for i := range n {
		b.WriteString(fleetgen.Minimal(fmt.Sprintf("f%05d", i), scaleRegions[i%len(scaleRegions)], 10))
		if (i+1)%1000 == 0 || i == n-1 {
			// 1,000 fleets a file, under the loader's size limit.
			files[fmt.Sprintf("fleets-%03d.yaml", i/1000)] = &fstest.MapFile{Data: []byte(b.String())}
			b.Reset()
		}
	}
	fleets, err := spec.Load(files, spec.Options{MaxTotalCount: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return fleets
}

// filledFake returns a Fake holding every instance of fleets, RUNNING, and
// its clock.
func filledFake(tb testing.TB, fleets []*spec.Fleet) (*reconciletest.Fake, *emulator.ManualClock) {
	tb.Helper()
	clock := emulator.NewManualClock(reconciletest.Epoch)
	cloud := reconciletest.NewFake(clock)
	cloud.Quota = -1
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Concurrency: 64})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		tb.Fatal(err)
	}
	if res, err := r.Apply(context.Background(), p, true); err != nil || !res.OK() {
		tb.Fatalf("fill: %v, %+v", err, res)
	}
	clock.Advance(time.Hour)
	return cloud, clock
}

// staticCloud serves a fixed listing per region, at no cost of its own, so
// that a benchmark of Plan measures the engine. Only Instances is
// implemented: a steady-state plan calls nothing else (the nil
// reconcile.Cloud would panic if it did).
type staticCloud struct {
	reconcile.Cloud
	byRegion map[string][]lighthouse.Instance
}

func (c *staticCloud) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		for _, in := range c.byRegion[region] {
			if !yield(in, nil) {
				return
			}
		}
	}
}

// listing returns cloud's instances as a staticCloud, by region (the
// zone less its last part).
func listing(cloud *reconciletest.Fake) *staticCloud {
	c := &staticCloud{byRegion: map[string][]lighthouse.Instance{}}
	for _, in := range cloud.All() {
		region := in.Zone[:strings.LastIndexByte(in.Zone, '-')]
		c.byRegion[region] = append(c.byRegion[region], in)
	}
	return c
}

// TestScaleFillSteady: the benchmarks' setup is what they claim, a steady
// state over five regions (no change to plan), at the smallest size.
func TestScaleFillSteady(t *testing.T) {
	fleets := regionFleets(t, 100)
	cloud, clock := filledFake(t, fleets)
	p, err := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}).Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes() {
		t.Fatalf("steady state plan has changes: %+v", p.Totals)
	}
	if got := len(cloud.All()); got != 1000 {
		t.Fatalf("%d instances, want 1000", got)
	}
	static := listing(cloud)
	if len(static.byRegion) != len(scaleRegions) {
		t.Fatalf("snapshot of %d regions, want %d", len(static.byRegion), len(scaleRegions))
	}
	if p, err := reconcile.New(static, nil, reconcile.Options{Now: clock.Now}).Plan(context.Background(), fleets); err != nil || p.Changes() {
		t.Fatalf("steady state plan from the snapshot: %v, %+v", err, p)
	}
	regions := map[string]bool{}
	for _, fp := range p.Fleets {
		regions[fp.Region] = true
	}
	if len(regions) != len(scaleRegions) {
		t.Fatalf("plan spans %d regions, want %d", len(regions), len(scaleRegions))
	}
}

// reportPerInstance adds the per-instance metrics of one op over n
// instances, from the benchmark's own counters.
func reportPerInstance(b *testing.B, n int, before, after *runtime.MemStats) {
	ops := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops/float64(n), "ns/instance")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/ops/float64(n), "allocs/instance")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/ops/float64(n), "B/instance")
}

// liveMB returns the heap that what make returns holds, in MB: the live
// heap with it less the live heap once it is dropped.
func liveMB(make func() any) float64 {
	var with, without runtime.MemStats
	v := make()
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(v)
	v = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	return float64(int64(with.HeapAlloc)-int64(without.HeapAlloc)) / (1 << 20)
}

// BenchmarkPlanFiveRegions is a whole steady-state Plan (five sweeps of
// a static listing, Settle, Diff) by a fresh reconciler, as a one-shot run makes
// it; plan-MB is what the plan and its observations hold once made.
func BenchmarkPlanFiveRegions(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			fleets := regionFleets(b, n/10)
			fake, clock := filledFake(b, fleets)
			cloud := listing(fake)
			plan := func() *reconcile.Plan {
				p, err := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}).Plan(context.Background(), fleets)
				if err != nil {
					b.Fatal(err)
				}
				if p.Changes() {
					b.Fatalf("steady state plan has changes: %+v", p.Totals)
				}
				return p
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				plan()
			}
			runtime.ReadMemStats(&after)
			reportPerInstance(b, n, &before, &after)
			b.ReportMetric(liveMB(func() any { return plan() }), "plan-MB")
		})
	}
}

// BenchmarkDiffFiveRegions is Diff alone over observations made once.
func BenchmarkDiffFiveRegions(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			fleets := regionFleets(b, n/10)
			cloud, clock := filledFake(b, fleets)
			obs := map[string]*reconcile.Observation{}
			for _, region := range scaleRegions {
				var of []*spec.Fleet
				for _, f := range fleets {
					if f.Spec.Region == region {
						of = append(of, f)
					}
				}
				o, err := reconcile.Observe(context.Background(), cloud, region, of, clock.Now())
				if err != nil {
					b.Fatal(err)
				}
				obs[region] = o
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if p := reconcile.Diff(fleets, obs, nil, clock.Now(), reconcile.DiffOptions{}); p.Changes() {
					b.Fatal("diff has changes")
				}
			}
			runtime.ReadMemStats(&after)
			reportPerInstance(b, n, &before, &after)
		})
	}
}
