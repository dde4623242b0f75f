package lighthouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

// afterPage runs hook right after the n-th DescribeInstances response
// arrived (after every one when n is 0), before the next page is asked for.
type afterPage struct {
	base http.RoundTripper
	n    int32
	seen atomic.Int32
	hook func()
}

func (a *afterPage) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if r.Header.Get("X-TC-Action") == lighthouse.ActionDescribeInstances && (a.seen.Add(1) == a.n || a.n == 0) {
		a.hook()
	}
	return resp, err
}

// TestInstancesSweepSurvivesListChanges: offset paging over a list that
// changes between pages shifts the pages. An instance that existed through
// the whole sweep must still be listed: a reconciler that misses one
// thinks its slot is empty and buys another.
func TestInstancesSweepSurvivesListChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *emu, c *lighthouse.Client, page1 []string) error
	}{
		{"an instance of page 1 deleted", func(e *emu, _ *lighthouse.Client, page1 []string) error {
			return e.srv.DeleteInstance(page1[0])
		}},
		{"an instance of page 2 isolated moves to the front", func(e *emu, c *lighthouse.Client, _ []string) error {
			all := e.srv.Instances() // oldest first: the oldest is last in the default order
			_, err := c.IsolateInstances(context.Background(), emuRegion, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{all[0].InstanceId}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEmu(t, true, func(c *emulator.Config) { c.LaunchDelay, c.OperationDelay = -1, -1 })
			plain := e.client(t, nil)
			ctx := context.Background()
			for i := range 5 {
				if _, err := plain.CreateInstances(ctx, emuRegion, newCreate(fmt.Sprintf("shift-%d", i), 30)); err != nil {
					t.Fatal(err)
				}
			}
			var hookErr error
			rt := &afterPage{base: http.DefaultTransport, n: 1}
			c := e.client(t, func(o *lighthouse.Options) { o.HTTPClient = &http.Client{Transport: rt} })
			rt.hook = func() {
				page, err := plain.DescribeInstancesPage(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{Limit: 100})
				if err != nil {
					hookErr = err
					return
				}
				var ids []string
				for _, in := range page.InstanceSet {
					ids = append(ids, in.InstanceId)
				}
				hookErr = tc.change(e, plain, ids)
			}
			got := map[string]int{}
			for in, err := range c.Instances(ctx, emuRegion, nil) {
				if err != nil {
					t.Fatal(err)
				}
				got[in.InstanceId]++
			}
			if hookErr != nil {
				t.Fatal(hookErr)
			}
			for _, in := range e.srv.Instances() {
				if got[in.InstanceId] != 1 {
					t.Errorf("%s (%s) listed %d times; want once", in.InstanceId, in.InstanceState, got[in.InstanceId])
				}
			}
		})
	}
}

// TestInstancesSweepGivesUpOnEndlessChange: when every page finds the list
// changed, the iterator stops after a bounded number of sweeps with a
// retry-later error instead of a listing that may miss instances.
func TestInstancesSweepGivesUpOnEndlessChange(t *testing.T) {
	e := newEmu(t, true, nil)
	plain := e.client(t, nil)
	ctx := context.Background()
	for i := range 5 {
		if _, err := plain.CreateInstances(ctx, emuRegion, newCreate(fmt.Sprintf("churn-%d", i), 30)); err != nil {
			t.Fatal(err)
		}
	}
	var made atomic.Int32
	rt := &afterPage{base: http.DefaultTransport}
	rt.hook = func() {
		if _, err := plain.CreateInstances(ctx, emuRegion, newCreate(fmt.Sprintf("churn-more-%d", made.Add(1)), 1)); err != nil {
			t.Error(err)
		}
	}
	c := e.client(t, func(o *lighthouse.Options) { o.HTTPClient = &http.Client{Transport: rt} })
	var last error
	n := 0
	for _, err := range c.Instances(ctx, emuRegion, nil) {
		if err != nil {
			last = err
			continue
		}
		n++
	}
	if lighthouse.ErrorCode(last) != lighthouse.CodeListChanging || lighthouse.ClassOf(last) != lighthouse.RetryLater {
		t.Fatalf("iteration ended with %v (class %v); want %s, retry-later", last, lighthouse.ClassOf(last), lighthouse.CodeListChanging)
	}
	if pages := rt.seen.Load(); pages != 4*2 {
		t.Errorf("%d pages; want 4 sweeps of 2 pages", pages)
	}
	if n < 150 {
		t.Errorf("%d instances yielded before giving up; want at least the 150 that existed throughout", n)
	}
}

