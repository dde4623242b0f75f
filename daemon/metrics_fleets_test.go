package daemon

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// vecFleetMetrics is how the per-fleet series were kept before
// fleetMetrics (a GaugeVec child a series), the oracle of
// TestFleetMetricsExpositionAsGaugeVecs.
type vecFleetMetrics struct {
	fleet, failing, nextExpiry, backoff *prometheus.GaugeVec
	fleets                              map[string]bool
}

func newVecFleetMetrics(reg prometheus.Registerer) *vecFleetMetrics {
	// The help texts as they were, copied: a change of the collector's
	// shows here.
	vm := &vecFleetMetrics{
		fleet: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_instances",
			Help: "Instances of a fleet as last listed (after the apply, when the cycle sent anything; else by the plan): desired (spec.count), live (filling slots, pending included), pending, failed (LAUNCH_FAILED), expected (created, not listed yet), outdated (live, differing from the spec).",
		}, []string{"fleet", "state"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_failing",
			Help: "1 while a slot of the fleet has had 3 or more launches in a row end in LAUNCH_FAILED (the cycle is then not a success), else 0.",
		}, []string{"fleet"}),
		nextExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_next_expiry_timestamp_seconds",
			Help: "Unix time of the earliest ExpiredTime of the fleet's live instances (no series while none is known). One series per fleet: alert on it minus time().",
		}, []string{"fleet"}),
		backoff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_backoff_slots",
			Help: "Empty slots of the fleet not created in the last plan because their launches failed and their backoff is not over.",
		}, []string{"fleet"}),
	}
	reg.MustRegister(vm.fleet, vm.failing, vm.nextExpiry, vm.backoff)
	return vm
}

// observe is the observePlan and lifecycleMetrics.observe of before.
func (vm *vecFleetMetrics) observe(p, observed *reconcile.Plan) {
	now := map[string]bool{}
	for _, fp := range p.Fleets {
		now[fp.Fleet] = true
	}
	for name := range vm.fleets {
		if !now[name] {
			vm.fleet.DeletePartialMatch(prometheus.Labels{"fleet": name})
			for _, v := range []*prometheus.GaugeVec{vm.failing, vm.nextExpiry, vm.backoff} {
				v.DeleteLabelValues(name)
			}
		}
	}
	vm.fleets = now
	for _, fp := range p.Fleets {
		vm.failing.WithLabelValues(fp.Fleet).Set(b2f(fp.Failing && fp.Error == nil))
		vm.backoff.WithLabelValues(fp.Fleet).Set(float64(len(fp.Backoff)))
		if fp.NextExpiry.IsZero() {
			vm.nextExpiry.DeleteLabelValues(fp.Fleet)
		} else {
			vm.nextExpiry.WithLabelValues(fp.Fleet).Set(float64(fp.NextExpiry.Unix()))
		}
	}
	for _, fp := range observed.Fleets {
		for state, n := range map[string]int{"desired": fp.Desired, "live": fp.Live, "pending": fp.Pending, "failed": fp.Failed, "expected": fp.Expected, "outdated": fp.Outdated} {
			vm.fleet.WithLabelValues(fp.Fleet, state).Set(float64(n))
		}
	}
}

// TestFleetMetricsExpositionAsGaugeVecs: for the same plans, a scrape of
// fleetMetrics is byte for byte the scrape of the GaugeVecs it replaced
// (names, help, labels, values, order), through fleets added, gone, listed
// again after an apply or not, an expiry known then not, a failing fleet in
// error.
func TestFleetMetricsExpositionAsGaugeVecs(t *testing.T) {
	expiry := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	fleet := func(name string, n int) *reconcile.FleetPlan {
		return &reconcile.FleetPlan{Fleet: name, Desired: n, Live: n - 1, Pending: 1, Failed: 2, Expected: 3, Outdated: n % 3}
	}
	a, b, c := fleet("api", 3), fleet("batch", 5), fleet("cache", 7)
	a.NextExpiry, a.Failing, a.Backoff = expiry, true, []reconcile.Backoff{{Slot: 1}, {Slot: 2}}
	b.Failing, b.Error = true, &reconcile.FleetError{Message: "broken"}
	a2, b2 := fleet("api", 4), fleet("batch", 6)
	d := fleet("db", 1)
	d.NextExpiry = expiry.Add(time.Hour)
	steps := []struct {
		name        string
		p, observed *reconcile.Plan
	}{
		{"three fleets", &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a, b, c}}, nil},
		{"cache gone, api listed again after the apply, batch not", &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a2, b}}, &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a}}},
		{"db new, not listed after the apply", &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a2, b2, d}}, &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a2, b2}}},
		{"no fleet", &reconcile.Plan{}, nil},
		{"db back", &reconcile.Plan{Fleets: []*reconcile.FleetPlan{d}}, nil},
	}
	oldReg, newReg := prometheus.NewPedanticRegistry(), prom.NewRegistry()
	old, fm := newVecFleetMetrics(oldReg), newFleetMetrics()
	newReg.MustRegister(fm)
	for _, s := range steps {
		observed := s.observed
		if observed == nil {
			observed = s.p
		}
		old.observe(s.p, observed)
		fm.observe(s.p, observed)
		want, got := promtest.ClientGolangText(t, oldReg), promtest.Text(t, newReg)
		if got != want {
			t.Fatalf("%s: the scrape differs from the GaugeVecs'\ngot:\n%s\nwant:\n%s", s.name, got, want)
		}
		if s.name == "db new, not listed after the apply" && !strings.Contains(got, `lightkeeper_fleet_next_expiry_timestamp_seconds{fleet="db"} 1.798862645e+09`) {
			t.Fatalf("%s: no expiry series of db in\n%s", s.name, got)
		}
	}
}

