package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// listingCloud is a reconcile.Cloud whose full listings are n instances
// named by region, then end (with err, when set); started is closed when
// the first listing begins, and calls counts the listings asked for.
type listingCloud struct {
	*reconciletest.Fake
	n       int
	err     error
	release chan struct{} // when set, the listing waits for it halfway
	started chan struct{}
	once    sync.Once

	mu    sync.Mutex
	calls map[string]int // "region" or "region filtered"
}

func newListingCloud(n int) *listingCloud {
	return &listingCloud{Fake: reconciletest.NewFake(nil), n: n, started: make(chan struct{}), calls: map[string]int{}}
}

func (c *listingCloud) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	key := region
	if req != nil {
		key += " filtered"
	}
	c.mu.Lock()
	c.calls[key]++
	c.mu.Unlock()
	return func(yield func(lighthouse.Instance, error) bool) {
		c.once.Do(func() { close(c.started) })
		for i := range c.n {
			if i == c.n/2 && c.release != nil {
				select {
				case <-c.release:
				case <-ctx.Done():
					yield(lighthouse.Instance{}, ctx.Err())
					return
				}
			}
			if !yield(lighthouse.Instance{InstanceId: fmt.Sprintf("lhins-%s-%d", region, i)}, nil) {
				return
			}
		}
		if c.err != nil {
			yield(lighthouse.Instance{}, c.err)
		}
	}
}

func (c *listingCloud) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[key]
}

// ids lists what a listing yields: the IDs, and the error that ended it.
func ids(list iter.Seq2[lighthouse.Instance, error]) ([]string, error) {
	var out []string
	for in, err := range list {
		if err != nil {
			return out, err
		}
		out = append(out, in.InstanceId)
	}
	return out, nil
}

// The plan's first full listing of a region is the sweep started when a
// fleet named it: the same instances in the same order, the error that
// ended it, and no second listing; any other listing goes to the cloud.
func TestPrefetchTakesTheSweepOnce(t *testing.T) {
	for _, wantErr := range []error{nil, errors.New("RequestLimitExceeded")} {
		c := newListingCloud(250)
		c.err = wantErr
		c.release = make(chan struct{})
		pre := newPrefetchCloud(context.Background(), c)
		f := &spec.Fleet{}
		f.Spec.Region = "ap-guangzhou"
		pre.parsed(f)
		pre.parsed(f) // a second fleet of the region starts nothing more
		<-c.started
		go close(c.release) // the rest comes while it is being taken
		got, err := ids(pre.Instances(context.Background(), "ap-guangzhou", nil))
		if len(got) != 250 || got[0] != "lhins-ap-guangzhou-0" || got[249] != "lhins-ap-guangzhou-249" || !slices.IsSortedFunc(got, func(a, b string) int {
			var x, y int
			fmt.Sscanf(a, "lhins-ap-guangzhou-%d", &x)
			fmt.Sscanf(b, "lhins-ap-guangzhou-%d", &y)
			return x - y
		}) {
			t.Errorf("took %d instances, %v ... (want 250 in order)", len(got), got[:min(3, len(got))])
		}
		if !errors.Is(err, wantErr) {
			t.Errorf("the sweep ended with %v, the take with %v", wantErr, err)
		}
		c.release = nil
		if n, _ := ids(pre.Instances(context.Background(), "ap-guangzhou", nil)); len(n) != 250 {
			t.Errorf("a second listing gave %d instances", len(n))
		}
		if _, err := ids(pre.Instances(context.Background(), "ap-guangzhou", &lighthouse.DescribeInstancesRequest{InstanceIds: []string{"lhins-x"}})); !errors.Is(err, wantErr) {
			t.Errorf("a filtered listing: %v", err)
		}
		if n, m := c.count("ap-guangzhou"), c.count("ap-guangzhou filtered"); n != 2 || m != 1 {
			t.Errorf("the cloud was asked %d full listings (want 2: the sweep, then the second) and %d filtered (want 1)", n, m)
		}
		pre.stop()
	}
}

