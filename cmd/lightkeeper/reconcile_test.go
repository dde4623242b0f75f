package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// runCmdEnv is runCmd with an environment.
func runCmdEnv(t testing.TB, environ map[string]string, args ...string) (int, string, string) {
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
		{"--max-total-count", "0"},
		{"--max-total-count", "-2"},
		{"--max-monthly-spend", "-2"},
		{"--max-monthly-spend", "-0.5"},
		{"--max-monthly-spend", "Inf"},
		{"--max-monthly-spend", "NaN"},
		{"--plan", "--wait"},
		{"--plan", "--allow-over-limit"},
		{"--wait=-1m"},
		{"--wait=soon"},
		{"--emulator", "x.json", "--endpoint", "http://127.0.0.1:1"},
		{"--log-level", "loud"},
		{"--rate-limit", "DescribeInstances"},
		{"--rate-limit", "DescribeInstances=-1"},
		{"--rate-limit", "DescribeInstances=Inf"},
		{"--rate-limit", "DescribeInstances=fast"},
		{"--rate-limit", "DescribeInstances=NaN"},
		{"--rate-limit", "=100"},
		{"--exclude", "[", "."},
		{""},
	} {
		code, _, errOut := runCmd(t, append([]string{"reconcile"}, args...)...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, code, exitUsage, errOut)
		}
	}
}

// TestReconcileRateLimitFlag: --rate-limit ACTION=N, repeated, gives the
// client its limits (the last value of an action counts; 0 no limit).
func TestReconcileRateLimitFlag(t *testing.T) {
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	f, _, err := parseReconcileFlags(e, []string{"--rate-limit", "DescribeInstances=1000", "--rate-limit", "CreateInstances=0", "--rate-limit", "DescribeInstances=250.5", "."})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]float64{"DescribeInstances": 250.5, "CreateInstances": 0}; !maps.Equal(f.rateLimits, want) {
		t.Errorf("rate limits %v, want %v", f.rateLimits, want)
	}
	if f, _, err = parseReconcileFlags(e, []string{"."}); err != nil || f.rateLimits != nil {
		t.Errorf("without the flag: %v, %v; want nil (the client's defaults)", f.rateLimits, err)
	}
}

