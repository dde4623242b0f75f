package prom

// The tests of runtime.go and process.go: the families are client_golang's
// (names and types), their values are sane, and the parsers of /proc's
// files hold on what Linux writes and on anything else.

import (
	"bytes"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// rtGather parses r's exposition with Prometheus's own text parser.
func rtGather(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, b.String())
	}
	return fams
}

// rtClientGolang gathers client_golang's Go and process collectors.
func rtClientGolang(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		fams[mf.GetName()] = mf
	}
	return fams
}

// rtValue is the value of the first series of family name (a summary's is
// its count), and whether there is one.
func rtValue(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	ms := fams[name].GetMetric()
	if len(ms) == 0 {
		return 0, false
	}
	switch m := ms[0]; {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount()), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

func newRuntimeRegistry() *Registry {
	r := NewRegistry()
	r.MustRegister(NewGoCollector(), NewProcessCollector())
	return r
}

// rtMust is rtValue, failing the test if there is no series.
func rtMust(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	v, ok := rtValue(fams, name)
	if !ok {
		t.Fatalf("no series %s", name)
	}
	return v
}

func TestGoProcessFamiliesAsClientGolang(t *testing.T) {
	theirs := map[string]string{}
	for name, mf := range rtClientGolang(t) {
		if len(name) >= 8 && name[:8] == "promhttp" {
			continue
		}
		theirs[name] = mf.GetType().String()
	}
	ours := map[string]string{}
	for name, mf := range rtGather(t, newRuntimeRegistry()) {
		ours[name] = mf.GetType().String()
	}
	for _, name := range slices.Sorted(maps.Keys(theirs)) {
		switch got, ok := ours[name]; {
		case !ok:
			t.Errorf("%s (%s) is missing", name, theirs[name])
		case got != theirs[name]:
			t.Errorf("%s is a %s, client_golang's a %s", name, got, theirs[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ours)) {
		if _, ok := theirs[name]; !ok {
			t.Errorf("%s is not client_golang's", name)
		}
	}

	// Names lists what Collect writes: all of it on Linux, the Go
	// runtime's elsewhere.
	names := slices.Concat(NewGoCollector().Names(), NewProcessCollector().Names())
	slices.Sort(names)
	if len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Names repeats a name: %v", names)
	}
	written := slices.Sorted(maps.Keys(ours))
	if runtime.GOOS == "linux" {
		if !slices.Equal(names, written) {
			t.Errorf("Names()\n %v\nbut the families written are\n %v", names, written)
		}
	} else {
		for _, n := range written {
			if !slices.Contains(names, n) {
				t.Errorf("%s is written but not in Names()", n)
			}
		}
	}
}

func TestGoCollectorValues(t *testing.T) {
	r := newRuntimeRegistry()
	fams := rtGather(t, r)

	// go_info is 1 with the version as a label.
	info := fams["go_info"].GetMetric()
	if len(info) != 1 || info[0].GetGauge().GetValue() != 1 || len(info[0].GetLabel()) != 1 ||
		info[0].GetLabel()[0].GetName() != "version" || info[0].GetLabel()[0].GetValue() != runtime.Version() {
		t.Errorf("go_info = %v, want version=%q 1", info, runtime.Version())
	}

	// The summary has client_golang's quantiles.
	if sum := fams["go_gc_duration_seconds"].GetMetric(); len(sum) == 1 {
		var qs []float64
		for _, q := range sum[0].GetSummary().GetQuantile() {
			qs = append(qs, q.GetQuantile())
		}
		if want := []float64{0, 0.25, 0.5, 0.75, 1}; !slices.Equal(qs, want) {
			t.Errorf("go_gc_duration_seconds quantiles %v, want %v", qs, want)
		}
	} else {
		t.Errorf("go_gc_duration_seconds has %d series", len(sum))
	}

	if got, want := rtMust(t, fams, "go_sched_gomaxprocs_threads"), float64(runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("go_sched_gomaxprocs_threads = %v, want %v", got, want)
	}
	if v := rtMust(t, fams, "go_gc_gomemlimit_bytes"); v <= 0 {
		t.Errorf("go_gc_gomemlimit_bytes = %v", v)
	}
	if v := rtMust(t, fams, "go_threads"); v < 1 {
		t.Errorf("go_threads = %v", v)
	}
	if v, sys := rtMust(t, fams, "go_memstats_heap_alloc_bytes"), rtMust(t, fams, "go_memstats_sys_bytes"); v <= 0 || v > sys {
		t.Errorf("go_memstats_heap_alloc_bytes = %v, go_memstats_sys_bytes = %v", v, sys)
	}

	// Goroutines: 10 more while 10 block.
	before := rtMust(t, fams, "go_goroutines")
	if before < 1 {
		t.Errorf("go_goroutines = %v", before)
	}
	block := make(chan struct{})
	started := make(chan struct{})
	for range 10 {
		go func() {
			started <- struct{}{}
			<-block
		}()
	}
	for range 10 {
		<-started
	}
	after := rtMust(t, rtGather(t, r), "go_goroutines")
	close(block)
	if after <= before {
		t.Errorf("go_goroutines went from %v to %v with 10 goroutines more", before, after)
	}

	// A collection counts, and is the last one.
	gcs := rtMust(t, fams, "go_gc_duration_seconds")
	allocated := rtMust(t, fams, "go_memstats_alloc_bytes_total")
	rtSink = make([]byte, 1<<20)
	runtime.GC()
	now := float64(time.Now().UnixNano()) / 1e9
	fams = rtGather(t, r)
	if v := rtMust(t, fams, "go_gc_duration_seconds"); v <= gcs {
		t.Errorf("go_gc_duration_seconds_count went from %v to %v over runtime.GC()", gcs, v)
	}
	if v := rtMust(t, fams, "go_memstats_alloc_bytes_total"); v < allocated+1<<20 {
		t.Errorf("go_memstats_alloc_bytes_total went from %v to %v over allocating 1 MiB", allocated, v)
	}
	if v := rtMust(t, fams, "go_memstats_last_gc_time_seconds"); math.Abs(v-now) > 60 {
		t.Errorf("go_memstats_last_gc_time_seconds = %v, just after a collection at %v", v, now)
	}
}

// rtSink keeps an allocation from being optimized away.
var rtSink []byte

// rtBurn is a computation for burning CPU time.
var rtBurn float64

func TestProcessCollectorValues(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process's series are read from Linux's /proc")
	}
	r := newRuntimeRegistry()

	// Burn some CPU time, 200ms of it at least.
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		for i := range 100000 {
			rtBurn += math.Sqrt(float64(i))
		}
	}

	theirs := rtClientGolang(t)
	fams := rtGather(t, r)

	if v := rtMust(t, fams, "process_cpu_seconds_total"); v <= 0 {
		t.Errorf("process_cpu_seconds_total = %v after burning CPU", v)
	}
	if v := rtMust(t, fams, "process_resident_memory_bytes"); v <= 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	if v, rss := rtMust(t, fams, "process_virtual_memory_bytes"), rtMust(t, fams, "process_resident_memory_bytes"); v < rss {
		t.Errorf("process_virtual_memory_bytes = %v, less than the resident %v", v, rss)
	}
	start, want := rtMust(t, fams, "process_start_time_seconds"), rtMust(t, theirs, "process_start_time_seconds")
	if math.Abs(start-want) > 60 {
		t.Errorf("process_start_time_seconds = %v, client_golang's %v", start, want)
	}
	if now := float64(time.Now().Unix()); start > now+1 || start < now-86400 {
		t.Errorf("process_start_time_seconds = %v, now %v", start, now)
	}
	// The limits are those client_golang reads; the counters have not gone
	// down since it read them.
	for _, name := range []string{"process_max_fds", "process_virtual_memory_max_bytes"} {
		if got, want := rtMust(t, fams, name), rtMust(t, theirs, name); got != want {
			t.Errorf("%s = %v, client_golang's %v", name, got, want)
		}
	}
	for _, name := range []string{"process_network_receive_bytes_total", "process_network_transmit_bytes_total"} {
		if got, want := rtMust(t, fams, name), rtMust(t, theirs, name); got < want {
			t.Errorf("%s = %v, less than client_golang's %v read before", name, got, want)
		}
	}

	// One file more open, one descriptor more.
	fds := rtMust(t, fams, "process_open_fds")
	if fds < 3 {
		t.Errorf("process_open_fds = %v", fds)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v := rtMust(t, rtGather(t, r), "process_open_fds"); v < fds+1 {
		t.Errorf("process_open_fds went from %v to %v over opening a file", fds, v)
	}
}

func TestParseProcStat(t *testing.T) {
	// Fields 3 to 52 of proc_pid_stat(5), of a command named "a) (b c) d".
	const line = "4242 (a) (b c) d) S 1 4242 4242 0 -1 4194560 1200 0 3 0 " +
		"250 75 0 0 20 0 12 0 123456 1262317568 5120 18446744073709551615 " +
		"4194304 11275981 140724803581280 0 0 0 0 0 2143420159 0 0 0 17 3 0 0 0 0 0 " +
		"13373440 13718496 30461952 140724803583621 140724803583700 140724803583700 140724803584998 0\n"
	st, ok := parseProcStat([]byte(line))
	if !ok {
		t.Fatalf("parseProcStat(%q) fails", line)
	}
	if want := (procStat{utime: 250, stime: 75, starttime: 123456, vsize: 1262317568, rss: 5120}); st != want {
		t.Errorf("parseProcStat = %+v, want %+v", st, want)
	}

	for _, bad := range []string{
		"",
		"4242 no parenthesis S 1 2 3",
		"4242 (cut) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 12 0 123456",
		"4242 (x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 -75 0 0 20 0 12 0 123456 1 2",
		"4242 (x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 99999999999999999999 75 0 0 20 0 12 0 123456 1 2",
	} {
		if st, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("parseProcStat(%q) = %+v, want a failure", bad, st)
		}
	}

	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := parseProcStat(b); !ok || st.vsize == 0 || st.rss == 0 || st.starttime == 0 {
			t.Errorf("parseProcStat(%q) = %+v, %v", b, st, ok)
		}
	}
}

