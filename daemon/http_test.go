package daemon_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	e.build(opts)
	if code, _ := e.get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before Run = %d", code)
	}
	if code, _ := e.get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Run = %d", code)
	}
	opts.Registry = prom.NewRegistry()
	e.start(opts)
	e.waitRuns(1)
	for _, path := range []string{"/healthz", "/readyz", "/status", "/", "/metrics"} {
		if code, body := e.get(path); code != http.StatusOK {
			t.Errorf("%s = %d: %s", path, code, body)
		}
	}
	if code, _ := e.get("/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d", code)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz after Run = %d", code)
	}
}

func TestWebhookTriggersACycle(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	var d *daemon.Daemon
	opts.Webhook = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.Trigger()
		w.WriteHeader(http.StatusAccepted)
	})
	e.start(opts)
	d = e.d
	e.waitRuns(1)
	e.write("web.yaml", fleet("web", "bundle_gen_01", 2))
	srv := httptest.NewServer(e.d.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/hooks/git", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /hooks/git = %d", resp.StatusCode)
	}
	e.waitRuns(2)
	if e.live("web-") != 2 {
		t.Fatalf("%d instances after the webhook, want 2", e.live("web-"))
	}
	if resp, err := http.Get(srv.URL + "/hooks/git"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /hooks/git: %v %v", resp.StatusCode, err)
	}
}

func TestNoWebhookNoRoute(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	d, err := daemon.New(e.options())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/git", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /hooks/git without a webhook = %d", rec.Code)
	}
}

func TestMetricsExposition(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 2),
		"api.yaml": fleet("api", "bundle_gen_01", 1),
	})
	e.start(e.options())
	e.waitRuns(1)
	e.write("web.yaml", "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec: {region: ap-guangzhou, count: -3}\n")
	e.cycle()
	want := `
# HELP lightkeeper_invalid_revision 1 while the newest revision is invalid and the last good one is reconciled instead.
# TYPE lightkeeper_invalid_revision gauge
lightkeeper_invalid_revision 1
# HELP lightkeeper_reconcile_runs_total Reconcile cycles by result: success, partial (some fleet or create failed), held (over a limit), error, canceled, follower (synced only: another daemon leads).
# TYPE lightkeeper_reconcile_runs_total counter
lightkeeper_reconcile_runs_total{result="canceled"} 0
lightkeeper_reconcile_runs_total{result="error"} 0
lightkeeper_reconcile_runs_total{result="follower"} 0
lightkeeper_reconcile_runs_total{result="held"} 0
lightkeeper_reconcile_runs_total{result="partial"} 0
lightkeeper_reconcile_runs_total{result="success"} 2
# HELP lightkeeper_creates_total Creates of apply, by result: created, waiting (the token returned an instance DescribeInstances does not list: deleted by hand or not listed yet), ambiguous (outcome unknown, re-sent with the same token), failed, deferred (not sent: the daemon was stopping or lost the leadership).
# TYPE lightkeeper_creates_total counter
lightkeeper_creates_total{result="ambiguous"} 0
lightkeeper_creates_total{result="created"} 3
lightkeeper_creates_total{result="deferred"} 0
lightkeeper_creates_total{result="failed"} 0
lightkeeper_creates_total{result="waiting"} 0
# HELP lightkeeper_git_fetches_total Syncs of the fleet repository by result: success, error.
# TYPE lightkeeper_git_fetches_total counter
lightkeeper_git_fetches_total{result="error"} 0
lightkeeper_git_fetches_total{result="success"} 2
# HELP lightkeeper_revision_loads_total Fleet specs loaded from a new revision, by result: valid, invalid.
# TYPE lightkeeper_revision_loads_total counter
lightkeeper_revision_loads_total{result="invalid"} 1
lightkeeper_revision_loads_total{result="valid"} 1
# HELP lightkeeper_fleet_instances Instances of a fleet as last listed (after the apply, when the cycle sent anything; else by the plan): desired (spec.count), live (filling slots, pending included), pending, failed (LAUNCH_FAILED), expected (created, not listed yet), outdated (live, differing from the spec).
# TYPE lightkeeper_fleet_instances gauge
lightkeeper_fleet_instances{fleet="api",state="desired"} 1
lightkeeper_fleet_instances{fleet="api",state="expected"} 0
lightkeeper_fleet_instances{fleet="api",state="failed"} 0
lightkeeper_fleet_instances{fleet="api",state="live"} 1
lightkeeper_fleet_instances{fleet="api",state="outdated"} 0
lightkeeper_fleet_instances{fleet="api",state="pending"} 1
lightkeeper_fleet_instances{fleet="web",state="desired"} 2
lightkeeper_fleet_instances{fleet="web",state="expected"} 0
lightkeeper_fleet_instances{fleet="web",state="failed"} 0
lightkeeper_fleet_instances{fleet="web",state="live"} 2
lightkeeper_fleet_instances{fleet="web",state="outdated"} 0
lightkeeper_fleet_instances{fleet="web",state="pending"} 2
`
	if err := promtest.Compare(t, e.reg, want,
		"lightkeeper_invalid_revision", "lightkeeper_reconcile_runs_total", "lightkeeper_creates_total",
		"lightkeeper_git_fetches_total", "lightkeeper_revision_loads_total", "lightkeeper_fleet_instances"); err != nil {
		t.Error(err)
	}
	if n := promtest.Count(t, e.reg, "lightkeeper_revision_info"); n != 1 {
		t.Errorf("%d revision_info series, want 1", n)
	}
	if v := e.metric("lightkeeper_last_success_timestamp_seconds"); v <= 0 {
		t.Errorf("last_success_timestamp_seconds = %v", v)
	}
	e.lint()

	// /metrics serves the same registry in the text format.
	code, body := e.get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, "lightkeeper_invalid_revision 1") {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
}