// TestInstancesByRepeatedIDs: an ID given twice (in one chunk of 100 or
// in two) is asked for once; the service refuses a repeated ID.
func TestInstancesByRepeatedIDs(t *testing.T) {
	e := newEmu(t, true, nil)
	c := e.client(t, nil)
	ctx := context.Background()
	out, err := c.CreateInstances(ctx, emuRegion, newCreate("dup-ids", 2))
	if err != nil {
		t.Fatal(err)
	}
	ids := append([]string{}, out.InstanceIdSet...)
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("lhins-zz%06d", i))
	}
	ids = append(ids, out.InstanceIdSet[0], out.InstanceIdSet[1], out.InstanceIdSet[0])
	got, err := c.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("listed %d instances; want the 2 that exist", len(got))
	}
}

// TestNilRequestsSendAnObject: a nil request is the empty request: the
// body sent is {} (JSON null is not a request), and a nil create is an
// error, not a panic.
func TestNilRequestsSendAnObject(t *testing.T) {
	e := newEmu(t, true, nil)
	c := e.client(t, nil)
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["DescribeInstancesPage"] = c.DescribeInstancesPage(ctx, emuRegion, nil)
	_, checks["DescribeBundles"] = c.DescribeBundles(ctx, emuRegion, nil)
	_, checks["DescribeBlueprints"] = c.DescribeBlueprints(ctx, emuRegion, nil)
	_, checks["DescribeZones"] = c.DescribeZones(ctx, emuRegion, nil)
	for name, err := range checks {
		if err != nil {
			t.Errorf("%s(nil): %v", name, err)
		}
	}
	if _, err := c.CreateInstances(ctx, emuRegion, nil); err == nil {
		t.Error("CreateInstances(nil) succeeded")
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("%d instances after a nil create", n)
	}
}

// offsetOf reads the Offset of a DescribeInstances request body and puts
// the body back for the handler; -1 for other actions.
func offsetOf(t testing.TB, r *http.Request) int64 {
	if r.Header.Get("X-TC-Action") != lighthouse.ActionDescribeInstances {
		return -1
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req lighthouse.DescribeInstancesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Error(err)
	}
	return req.Offset
}

