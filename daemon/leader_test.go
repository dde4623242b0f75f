package daemon_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// fakeLeadership is a Leadership driven by the test: elect hands the
// daemon its lead callback's value, fire a forwarded trigger.
type fakeLeadership struct {
	id       string
	mu       sync.Mutex
	lead     func(bool)
	trigger  func()
	leading  bool
	started  chan struct{}
	forwards atomic.Int32
	revision atomic.Value // string published
}

func newFakeLeadership(id string) *fakeLeadership {
	return &fakeLeadership{id: id, started: make(chan struct{})}
}

func (f *fakeLeadership) Run(ctx context.Context, lead func(bool), trigger func()) {
	f.mu.Lock()
	f.lead, f.trigger = lead, trigger
	f.mu.Unlock()
	close(f.started)
	<-ctx.Done()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leading {
		f.leading = false
		lead(false)
	}
}

func (f *fakeLeadership) elect(t *testing.T, on bool) {
	t.Helper()
	<-f.started
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leading = on
	f.lead(on)
}

func (f *fakeLeadership) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trigger()
}

func (f *fakeLeadership) Check(context.Context) error { return nil }

func (f *fakeLeadership) Leader() (daemon.LeaderInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leading {
		rev, _ := f.revision.Load().(string)
		return daemon.LeaderInfo{ID: f.id, Revision: rev}, true
	}
	return daemon.LeaderInfo{ID: "lk-b", URL: "http://lk-b:9180", Revision: "feedface"}, true
}

func (f *fakeLeadership) Publish(_ context.Context, rev string) error {
	f.revision.Store(rev)
	return nil
}

func (f *fakeLeadership) Forward(context.Context) error {
	f.forwards.Add(1)
	return nil
}

func (f *fakeLeadership) ID() string { return f.id }

// TestFollowerLeavesTheReconcileToTheLeader: a daemon that does not lead
// syncs but calls no API, says so on /readyz and /status, passes webhooks
// to the leader; elected, it reconciles at once; no longer leading, it
// stops again.
func TestFollowerLeavesTheReconcileToTheLeader(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	l := newFakeLeadership("lk-a")
	opts := e.options()
	opts.Leadership = l
	e.start(opts)

	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultFollower || e.live("web-") != 0 {
		t.Fatalf("follower cycle: result %q, %d instances; want follower and none", s.LastRun.Result, e.live("web-"))
	}
	if n := e.apiCalls(); n != 0 {
		t.Fatalf("follower made %d API calls", n)
	}
	if s.HA == nil || s.HA.ID != "lk-a" || s.HA.Leader || s.HA.LeaderID != "lk-b" || s.HA.LeaderRevision != "feedface" || s.HA.LeaderURL != "http://lk-b:9180" {
		t.Fatalf("status ha = %+v", s.HA)
	}
	if code, body := e.get("/readyz"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not leader") || !strings.Contains(body, "lk-b") {
		t.Fatalf("/readyz of a follower = %d %q", code, body)
	}
	if code, body := e.get("/"); code != http.StatusOK || !strings.Contains(body, "lk-b") {
		t.Fatalf("status page of a follower = %d, leader not named:\n%s", code, body)
	}
	e.d.Trigger() // a webhook reached the follower
	deadline := time.Now().Add(waitFor)
	for l.forwards.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not forward the webhook to the leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.waitRuns(2)

	runs := e.d.Status().Runs
	l.elect(t, true)
	s = e.waitRuns(runs + 1)
	if s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 2 || e.apiCalls() == 0 {
		t.Fatalf("leader cycle: result %q, %d instances; want success and 2", s.LastRun.Result, e.live("web-"))
	}
	if s.LastRun.Trigger != daemon.TriggerElected {
		t.Errorf("the first cycle of a term was started by %q, want %q", s.LastRun.Trigger, daemon.TriggerElected)
	}
	if fd := e.fleetDetail("web"); len(fd.Instances) != 2 {
		t.Errorf("the leader lists %d instances of web, want 2", len(fd.Instances))
	}
	if !s.HA.Leader || s.HA.LeaderID != "lk-a" || s.HA.ElectionsWon != 1 || s.HA.LeaderRevision != s.LastGood.ID {
		t.Fatalf("status ha of the leader = %+v (last good %s)", s.HA, s.LastGood.ID)
	}
	if code, _ := e.get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz of the leader = %d", code)
	}
	if e.metric("lightkeeper_leader") != 1 || e.metric("lightkeeper_leader_elections_total", "result", "won") != 1 ||
		e.metric("lightkeeper_triggers_total", "source", "elected") != 1 {
		t.Fatal("leader metrics not set")
	}
	l.fire()
	s = e.waitRuns(runs + 2)
	if e.metric("lightkeeper_triggers_total", "source", "forwarded") != 1 {
		t.Fatal("forwarded trigger not counted")
	}
	if s.LastRun.Trigger != daemon.TriggerForwarded {
		t.Errorf("a forwarded cycle was started by %q, want %q", s.LastRun.Trigger, daemon.TriggerForwarded)
	}
	e.lint()

	l.elect(t, false)
	e.write("web.yaml", fleet("web", "bundle_gen_01", 4))
	s = e.cycle()
	if s.LastRun.Result != daemon.ResultFollower || e.live("web-") != 2 {
		t.Fatalf("after losing the leadership: result %q, %d instances; want follower and 2", s.LastRun.Result, e.live("web-"))
	}
	if e.metric("lightkeeper_leader") != 0 || e.metric("lightkeeper_leader_elections_total", "result", "lost") != 1 || e.metric("lightkeeper_leader_seconds_total") <= 0 {
		t.Fatal("leader metrics after the loss not set")
	}
	if len(s.Fleets) != 0 || s.Plan != nil {
		t.Fatalf("a follower shows a stale plan: %+v", s.Fleets)
	}
	for _, path := range []string{"/fleets/web", "/status/fleets/web"} {
		if code, body := e.get(path); code != http.StatusNotFound || !strings.Contains(body, "this daemon follows") {
			t.Errorf("%s of a follower = %d %q; want 404 saying it follows", path, code, body)
		}
	}
}