func TestStatusJSON(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	opts := e.options()
	e.start(opts)
	e.waitRuns(1)
	code, body := e.get("/status")
	if code != http.StatusOK {
		t.Fatalf("/status = %d", code)
	}
	var s struct {
		Running  bool
		Ready    bool
		Revision struct{ ID string }
		LastGood struct{ ID string }
		LastRun  struct{ Result string }
		Fleets   []daemon.FleetStatus
		Plan     *reconcile.Plan
		Result   *reconcile.Result
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Running || !s.Ready || s.Revision.ID == "" || s.LastGood.ID != s.Revision.ID || s.LastRun.Result != "success" {
		t.Errorf("status %s", body)
	}
	if len(s.Fleets) != 1 || s.Fleets[0].Name != "web" || s.Fleets[0].Desired != 2 || s.Fleets[0].Created != 2 {
		t.Errorf("fleets %+v", s.Fleets)
	}
	if s.Plan == nil || s.Plan.Totals.Creates != 2 || s.Result == nil || s.Result.Created != 2 {
		t.Errorf("plan %+v result %+v", s.Plan, s.Result)
	}
}

// TestStatusListsBeforeFirstCycle: before a cycle has run, /status's
// fleets and events are empty lists, so that `jq '.events[]'` works.
func TestStatusListsBeforeFirstCycle(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	e.build(opts)
	code, body := e.get("/status")
	if code != http.StatusOK {
		t.Fatalf("/status = %d: %s", code, body)
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"fleets", "events"} {
		if got := string(s[key]); got != "[]" {
			t.Errorf("/status before the first cycle: %q is %s, want []", key, got)
		}
	}
}

func TestRemovedFleetLosesItsSeries(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 1),
		"api.yaml": fleet("api", "bundle_gen_01", 1),
	})
	e.start(e.options())
	e.waitRuns(1)
	if n := promtest.Count(t, e.reg, "lightkeeper_fleet_instances"); n != 12 {
		t.Fatalf("%d fleet_instances series, want 12", n)
	}
	e.remove("api.yaml")
	e.cycle()
	if n := promtest.Count(t, e.reg, "lightkeeper_fleet_instances"); n != 6 {
		t.Fatalf("%d fleet_instances series after api left git, want 6", n)
	}
}

func TestRunServesListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	opts.Listen = addr
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a taken address: %v", err)
	}
	ln.Close()
	opts.Registry = prom.NewRegistry()
	e.start(opts)
	e.waitRuns(1)
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz on Listen = %d", resp.StatusCode)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}
}

// TestEveryResponseIsNosniff: no browser reads /status, /metrics or an
// error as anything but its declared type.
func TestEveryResponseIsNosniff(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	opts.Webhook = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	e.start(opts)
	e.waitRuns(1)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/healthz", nil), httptest.NewRequest(http.MethodGet, "/readyz", nil),
		httptest.NewRequest(http.MethodGet, "/metrics", nil), httptest.NewRequest(http.MethodGet, "/status", nil),
		httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRequest(http.MethodGet, "/nothing", nil),
		httptest.NewRequest(http.MethodPost, "/hooks/git", nil),
	} {
		w := httptest.NewRecorder()
		e.d.Handler().ServeHTTP(w, r)
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q", r.Method, r.URL.Path, w.Code, got)
		}
	}
}
