// Package prom keeps the daemon's Prometheus series and writes them in
// Prometheus's text exposition format (version 0.0.4): counters, gauges,
// histograms and their labelled families, a registry that serves them, and
// the Go runtime's and the process's series (runtime.go, process.go).
//
// It replaces github.com/prometheus/client_golang in the daemon's binary:
// that library gathers through protocol buffers, and linking them, with
// their init, costs every daemon 1.1 to 1.8 MiB of resident memory whether
// it is scraped or not (docs/benchmarks.md, "Sixth round: the metrics
// without client_golang"). The exposition is byte for byte what
// client_golang writes for the same series (TestExpositionAsClientGolang).
package prom

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Collector is what a Registry scrapes.
type Collector interface {
	// Names are the metric families the collector writes; a Registry
	// refuses a second collector of a name already registered.
	Names() []string
	// Collect adds the collector's series to s.
	Collect(s *Scrape)
}

// value is a float64 updated atomically.
type value struct{ bits atomic.Uint64 }

func (v *value) load() float64 { return math.Float64frombits(v.bits.Load()) }

func (v *value) store(f float64) { v.bits.Store(math.Float64bits(f)) }

func (v *value) add(f float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+f)) {
			return
		}
	}
}

// desc is a family's name, help and label names.
type desc struct {
	name, help string
	labels     []string
}

func (d *desc) Names() []string { return []string{d.name} }

// Counter is a value that only goes up. The zero value is a counter at 0
// that belongs to no family (what a CounterVec hands out is one).
type Counter struct {
	desc
	v value
}

// NewCounter returns a counter named name, described by help.
func NewCounter(name, help string) *Counter {
	return &Counter{desc: desc{name: name, help: help}}
}

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds f, which must not be negative (it panics if it is: a counter
// going down is a bug that would show as a reset in every rate).
func (c *Counter) Add(f float64) {
	if f < 0 {
		panic("prom: counter " + c.name + " cannot decrease")
	}
	c.v.add(f)
}

// Value is the counter's value.
func (c *Counter) Value() float64 { return c.v.load() }

// Collect implements Collector.
func (c *Counter) Collect(s *Scrape) {
	s.Family(c.name, c.help, TypeCounter).Add(c.v.load())
}

// Gauge is a value that goes up and down.
type Gauge struct {
	desc
	v value
}

// NewGauge returns a gauge named name, described by help.
func NewGauge(name, help string) *Gauge {
	return &Gauge{desc: desc{name: name, help: help}}
}

// Set sets the gauge to f.
func (g *Gauge) Set(f float64) { g.v.store(f) }

// Inc adds 1.
func (g *Gauge) Inc() { g.v.add(1) }

// Value is the gauge's value.
func (g *Gauge) Value() float64 { return g.v.load() }

// Collect implements Collector.
func (g *Gauge) Collect(s *Scrape) {
	s.Family(g.name, g.help, TypeGauge).Add(g.v.load())
}

// funcMetric is a counter or gauge whose value a function gives at scrape
// time.
type funcMetric struct {
	desc
	typ Type
	f   func() float64
}

// NewCounterFunc returns a counter whose value is f's at each scrape; f
// must never return less than it returned before.
func NewCounterFunc(name, help string, f func() float64) Collector {
	return &funcMetric{desc: desc{name: name, help: help}, typ: TypeCounter, f: f}
}

// NewGaugeFunc returns a gauge whose value is f's at each scrape.
func NewGaugeFunc(name, help string, f func() float64) Collector {
	return &funcMetric{desc: desc{name: name, help: help}, typ: TypeGauge, f: f}
}

func (m *funcMetric) Collect(s *Scrape) { s.Family(m.name, m.help, m.typ).Add(m.f()) }

// vec is the children of a labelled family, by their label values.
type vec[T any] struct {
	desc
	mu       sync.RWMutex
	children map[string]*child[T]
}

type child[T any] struct {
	values []string
	m      T
}

func newVec[T any](name, help string, labels []string) vec[T] {
	return vec[T]{desc: desc{name: name, help: help, labels: slices.Clone(labels)}, children: map[string]*child[T]{}}
}

// with returns the child of the label values vs, made if new.
func (v *vec[T]) with(vs []string) *T {
	if len(vs) != len(v.labels) {
		panic("prom: " + v.name + " takes " + strconv.Itoa(len(v.labels)) + " label values, got " + strconv.Itoa(len(vs)))
	}
	key := strings.Join(vs, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return &c.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &child[T]{values: slices.Clone(vs)}
		v.children[key] = c
	}
	return &c.m
}

// Reset removes every child.
func (v *vec[T]) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.children)
}

