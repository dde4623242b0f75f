package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// metricSum adds up the series of a metric family in a /metrics text whose
// labels contain match ("" for all).
func metricSum(text, name, match string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if strings.Contains(m[1], match) {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// startReadyDaemon runs the built binary as a daemon following a local
// repository of one fleet "web" of 1, against `lightkeeper emulator`, both
// as processes, and waits until it is ready.
func startReadyDaemon(t *testing.T) (*daemonRig, *daemonProcess) {
	t.Helper()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "0")
	r := newDaemonRig(t)
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	r.commit(1)
	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "/readyz", func() bool { return d.get("/readyz") == http.StatusOK })
	return r, d
}

// TestDaemonBinaryReloadKeepsCounters drives the built binary: after
// SIGHUP, the counters of /status and /metrics go on from where they were
// instead of starting again at zero.
func TestDaemonBinaryReloadKeepsCounters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r, d := startReadyDaemon(t)
	runs := func() float64 { v, _ := d.status(t)["runs"].(float64); return v }
	for i := 2; i <= 3; i++ {
		before := runs()
		r.commit(i)
		postHook(t, d.base, r.head())
		waitUntil(t, "a cycle for the push", func() bool { return runs() > before && d.lastRunDone(t) })
	}
	n := runs()
	m := d.metrics()
	cycles := metricSum(m, "lightkeeper_reconcile_runs_total", "")
	accepted := metricSum(m, "lightkeeper_webhook_requests_total", `result="accepted"`)
	if cycles < n || accepted < 2 { // a cycle may end between the two reads
		t.Fatalf("before the reload: /status runs %v, runs_total %v, webhooks accepted %v", n, cycles, accepted)
	}

	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reload", func() bool { return strings.Contains(d.log.String(), "configuration reloaded") })
	waitUntil(t, "the first cycle after the reload", func() bool {
		return strings.Count(d.log.String(), "reconcile cycle ended") > int(n) && d.lastRunDone(t)
	})
	m = d.metrics()
	if got := runs(); got < n+1 {
		t.Errorf("/status runs %v after the reload, was %v", got, n)
	}
	if got := metricSum(m, "lightkeeper_reconcile_runs_total", ""); got < cycles+1 {
		t.Errorf("lightkeeper_reconcile_runs_total %v after the reload, was %v", got, cycles)
	}
	if got := metricSum(m, "lightkeeper_webhook_requests_total", `result="accepted"`); got < accepted {
		t.Errorf("webhooks accepted %v after the reload, was %v", got, accepted)
	}
	if got := metricSum(m, "lightkeeper_triggers_total", `source="webhook"`); got < 2 {
		t.Errorf("lightkeeper_triggers_total{source=webhook} %v after the reload", got)
	}
	if code := d.term(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}