func TestParseProcLimits(t *testing.T) {
	const limits = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
`
	l := parseProcLimits([]byte(limits))
	if want := (procLimits{openFiles: 1024, addressSpace: procUnlimited, hasOpenFiles: true, hasAddressSpace: true}); l != want {
		t.Errorf("parseProcLimits = %+v, want %+v", l, want)
	}
	// As client_golang writes it.
	if got := string(appendFloat(nil, l.addressSpace)); got != "1.8446744073709552e+19" {
		t.Errorf("unlimited is written %s", got)
	}

	const limited = "Limit Soft Limit Hard Limit Units\nMax address space 4294967296 unlimited bytes\nMax open files x 5 files\n"
	if l := parseProcLimits([]byte(limited)); l.addressSpace != 4294967296 || !l.hasAddressSpace || l.hasOpenFiles {
		t.Errorf("parseProcLimits(%q) = %+v", limited, l)
	}
	if l := parseProcLimits(nil); l != (procLimits{}) {
		t.Errorf("parseProcLimits(nil) = %+v", l)
	}
}

func TestProcessNetstatAndBootTimeParsers(t *testing.T) {
	const netstat = "TcpExt: SyncookiesSent InOctets\nTcpExt: 7 8\n" +
		"IpExt: InNoRoutes InTruncatedPkts InOctets OutOctets InMcastOctets\n" +
		"IpExt: 0 0 71563179389 69797073714 0\n"
	if in, out := parseProcNetstat([]byte(netstat)); in != 71563179389 || out != 69797073714 {
		t.Errorf("parseProcNetstat = %v, %v", in, out)
	}
	if in, out := parseProcNetstat([]byte("IpExt: InOctets OutOctets\n")); in != 0 || out != 0 {
		t.Errorf("parseProcNetstat without values = %v, %v", in, out)
	}

	const stat = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 1 2\nbtime 1796338129\nprocesses 9\n"
	if bt, ok := parseProcBootTime([]byte(stat)); !ok || bt != 1796338129 {
		t.Errorf("parseProcBootTime = %v, %v", bt, ok)
	}
	if _, ok := parseProcBootTime([]byte("cpu 1 2\nbtime \n")); ok {
		t.Error("parseProcBootTime of an empty btime succeeds")
	}
}

func FuzzProcParsers(f *testing.F) {
	f.Add([]byte("4242 (a) (b c) d) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 12 0 123456 1262317568 5120 18446744073709551615\n"))
	f.Add([]byte("Limit Soft Limit Hard Limit Units\nMax open files            1024                 524288               files\nMax address space unlimited unlimited bytes\n"))
	f.Add([]byte("IpExt: InOctets OutOctets\nIpExt: 1 2\nbtime 17\n"))
	f.Add([]byte(")"))
	f.Add([]byte("Max open files "))
	for _, p := range []string{"/proc/self/stat", "/proc/self/limits", "/proc/self/net/netstat"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, ok := parseProcStat(b); !ok && st != (procStat{}) {
			t.Errorf("parseProcStat fails with %+v", st)
		}
		l := parseProcLimits(b)
		if (!l.hasOpenFiles && l.openFiles != 0) || (!l.hasAddressSpace && l.addressSpace != 0) {
			t.Errorf("parseProcLimits = %+v", l)
		}
		if l.openFiles < 0 || l.addressSpace < 0 {
			t.Errorf("parseProcLimits = %+v", l)
		}
		if in, out := parseProcNetstat(b); in < 0 || out < 0 {
			t.Errorf("parseProcNetstat = %v, %v", in, out)
		}
		parseProcBootTime(b)
	})
}

func BenchmarkGoProcessCollect(b *testing.B) {
	r := newRuntimeRegistry()
	b.ReportAllocs()
	for b.Loop() {
		r.scrape()
	}
}