func (v *vec[T]) collect(s *Scrape, typ Type, get func(*T) float64) {
	f := s.Family(v.name, v.help, typ, v.labels...)
	v.mu.RLock()
	defer v.mu.RUnlock()
	f.Grow(len(v.children))
	for _, c := range v.children {
		f.Add(get(&c.m), c.values...)
	}
}

// CounterVec is a family of counters told apart by their label values.
type CounterVec struct{ vec[Counter] }

// NewCounterVec returns a family of counters named name with the label
// names labels.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{newVec[Counter](name, help, labels)}
}

// WithLabelValues returns the counter of the label values vs (one for each
// label name, in their order), made at 0 if new: a series exists from then
// on, so a rate over it starts at 0. It panics on a wrong number of values.
func (v *CounterVec) WithLabelValues(vs ...string) *Counter { return v.with(vs) }

// Collect implements Collector.
func (v *CounterVec) Collect(s *Scrape) {
	v.collect(s, TypeCounter, func(c *Counter) float64 { return c.Value() })
}

// GaugeVec is a family of gauges told apart by their label values.
type GaugeVec struct{ vec[Gauge] }

// NewGaugeVec returns a family of gauges named name with the label names
// labels.
func NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{newVec[Gauge](name, help, labels)}
}

// WithLabelValues returns the gauge of the label values vs, made at 0 if
// new. It panics on a wrong number of values.
func (v *GaugeVec) WithLabelValues(vs ...string) *Gauge { return v.with(vs) }

// Collect implements Collector.
func (v *GaugeVec) Collect(s *Scrape) {
	v.collect(s, TypeGauge, func(g *Gauge) float64 { return g.Value() })
}

// Histogram counts observations in buckets of upper bounds.
type Histogram struct {
	desc
	upper []float64
	mu    sync.Mutex
	// counts[i] counts the observations ≤ upper[i] and > upper[i-1]; the
	// last, those over every bound.
	counts []uint64
	sum    float64
	count  uint64
}

// NewHistogram returns a histogram named name with the upper bounds
// buckets (sorted, +Inf implied).
func NewHistogram(name, help string, buckets []float64) *Histogram {
	b := slices.Clone(buckets)
	if !slices.IsSorted(b) {
		panic("prom: the buckets of " + name + " are not sorted")
	}
	if n := len(b); n > 0 && math.IsInf(b[n-1], 1) {
		b = b[:n-1]
	}
	return &Histogram{desc: desc{name: name, help: help}, upper: b, counts: make([]uint64, len(b)+1)}
}

// Observe counts f.
func (h *Histogram) Observe(f float64) {
	i, _ := slices.BinarySearch(h.upper, f)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[i]++
	h.sum += f
	h.count++
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// Collect implements Collector.
func (h *Histogram) Collect(s *Scrape) {
	h.mu.Lock()
	cum := make([]uint64, len(h.upper))
	var n uint64
	for i := range h.upper {
		n += h.counts[i]
		cum[i] = n
	}
	sum, count := h.sum, h.count
	h.mu.Unlock()
	s.Family(h.name, h.help, TypeHistogram).AddHistogram(h.upper, cum, sum, count)
}
