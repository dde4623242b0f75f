package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// TestDaemonPushFastPath drives the built binary against `lightkeeper
// emulator` (its instance-name filter fuzzy), both as processes: with 252
// instances in the region (three pages), a commit that raises web's count
// creates the new slots from a filtered observation before the full sweep
// (docs/design.md section 5.10), which /metrics and the log show, and
// nothing is bought twice.
func TestDaemonPushFastPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "0", "--no-rate-limits", "--instance-name-match", "substring",
		"--quota", "GENERAL_BUNDLE_INSTANCE=1000")
	client := emu.client(t)
	r := newDaemonRig(t)
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	r.editConfig(t, "api:\n", "api:\n  rateLimits: {CreateInstances: 0}\n", "maxCreatesPerRun: 10", "maxCreatesPerRun: 300")
	bulk := strings.NewReplacer("name: web", "name: bulk", "count: 2", "count: 250").Replace(webFleet(2))
	if err := os.MkdirAll(filepath.Join(r.repo, "fleets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.repo, "fleets", "bulk.yaml"), []byte(bulk), 0o644); err != nil {
		t.Fatal(err)
	}
	r.commit(2)

	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "the first cycle", func() bool { return strings.Contains(d.log.String(), "reconcile cycle ended") })
	if n := len(webInstances(t, client)); n != 2 {
		t.Fatalf("%d web instances after the first cycle", n)
	}
	r.commit(4) // seen through the watch on the local repository's refs
	waitUntil(t, "4 web instances", func() bool { return len(webInstances(t, client)) == 4 })
	waitUntil(t, "the push cycle to end", func() bool { return strings.Count(d.log.String(), "reconcile cycle ended") >= 2 })
	if !strings.Contains(d.log.String(), "push: created the new slots before the full sweep") {
		t.Errorf("the log does not show the fast path:\n%s", d.log.String())
	}
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`lightkeeper_observations_total{kind="filtered"} 1`, `lightkeeper_creates_total{result="created"} 254`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code := d.term(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	for name, n := range webInstances(t, client) {
		if n != 1 {
			t.Errorf("%s bought %d times", name, n)
		}
	}
}
