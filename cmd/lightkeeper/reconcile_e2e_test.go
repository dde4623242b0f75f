package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

var (
	sharedBinOnce sync.Once
	sharedBin     string
	sharedBinErr  error
)

// reconcileBinary builds lightkeeper once for all the process tests of the
// package (reconcile, validate, emulator, daemon, HA); they share it.
func reconcileBinary(t testing.TB) string {
	t.Helper()
	sharedBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lightkeeper-e2e-")
		if err != nil {
			sharedBinErr = err
			return
		}
		sharedBin = filepath.Join(dir, "lightkeeper")
		if out, err := exec.Command("go", "build", "-o", sharedBin, ".").CombinedOutput(); err != nil {
			sharedBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if sharedBinErr != nil {
		t.Fatal(sharedBinErr)
	}
	return sharedBin
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(connHolderEnv); spec != "" {
		os.Exit(holdConnections(spec)) // a child of TestDaemonBinaryConnectionFlood
	}
	code := m.Run()
	if sharedBin != "" {
		os.RemoveAll(filepath.Dir(sharedBin))
	}
	os.Exit(code)
}

// writeFleets writes one fleet file per name into a new directory.
func writeFleets(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fleetDoc(name, region string, count int) string {
	return fmt.Sprintf(`apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: %s
spec:
  region: %s
  count: %d
  bundleId: bundle_gen_01
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
  login: {keyIds: [lhkp-ops00001]}
`, name, region, count)
}

// runBin runs the binary against the emulator process and returns its exit
// code, stdout and stderr.
func runBin(t testing.TB, bin string, extraEnv []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey, "NO_COLOR=1", "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, extraEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code := exitCode(t, cmd.Run())
	return code, out.String(), errOut.String()
}

// emulatorInstances lists the emulator's instances through its admin API
// (listInstances), failing the test if it cannot.
func emulatorInstances(t testing.TB, url string) []lighthouse.Instance {
	t.Helper()
	instances, err := listInstances(url)
	if err != nil {
		t.Fatal(err)
	}
	return instances
}

// listInstances is GET /_emulator/instances, returning errors instead of
// failing (it runs on the monitor's goroutine).
func listInstances(base string) ([]lighthouse.Instance, error) {
	resp, err := http.Get(base + "/_emulator/instances")
	if err != nil {
		return nil, fmt.Errorf("list the emulator's instances: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Instances []lighthouse.Instance `json:"instances"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode the emulator's instances: %w", err)
	}
	return body.Instances, nil
}

// emulatorCalls returns the emulator's call counts by action.
func emulatorCalls(t testing.TB, url string) map[string]map[string]int {
	t.Helper()
	resp, err := http.Get(url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Calls map[string]map[string]int `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Calls
}

// liveByName counts the live instances of each name.
func liveByName(ins []lighthouse.Instance) map[string]int {
	out := map[string]int{}
	for _, in := range ins {
		if reconcile.Live(in.InstanceState) {
			out[in.InstanceName]++
		}
	}
	return out
}

// TestReconcileEndToEnd drives the built binary against `lightkeeper
// emulator` in another process: a plan in each output (exit 2), a guard
// (exit 3, nothing bought), an apply over the limit when allowed (exit
// 0), then plans and applies with nothing to do (exit 0).
func TestReconcileEndToEnd(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s")
	dir := writeFleets(t, map[string]string{
		"web.yaml": fleetDoc("web", "ap-guangzhou", 3),
		"db.yaml":  fleetDoc("db", "ap-shanghai", 2),
	})
	base := []string{"reconcile", "--endpoint", emu.url, dir}
	with := func(args ...string) []string { return append(append([]string{}, base...), args...) }

	code, out, errOut := runBin(t, bin, nil, with("--plan")...)
	if code != exitChanges || !strings.Contains(out, "Plan: 5 to create, 0 to isolate") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runBin(t, bin, nil, with("--plan", "--output", "json")...)
	var plan reconcile.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil || code != exitChanges || plan.FormatVersion != 1 || plan.Totals.Creates != 5 {
		t.Fatalf("plan json: exit %d, %v\n%s", code, err, out)
	}
	code, out, _ = runBin(t, bin, nil, with("--plan", "--output", "markdown")...)
	if code != exitChanges || !strings.HasPrefix(out, reconcile.MarkdownMarker) || !strings.Contains(out, "| `web` | ap-guangzhou | 3 | 0 |") {
		t.Fatalf("plan markdown: exit %d\n%s", code, out)
	}
	code, _, errOut = runBin(t, bin, nil, with("--plan", "--max-creates", "4")...)
	if code != exitOverLimit || !strings.Contains(errOut, "1 over --max-creates 4") {
		t.Fatalf("plan over the limit: exit %d\n%s", code, errOut)
	}
	if n := len(emulatorInstances(t, emu.url)); n != 0 {
		t.Fatalf("plans created %d instances", n)
	}
	calls := emulatorCalls(t, emu.url)
	for _, action := range []string{lighthouse.ActionCreateInstances, lighthouse.ActionIsolateInstances, lighthouse.ActionTerminateInstances} {
		if len(calls[action]) != 0 {
			t.Errorf("plans called %s: %v", action, calls[action])
		}
	}

	code, out, errOut = runBin(t, bin, nil, with("--max-creates", "4")...)
	if code != exitOverLimit || !strings.Contains(errOut, "nothing was created") || !strings.Contains(out, "max-creates") {
		t.Fatalf("apply over the limit: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(emulatorInstances(t, emu.url)); n != 0 {
		t.Fatalf("an apply over the limit created %d instances", n)
	}

	code, out, errOut = runBin(t, bin, nil, with("--max-creates", "4", "--allow-over-limit", "--output", "json", "--wait=1m")...)
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || rep.FormatVersion != 1 || rep.Result.Created != 5 || len(rep.Pending) != 0 {
		t.Fatalf("apply allowed over the limit: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	live := liveByName(emulatorInstances(t, emu.url))
	for _, name := range []string{"web-0", "web-1", "web-2", "db-0", "db-1"} {
		if live[name] != 1 {
			t.Errorf("%s: %d live instances, want 1 (all: %v)", name, live[name], live)
		}
	}
	for _, in := range emulatorInstances(t, emu.url) {
		if in.InstanceState != lighthouse.StateRunning {
			t.Errorf("after --wait, %s is %s", in.InstanceName, in.InstanceState)
		}
	}

	for _, output := range []string{"text", "json", "markdown"} {
		code, out, errOut = runBin(t, bin, nil, with("--plan", "--output", output)...)
		if code != exitOK {
			t.Errorf("plan after apply, %s: exit %d\n%s\n%s", output, code, out, errOut)
		}
	}
	code, out, errOut = runBin(t, bin, nil, with()...)
	if code != exitOK || !strings.Contains(out, "No changes") {
		t.Errorf("apply with nothing to do: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(emulatorInstances(t, emu.url)); n != 5 {
		t.Errorf("%d instances at the end, want 5", n)
	}
	if strings.Contains(errOut+out, emuKey) {
		t.Error("the secret key appears in the output")
	}
}

// startApplyInFlight starts bin with args against the emulator at url
// (stderr, when not nil, receives its standard error) and returns once the
// emulator holds at least 2 instances, or after 30 s; exited receives the
// result of cmd.Wait.
func startApplyInFlight(t testing.TB, bin, url string, stderr io.Writer, args ...string) (cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey, "HOME="+t.TempDir())
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(emulatorInstances(t, url)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, done
}

// TestReconcileKilledApply SIGKILLs an apply while its creates are in
// flight (the emulator paces CreateInstances at 5/s, so 10 slots take 2 s)
// and reruns it without any state: the fleet ends with exactly its count.
func TestReconcileKilledApply(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s")
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 10)})

	cmd, exited := startApplyInFlight(t, bin, emu.url, nil, "reconcile", "--endpoint", emu.url, dir)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v (the apply had ended)", err)
	}
	<-exited
	before := len(emulatorInstances(t, emu.url))
	t.Logf("killed with %d of 10 instances created", before)
	if before > 10 {
		t.Fatalf("%d instances before the rerun", before)
	}

	code, out, errOut := runBin(t, bin, nil, "reconcile", "--endpoint", emu.url, "--wait=1m", dir)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errOut)
	}
	ins := emulatorInstances(t, emu.url)
	live := liveByName(ins)
	if len(ins) != 10 || len(live) != 10 {
		t.Fatalf("after the rerun: %d instances, %d names: %v", len(ins), len(live), live)
	}
	for name, n := range live {
		if n != 1 {
			t.Errorf("%s: %d live instances", name, n)
		}
	}
	if code, out, _ := runBin(t, bin, nil, "reconcile", "--plan", "--endpoint", emu.url, dir); code != exitOK {
		t.Errorf("plan after the rerun: exit %d\n%s", code, out)
	}
}

// TestReconcileSIGTERM stops an apply with SIGTERM while its creates are in
// flight: it exits 1 saying it was interrupted, saves its state, and a
// rerun with that state finishes with exactly the fleet's count.
func TestReconcileSIGTERM(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s")
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 10)})
	stateDir := t.TempDir()

	var errOut bytes.Buffer
	cmd, exited := startApplyInFlight(t, bin, emu.url, &errOut, "reconcile", "--endpoint", emu.url, "--state-dir", stateDir, dir)
	cmd.Process.Signal(syscall.SIGTERM)
	err := <-exited
	var ee *exec.ExitError
	if n := len(emulatorInstances(t, emu.url)); n < 10 {
		if !errors.As(err, &ee) || ee.ExitCode() != exitError || !strings.Contains(errOut.String(), "interrupted") {
			t.Errorf("SIGTERM with %d of 10 created: %v\n%s", n, err, errOut.String())
		}
	} else {
		t.Logf("the apply ended before SIGTERM arrived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); err != nil {
		t.Errorf("no state saved: %v", err)
	}
	code, out, errStr := runBin(t, bin, nil, "reconcile", "--endpoint", emu.url, "--state-dir", stateDir, "--wait=1m", dir)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errStr)
	}
	live := liveByName(emulatorInstances(t, emu.url))
	if len(live) != 10 {
		t.Errorf("after the rerun: %v", live)
	}
	for name, n := range live {
		if n != 1 {
			t.Errorf("%s: %d live instances", name, n)
		}
	}
}

