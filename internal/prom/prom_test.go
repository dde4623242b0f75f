package prom_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"
)

// summaryCollector is a constant summary, for client_golang's side.
type summaryCollector struct{ d *prometheus.Desc }

func (s summaryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- s.d }
func (s summaryCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstSummary(s.d, 7, 1.5, map[float64]float64{0: 0.001, 0.5: 0.25, 1: 0.75}, "b")
	ch <- prometheus.MustNewConstSummary(s.d, 2, 0.5, map[float64]float64{0: 0.1, 0.5: 0.2, 1: 0.3}, "a")
}

type ourSummary struct{}

func (ourSummary) Names() []string { return []string{"x_pause_seconds"} }
func (ourSummary) Collect(s *prom.Scrape) {
	f := s.Family("x_pause_seconds", "Pauses.", prom.TypeSummary, "phase")
	q := []float64{0, 0.5, 1}
	f.AddSummary(q, []float64{0.001, 0.25, 0.75}, 1.5, 7, "b")
	f.AddSummary(q, []float64{0.1, 0.2, 0.3}, 0.5, 2, "a")
}

// TestExpositionAsClientGolang: the same series, made the same way in
// client_golang and in metrics, scrape to the same bytes: families by name,
// labels by name, series by label values, values formatted alike, help and
// label values escaped alike, histograms' and summaries' lines alike,
// families without series left out.
func TestExpositionAsClientGolang(t *testing.T) {
	theirs, ours := prometheus.NewRegistry(), prom.NewRegistry()

	tc := prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "A counter.\nSecond line with a \\ backslash."})
	oc := prom.NewCounter("x_total", "A counter.\nSecond line with a \\ backslash.")
	tg := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_gauge", Help: "A gauge."})
	og := prom.NewGauge("x_gauge", "A gauge.")
	// Label names out of order: both write them sorted by name.
	tcv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_requests_total", Help: "Requests."}, []string{"result", "reason"})
	ocv := prom.NewCounterVec("x_requests_total", "Requests.", "result", "reason")
	tgv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "x_info", Help: "Info."}, []string{"revision", "last_good"})
	ogv := prom.NewGaugeVec("x_info", "Info.", "revision", "last_good")
	tempty := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_empty_total", Help: "Never used."}, []string{"a"})
	oempty := prom.NewCounterVec("x_empty_total", "Never used.", "a")
	buckets := []float64{.05, .1, .25, 1, 2.5, 600}
	th := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_duration_seconds", Help: "Durations.", Buckets: buckets})
	oh := prom.NewHistogram("x_duration_seconds", "Durations.", buckets)
	n := 0.0
	tf := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x_func_seconds_total", Help: "A function."}, func() float64 { return n })
	of := prom.NewCounterFunc("x_func_seconds_total", "A function.", func() float64 { return n })
	tgf := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x_func_gauge", Help: "A gauge function."}, func() float64 { return -n })
	ogf := prom.NewGaugeFunc("x_func_gauge", "A gauge function.", func() float64 { return -n })
	theirs.MustRegister(tc, tg, tcv, tgv, tempty, th, tf, tgf, summaryCollector{prometheus.NewDesc("x_pause_seconds", "Pauses.", []string{"phase"}, nil)})
	ours.MustRegister(oc, og, ocv, ogv, oempty, oh, of, ogf, ourSummary{})

	steps := []struct {
		name string
		do   func()
	}{
		{"nothing done", func() {}},
		{"counts", func() {
			tc.Add(3)
			oc.Add(3)
			tg.Set(1e6)
			og.Set(1e6)
			for _, l := range [][2]string{{"refused", "bad signature"}, {"accepted", ""}, {"accepted", "push"}, {"ignored", `a "quoted" \ value` + "\nwith a newline"}, {"accepted", "pull"}} {
				tcv.WithLabelValues(l[0], l[1]).Inc()
				ocv.WithLabelValues(l[0], l[1]).Inc()
			}
			tgv.WithLabelValues("abc123", "true").Set(1)
			ogv.WithLabelValues("abc123", "true").Set(1)
			for _, v := range []float64{0, .05, .07, .1, 1, 3, 600, 601, 1e9} {
				th.Observe(v)
				oh.Observe(v)
			}
			n = 0.1
		}},
		{"odd values", func() {
			tg.Set(math.NaN())
			og.Set(math.NaN())
			tc.Add(0.1)
			oc.Add(0.1)
			tgv.Reset()
			ogv.Reset()
			tgv.WithLabelValues("def456", "false").Set(math.Inf(1))
			ogv.WithLabelValues("def456", "false").Set(math.Inf(1))
			n = 1234567.891
		}},
		{"negative", func() {
			tg.Set(math.Inf(-1))
			og.Set(math.Inf(-1))
			tg.Add(0)
			tgv.WithLabelValues("x", "y").Set(-0.000123)
			ogv.WithLabelValues("x", "y").Set(-0.000123)
		}},
	}
	for _, s := range steps {
		s.do()
		want, got := promtest.ClientGolangText(t, theirs), promtest.Text(t, ours)
		if got != want {
			t.Fatalf("%s: the scrape differs from client_golang's\ngot:\n%s\nwant:\n%s", s.name, got, want)
		}
	}
	if v, _ := promtest.Value(t, ours, "x_requests_total", "result", "accepted", "reason", "push"); v != 1 {
		t.Errorf("x_requests_total{accepted,push} read back as %v, want 1", v)
	}
	if oc.Value() != 3.1 || oh.Count() != 9 {
		t.Errorf("counter %v, histogram count %d; want 3.1, 9", oc.Value(), oh.Count())
	}
}