// TestFleetMetricsHeapPerFleet bounds what the per-fleet series hold: a
// GaugeVec child a series held about 3.6 KB a fleet (3.6 MB for 1,000);
// fleetMetrics keeps a few numbers a fleet.
func TestFleetMetricsHeapPerFleet(t *testing.T) {
	const n = 2000
	p := &reconcile.Plan{}
	for i := range n {
		fp := &reconcile.FleetPlan{Fleet: fmt.Sprintf("fleet-%04d", i), Desired: 10, Live: 10, NextExpiry: time.Unix(1800000000, 0)}
		p.Fleets = append(p.Fleets, fp)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	fm := newFleetMetrics()
	before := heap()
	fm.observe(p, p)
	fm.observe(p, p) // a second cycle replaces, does not add
	perFleet := (int64(heap()) - int64(before)) / n
	runtime.KeepAlive(p)
	if perFleet > 400 {
		t.Errorf("fleetMetrics holds %d bytes a fleet, want at most 400", perFleet)
	}
	reg := prom.NewRegistry()
	reg.MustRegister(fm)
	if got, want := strings.Count(promtest.Text(t, reg), "\n"), n*9+4*2; got != want {
		t.Errorf("the scrape has %d lines, want %d (9 series a fleet, 4 families' HELP and TYPE)", got, want)
	}
}

// TestFleetMetricsPromtool: promtool check metrics finds nothing to say
// of the per-fleet series (skipped without promtool; .ci/run installs it).
func TestFleetMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus; .ci/run does)")
	}
	fm := newFleetMetrics()
	a := &reconcile.FleetPlan{Fleet: "api", Desired: 2, Live: 2, NextExpiry: time.Unix(1800000000, 0), Failing: true}
	p := &reconcile.Plan{Fleets: []*reconcile.FleetPlan{a}}
	fm.observe(p, p)
	reg := prom.NewRegistry()
	reg.MustRegister(fm)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(promtest.Text(t, reg))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// BenchmarkScrape1000Fleets is one scrape of /metrics of a daemon following
// 1,000 fleets (9,000 per-fleet series, the daemon's own families, the Go
// runtime's and the process's), the handler writing to a discarding
// response: "prom" is the daemon's registry (never compressed);
// "client_golang" the same per-fleet series as GaugeVecs (the test oracle
// above) with client_golang's Go and process collectors, through promhttp,
// plain and gzip-compressed, for comparison (the daemon before
// internal/prom made its per-fleet series at scrape time as constant
// metrics, which allocates more than GaugeVecs).
func BenchmarkScrape1000Fleets(b *testing.B) {
	reg, p := scraped1000Fleets(b)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip") // as Prometheus asks
	b.Run("prom", func(b *testing.B) {
		h := reg.Handler(1)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(discardResponse{}, req)
		}
	})
	for _, gz := range []bool{false, true} {
		name := "client_golang/plain"
		if gz {
			name = "client_golang/gzip"
		}
		b.Run(name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			newVecFleetMetrics(reg).observe(p, p)
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: !gz})
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(discardResponse{}, req)
			}
		})
	}
}

// scraped1000Fleets is the daemon's registry (its families, the Go
// runtime's and the process's) after a plan of 1,000 fleets, and the plan.
func scraped1000Fleets(tb testing.TB) (*prom.Registry, *reconcile.Plan) {
	p := &reconcile.Plan{}
	for i := range 1000 {
		p.Fleets = append(p.Fleets, &reconcile.FleetPlan{Fleet: fmt.Sprintf("fleet-%04d", i), Desired: 10, Live: 10, NextExpiry: time.Unix(1800000000, 0)})
	}
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	m, err := newMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	m.observePlan(p, p)
	return reg, p
}

// discardResponse is an http.ResponseWriter that keeps nothing.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (discardResponse) WriteHeader(int)             {}

// TestScrapeAllocations bounds what a scrape of a daemon following 1,000
// fleets allocates: a scrape comes every 15 s or so, and what it allocates
// lands on the idle daemon's peak (docs/benchmarks.md, "Sixth round: the
// metrics without client_golang": 4.2 MB a scrape when each series was
// rendered into a buffer of its own before the sort, 0.4 MB kept as label
// values and numbers).
func TestScrapeAllocations(t *testing.T) {
	reg, _ := scraped1000Fleets(t)
	scrape := func() uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := reg.WriteTo(io.Discard)
		runtime.ReadMemStats(&after)
		if err != nil || n < 500_000 {
			t.Fatalf("scrape: %d bytes, %v; want over 500,000", n, err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	scrape() // the collectors' buffers
	got := scrape()
	t.Logf("a scrape of 1,000 fleets allocated %d bytes", got)
	// 0.40 MB; 0.73 MB under -race, which allocates more; 1.34 MB with
	// the families' slices left to grow by doubling.
	if got > 1_000_000 {
		t.Errorf("a scrape of 1,000 fleets allocates %d bytes, want at most 1,000,000", got)
	}
}
