package prom

// This file is the Go runtime's series: the names and types that
// client_golang's default collectors.NewGoCollector writes (v1.25), so
// that dashboards built on them keep working.

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"time"
)

// goCollector writes the Go runtime's series. Its buffers are kept from one
// scrape to the next, so that a scrape allocates little.
type goCollector struct {
	mu      sync.Mutex
	gc      debug.GCStats
	ms      runtime.MemStats
	samples []rtmetrics.Sample
	quants  []float64
}

// goRuntimeGauges are the runtime/metrics samples written as gauges: the
// family name of each, its help, and the sample's name.
var goRuntimeGauges = [...]struct{ name, help, sample string }{
	{"go_gc_gogc_percent", "The garbage collector's target heap growth, in percent (GOGC).", "/gc/gogc:percent"},
	{"go_gc_gomemlimit_bytes", "The soft memory limit of the Go runtime, in bytes (GOMEMLIMIT).", "/gc/gomemlimit:bytes"},
	{"go_sched_gomaxprocs_threads", "The number of threads that may run Go code at once (GOMAXPROCS).", "/sched/gomaxprocs:threads"},
}

// goMemStat is a series read from runtime.MemStats.
type goMemStat struct {
	name, help string
	typ        Type
	get        func(*runtime.MemStats) uint64
}

