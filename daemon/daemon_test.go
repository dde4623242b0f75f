package daemon_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

func TestGoodRevisionReconciles(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 2),
		"api.yaml": fleet("api", "bundle_gen_02", 1),
	})
	opts := e.options()
	opts.StateDir = t.TempDir()
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultSuccess || s.LastError != "" {
		t.Fatalf("first cycle: %+v, error %q", s.LastRun, s.LastError)
	}
	if got := e.live("web-") + e.live("api-"); got != 3 {
		t.Fatalf("%d instances, want 3", got)
	}
	if s.LastGood == nil || s.Revision == nil || s.LastGood.ID != s.Revision.ID || s.Invalid != nil {
		t.Fatalf("revisions: good %+v, synced %+v, invalid %+v", s.LastGood, s.Revision, s.Invalid)
	}
	if len(s.Fleets) != 2 || s.Fleets[0].Name != "api" || s.Fleets[1].Name != "web" || s.Fleets[1].Created != 2 {
		t.Fatalf("fleets %+v", s.Fleets)
	}
	if !s.Ready || !s.Running {
		t.Fatalf("ready %v running %v", s.Ready, s.Running)
	}
	// The status counts the run as the cycle records it, a moment before
	// the loop closes FirstCycle and goes idle.
	select {
	case <-e.d.FirstCycle():
	case <-time.After(waitFor):
		t.Error("FirstCycle not closed after the first cycle")
	}
	if e.d.Stalled(0) {
		t.Error("an idle loop reports itself stalled")
	}
	if v := e.metric("lightkeeper_creates_total", "result", "created"); v != 3 {
		t.Errorf("creates_total{created} = %v", v)
	}
	if v := e.metric("lightkeeper_api_calls_total", "action", "CreateInstances", "code", ""); v != 3 {
		t.Errorf("api_calls_total{CreateInstances,\"\"} = %v", v)
	}
	if _, err := os.Stat(filepath.Join(opts.StateDir, daemon.StateFile)); err != nil {
		t.Errorf("state not saved: %v", err)
	}

	// The next cycle sees the instances (PENDING counts as live) and buys
	// nothing more.
	s = e.cycle()
	if s.LastRun.Result != daemon.ResultSuccess || s.LastRun.Creates != 0 {
		t.Fatalf("second cycle: %+v", s.LastRun)
	}
	if v := e.metric("lightkeeper_fleet_instances", "fleet", "web", "state", "live"); v != 2 {
		t.Errorf("fleet_instances{web,live} = %v", v)
	}
	if v := e.metric("lightkeeper_fleet_instances", "fleet", "web", "state", "desired"); v != 2 {
		t.Errorf("fleet_instances{web,desired} = %v", v)
	}
	if v := e.metric("lightkeeper_reconcile_runs_total", "result", "success"); v != 2 {
		t.Errorf("runs_total{success} = %v", v)
	}
	if v := e.metric("lightkeeper_reconcile_duration_seconds"); v != 2 {
		t.Errorf("duration observations = %v", v)
	}
	if got := e.live("web-") + e.live("api-"); got != 3 {
		t.Fatalf("%d instances after the second cycle, want 3", got)
	}
	e.lint()
	if err := e.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e.d.Running() {
		t.Error("still running after Run returned")
	}
}

