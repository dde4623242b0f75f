package daemon_test

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
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

// savedCopy opens the copy of the last good revision in stateDir.
func savedCopy(t *testing.T, stateDir string) fs.FS {
	t.Helper()
	z, err := zip.OpenReader(filepath.Join(stateDir, daemon.LastGoodFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
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

	// A new valid revision whose copy cannot be written: a directory
	// stands where it goes (the first's copy is set aside meanwhile).
	saved := filepath.Join(opts.StateDir, daemon.LastGoodFile)
	if err := os.Rename(saved, saved+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(saved, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.write("api.yaml", fleet("api", "bundle_gen_01", 1))
	e.cycle()
	js := e.statusJSON()
	reported, _ := field(js, "lastGood", "id").(string)
	if reported != first {
		t.Errorf("/status lastGood %q after its copy failed; want the saved %q", reported, first)
	}
	if se, _ := js["stateError"].(string); !strings.Contains(se, "copy of revision") || !strings.Contains(se, daemon.LastGoodFile) {
		t.Errorf("/status stateError %q does not say the copy failed", se)
	}
	if le, _ := js["lastError"].(string); !strings.Contains(le, "not applied") {
		t.Errorf("/status lastError %q does not say the revision is not applied", le)
	}
	if _, page := e.get("/"); !strings.Contains(page, "degraded") || !strings.Contains(page, "copy of revision") {
		t.Error("the page does not show the failed save")
	}
	if n := e.live("api-"); n != 0 {
		t.Errorf("%d instances: a revision whose copy failed was applied", n)
	}
	if v := e.metric("lightkeeper_state_save_errors_total"); v < 1 {
		t.Errorf("state_save_errors_total = %v", v)
	}

	// Restarted under an invalid head, the daemon reconciles the revision
	// /status reported as the last good one, whose copy is back.
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(saved); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved+".aside", saved); err != nil {
		t.Fatal(err)
	}
	e.write("api.yaml", fleet("web", "bundle_gen_01", 1)) // a second "web"
	opts.Registry = prom.NewRegistry()
	e.start(opts)
	s := e.waitRuns(1)
	if s.Invalid == nil || s.LastGood == nil || s.LastGood.ID != reported {
		t.Fatalf("after a restart under an invalid head: invalid %v, last good %+v, want %s", s.Invalid != nil, s.LastGood, reported)
	}

	// Once the copy can be written, the revision is adopted and applied.
	e.write("api.yaml", fleet("api", "bundle_gen_01", 1))
	s = e.cycle()
	stateErr := e.statusJSON()["stateError"]
	if s.LastGood == nil || s.LastGood.ID == first || stateErr != nil || e.live("api-") != 1 {
		t.Fatalf("after the fix: last good %+v (first %s), state error %v, %d instances", s.LastGood, first, stateErr, e.live("api-"))
	}
	if _, err := fs.Stat(savedCopy(t, opts.StateDir), "api.yaml"); err != nil {
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
	var logs syncbuf.Buffer
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

// TestOpenPasswordFileWarns: a fleet whose login password file group or
// others may read is reconciled, with a warning naming the fleet and file.
func TestOpenPasswordFileWarns(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "web-password")
	if err := os.WriteFile(pw, []byte("Pass-Word-2026\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(fleet("web", "bundle_gen_01", 1), "  charge: {period: 1}\n",
		"  charge: {period: 1}\n  login: {passwordFrom: {file: "+pw+"}}\n", 1)
	e := newEnv(t, map[string]string{"web.yaml": doc})
	opts := e.options()
	var logs syncbuf.Buffer
	opts.Logger = newTextLogger(&logs)
	e.start(opts)
	e.waitRuns(1)
	want := `fleet \"web\": spec.login.passwordFrom.file: ` + pw + " is readable by group or others (mode 0644)"
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), want) {
		t.Errorf("no warning %q in the log:\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "Pass-Word-2026") {
		t.Error("the password is in the log")
	}
}

// TestLastGoodReadsAnEarlierCopy: the copy an earlier version kept as a
// directory (LastGoodDir) is reconciled after a restart under an invalid
// head, and the next copy written replaces it with LastGoodFile.
func TestLastGoodReadsAnEarlierCopy(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	opts := e.options()
	opts.StateDir = t.TempDir()
	e.start(opts)
	good := e.waitRuns(1).LastGood
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	// The copy as an earlier version kept it.
	dir := filepath.Join(opts.StateDir, daemon.LastGoodDir)
	if err := os.CopyFS(dir, savedCopy(t, opts.StateDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(opts.StateDir, daemon.LastGoodFile)); err != nil {
		t.Fatal(err)
	}
	e.write("api.yaml", fleet("web", "bundle_gen_01", 1)) // a second "web"
	opts.Registry = prom.NewRegistry()
	e.start(opts)
	s := e.waitRuns(1)
	if s.Invalid == nil || s.LastGood == nil || s.LastGood.ID != good.ID || len(s.Fleets) != 1 || s.Fleets[0].Desired != 2 {
		t.Fatalf("after a restart under an invalid head: invalid %v, last good %+v (want %s), fleets %+v", s.Invalid != nil, s.LastGood, good.ID, s.Fleets)
	}
	e.remove("api.yaml")
	e.write("web.yaml", fleet("web", "bundle_gen_01", 3))
	if s := e.cycle(); s.LastGood == nil || s.LastGood.ID == good.ID {
		t.Fatalf("the fixed revision is not adopted: %+v", s.LastGood)
	}
	if _, err := fs.Stat(savedCopy(t, opts.StateDir), "web.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the earlier copy is still there: %v", err)
	}
}
