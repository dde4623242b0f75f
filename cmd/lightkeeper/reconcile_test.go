package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// runCmdEnv is runCmd with an environment.
func runCmdEnv(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return environ[k] }})
	return code, out.String(), errOut.String()
}

func TestReconcileHelp(t *testing.T) {
	code, out, errOut := runCmd(t, "reconcile", "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"Usage:\n  lightkeeper reconcile", "Exit codes:", "2 changes pending", "3 the plan exceeds", "--max-creates", "--emulator", "Examples:"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestReconcileUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--output", "yaml"},
		{"--site", "mars"},
		{"--max-creates", "-2"},
		{"--max-isolates", "-5"},
		{"--max-monthly-spend", "-1"},
		{"--max-monthly-spend", "NaN"},
		{"--plan", "--wait"},
		{"--plan", "--allow-over-limit"},
		{"--wait=-1m"},
		{"--wait=soon"},
		{"--emulator", "x.json", "--endpoint", "http://127.0.0.1:1"},
		{"--log-level", "loud"},
		{"--exclude", "[", "."},
		{""},
	} {
		code, _, errOut := runCmd(t, append([]string{"reconcile"}, args...)...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, code, exitUsage, errOut)
		}
	}
}

func TestSendsTags(t *testing.T) {
	for _, tc := range []struct {
		site, endpoint string
		want           bool
	}{
		{"auto", "", true},
		{"auto", lighthouse.EndpointDefault, true},
		{"auto", lighthouse.EndpointDefault + "/", true},
		{"auto", lighthouse.EndpointRegional, true},
		{"auto", "https://lighthouse.ap-guangzhou.tencentcloudapi.com", true},
		{"auto", lighthouse.EndpointIntl, false},
		{"auto", "http://127.0.0.1:9100", false},
		{"auto", "https://lighthouse.example.com", false},
		{"china", "http://127.0.0.1:9100", true},
		{"intl", "", false},
	} {
		if got := sendsTags(tc.site, tc.endpoint); got != tc.want {
			t.Errorf("sendsTags(%q, %q) = %v, want %v", tc.site, tc.endpoint, got, tc.want)
		}
	}
}

// Invalid specs are listed as validate lists them; nothing is sent.
func TestReconcileInvalidSpecs(t *testing.T) {
	dir := badFleets(t)
	code, out, errOut := runCmd(t, "reconcile", "--plan", "--emulator", filepath.Join(t.TempDir(), "e.json"), dir)
	if code != exitError || out != "" || !strings.Contains(errOut, `spec.count: must be >= 0`) || !strings.Contains(errOut, "nothing was sent") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestReconcileNoCredentials(t *testing.T) {
	code, _, errOut := runCmdEnv(t, map[string]string{}, "reconcile", "--plan", "../../examples/fleets")
	if code != exitError || !strings.Contains(errOut, "TENCENTCLOUD_SECRET_ID") || !strings.Contains(errOut, "--emulator") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// The README's main job: with the in-process emulator, the first run plans
// and applies every example fleet, the second plans nothing.
func TestReconcileEmulatorExamples(t *testing.T) {
	state := filepath.Join(t.TempDir(), "lk-demo.json")
	environ := map[string]string{"BATCH_PASSWORD": "Demo-Passw0rd-2026!"}
	code, out, errOut := runCmdEnv(t, environ, "reconcile", "--plan", "--emulator", state, "../../examples/fleets")
	if code != exitChanges || !strings.Contains(out, "Plan: 8 to create") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCmdEnv(t, environ, "reconcile", "--emulator", state, "../../examples/fleets")
	if code != exitOK || !strings.Contains(out, "Applied: 8 created, 0 failed") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCmdEnv(t, environ, "reconcile", "--emulator", state, "../../examples/fleets", "--wait=1m")
	if code != exitOK || !strings.Contains(out, "No changes") || !strings.Contains(out, "Every fleet is RUNNING at its count.") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCmdEnv(t, environ, "reconcile", "--plan", "--output", "json", "--emulator", state, "../../examples/fleets")
	var p reconcile.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != exitOK || p.Changes() {
		t.Fatalf("plan after: exit %d %v\n%s", code, err, out)
	}
	for _, fp := range p.Fleets {
		if fp.Live != fp.Desired || fp.Pending != 0 {
			t.Errorf("%s: %d of %d live, %d pending", fp.Fleet, fp.Live, fp.Desired, fp.Pending)
		}
	}
	// --exclude drops a fleet from what is read.
	code, out, _ = runCmdEnv(t, environ, "reconcile", "--plan", "--emulator", state, "--exclude", "shanghai.yaml", "../../examples/fleets")
	if code != exitOK || strings.Contains(out, "batch") || !strings.Contains(out, "bastion") {
		t.Errorf("--exclude: exit %d\n%s", code, out)
	}
}

// A password read through passwordFrom never shows in any output, log,
// error or state file: not when it is used, and not when the service
// refuses it.
func TestReconcileSecretsNeverShown(t *testing.T) {
	const secret = "Zq7-very-S3cret-pw"
	dir := writeFleets(t, map[string]string{"win.yaml": `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: win
spec:
  region: ap-shanghai
  count: 2
  bundleId: bundle_gen_02
  blueprintId: lhbp-w1n2022a
  charge: {period: 1}
  login:
    passwordFrom: {env: WIN_PASSWORD}
---
apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: linux
spec:
  region: ap-guangzhou
  count: 1
  bundleId: bundle_gen_01
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
  login:
    passwordFrom: {env: WIN_PASSWORD}
`})
	tmp := t.TempDir()
	emuFile, stateDir := filepath.Join(tmp, "emu.json"), filepath.Join(tmp, "state")
	environ := map[string]string{"WIN_PASSWORD": secret}
	var seen strings.Builder
	for _, args := range [][]string{
		{"--plan", "--api-dry-run"},
		{"--plan", "--api-dry-run", "--output", "json"},
		{"--plan", "--output", "markdown"},
		{"--log-level", "debug"},
		{"--log-level", "debug", "--output", "json"},
		{"--log-level", "debug", "--output", "markdown"},
	} {
		args = append([]string{"reconcile", "--emulator", emuFile, "--state-dir", stateDir}, append(args, dir)...)
		_, out, errOut := runCmdEnv(t, environ, args...)
		seen.WriteString(out + errOut)
	}
	for _, f := range []string{emuFile, filepath.Join(stateDir, "state.json")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen.Write(b)
	}
	all := seen.String()
	if strings.Contains(all, secret) {
		t.Errorf("the password appears in the output, logs or state files")
	}
	// The runs did use it: the Windows fleet was bought, the Linux one refused.
	if !strings.Contains(all, "InstanceLinuxUnixCreatingNotSupportPassword") || !strings.Contains(all, "Applied: 2 created") {
		t.Errorf("the runs did not go as planned:\n%s", all)
	}
}