// TestPromtoolChecksTheExposition: promtool check metrics has nothing to say
// of a scrape with every kind of family (skipped without promtool; .ci/run
// installs it).
func TestPromtoolChecksTheExposition(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus; .ci/run does)")
	}
	r := prom.NewRegistry()
	h := prom.NewHistogram("x_duration_seconds", "Durations.", []float64{1, 2})
	h.Observe(1.5)
	cv := prom.NewCounterVec("x_requests_total", "Requests by result.", "result")
	cv.WithLabelValues("ok").Inc()
	r.MustRegister(h, cv, prom.NewGauge("x_ready", "1 when ready."), ourSummary{}, prom.NewGoCollector(), prom.NewProcessCollector())
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(promtest.Text(t, r))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestRegistryRefusesADuplicate(t *testing.T) {
	r := prom.NewRegistry()
	if err := r.Register(prom.NewCounter("x_total", "One.")); err != nil {
		t.Fatal(err)
	}
	err := r.Register(prom.NewCounterVec("x_total", "Two.", "a"))
	if err == nil || err.Error() != "prom: x_total is registered already" {
		t.Fatalf("second x_total: %v, want refused", err)
	}
}

func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"a counter going down": func() { prom.NewCounter("x_total", "").Add(-1) },
		"too few label values": func() { prom.NewCounterVec("x_total", "", "a", "b").WithLabelValues("1") },
		"unsorted buckets":     func() { prom.NewHistogram("x", "", []float64{2, 1}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		})
	}
}

// TestHandler: the content type of the text format, never compressed
// (Handler says why), whatever the client accepts.
func TestHandler(t *testing.T) {
	r := prom.NewRegistry()
	c := prom.NewCounter("x_total", "Things.")
	c.Add(42)
	r.MustRegister(c)
	want := "# HELP x_total Things.\n# TYPE x_total counter\nx_total 42\n"
	for _, enc := range []string{"", "gzip", "deflate, gzip;q=1.0, *;q=0.1"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		r.Handler(1).ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("%q: Content-Type %q", enc, ct)
		}
		if ce := rec.Header().Get("Content-Encoding"); ce != "" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", enc, ce)
		}
		if got := rec.Body.String(); got != want {
			t.Errorf("Accept-Encoding %q: body %q, want %q", enc, got, want)
		}
	}
}

// blockingCollector writes one gauge once release is closed, telling
// started as each Collect begins.
type blockingCollector struct {
	started chan struct{}
	release chan struct{}
}

func (c blockingCollector) Names() []string { return []string{"slow"} }
func (c blockingCollector) Collect(s *prom.Scrape) {
	c.started <- struct{}{}
	<-c.release
	s.Family("slow", "Slow.", prom.TypeGauge).Add(1)
}