func TestInvalidRevisionKeepsLastGood(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 2),
		"api.yaml": fleet("api", "bundle_gen_01", 1),
	})
	e.start(e.options())
	good := e.waitRuns(1).LastGood

	// A commit that raises web and adds a second fleet named "api": the
	// names collide, so nothing of it is applied.
	e.write("web.yaml", fleet("web", "bundle_gen_01", 4))
	e.write("more/api-copy.yaml", fleet("api", "bundle_gen_02", 1))
	s := e.cycle()
	if s.Invalid == nil || len(s.Invalid.Errors) == 0 {
		t.Fatalf("the colliding revision is not reported invalid: %+v", s)
	}
	if s.LastGood.ID != good.ID || s.Revision.ID == good.ID || s.Invalid.ID != s.Revision.ID {
		t.Fatalf("revisions: good %v (was %v), synced %v, invalid %v", s.LastGood.ID, good.ID, s.Revision.ID, s.Invalid.ID)
	}
	if !strings.Contains(s.LastError, "invalid") || !strings.Contains(s.LastError, good.Short) {
		t.Errorf("last error %q does not say the revision is invalid and which one is reconciled", s.LastError)
	}
	if e.live("web-") != 2 {
		t.Fatalf("web has %d instances, want 2 (the last good revision's count)", e.live("web-"))
	}
	if v := e.metric("lightkeeper_invalid_revision"); v != 1 {
		t.Errorf("invalid_revision = %v", v)
	}
	if v := e.metric("lightkeeper_revision_info", "revision", s.Revision.ID, "last_good", "false"); v != 1 {
		t.Errorf("revision_info{last_good=false} = %v", v)
	}
	code, body := e.get("/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	inv, _ := js["invalid"].(map[string]any)
	if inv == nil || !strings.Contains(body, `"fleet": "api"`) {
		t.Errorf("/status has no invalid revision naming the fleet: %s", body)
	}
	if lg, _ := js["lastGood"].(map[string]any); lg == nil || lg["id"] != good.ID {
		t.Errorf("/status lastGood = %v", js["lastGood"])
	}

	// The last good revision is still reconciled: an instance deleted by
	// hand comes back.
	var victim string
	for _, in := range e.emu.Instances() {
		if in.InstanceName == "web-0" {
			victim = in.InstanceId
		}
	}
	if err := e.emu.DeleteInstance(victim); err != nil {
		t.Fatal(err)
	}
	s = e.cycleUntilReplaced()
	if e.live("web-") != 2 || s.Invalid == nil {
		t.Fatalf("after a deletion under an invalid head: web has %d instances, invalid %v", e.live("web-"), s.Invalid)
	}

	// The fix takes over.
	e.remove("more/api-copy.yaml")
	s = e.cycle()
	if s.Invalid != nil || s.LastGood.ID != s.Revision.ID || s.LastGood.ID == good.ID {
		t.Fatalf("the fixed revision did not take over: %+v", s)
	}
	if e.live("web-") != 4 || e.live("api-") != 1 {
		t.Fatalf("web %d api %d instances, want 4 and 1", e.live("web-"), e.live("api-"))
	}
	if v := e.metric("lightkeeper_invalid_revision"); v != 0 {
		t.Errorf("invalid_revision = %v after the fix", v)
	}
	if v := e.metric("lightkeeper_revision_info", "revision", s.Revision.ID, "last_good", "true"); v != 1 {
		t.Errorf("revision_info{last_good=true} = %v", v)
	}
}

func TestInvalidFirstRevision(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec: {count: -1}\n"})
	e.start(e.options())
	s := e.waitRuns(1)
	if s.Invalid == nil || s.LastGood != nil || s.Ready || s.LastRun.Result != daemon.ResultError {
		t.Fatalf("status %+v", s)
	}
	if code, _ := e.get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d with no good revision", code)
	}
	if len(e.emu.Instances()) != 0 {
		t.Fatal("an invalid revision bought something")
	}
	e.write("web.yaml", fleet("web", "bundle_gen_01", 1))
	s = e.cycle()
	if !s.Ready || e.live("web-") != 1 {
		t.Fatalf("ready %v, %d instances", s.Ready, e.live("web-"))
	}
	if code, _ := e.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d", code)
	}
}

// gateCloud blocks the calls of chosen actions until released: each call
// sends on entered, then waits on release.
type gateCloud struct {
	reconcile.Cloud
	action  string
	entered chan string
	release chan struct{}
}

func newGate(c reconcile.Cloud, action string) *gateCloud {
	return &gateCloud{Cloud: c, action: action, entered: make(chan string), release: make(chan struct{})}
}

func (g *gateCloud) wait(action string) {
	if action != g.action {
		return
	}
	g.entered <- action
	<-g.release
}

func (g *gateCloud) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	g.wait(lighthouse.ActionCreateInstances)
	return g.Cloud.CreateInstances(ctx, region, req)
}