// apiCalls sums lightkeeper_api_calls_total over its series.
func (e *env) apiCalls() int {
	e.t.Helper()
	n := 0.0
	for _, m := range promtest.Gather(e.t, e.reg)["lightkeeper_api_calls_total"].GetMetric() {
		n += m.GetCounter().GetValue()
	}
	return int(n)
}

// gatedCloud holds every create until release is closed, and counts the
// creates that reached it.
type gatedCloud struct {
	reconcile.Cloud
	release chan struct{}
	creates atomic.Int32
}

func (g *gatedCloud) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	if !req.DryRun {
		g.creates.Add(1)
		<-g.release
	}
	return g.Cloud.CreateInstances(ctx, region, req)
}

// TestLosingTheLeadershipStopsCreates: the creates in flight when the
// leadership is lost finish (nothing can take them back), and no other
// create starts.
func TestLosingTheLeadershipStopsCreates(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 12)})
	gc := &gatedCloud{Cloud: e.client, release: make(chan struct{})}
	e.cloud = gc
	l := newFakeLeadership("lk-a")
	opts := e.options()
	opts.Leadership = l
	opts.Reconcile.Concurrency = 4
	e.start(opts)
	e.waitRuns(1)
	l.elect(t, true)
	deadline := time.Now().Add(waitFor)
	for gc.creates.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("the leader did not start its creates")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.elect(t, false)
	close(gc.release)
	s := e.waitRuns(2)
	if got := gc.creates.Load(); got != 4 {
		t.Fatalf("%d creates reached the cloud, want the 4 in flight only", got)
	}
	if e.live("web-") != 4 || s.LastRun.Result != daemon.ResultCanceled {
		t.Fatalf("%d instances, result %q; want 4 and canceled", e.live("web-"), s.LastRun.Result)
	}
	if got := e.metric("lightkeeper_creates_total", "result", "deferred"); got != 8 {
		t.Fatalf("deferred creates = %v, want 8", got)
	}
}