// TestDemoScript runs the README's one-command demo (the README's other
// runnable blocks run in docs' TestReadmeRunnable): plan (2), apply and
// wait (0), plan again (0). The commands it prints work when copied: run
// in a shell with lightkeeper on PATH, each exits 0 against the state the
// demo left (they used to leave out --emulator, and so called Tencent
// Cloud). Its state file is not the README's main job's, so that block
// still starts from an empty emulator.
func TestDemoScript(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds lightkeeper")
	}
	bin := reconcileBinary(t)
	tmp := t.TempDir()
	cmd := exec.Command("sh", "../../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "LIGHTKEEPER="+bin, "LK_DEMO_STATE=", "BATCH_PASSWORD=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"(exit 2: 2 = changes pending)", "Applied: 8 created", "Every fleet is RUNNING at its count.", "(exit 0: 0 = no changes)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}

	var printed []string
	for _, l := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			printed = append(printed, c)
		}
	}
	if len(printed) != 4 {
		t.Fatalf("the demo printed %d commands, want 4 (export and three runs):\n%s", len(printed), out)
	}
	state := filepath.Join(tmp, "lk-demo-script.json")
	for _, c := range printed[1:] {
		if !strings.HasPrefix(c, "lightkeeper reconcile ") || !strings.Contains(c, " --emulator "+state+" ") {
			t.Errorf("printed %q: want lightkeeper reconcile with --emulator %s", c, state)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--emulator (\S+)`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md runs no reconcile --emulator FILE")
	}
	if filepath.Base(string(m[1])) == filepath.Base(state) {
		t.Errorf("the demo's state file %s is the README's %s: the README's next block would start from the demo's instances", state, m[1])
	}

	// Copied as printed, in a shell with lightkeeper on PATH.
	path := filepath.Join(tmp, "bin")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(path, "lightkeeper")); err != nil {
		t.Fatal(err)
	}
	script := "set -e\n" + strings.Join(printed, "\n") + "\n"
	copied := exec.Command("sh", "-c", script)
	copied.Dir = "../.."
	copied.Env = append(os.Environ(), "PATH="+path+string(os.PathListSeparator)+os.Getenv("PATH"), "BATCH_PASSWORD=", "NO_COLOR=1")
	if out, err := copied.CombinedOutput(); err != nil {
		t.Errorf("the demo's commands, copied:\n%s\nfailed: %v\n%s", script, err, out)
	} else if !strings.Contains(string(out), "No changes") {
		t.Errorf("the demo's commands, copied, end without \"No changes\":\n%s", out)
	}
}

// TestReconcilePasswordFIFO: a fleet whose password file is a FIFO that
// nothing writes to fails alone and at once, the other fleets' creates go
// out, and SIGTERM ends the run while they are in flight. (The FIFO used
// to be read whole before any create: the apply blocked there, no fleet got
// anything, and SIGTERM went unheeded.)
func TestReconcilePasswordFIFO(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s")
	fifo := filepath.Join(t.TempDir(), "win-password")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeFleets(t, map[string]string{
		"web.yaml": fleetDoc("web", "ap-guangzhou", 10),
		"win.yaml": `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: win
spec:
  region: ap-guangzhou
  count: 1
  bundleId: bundle_gen_02
  blueprintId: lhbp-w1n2022a
  charge: {period: 1}
  login: {passwordFrom: {file: ` + fifo + `}}
`})

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "reconcile", "--endpoint", emu.url, dir)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey, "HOME="+t.TempDir(), "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The emulator paces CreateInstances at 5/s: 10 take 2 s.
	deadline := time.Now().Add(30 * time.Second)
	for len(emulatorInstances(t, emu.url)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(emulatorInstances(t, emu.url)); n < 2 {
		t.Errorf("after 30 s, %d instances of fleet web: the apply is held up", n)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitError {
			t.Errorf("after SIGTERM: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("20 s after SIGTERM the run has not ended\n%s\n%s", stdout.String(), stderr.String())
	}

	// Run again to the end: web reaches its count, win fails, naming why.
	code, out, errOut := runBin(t, bin, nil, "reconcile", "--endpoint", emu.url, dir)
	if code != exitError || !strings.Contains(out+errOut, `win-password" is a named pipe, not a regular file`) {
		t.Errorf("rerun: exit %d, want %d naming the FIFO\n%s\n%s", code, exitError, out, errOut)
	}
	if live := liveByName(emulatorInstances(t, emu.url)); len(live) != 10 || live["win-0"] != 0 {
		t.Errorf("after the rerun: %v", live)
	}
}
