package daemon_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// callLog is the Cloud the daemon is given in the fast path's tests: the
// client, with the order of its listings and creates noted (a listing as
// "sweep" when it lists every instance of a region, else "filtered").
type callLog struct {
	reconcile.Cloud
	mu    sync.Mutex
	calls []string
	// failFiltered makes the next filtered listing fail.
	failFiltered bool
	// beforeCreate, when set, is called before each create is sent.
	beforeCreate func()
}

func (c *callLog) note(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}

func (c *callLog) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	kind := "sweep"
	if req != nil && (len(req.Filters) > 0 || len(req.InstanceIds) > 0) {
		kind = "filtered"
	}
	c.note(kind)
	c.mu.Lock()
	fail := kind == "filtered" && c.failFiltered
	c.failFiltered = c.failFiltered && !fail
	c.mu.Unlock()
	if fail {
		return func(yield func(lighthouse.Instance, error) bool) {
			yield(lighthouse.Instance{}, &lighthouse.Error{Code: "InternalError", Message: "injected"})
		}
	}
	return c.Cloud.Instances(ctx, region, req)
}

func (c *callLog) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	c.note("create " + req.InstanceName)
	if c.beforeCreate != nil {
		c.beforeCreate()
	}
	return c.Cloud.CreateInstances(ctx, region, req)
}

// take returns the calls noted since the last take.
func (c *callLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// bulkFleets are the files of a region of 250 + 4 instances: three pages,
// more than the two filtered calls of a push that grows web.
func bulkFleets(web int) map[string]string {
	return map[string]string{"bulk.yaml": fleet("bulk", "bundle_gen_01", 250), "web.yaml": fleet("web", "bundle_gen_01", web)}
}

// fastEnv starts a daemon over bulkFleets(4) on a site that takes tags,
// with the call log and the options mod sets, and waits for its first
// cycle. The instances are bought before it starts, so that limits hold
// only the push's creates.
func fastEnv(t *testing.T, limits reconcile.Limits, mod ...func(*daemon.Options)) (*env, *callLog) {
	t.Helper()
	e := newEnvConfig(t, bulkFleets(4), func(c *emulator.Config) {
		c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}
		c.InstanceNameMatch = emulator.NameSubstring
	})
	fleets, err := spec.Load(os.DirFS(filepath.Join(e.dir, "fleets")), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := reconcile.New(e.client, nil, reconcile.Options{Tags: true, Now: e.clock.Now})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.Apply(context.Background(), p, false); err != nil || res.Created != 254 {
		t.Fatalf("buying the instances: %v %+v", err, res)
	}
	log := &callLog{Cloud: e.cloud}
	e.cloud = log
	opts := e.options()
	opts.Cloud = log
	opts.Reconcile.Tags = true
	opts.Limits = limits
	for _, m := range mod {
		m(&opts)
	}
	e.start(opts)
	if s := e.waitRuns(1); s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 4 {
		t.Fatalf("first cycle: %s, %d web instances", s.LastRun.Result, e.live("web-"))
	}
	log.take()
	return e, log
}

// A push that grows a fleet sends its creates after two filtered listings
// and before the full sweep, which then plans everything as always and
// finds them; the metrics say a filtered observation ran.
func TestPushCreatesBeforeTheFullSweep(t *testing.T) {
	e, log := fastEnv(t, noLimits())
	e.write("web.yaml", fleet("web", "bundle_gen_01", 6))
	s := e.cycle()
	calls := log.take()
	if s.LastRun.Trigger != daemon.TriggerWebhook || s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 6 {
		t.Fatalf("push cycle: trigger %s, result %s, %d web instances; calls %v", s.LastRun.Trigger, s.LastRun.Result, e.live("web-"), calls)
	}
	// After each create, the apply looks its instance up by ID (a
	// filtered listing too), as it does after a full sweep.
	sweep := slices.Index(calls, "sweep")
	if sweep != 6 || !slices.Equal(calls[:2], []string{"filtered", "filtered"}) || !slices.Contains(calls[2:sweep], "create web-4") || !slices.Contains(calls[2:sweep], "create web-5") {
		t.Fatalf("calls %v; want 2 filtered listings, the creates of web-4 and web-5 (each looked up), then the sweep", calls)
	}
	if slices.ContainsFunc(calls[sweep:], func(c string) bool { return strings.HasPrefix(c, "create") }) {
		t.Errorf("the full plan created again: %v", calls)
	}
	if s.LastRun.Created != 2 {
		t.Errorf("run created %d, want the fast path's 2", s.LastRun.Created)
	}
	// The timeline names what the fast path created, as it would the full plan's creates.
	var created []string
	for _, ev := range s.Events {
		if ev.Kind == daemon.EventCreate && ev.Cycle == s.Runs {
			created = append(created, ev.Fleet+": "+ev.Message)
		}
	}
	if len(created) != 1 || !strings.HasPrefix(created[0], "web: created 2: web-4 (lhins-") || !strings.Contains(created[0], "web-5 (lhins-") {
		t.Errorf("the cycle's create events: %q; want one naming web-4 and web-5", created)
	}
	if v := e.metric("lightkeeper_observations_total", "kind", "filtered"); v != 1 {
		t.Errorf("observations{filtered} = %v, want 1", v)
	}
	if v := e.metric("lightkeeper_creates_total", "result", "created"); v != 2 {
		t.Errorf("creates{created} = %v, want 2", v)
	}
	e.lint()
}

// Each reason a push takes no fast path is counted, and the full sweep
// alone plans: no filtered listing, no create before the sweep.
func TestPushFallsBackToTheFullSweep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits reconcile.Limits
		change func(e *env, log *callLog)
		reason string
	}{
		{"fleet removed", noLimits(), func(e *env, _ *callLog) {
			e.remove("web.yaml")
			e.write("web2.yaml", fleet("web2", "bundle_gen_01", 2))
		}, "fleet-removed"},
		{"fleet moved", noLimits(), func(e *env, _ *callLog) {
			e.write("web.yaml", strings.Replace(fleet("web", "bundle_gen_01", 6), "ap-guangzhou", "ap-shanghai", 1))
		}, "fleet-moved"},
		{"count down", noLimits(), func(e *env, _ *callLog) { e.write("web.yaml", fleet("web", "bundle_gen_01", 3)) }, "nothing-to-create"},
		{"bundle changed", noLimits(), func(e *env, _ *callLog) { e.write("web.yaml", fleet("web", "bundle_gen_02", 6)) }, "nothing-to-create"},
		{"over a limit", reconcile.Limits{MaxCreates: 1, MaxMonthlySpend: reconcile.NoLimit}, func(e *env, _ *callLog) {
			e.write("web.yaml", fleet("web", "bundle_gen_01", 6))
		}, "over-limit"},
		{"describe fails", noLimits(), func(e *env, log *callLog) {
			e.write("web.yaml", fleet("web", "bundle_gen_01", 6))
			log.mu.Lock()
			log.failFiltered = true
			log.mu.Unlock()
		}, reconcile.FallbackDescribe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, log := fastEnv(t, tc.limits)
			tc.change(e, log)
			s := e.cycle()
			calls := log.take()
			if tc.reason == "over-limit" && (s.LastRun.Result != daemon.ResultHeld || e.live("web-") != 4) {
				t.Errorf("over a limit: result %s, %d web instances; want the full plan held and nothing bought", s.LastRun.Result, e.live("web-"))
			}
			if i := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create") }); i >= 0 && !slices.Contains(calls[:i], "sweep") {
				t.Errorf("a create before the sweep: %v", calls)
			}
			if v := e.metric("lightkeeper_push_fallbacks_total", "reason", tc.reason); v != 1 {
				t.Errorf("push_fallbacks{%s} = %v, want 1", tc.reason, v)
			}
			if v := e.metric("lightkeeper_observations_total", "kind", "filtered"); v != 0 {
				t.Errorf("observations{filtered} = %v, want 0", v)
			}
		})
	}
}