func (g *gateCloud) InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	g.wait(lighthouse.ActionInquirePriceCreateInstances)
	return g.Cloud.InquirePriceCreateInstances(ctx, region, req)
}

// enter waits for a gated call.
func (g *gateCloud) enter(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatal("no gated call came")
	}
}

func TestTriggersCoalesce(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	// Pricing happens only when the plan creates; each cycle here makes
	// one new slot to create, so each cycle passes the gate once.
	g := newGate(e.client, lighthouse.ActionInquirePriceCreateInstances)
	e.cloud = g
	e.start(e.options())
	g.enter(t) // cycle 1
	g.release <- struct{}{}
	e.waitRuns(1)

	e.write("web.yaml", fleet("web", "bundle_gen_01", 2))
	e.d.Trigger()
	g.enter(t) // cycle 2 is running
	e.write("web.yaml", fleet("web", "bundle_gen_01", 3))
	for range 10 {
		e.d.Trigger()
	}
	g.release <- struct{}{}
	g.enter(t) // cycle 3: the ten triggers coalesced
	g.release <- struct{}{}
	s := e.waitRuns(3)
	if e.live("web-") != 3 {
		t.Fatalf("%d instances, want 3", e.live("web-"))
	}
	// No fourth cycle comes: it would have to pass the gate (a fourth
	// cycle creates nothing, so also check the cycle count).
	select {
	case <-g.entered:
		t.Fatal("a fourth cycle ran")
	case <-time.After(300 * time.Millisecond):
	}
	if s2 := e.d.Status(); s2.Runs != 3 {
		t.Fatalf("%d cycles ran, want 3 (status %+v)", s2.Runs, s)
	}
	if v := e.metric("lightkeeper_triggers_total", "source", "webhook"); v != 11 {
		t.Errorf("triggers_total{webhook} = %v", v)
	}
}

func TestOverLimitPlanIsHeld(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
	opts := e.options()
	opts.Limits = reconcile.Limits{MaxCreates: 3, MaxMonthlySpend: reconcile.NoLimit}
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultHeld || len(s.Held) != 1 || s.Held[0].Limit != "max-creates" {
		t.Fatalf("result %q held %+v", s.LastRun.Result, s.Held)
	}
	// The violation is worded in the configuration's terms, not the
	// command line's.
	if want := "the plan creates 5 instances, 2 over limits.maxCreatesPerRun 3"; s.Held[0].Message != want {
		t.Errorf("held message %q, want %q", s.Held[0].Message, want)
	}
	if len(e.emu.Instances()) != 0 {
		t.Fatalf("a held plan bought %d instances", len(e.emu.Instances()))
	}
	if s.Plan == nil || s.Plan.Totals.Creates != 5 || s.Result != nil {
		t.Fatalf("plan %+v result %+v", s.Plan, s.Result)
	}
	if v := e.metric("lightkeeper_plan_held"); v != 1 {
		t.Errorf("plan_held = %v", v)
	}
	if v := e.metric("lightkeeper_reconcile_runs_total", "result", "held"); v != 1 {
		t.Errorf("runs_total{held} = %v", v)
	}
	if _, body := e.get("/"); !strings.Contains(body, "held, not applied") {
		t.Error("the page does not say the plan is held")
	}
	// Lowering the count under the limit applies it.
	e.write("web.yaml", fleet("web", "bundle_gen_01", 3))
	s = e.cycle()
	if s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 3 || len(s.Held) != 0 {
		t.Fatalf("result %q, %d instances, held %v", s.LastRun.Result, e.live("web-"), s.Held)
	}
	if v := e.metric("lightkeeper_plan_held"); v != 0 {
		t.Errorf("plan_held = %v", v)
	}
}

func TestOneFleetFailureDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 2),
		"bad.yaml": fleet("bad", "bundle_nope_99", 2),
	})
	e.start(e.options())
	s := e.waitRuns(1)
	if e.live("web-") != 2 {
		t.Fatalf("web has %d instances, want 2", e.live("web-"))
	}
	if s.LastRun.Result != daemon.ResultPartial {
		t.Errorf("result %q, want partial", s.LastRun.Result)
	}
	var bad daemon.FleetStatus
	for _, f := range s.Fleets {
		if f.Name == "bad" {
			bad = f
		}
	}
	if bad.State != "error" || bad.Error == "" {
		t.Errorf("bad fleet status %+v", bad)
	}
	if !strings.Contains(s.LastError, `fleet "bad"`) {
		t.Errorf("last error %q does not name the fleet", s.LastError)
	}
	if v := e.metric("lightkeeper_api_calls_total", "action", "CreateInstances", "code", "InvalidParameter.BundleIdNotFound"); v < 1 {
		t.Errorf("api_calls_total for the refused creates = %v", v)
	}
}

// flakySource fails its syncs while broken is set.
type flakySource struct {
	daemon.Source
	mu     sync.Mutex
	broken bool
}

func (f *flakySource) Sync(ctx context.Context) (daemon.Revision, error) {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return daemon.Revision{}, os.ErrDeadlineExceeded
	}
	return f.Source.Sync(ctx)
}

func TestSyncFailureKeepsReconciling(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	opts := e.options()
	src := &flakySource{Source: opts.Source}
	opts.Source = src
	opts.MinBackoff = time.Hour // the test triggers every cycle itself
	e.start(opts)
	e.waitRuns(1)
	src.mu.Lock()
	src.broken = true
	src.mu.Unlock()
	if err := e.emu.DeleteInstance(e.emu.Instances()[0].InstanceId); err != nil {
		t.Fatal(err)
	}
	s := e.cycleUntilReplaced()
	if !strings.Contains(s.LastError, "sync") || e.live("web-") != 2 {
		t.Fatalf("last error %q, %d instances", s.LastError, e.live("web-"))
	}
	if v := e.metric("lightkeeper_git_fetches_total", "result", "error"); v != 2 {
		t.Errorf("git_fetches_total{error} = %v", v)
	}
	if s.NextRun.Sub(s.LastRun.Started) < 30*time.Minute {
		t.Errorf("next run %v: a failed sync should back off (MinBackoff 1h)", s.NextRun)
	}
}

