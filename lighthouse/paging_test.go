package lighthouse_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
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
