package lighthouse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

// BenchmarkSign measures computing one Authorization header for a
// create-sized body.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"BundleId":"bundle_gen_03","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1,"RenewFlag":"NOTIFY_AND_MANUAL_RENEW"},"InstanceName":"web-0","Zones":["ap-guangzhou-3"],"ClientToken":"lk1-2f7c9a0d4e5b6c7d8e9f0a1b2c3d4e5f","Tags":[{"Key":"lightkeeper-fleet","Value":"web"},{"Key":"lightkeeper-slot","Value":"0"}]}`)
	in := lighthouse.SignInput{Service: lighthouse.Service, Host: "lighthouse.tencentcloudapi.com", ContentType: "application/json", Timestamp: 1700000000, Body: body}
	b.ReportAllocs()
	for b.Loop() {
		lighthouse.Authorization("AKIDbench", "bench-secret", in)
	}
}

// BenchmarkSignedCall measures one complete call through the client
// (marshal, rate-limit check, sign, HTTP round trip on loopback, envelope
// check, decode): against a server answering a fixed envelope, which
// isolates the client's cost, and against the emulator, which verifies the
// signature. Allocations include the in-process server's.
func BenchmarkSignedCall(b *testing.B) {
	ctx := context.Background()
	b.Run("static-server", func(b *testing.B) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"Response":{"TotalCount":1,"ZoneInfoSet":[{"Zone":"ap-guangzhou-3","ZoneName":"Guangzhou Zone 3","InstanceDisplayLabel":"NORMAL"}],"RequestId":"b0e1c7a2-3d4f-4a5b-8c6d-7e8f9a0b1c2d"}}`)
		}))
		defer hs.Close()
		e := &emu{url: hs.URL}
		c := e.client(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.DescribeZones(ctx, emuRegion, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("emulator", func(b *testing.B) {
		e := newEmu(b, true, nil)
		c := e.client(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.DescribeZones(ctx, emuRegion, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fillEmulator creates n instances through the API, 30 per call.
func fillEmulator(b *testing.B, c *lighthouse.Client, n int) {
	b.Helper()
	for i := 0; i < n; i += 30 {
		req := newCreate(fmt.Sprintf("fill-%d", i), uint64(min(30, n-i)))
		if _, err := c.CreateInstances(context.Background(), emuRegion, req); err != nil {
			b.Fatal(err)
		}
	}
}

// heapSampler records the peak HeapAlloc above a baseline taken after a GC.
type heapSampler struct {
	base, peak uint64
	ms         runtime.MemStats
}

func newHeapSampler() *heapSampler {
	runtime.GC()
	s := &heapSampler{}
	runtime.ReadMemStats(&s.ms)
	s.base = s.ms.HeapAlloc
	return s
}

func (s *heapSampler) sample() {
	runtime.ReadMemStats(&s.ms)
	if s.ms.HeapAlloc > s.base && s.ms.HeapAlloc-s.base > s.peak {
		s.peak = s.ms.HeapAlloc - s.base
	}
}

// BenchmarkList10000 lists 10,000 instances from the emulator, all pages
// of 100, with the iterator (one page held at a time) and with the
// slice-returning DescribeInstances. It reports the pages fetched and the
// peak heap growth above the idle process (client and in-process emulator
// together), sampled once per page.
func BenchmarkList10000(b *testing.B) {
	const total = 10000
	e := newEmu(b, true, nil)
	c := e.client(b, nil)
	fillEmulator(b, c, total)
	ctx := context.Background()
	for _, mode := range []string{"iterator", "slice"} {
		b.Run(mode, func(b *testing.B) {
			var peak uint64
			before := e.srv.Calls(lighthouse.ActionDescribeInstances, "")
			runs := 0
			for b.Loop() {
				runs++
				s := newHeapSampler()
				n := 0
				switch mode {
				case "iterator":
					for _, err := range c.Instances(ctx, emuRegion, nil) {
						if err != nil {
							b.Fatal(err)
						}
						if n++; n%lighthouse.MaxPageSize == 0 {
							s.sample()
						}
					}
				case "slice":
					all, err := c.DescribeInstances(ctx, emuRegion, nil)
					if err != nil {
						b.Fatal(err)
					}
					s.sample()
					n = len(all)
				}
				if n != total {
					b.Fatalf("listed %d, want %d", n, total)
				}
				peak = max(peak, s.peak)
			}
			pages := e.srv.Calls(lighthouse.ActionDescribeInstances, "") - before
			b.ReportMetric(float64(pages)/float64(runs), "pages/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkBurst200Creates fires 200 concurrent CreateInstances, spread
// round-robin over three regions, at an emulator enforcing 5/s per action
// on real time, shared by every region as one access point is, through one
// client with its default limits (5/s, burst 1, one bucket per access
// point: here the emulator's host). At 5/s, 200 creates need about 40 s;
// the benchmark reports the wall time, its ratio to 40 s and how many
// RequestLimitExceeded answers the emulator gave. Run it with
// -run '^$' -bench Burst200 -benchtime 1x.
func BenchmarkBurst200Creates(b *testing.B) {
	const n, limit = 200, 5
	regions := []string{"ap-guangzhou", "ap-shanghai", "ap-beijing"}
	lowerBound := time.Duration(n/limit) * time.Second
	for b.Loop() {
		b.StopTimer()
		e := newEmu(b, false, func(cfg *emulator.Config) {
			cfg.RateLimits = emulator.NoRateLimits()
			cfg.RateLimits[lighthouse.ActionCreateInstances] = limit
		})
		c := e.client(b, func(o *lighthouse.Options) {
			o.RateLimits = nil // the defaults: CreateInstances 5/s
			o.RetryWaitMin, o.RetryWaitMax = lighthouse.DefaultRetryWaitMin, lighthouse.DefaultRetryWaitMax
		})
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		for i := range n {
			wg.Go(func() {
				if _, err := c.CreateInstances(context.Background(), regions[i%len(regions)], newCreate(fmt.Sprintf("burst200-%d", i), 1)); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		wall := time.Since(start)
		if len(failures) > 0 {
			b.Fatalf("%d creates failed: %s", len(failures), strings.Join(failures[:min(3, len(failures))], "; "))
		}
		if got := len(e.srv.Instances()); got != n {
			b.Fatalf("%d instances, want %d", got, n)
		}
		limited := e.srv.Calls(lighthouse.ActionCreateInstances, "RequestLimitExceeded")
		ratio := wall.Seconds() / lowerBound.Seconds()
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(ratio, "ratio-to-40s")
		b.ReportMetric(float64(limited), "RequestLimitExceeded")
		if limited != 0 || ratio < 0.95 || ratio > 1.05 {
			b.Errorf("%d RequestLimitExceeded, wall %.2f s (ratio %.3f); want 0 and within 5%% of %v", limited, wall.Seconds(), ratio, lowerBound)
		}
	}
}

// BenchmarkSweep100Pages lists 10,000 instances (100 pages of 100) with a
// client keeping to DescribeInstances' documented 100 requests/s (its
// default bucket, burst 1), from an emulator whose every answer is held
// back by a simulated network round trip. One page at a time, a sweep
// takes about 100 × max(round trip, 10 ms); with the pages after the first
// asked for concurrently it approaches the rate bound, 99 intervals of
// 10 ms = 0.99 s, whatever the round trip. The floor with a round trip is
// a little higher: the first page must arrive before the others can be
// asked for (the total is not known before), and the last one takes a
// round trip too, so 2 × round trip + 98 × 10 ms. It reports the wall time
// of a sweep, its ratio to the rate bound and to that floor, the pages per
// sweep, and the peak heap growth (client and in-process emulator
// together), sampled once per page. Run it with -run '^$' -bench Sweep100Pages -benchtime 3x.
func BenchmarkSweep100Pages(b *testing.B) {
	const total = 10000
	const bound = 990 * time.Millisecond
	for _, rtt := range []time.Duration{0, 30 * time.Millisecond, 100 * time.Millisecond} {
		h := emulatortest.New(b, emulator.Config{RateLimits: emulator.NoRateLimits(), LaunchDelay: -1,
			Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}},
			emulatortest.WithHandler(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("X-TC-Action") == lighthouse.ActionDescribeInstances {
						time.Sleep(rtt)
					}
					next.ServeHTTP(w, r)
				})
			}))
		fillEmulator(b, h.Client, total)
		for _, conc := range []int{1, 0} {
			name := fmt.Sprintf("rtt=%s/pages=concurrent", rtt)
			if conc == 1 {
				name = fmt.Sprintf("rtt=%s/pages=one-at-a-time", rtt)
			}
			b.Run(name, func(b *testing.B) {
				c := h.NewClient(b, func(o *lighthouse.Options) {
					o.RateLimits[lighthouse.ActionDescribeInstances] = 100
					o.PageConcurrency = conc
				})
				before := h.Server.Calls(lighthouse.ActionDescribeInstances, "")
				var wall time.Duration
				var peak uint64
				runs := 0
				for b.Loop() {
					s := newHeapSampler()
					start := time.Now()
					n := 0
					for _, err := range c.Instances(context.Background(), emuRegion, nil) {
						if err != nil {
							b.Fatal(err)
						}
						if n++; n%lighthouse.MaxPageSize == 0 {
							s.sample()
						}
					}
					wall += time.Since(start)
					peak = max(peak, s.peak)
					runs++
					if n != total {
						b.Fatalf("listed %d, want %d", n, total)
					}
				}
				per := wall / time.Duration(runs)
				floor := 2*rtt + 980*time.Millisecond
				b.ReportMetric(per.Seconds(), "sweep-s")
				b.ReportMetric(per.Seconds()/bound.Seconds(), "ratio-to-bound")
				b.ReportMetric(per.Seconds()/floor.Seconds(), "ratio-to-floor")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(h.Server.Calls(lighthouse.ActionDescribeInstances, "")-before)/float64(runs), "pages/op")
			})
		}
	}
}