// TestHandlerLimitsScrapesInFlight: with two scrapes in flight a third is
// refused with 503 and Retry-After, and once they end a scrape is served
// again.
func TestHandlerLimitsScrapesInFlight(t *testing.T) {
	r := prom.NewRegistry()
	c := blockingCollector{started: make(chan struct{}), release: make(chan struct{})}
	r.MustRegister(c)
	h := r.Handler(2)
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec
	}
	var wg sync.WaitGroup
	held := make([]*httptest.ResponseRecorder, 2)
	for i := range held {
		wg.Add(1)
		go func() { defer wg.Done(); held[i] = get() }()
		<-c.started
	}
	third := make(chan *httptest.ResponseRecorder, 1)
	go func() { third <- get() }()
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-third:
	case <-c.started:
		close(c.release)
		wg.Wait()
		t.Fatal("a third scrape was collected with two in flight")
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), "too many scrapes in flight (at most 2 at once)") {
		t.Fatalf("third scrape with two in flight: %d, Retry-After %q, %q; want 503, 1 and the reason",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	close(c.release)
	wg.Wait()
	for i, rec := range held {
		if rec.Code != http.StatusOK || rec.Body.String() != "# HELP slow Slow.\n# TYPE slow gauge\nslow 1\n" {
			t.Errorf("scrape %d in flight: %d %q", i, rec.Code, rec.Body.String())
		}
	}
	go func() { <-c.started }()
	if rec := get(); rec.Code != http.StatusOK {
		t.Errorf("a scrape after the others ended: %d %q, want 200", rec.Code, rec.Body.String())
	}
}

// TestConcurrentUpdatesAndScrapes: updates from many goroutines during
// scrapes lose nothing (run with -race to check the locking).
func TestConcurrentUpdatesAndScrapes(t *testing.T) {
	r := prom.NewRegistry()
	cv := prom.NewCounterVec("x_total", "Things.", "who")
	g := prom.NewGauge("x_level", "Level.")
	h := prom.NewHistogram("x_seconds", "Seconds.", []float64{1})
	r.MustRegister(cv, g, h)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				cv.WithLabelValues(string(rune('a' + i%2))).Inc()
				g.Inc()
				h.Observe(0.5)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			promtest.Gather(t, r)
		}
	})
	wg.Wait()
	a, _ := promtest.Value(t, r, "x_total", "who", "a")
	b, _ := promtest.Value(t, r, "x_total", "who", "b")
	if a != 4000 || b != 4000 || g.Value() != 8000 || h.Count() != 8000 {
		t.Errorf("a %v, b %v, gauge %v, histogram %d; want 4000, 4000, 8000, 8000", a, b, g.Value(), h.Count())
	}
}

// FuzzExposition: for any help and label values (valid UTF-8, as
// Prometheus requires), the scrape is client_golang's byte for byte and
// Prometheus's parser reads the label values back unchanged.
func FuzzExposition(f *testing.F) {
	f.Add("Help.", "web", "a\"b", 1.5)
	f.Add("Two\nlines \\ here", "", "\\n", math.Copysign(0, -1))
	f.Add("", "ünï", "x\ny", math.Inf(-1))
	f.Fuzz(func(t *testing.T, help, a, b string, v float64) {
		if !utf8.ValidString(help) || !utf8.ValidString(a) || !utf8.ValidString(b) {
			t.Skip()
		}
		theirs, ours := prometheus.NewRegistry(), prom.NewRegistry()
		tv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "x_value", Help: help}, []string{"z", "a"})
		ov := prom.NewGaugeVec("x_value", help, "z", "a")
		theirs.MustRegister(tv)
		ours.MustRegister(ov)
		tv.WithLabelValues(a, b).Set(v)
		ov.WithLabelValues(a, b).Set(v)
		tv.WithLabelValues(b, a).Set(1)
		ov.WithLabelValues(b, a).Set(1)
		if got, want := promtest.Text(t, ours), promtest.ClientGolangText(t, theirs); got != want {
			t.Fatalf("the scrape differs from client_golang's\ngot:\n%s\nwant:\n%s", got, want)
		}
		for _, m := range promtest.Gather(t, ours)["x_value"].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() != a && lp.GetValue() != b {
					t.Fatalf("label %s read back as %q, set to %q or %q", lp.GetName(), lp.GetValue(), a, b)
				}
			}
		}
	})
}