func TestStopDuringApplySavesState(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 3)})
	g := newGate(e.client, lighthouse.ActionCreateInstances)
	e.cloud = g
	opts := e.options()
	opts.StateDir = t.TempDir()
	opts.Reconcile.Concurrency = 1 // one create in flight at a time
	e.start(opts)
	g.enter(t) // the first create is in flight
	poll(t, "the blocked cycle to count as stalled", func() bool { return e.d.Stalled(time.Millisecond) })
	if e.d.Stalled(time.Hour) {
		t.Error("stalled for an hour already")
	}
	// Stop the daemon while the call is in flight, then let the call end:
	// Run must wait for it, start no other create, save and return nil.
	cancel, done := e.cancel, e.done
	e.cancel = nil
	cancel()
	close(g.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run did not return")
	}
	if n := len(e.emu.Instances()); n != 1 {
		t.Fatalf("%d instances bought, want 1 (the call in flight)", n)
	}
	st, err := reconcile.LoadState(filepath.Join(opts.StateDir, daemon.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	exp := st.Expectations()
	if len(exp) != 1 || exp[0].InstanceID != e.emu.Instances()[0].InstanceId {
		t.Fatalf("saved expectations %+v, want the created instance", exp)
	}
	if v := e.metric("lightkeeper_api_calls_total", "action", "CreateInstances", "code", ""); v != 1 {
		t.Errorf("api_calls_total{CreateInstances} = %v, want 1", v)
	}
	if c, d, f := e.metric("lightkeeper_creates_total", "result", "created"), e.metric("lightkeeper_creates_total", "result", "deferred"),
		e.metric("lightkeeper_creates_total", "result", "failed"); c != 1 || d != 2 || f != 0 {
		t.Errorf("creates_total created %v deferred %v failed %v, want 1, 2, 0", c, d, f)
	}

	// A new daemon on the same state directory completes the fleet and buys
	// nothing twice.
	dir := opts.StateDir
	e.cloud = e.client
	opts = e.options()
	opts.StateDir = dir
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultSuccess || len(e.emu.Instances()) != 3 || e.live("web-") != 3 {
		t.Fatalf("after restart: result %q, %d instances", s.LastRun.Result, len(e.emu.Instances()))
	}
}

func TestLastGoodSurvivesRestart(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml":        fleet("web", "bundle_gen_01", 2),
		"drafts/new.yaml": "not: a fleet\n",
	})
	opts := e.options()
	opts.StateDir = t.TempDir()
	opts.Exclude = []string{"drafts"}
	e.start(opts)
	good := e.waitRuns(1).LastGood
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(savedCopy(t, opts.StateDir), "web.yaml"); err != nil {
		t.Fatalf("no copy of the last good revision: %v", err)
	}
	if _, err := fs.Stat(savedCopy(t, opts.StateDir), "drafts"); err == nil {
		t.Error("the copy holds an excluded directory")
	}

	// Restarted under an invalid head, it reconciles the saved copy.
	e.write("web.yaml", fleet("web", "bundle_gen_01", 5))
	e.write("api.yaml", fleet("web", "bundle_gen_01", 1)) // a second "web"
	var victim string
	for _, in := range e.emu.Instances() {
		victim = in.InstanceId
	}
	if err := e.emu.DeleteInstance(victim); err != nil {
		t.Fatal(err)
	}
	opts.Registry = prom.NewRegistry()
	e.start(opts)
	if s := e.d.Status(); s.LastGood == nil || s.LastGood.ID != good.ID {
		t.Fatalf("before the first cycle: last good %+v, want %s", s.LastGood, good.ID)
	}
	s := e.waitRuns(1)
	if s.Invalid == nil || s.LastGood.ID != good.ID || s.LastRun.Result != daemon.ResultSuccess {
		t.Fatalf("after a restart under an invalid head: invalid %v, last good %+v, result %q", s.Invalid, s.LastGood, s.LastRun.Result)
	}
	if len(s.Fleets) != 1 || s.Fleets[0].Desired != 2 || s.Fleets[0].File != "fleets/web.yaml" {
		t.Fatalf("fleets %+v", s.Fleets)
	}
	if !s.Ready {
		t.Error("not ready after a sync and an observe")
	}
	e.clock.Advance(reconcile.DefaultExpectWindow + time.Minute)
	e.cycle()
	if e.live("web-") != 2 {
		t.Fatalf("%d instances, want the saved revision's 2", e.live("web-"))
	}

	// A copy made under another path is not used.
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	opts.Registry = prom.NewRegistry()
	opts.Path = "."
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Status(); s.LastGood != nil {
		t.Errorf("a copy made under path fleets was used under path .: %+v", s.LastGood)
	}
}

// TestSpecBoundsTheLoad checks Options.Spec: a revision over MaxTotalCount
// is invalid, and a higher ceiling admits it.
func TestSpecBoundsTheLoad(t *testing.T) {
	files := map[string]string{"a.yaml": fleet("a", "bundle_gen_01", 2), "b.yaml": fleet("b", "bundle_gen_01", 2)}
	e := newEnv(t, files)
	opts := e.options()
	opts.Spec.MaxTotalCount = 3
	e.start(opts)
	if s := e.waitRuns(1); s.Invalid == nil || len(s.Invalid.Errors) != 1 || !strings.Contains(s.Invalid.Errors[0].Message, "limit of 3") || len(e.emu.Instances()) != 0 {
		t.Fatalf("over the ceiling: invalid %+v, %d instances", s.Invalid, len(e.emu.Instances()))
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	opts = e.options()
	opts.Spec.MaxTotalCount = 4
	e.start(opts)
	if s := e.waitRuns(1); s.Invalid != nil || e.live("a-")+e.live("b-") != 4 {
		t.Fatalf("at the ceiling: invalid %+v, %d instances", s.Invalid, e.live("a-")+e.live("b-"))
	}
}
