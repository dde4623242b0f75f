package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// approveDaemon runs a daemon in the test process whose plan of 4 creates
// is held over maxCreatesPerRun 2, with the approver alice, served on a
// real local HTTP server.
func approveDaemon(t *testing.T) (*daemon.Daemon, *emulatortest.Harness, string, string) {
	t.Helper()
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fleets"), 0o755); err != nil {
		t.Fatal(err)
	}
	doc := "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  region: ap-guangzhou\n  count: 4\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n"
	if err := os.WriteFile(filepath.Join(dir, "fleets", "web.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "alice.token")
	if err := os.WriteFile(token, []byte("alice-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Options{Source: daemon.DirSource{Dir: dir}, Cloud: h.Client, Path: "fleets", Interval: time.Hour, Jitter: -1,
		Reconcile: reconcile.Options{Now: h.Now},
		Limits:    reconcile.Limits{MaxCreates: 2, MaxMonthlySpend: reconcile.NoLimit},
		Approvers: []daemon.ApproverToken{{Name: "alice", Token: []byte("alice-token-0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitCycles(t, d, 1)
	return d, h, srv.URL, token
}

func waitCycles(t *testing.T, d *daemon.Daemon, n int) daemon.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if s := d.Status(); s.Runs >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cycle %d", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestApproveCommand: without PLAN-ID approve prints the held plan, its ID
// and the command that releases it, and changes nothing; with the ID and
// the token it releases the plan (exit 0), which the daemon applies once;
// again, it is refused (exit 3); then nothing is held (exit 2). A wrong
// token is refused (exit 3) and usage errors exit 64.
func TestApproveCommand(t *testing.T) {
	d, h, url, token := approveDaemon(t)
	id := d.Status().Plan.ID

	code, out, errOut := runCmd(t, "approve", "--daemon", url)
	if code != exitOK || errOut != "" {
		t.Fatalf("show: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"Held plan " + id, "over a limit: the plan creates 4 instances, 2 over limits.maxCreatesPerRun 2",
		"web-0", "Approve it, once (approvers: alice):\n  lightkeeper approve --daemon " + url + " --token-file FILE " + id} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd(t, "approve", "--daemon", url, "--output", "json")
	var js struct {
		Approvals daemon.ApprovalStatus `json:"approvals"`
		Plan      reconcile.Plan        `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != exitOK || err != nil || js.Plan.ID != id || js.Approvals.Held != id {
		t.Errorf("json: exit %d, %v, %+v", code, err, js)
	}
	if n := len(h.Server.Instances()); n != 0 || d.Status().Runs != 1 {
		t.Fatalf("showing the plan changed something: %d instances", n)
	}

	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("mallory-token-0123456789"), 0o600)
	if code, _, errOut := runCmd(t, "approve", "--daemon", url, "--token-file", wrong, id); code != exitRefused || !strings.Contains(errOut, "refused (unauthorized)") {
		t.Errorf("wrong token: exit %d, %q", code, errOut)
	}

	code, out, errOut = runCmd(t, "approve", "--daemon", url, "--token-file", token, id)
	if code != exitOK || !strings.Contains(out, "plan "+id+" approved by alice") {
		t.Fatalf("approve: exit %d, %q %q", code, out, errOut)
	}
	s := waitCycles(t, d, 2)
	if s.LastRun.Result != daemon.ResultSuccess || h.Server.Calls(lighthouse.ActionCreateInstances, "") != 4 {
		t.Fatalf("after approve: %q, %d creates", s.LastRun.Result, h.Server.Calls(lighthouse.ActionCreateInstances, ""))
	}
	if code, out, errOut := runCmd(t, "approve", "--daemon", url, "--token-file", token, id); code != exitRefused || !strings.Contains(out, "used once") {
		t.Errorf("replay: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "approve", "--daemon", url); code != exitNothingHeld || !strings.Contains(out, "No plan is held") ||
		!strings.Contains(out, "Last approval: plan "+id+" by alice") {
		t.Errorf("nothing held: exit %d, %q", code, out)
	}
	if n := h.Server.Calls(lighthouse.ActionCreateInstances, ""); n != 4 {
		t.Errorf("%d creates, want 4", n)
	}

	for _, args := range [][]string{
		{},
		{"--daemon", "127.0.0.1:9180"},
		{"--daemon", url, id},
		{"--daemon", url, "--token-file", token, id, "extra"},
		{"--daemon", url, "--output", "yaml"},
	} {
		if code, _, _ := runCmd(t, append([]string{"approve"}, args...)...); code != exitUsage {
			t.Errorf("approve %q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