// goMemStats are the series of runtime.MemStats.
var goMemStats = [...]goMemStat{
	{"go_memstats_alloc_bytes", "Bytes of heap objects currently allocated.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.Alloc }},
	{"go_memstats_alloc_bytes_total", "Bytes allocated for heap objects since the process started, freed or not.", TypeCounter, func(m *runtime.MemStats) uint64 { return m.TotalAlloc }},
	{"go_memstats_buck_hash_sys_bytes", "Bytes of memory in the profiling bucket hash tables.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.BuckHashSys }},
	{"go_memstats_frees_total", "Heap objects freed since the process started.", TypeCounter, func(m *runtime.MemStats) uint64 { return m.Frees }},
	{"go_memstats_gc_sys_bytes", "Bytes of memory in the garbage collector's metadata.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.GCSys }},
	{"go_memstats_heap_alloc_bytes", "Bytes of heap objects currently allocated (as go_memstats_alloc_bytes).", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapAlloc }},
	{"go_memstats_heap_idle_bytes", "Bytes in heap spans that hold no objects.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapIdle }},
	{"go_memstats_heap_inuse_bytes", "Bytes in heap spans that hold at least one object.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapInuse }},
	{"go_memstats_heap_objects", "Heap objects currently allocated.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapObjects }},
	{"go_memstats_heap_released_bytes", "Bytes of heap memory given back to the operating system.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapReleased }},
	{"go_memstats_heap_sys_bytes", "Bytes of heap memory obtained from the operating system.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.HeapSys }},
	{"go_memstats_mallocs_total", "Heap objects allocated since the process started.", TypeCounter, func(m *runtime.MemStats) uint64 { return m.Mallocs }},
	{"go_memstats_mcache_inuse_bytes", "Bytes of memory in use by mcache structures.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.MCacheInuse }},
	{"go_memstats_mcache_sys_bytes", "Bytes of memory obtained from the operating system for mcache structures.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.MCacheSys }},
	{"go_memstats_mspan_inuse_bytes", "Bytes of memory in use by mspan structures.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.MSpanInuse }},
	{"go_memstats_mspan_sys_bytes", "Bytes of memory obtained from the operating system for mspan structures.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.MSpanSys }},
	{"go_memstats_next_gc_bytes", "Heap size at which the next garbage collection is due, in bytes.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.NextGC }},
	{"go_memstats_other_sys_bytes", "Bytes of memory in other runtime allocations off the heap.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.OtherSys }},
	{"go_memstats_stack_inuse_bytes", "Bytes of memory in stack spans in use.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.StackInuse }},
	{"go_memstats_stack_sys_bytes", "Bytes of stack memory obtained from the operating system.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.StackSys }},
	{"go_memstats_sys_bytes", "Bytes of memory obtained from the operating system in all.", TypeGauge, func(m *runtime.MemStats) uint64 { return m.Sys }},
}

// The families of goCollector that are neither runtime/metrics samples nor
// MemStats fields.
const (
	goGCDuration = "go_gc_duration_seconds"
	goGoroutines = "go_goroutines"
	goThreads    = "go_threads"
	goInfo       = "go_info"
	goLastGC     = "go_memstats_last_gc_time_seconds"
)

// gcQuantiles are the quantiles of go_gc_duration_seconds: the minimum,
// the quartiles and the maximum, as debug.ReadGCStats gives them for a
// PauseQuantiles of length 5.
var gcQuantiles = []float64{0, 0.25, 0.5, 0.75, 1}

// NewGoCollector returns a collector of the Go runtime's series: garbage
// collection pauses, goroutines, threads, the Go version, GOGC, GOMEMLIMIT,
// GOMAXPROCS and the memory statistics of runtime.ReadMemStats, under the
// names client_golang's default Go collector gives them.
func NewGoCollector() Collector {
	c := &goCollector{
		samples: make([]rtmetrics.Sample, len(goRuntimeGauges)),
		quants:  make([]float64, len(gcQuantiles)),
	}
	c.gc.PauseQuantiles = make([]time.Duration, len(gcQuantiles))
	for i, g := range goRuntimeGauges {
		c.samples[i].Name = g.sample
	}
	return c
}

// Names implements Collector.
func (c *goCollector) Names() []string {
	names := []string{goGCDuration, goGoroutines, goThreads, goInfo, goLastGC}
	for _, g := range goRuntimeGauges {
		names = append(names, g.name)
	}
	for _, m := range goMemStats {
		names = append(names, m.name)
	}
	return names
}

// Collect implements Collector.
func (c *goCollector) Collect(s *Scrape) {
	s.Family(goGoroutines, "Goroutines that exist now.", TypeGauge).Add(float64(runtime.NumGoroutine()))
	threads, _ := runtime.ThreadCreateProfile(nil)
	s.Family(goThreads, "Operating system threads the Go runtime has created.", TypeGauge).Add(float64(threads))
	s.Family(goInfo, "The version of Go the program was built with, as a label; always 1.", TypeGauge, "version").Add(1, runtime.Version())

	c.mu.Lock()
	defer c.mu.Unlock()

	// ReadGCStats keeps the slices it is given when they are large enough:
	// after the first scrape, it allocates nothing.
	debug.ReadGCStats(&c.gc)
	for i, d := range c.gc.PauseQuantiles {
		c.quants[i] = d.Seconds()
	}
	s.Family(goGCDuration, "Quantiles of the stop-the-world pauses of garbage collection, in seconds.", TypeSummary).
		AddSummary(gcQuantiles, c.quants, c.gc.PauseTotal.Seconds(), uint64(c.gc.NumGC))

	rtmetrics.Read(c.samples)
	for i, g := range goRuntimeGauges {
		var v float64
		switch smp := c.samples[i].Value; smp.Kind() {
		case rtmetrics.KindUint64:
			v = float64(smp.Uint64())
		case rtmetrics.KindFloat64:
			v = smp.Float64()
		default:
			continue // not known to this Go version
		}
		s.Family(g.name, g.help, TypeGauge).Add(v)
	}

	runtime.ReadMemStats(&c.ms)
	for _, m := range goMemStats {
		s.Family(m.name, m.help, m.typ).Add(float64(m.get(&c.ms)))
	}
	s.Family(goLastGC, "When the last garbage collection ended, in seconds since the Unix epoch (0 if none has).", TypeGauge).
		Add(float64(c.ms.LastGC) / 1e9)
}