func noLimits() reconcile.Limits {
	return reconcile.Limits{MaxCreates: reconcile.NoLimit, MaxMonthlySpend: reconcile.NoLimit}
}

// TestPushWaitsForTheCopy: a push's fast path observes while the pushed
// revision's copy is written (docs/design.md section 8.6), but sends no
// create before the copy is saved; a copy that cannot be written leaves the
// revision unapplied, and the next cycle applies it once it can.
func TestPushWaitsForTheCopy(t *testing.T) {
	stateDir := t.TempDir()
	e, log := fastEnv(t, noLimits(), func(o *daemon.Options) { o.StateDir = stateDir })
	saved := filepath.Join(stateDir, daemon.LastGoodFile)
	var mu sync.Mutex
	var copies []string // the revision on disk at each create
	log.beforeCreate = func() {
		var meta struct{ ID string }
		z, err := zip.OpenReader(saved)
		if err == nil {
			b, rerr := fs.ReadFile(z, ".revision.json")
			if rerr == nil {
				err = json.Unmarshal(b, &meta)
			} else {
				err = rerr
			}
			z.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		copies = append(copies, fmt.Sprint(meta.ID, err))
	}

	e.write("web.yaml", fleet("web", "bundle_gen_01", 6))
	s := e.cycle()
	calls := log.take()
	if e.live("web-") != 6 || !slices.Equal(calls[:2], []string{"filtered", "filtered"}) || slices.Index(calls, "create web-4") > slices.Index(calls, "sweep") {
		t.Fatalf("push: %d web instances, calls %v; want the fast path's creates", e.live("web-"), calls)
	}
	want := s.LastGood.ID + "<nil>"
	mu.Lock()
	if len(copies) != 2 || copies[0] != want || copies[1] != want {
		t.Fatalf("the copy on disk at each create: %q, want the pushed revision's (%s) at both", copies, want)
	}
	copies = nil
	mu.Unlock()

	// A copy that cannot be written: a directory stands where it goes.
	if err := os.Rename(saved, saved+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(saved, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := s.LastGood.ID
	e.write("web.yaml", fleet("web", "bundle_gen_01", 8))
	s = e.cycle()
	calls = log.take()
	if n := e.live("web-"); n != 6 || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create") }) {
		t.Fatalf("%d web instances, calls %v: a revision whose copy failed was applied", n, calls)
	}
	if s.LastGood.ID != before || !strings.Contains(s.LastError, "not applied") {
		t.Fatalf("last good %s (want %s), last error %q", s.LastGood.ID, before, s.LastError)
	}
	if v := e.metric("lightkeeper_push_fallbacks_total", "reason", "copy-not-saved"); v != 1 {
		t.Errorf("push_fallbacks{copy-not-saved} = %v, want 1", v)
	}

	// The way cleared, the next cycle adopts and applies it.
	if err := os.RemoveAll(saved); err != nil {
		t.Fatal(err)
	}
	s = e.cycle()
	if n := e.live("web-"); n != 8 || s.LastGood.ID == before {
		t.Fatalf("after the copy could be written: %d web instances, last good %s", n, s.LastGood.ID)
	}
}