// A sweep nobody takes, because the specs were refused or the run ended,
// is stopped, and so is one whose taker stops early.
func TestPrefetchStops(t *testing.T) {
	c := newListingCloud(10)
	c.release = make(chan struct{}) // never: the sweep waits halfway
	pre := newPrefetchCloud(context.Background(), c)
	f := &spec.Fleet{}
	f.Spec.Region = "ap-shanghai"
	pre.parsed(f)
	<-c.started
	done := make(chan struct{})
	go func() { pre.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not end a sweep under way")
	}
	f.Spec.Region = "ap-beijing"
	pre.parsed(f) // after stop: nothing starts
	if n := c.count("ap-beijing"); n != 0 {
		t.Errorf("a sweep started after stop")
	}

	c = newListingCloud(10)
	pre = newPrefetchCloud(context.Background(), c)
	pre.parsed(f)
	for range pre.Instances(context.Background(), "ap-beijing", nil) {
		break
	}
	pre.stop() // returns: the sweep ended with its taker
}

// blockingFS holds the file named wait until release is closed, so that a
// load cannot end before something else happened.
type blockingFS struct {
	fstest.MapFS
	wait    string
	release <-chan struct{}
}

func (b blockingFS) Open(name string) (fs.File, error) {
	if name == b.wait {
		select {
		case <-b.release:
		case <-time.After(30 * time.Second):
			return nil, errors.New("the sweep did not start while the specs loaded")
		}
	}
	return b.MapFS.Open(name)
}

// The sweep of a region starts while the specs still load, once a fleet
// names the region: the last file is not read until it has.
func TestPrefetchStartsWhileLoading(t *testing.T) {
	c := newListingCloud(3)
	pre := newPrefetchCloud(context.Background(), c)
	defer pre.stop()
	fsys := blockingFS{MapFS: fstest.MapFS{
		"a.yaml": {Data: []byte(fleetDoc("a", "ap-guangzhou", 1))},
		"z.yaml": {Data: []byte(fleetDoc("z", "ap-guangzhou", 1))},
	}, wait: "z.yaml", release: c.started}
	fleets, err := spec.LoadInputs([]spec.Input{{FS: fsys}}, spec.Options{Concurrency: 1, Parsed: pre.parsed})
	if err != nil || len(fleets) != 2 {
		t.Fatalf("load: %v (%d fleets)", err, len(fleets))
	}
	if got, _ := ids(pre.Instances(context.Background(), "ap-guangzhou", nil)); len(got) != 3 {
		t.Errorf("took %d instances, want 3", len(got))
	}
	if n := c.count("ap-guangzhou"); n != 1 {
		t.Errorf("%d listings of the region, want 1", n)
	}
}

// Through the command: a plan lists each region once (the sweep started
// while loading is the plan's), and specs refused after a sweep started
// still say nothing was changed and exit 1.
func TestReconcilePlanListsEachRegionOnce(t *testing.T) {
	srv, err := emulator.New(emulator.Config{Credentials: map[string]string{"AKIDunit": "unit-key"}, RateLimits: emulator.NoRateLimits()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	describes := map[string]int{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-TC-Action") == lighthouse.ActionDescribeInstances {
			mu.Lock()
			describes[r.Header.Get("X-TC-Region")]++
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	environ := map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDunit", "TENCENTCLOUD_SECRET_KEY": "unit-key", envEndpoint: hs.URL}
	dir := writeFleets(t, map[string]string{
		"web.yaml":  fleetDoc("web", "ap-guangzhou", 2),
		"api.yaml":  fleetDoc("api", "ap-guangzhou", 1),
		"edge.yaml": fleetDoc("edge", "ap-singapore", 1),
	})
	code, out, errOut := runCmdEnv(t, environ, "reconcile", "--plan", dir)
	if code != exitChanges || !strings.Contains(out, "4 to create") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	if want := map[string]int{"ap-guangzhou": 1, "ap-singapore": 1}; fmt.Sprint(describes) != fmt.Sprint(want) {
		t.Errorf("DescribeInstances by region: %v, want %v", describes, want)
	}
	mu.Unlock()

	bad := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 2), "bad.yaml": fleetDoc("bad", "ap-guangzhou", -1)})
	code, out, errOut = runCmdEnv(t, environ, "reconcile", "--plan", bad)
	if code != exitError || out != "" || !strings.Contains(errOut, "spec.count: must be >= 0") || !strings.Contains(errOut, "nothing was changed in the cloud") {
		t.Errorf("refused specs: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(srv.Instances()); n != 0 {
		t.Errorf("%d instances bought", n)
	}
}