// TestInstancesPagesConcurrentInOrder: once the first page gave the total,
// the later pages are asked for at once, each exactly once; whatever order
// their answers arrive in, the iterator yields every instance once, in the
// order a one-page-at-a-time listing yields them.
func TestInstancesPagesConcurrentInOrder(t *testing.T) {
	const total = 1000 // 10 pages
	var (
		mu       sync.Mutex
		asked    = map[int64]int{}
		maxAsked int64
	)
	overlapped := make(chan struct{}) // closed when a page beyond 100 is asked for while page 100 is held
	var once sync.Once
	var holding atomic.Bool    // hold the second page (in the concurrent listing only)
	var sawOverlap atomic.Bool // a later page was asked for while the second was held
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			off := offsetOf(t, r)
			if off >= 0 {
				mu.Lock()
				asked[off]++
				maxAsked = max(maxAsked, off)
				mu.Unlock()
			}
			if off > lighthouse.MaxPageSize && holding.Load() {
				once.Do(func() { close(overlapped) })
			}
			switch {
			case off == lighthouse.MaxPageSize && holding.Load():
				// Hold the second page until a later one was asked for:
				// its answer then arrives after theirs.
				select {
				case <-overlapped:
					sawOverlap.Store(true)
				case <-time.After(10 * time.Second):
				}
			case off > lighthouse.MaxPageSize:
				// Later pages answer in reverse order of their offsets.
				time.Sleep(time.Duration(total-off) * 20 * time.Microsecond)
			}
			next.ServeHTTP(w, r)
		})
	}
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), LaunchDelay: -1,
		Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}}, emulatortest.WithHandler(wrap))
	ctx := context.Background()
	for i := 0; i < total; i += 30 {
		if _, err := h.Client.CreateInstances(ctx, emuRegion, newCreate(fmt.Sprintf("conc-%d", i), uint64(min(30, total-i)))); err != nil {
			t.Fatal(err)
		}
	}
	list := func(c *lighthouse.Client) []string {
		var ids []string
		for in, err := range c.Instances(ctx, emuRegion, nil) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, in.InstanceId)
		}
		return ids
	}
	want := list(h.NewClient(t, func(o *lighthouse.Options) { o.PageConcurrency = 1 }))
	clear(asked)
	holding.Store(true)
	got := list(h.NewClient(t, func(o *lighthouse.Options) { o.PageConcurrency = 4 }))
	if !sawOverlap.Load() {
		t.Error("no page after the second was asked for while the second was outstanding: the pages were fetched one at a time")
	}
	if len(want) != total || !slices.Equal(got, want) {
		t.Fatalf("concurrent listing of %d differs from the sequential one of %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	for off := int64(0); off < total; off += lighthouse.MaxPageSize {
		if asked[off] != 1 {
			t.Errorf("page at offset %d asked for %d times, want once", off, asked[off])
		}
	}
	if len(asked) != total/lighthouse.MaxPageSize {
		t.Errorf("offsets asked: %v; want the %d pages once each", asked, total/lighthouse.MaxPageSize)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestInstancesCancelledMidSweep: a listing whose context ends while pages
// are asked for ahead returns the context's error, whatever page it was
// waiting for, and leaves nothing running; it never hangs.
func TestInstancesCancelledMidSweep(t *testing.T) {
	const total = 2000 // 20 pages
	var served atomic.Int32
	var cancelAt atomic.Int32
	var cancel context.CancelFunc
	var mu sync.Mutex
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-TC-Action") == lighthouse.ActionDescribeInstances && served.Add(1) == cancelAt.Load() {
				mu.Lock()
				cancel()
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), LaunchDelay: -1,
		Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}}, emulatortest.WithHandler(wrap))
	for i := 0; i < total; i += 30 {
		if _, err := h.Client.CreateInstances(context.Background(), emuRegion, newCreate(fmt.Sprintf("cancel-%d", i), uint64(min(30, total-i)))); err != nil {
			t.Fatal(err)
		}
	}
	for at := int32(1); at <= 20; at++ {
		for _, conc := range []int{2, 4, 16} {
			c := h.NewClient(t, func(o *lighthouse.Options) {
				o.PageConcurrency = conc
				o.RateLimits[lighthouse.ActionDescribeInstances] = 2000 // tokens to wait for, on the wall clock
			})
			ctx, cn := context.WithCancel(context.Background())
			mu.Lock()
			cancel = cn
			mu.Unlock()
			served.Store(0)
			cancelAt.Store(at)
			type outcome struct {
				n   int
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				var o outcome
				for _, err := range c.Instances(ctx, emuRegion, nil) {
					if err != nil {
						o.err = err
						continue
					}
					o.n++
				}
				done <- o
			}()
			select {
			case o := <-done:
				// Pages whose answers were in before the cancel still
				// count: a sweep may complete.
				if !errors.Is(o.err, context.Canceled) && !(o.err == nil && o.n == total) {
					t.Errorf("cancelled at page %d, %d ahead: %d listed, err = %v; want context.Canceled or the whole listing", at, conc, o.n, o.err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("cancelled at page %d, %d ahead: the listing hangs", at, conc)
			}
			cn()
		}
	}
}
