package daemon_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// statusJSON reads /status as a map, as a client sees it.
func (e *env) statusJSON() map[string]any {
	e.t.Helper()
	_, body := e.get("/status")
	var js map[string]any
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		e.t.Fatalf("/status: %v\n%s", err, body)
	}
	return js
}

// field reads a nested field of a JSON object ("lastGood", "id").
func field(js map[string]any, keys ...string) any {
	var v any = js
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// limitFileSize makes every write of a regular file past n bytes fail with
// EFBIG (Go ignores SIGXFSZ), until the test undoes it.
func limitFileSize(t *testing.T, n uint64) (undo func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	done := false
	undo = func() {
		if !done {
			done = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(undo)
	return undo
}

// TestLastGoodCopyNeverLags: when the copy of a new valid revision cannot
// be written, /status and the page say so, and the revision is not adopted
// as the last good one until its copy is saved, so a restart under an
// invalid head reconciles the revision /status called the last good one.
func TestLastGoodCopyNeverLags(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	opts.StateDir = t.TempDir()
	e.start(opts)
	first := e.waitRuns(1).LastGood.ID

	// A new revision whose fleet file is larger than any file may now be:
	// the state file (small) is written, the copy of the fleet is not.
	big := fleet("web", "bundle_gen_01", 2) + "# " + strings.Repeat("padding ", 1024) + "\n"
	e.write("web.yaml", big)
	undo := limitFileSize(t, 4096)
	e.cycle()
	undo()
	js := e.statusJSON()
	reported, _ := field(js, "lastGood", "id").(string)
	if reported != first {
		t.Errorf("/status lastGood %q after its copy failed; want the saved %q", reported, first)
	}
	if se, _ := js["stateError"].(string); !strings.Contains(se, "copy of revision") || !strings.Contains(se, "file too large") {
		t.Errorf("/status stateError %q does not say the copy failed", se)
	}
	if le, _ := js["lastError"].(string); !strings.Contains(le, "not applied") {
		t.Errorf("/status lastError %q does not say the revision is not applied", le)
	}
	if _, page := e.get("/"); !strings.Contains(page, "degraded") || !strings.Contains(page, "copy of revision") {
		t.Error("the page does not show the failed save")
	}
	if n := e.live("web-"); n != 1 {
		t.Errorf("%d instances: a revision whose copy failed was applied", n)
	}
	if v := e.metric("lightkeeper_state_save_errors_total"); v < 1 {
		t.Errorf("state_save_errors_total = %v", v)
	}

	// Restarted under an invalid head, the daemon reconciles the revision
	// /status reported as the last good one.
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	e.write("api.yaml", fleet("web", "bundle_gen_01", 1)) // a second "web"
	opts.Registry = prometheus.NewRegistry()
	e.start(opts)
	s := e.waitRuns(1)
	if s.Invalid == nil || s.LastGood == nil || s.LastGood.ID != reported {
		t.Fatalf("after a restart under an invalid head: invalid %v, last good %+v, want %s", s.Invalid != nil, s.LastGood, reported)
	}

	// Once the copy can be written, the revision is adopted and applied.
	e.remove("api.yaml")
	s = e.cycle()
	stateErr := e.statusJSON()["stateError"]
	if s.LastGood == nil || s.LastGood.ID == first || stateErr != nil || e.live("web-") != 2 {
		t.Fatalf("after the fix: last good %+v (first %s), state error %v, %d instances", s.LastGood, first, stateErr, e.live("web-"))
	}
	if _, err := os.Stat(filepath.Join(opts.StateDir, daemon.LastGoodDir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptStateIsSetAside: a state file that does not load is renamed
// aside (reported in the log and /status) and the daemon starts from what
// the cloud shows.
func TestCorruptStateIsSetAside(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	opts := e.options()
	opts.StateDir = t.TempDir()
	garbage := []byte("{\"version\": 1, \"expectations\": {\x00")
	if err := os.WriteFile(filepath.Join(opts.StateDir, daemon.StateFile), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	opts.Logger = newTextLogger(&logs)
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 2 {
		t.Fatalf("result %q, %d instances", s.LastRun.Result, e.live("web-"))
	}
	aside, _ := filepath.Glob(filepath.Join(opts.StateDir, daemon.StateFile+".corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("set aside: %v", aside)
	}
	if b, err := os.ReadFile(aside[0]); err != nil || string(b) != string(garbage) {
		t.Errorf("the file set aside holds %q (%v)", b, err)
	}
	if got, _ := e.statusJSON()["stateSetAside"].(string); got != aside[0] {
		t.Errorf("/status stateSetAside %q, want %q", got, aside[0])
	}
	if !strings.Contains(logs.String(), aside[0]) || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the log does not name the file set aside:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(opts.StateDir, daemon.StateFile)); err != nil {
		t.Errorf("no new state saved: %v", err)
	}
}