// TestReconcileWaitSpace: --wait takes its duration after "=" only (it is
// also a bool flag), so "--wait 5m" used to read 5m as a path and fail
// with "5m: no such file or directory". It is a usage error that says what
// to write; a directory really named like a duration is still a path.
func TestReconcileWaitSpace(t *testing.T) {
	for _, args := range [][]string{
		{"--wait", "5m", "../../examples/fleets"},
		{"../../examples/fleets", "--wait", "90s"},
	} {
		code, out, errOut := runCmd(t, append([]string{"reconcile"}, args...)...)
		d := args[slices.Index(args, "--wait")+1]
		if code != exitUsage || out != "" || !strings.Contains(errOut, "write --wait="+d) || strings.Contains(errOut, "no such file") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d saying write --wait=%s", args, code, out, errOut, exitUsage, d)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("5m", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("5m", "web.yaml"), []byte(fleetDoc("web", "ap-guangzhou", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "reconcile", "--wait", "5m")
	if code == exitUsage || strings.Contains(errOut, "write --wait=") {
		t.Errorf("a directory named 5m: exit %d, stderr %q; want it read as a path", code, errOut)
	}
}

// Invalid specs are listed as validate lists them; nothing is sent.
func TestReconcileInvalidSpecs(t *testing.T) {
	dir := badFleets(t)
	code, out, errOut := runCmd(t, "reconcile", "--plan", "--emulator", filepath.Join(t.TempDir(), "e.json"), dir)
	if code != exitError || out != "" || !strings.Contains(errOut, `spec.count: must be >= 0`) || !strings.Contains(errOut, "nothing was changed in the cloud") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestReconcileNoCredentials(t *testing.T) {
	code, _, errOut := runCmdEnv(t, map[string]string{}, "reconcile", "--plan", "../../examples/fleets")
	if code != exitError || !strings.Contains(errOut, "TENCENTCLOUD_SECRET_ID") || !strings.Contains(errOut, "--emulator") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// --max-total-count bounds the load as in validate.
func TestReconcileMaxTotalCount(t *testing.T) {
	environ := map[string]string{"BATCH_PASSWORD": "Demo-Passw0rd-2026!"}
	state := filepath.Join(t.TempDir(), "e.json")
	code, _, errOut := runCmdEnv(t, environ, "reconcile", "--plan", "--max-total-count", "5", "--emulator", state, "../../examples/fleets")
	if code != exitError || !strings.Contains(errOut, "above the repository-wide limit of 5") || !strings.Contains(errOut, "nothing was changed in the cloud") {
		t.Errorf("over the limit: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := runCmdEnv(t, environ, "reconcile", "--plan", "--max-total-count", "-1", "--emulator", state, "../../examples/fleets")
	if code != exitChanges || !strings.Contains(out, "Plan: 8 to create") {
		t.Errorf("no limit: exit %d\n%s\n%s", code, out, errOut)
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

// Log lines clear the progress line and put it back; without a terminal
// there is no progress line at all.
func TestTerminalUI(t *testing.T) {
	var b bytes.Buffer
	u := &terminalUI{stderr: &b, tty: true}
	u.start("applying")
	u.progress(reconcile.Progress{Done: 1, Total: 3})
	u.logWriter().Write([]byte("level=WARN msg=x\n"))
	u.progress(reconcile.Progress{Done: 2, Total: 3, Failed: 1})
	u.stop()
	want := "applying: 1/3 done, 0 failed" + "\r\x1b[K" + "level=WARN msg=x\n" + "applying: 1/3 done, 0 failed" +
		"\r\x1b[K" + "applying: 2/3 done, 1 failed" + "\r\x1b[K"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	u = newTerminalUI(&env{stdout: &b, stderr: &b, getenv: func(string) string { return "" }})
	u.start("applying")
	u.progress(reconcile.Progress{Done: 1, Total: 3})
	u.stop()
	if b.Len() != 0 || u.color {
		t.Errorf("not a terminal: %q, colour %v", b.String(), u.color)
	}
}

func TestWaitFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"true": defaultWait, "false": 0, "90s": 90 * time.Second} {
		var w waitFlag
		if err := w.Set(in); err != nil || w.d != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, w.d, err, want)
		}
	}
}

// An apply whose fleets are in error fails even when it has nothing to
// create; a JSON apply over a limit is still a report, with nothing done.
func TestReconcileApplyExitCodes(t *testing.T) {
	srv, err := emulator.New(emulator.Config{Credentials: map[string]string{"AKIDunit": "right-key"}, RateLimits: emulator.NoRateLimits()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 3)})
	environ := map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDunit", "TENCENTCLOUD_SECRET_KEY": "wrong-key", envEndpoint: hs.URL}
	for _, args := range [][]string{{}, {"--output", "json"}, {"--plan"}} {
		code, out, errOut := runCmdEnv(t, environ, append(append([]string{"reconcile"}, args...), dir)...)
		if code != exitError || !strings.Contains(out+errOut, "AuthFailure") {
			t.Errorf("%v with a wrong key: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}

	environ["TENCENTCLOUD_SECRET_KEY"] = "right-key"
	code, out, errOut := runCmdEnv(t, environ, "reconcile", "--output", "json", "--max-creates", "2", dir)
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOverLimit || rep.Result == nil || rep.Result.Created != 0 || len(rep.Plan.Violations) != 1 {
		t.Errorf("over the limit: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if n := len(srv.Instances()); n != 0 {
		t.Errorf("%d instances bought over the limit", n)
	}
}

// The in-process emulator serves the site --site names: tags are written on
// the China site (the default, as for the default endpoint), and not on the
// international one, which would refuse them.
func TestReconcileEmulatorSite(t *testing.T) {
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 1)})
	for site, wantTags := range map[string]bool{"china": true, "auto": true, "intl": false} {
		file := filepath.Join(t.TempDir(), "emu.json")
		code, out, errOut := runCmd(t, "reconcile", "--emulator", file, "--site", site, dir)
		if code != exitOK {
			t.Fatalf("--site %s: exit %d\n%s\n%s", site, code, out, errOut)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), "lightkeeper-fleet"); got != wantTags {
			t.Errorf("--site %s: tags written %v, want %v", site, got, wantTags)
		}
	}
}

// Every limit flag follows one rule: -1 is no limit, 0 allows nothing, and
// the violations are worded with the flags' names.
func TestReconcileLimitFlagsFollowOneRule(t *testing.T) {
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 2)})
	emu := filepath.Join(t.TempDir(), "emu.json")
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{nil, exitChanges, ""}, // the defaults: 20 creates, no spend limit
		{[]string{"--max-monthly-spend", "-1", "--max-creates", "-1"}, exitChanges, ""},
		{[]string{"--max-monthly-spend", "0"}, exitOverLimit, "over --max-monthly-spend 0.00"},
		{[]string{"--max-creates", "0"}, exitOverLimit, "the plan creates 2 instances, 2 over --max-creates 0"},
		{[]string{"--max-creates", "2", "--max-monthly-spend", "1000"}, exitChanges, ""},
	} {
		code, out, errOut := runCmd(t, append(append([]string{"reconcile", "--plan", "--emulator", emu}, tc.args...), dir)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.say) {
			t.Errorf("%q: exit %d, want %d saying %q\n%s\n%s", tc.args, code, tc.code, tc.say, out, errOut)
		}
	}
}
