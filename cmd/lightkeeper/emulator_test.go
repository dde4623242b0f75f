package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

const (
	emuID  = "AKIDcmdtest"
	emuKey = "cmd-test-secret-never-logged"
)

// emulatorProcess is a running `lightkeeper emulator`.
type emulatorProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *strings.Builder // every log line, for secret scans
	done   chan struct{}    // closed when stderr hits EOF
}

// startEmulator runs the binary with args and waits for its "listening" line.
func startEmulator(t testing.TB, bin string, args ...string) *emulatorProcess {
	t.Helper()
	return startEmulatorEnv(t, bin, nil, args...)
}

// startEmulatorEnv is startEmulator with extraEnv added to its environment.
func startEmulatorEnv(t testing.TB, bin string, extraEnv []string, args ...string) *emulatorProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey)
	cmd.Env = append(cmd.Env, extraEnv...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &emulatorProcess{cmd: cmd, stderr: &strings.Builder{}, done: make(chan struct{})}
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done; cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		re := regexp.MustCompile(`addr=(http://\S+)/`)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "listening") {
				addr <- m[1]
			}
		}
	}()
	select {
	case p.url = <-addr:
	case <-p.done:
		t.Fatalf("emulator exited before listening:\n%s", p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("emulator did not start listening:\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *emulatorProcess) stop(t testing.TB) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	return exitCode(t, p.cmd.Wait())
}

// exitCode is the exit code that err, from exec.Cmd's Wait or Run,
// reports: 0 for nil; a failure to run at all fails the test.
func exitCode(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (p *emulatorProcess) client(t testing.TB) *lighthouse.Client {
	t.Helper()
	c, err := lighthouse.New(lighthouse.Options{
		Credential: lighthouse.NewCredential(emuID, emuKey, "", "test"),
		Endpoint:   p.url,
		RetryMax:   -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEmulatorProcess drives `lightkeeper emulator` as a user would: start
// it, create an instance, stop it with SIGTERM, start it again on the same
// state file and find the instance and its client token still there.
func TestEmulatorProcess(t *testing.T) {
	bin := reconcileBinary(t)
	state := filepath.Join(t.TempDir(), "lighthouse.json")
	ctx := context.Background()
	create := &lighthouse.CreateInstancesRequest{
		BundleId:              "bundle_gen_01",
		BlueprintId:           "lhbp-g0tn7djh",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1},
		ClientToken:           "lk-cmd-test-0",
		InstanceName:          "cmd-0",
	}

	p := startEmulator(t, bin, "--state-file", state, "--launch-delay", "1h")
	c := p.client(t)
	first, err := c.CreateInstances(ctx, "ap-guangzhou", create)
	if err != nil {
		t.Fatalf("CreateInstances: %v\n%s", err, p.stderr)
	}
	if len(first.InstanceIdSet) != 1 {
		t.Fatalf("InstanceIdSet = %v", first.InstanceIdSet)
	}
	_, err = c.DescribeInstances(ctx, "ap-nowhere", &lighthouse.DescribeInstancesRequest{})
	if code := lighthouse.ErrorCode(err); code == "" {
		t.Errorf("unknown region: err %v, want an API error code", err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\n%s", code, p.stderr)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "CreateInstances") || !strings.Contains(logs, "emulator stopped") {
		t.Errorf("log lacks the request line or the stop line:\n%s", logs)
	}
	if strings.Contains(logs, emuKey) {
		t.Errorf("log contains the secret key:\n%s", logs)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state file not written: %v", err)
	}

	p = startEmulator(t, bin, "--state-file", state, "--launch-delay", "1h")
	c = p.client(t)
	got, err := c.DescribeInstances(ctx, "ap-guangzhou", &lighthouse.DescribeInstancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].InstanceId != first.InstanceIdSet[0] || got[0].InstanceName != "cmd-0" {
		t.Fatalf("after restart: %+v, want %s", got, first.InstanceIdSet[0])
	}
	again, err := c.CreateInstances(ctx, "ap-guangzhou", create)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.InstanceIdSet) != 1 || again.InstanceIdSet[0] != first.InstanceIdSet[0] {
		t.Errorf("same token after restart created %v, want %v", again.InstanceIdSet, first.InstanceIdSet)
	}
	if got, _ := c.DescribeInstances(ctx, "ap-guangzhou", &lighthouse.DescribeInstancesRequest{}); len(got) != 1 {
		t.Errorf("after the replayed create: %d instances, want 1", len(got))
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("second exit code = %d", code)
	}
}

func TestEmulatorUsage(t *testing.T) {
	code, _, stderr := runCmd(t, "emulator")
	if code != exitUsage || !strings.Contains(stderr, "TENCENTCLOUD_SECRET_ID") {
		t.Errorf("no credentials: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "emulator", "--fault", "melt-down")
	if code != exitUsage || !strings.Contains(stderr, "melt-down") {
		t.Errorf("bad fault: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "emulator", "extra")
	if code != exitUsage {
		t.Errorf("extra argument: exit %d, stderr %q", code, stderr)
	}
}

// Flag values out of range are usage errors that name the flag, not
// runtime errors (exit 1) or silently accepted.
func TestEmulatorFlagRanges(t *testing.T) {
	for _, tc := range []struct{ flag, value string }{
		{"--launch-failure-probability", "2"},
		{"--launch-failure-probability", "-0.1"},
		{"--launch-failure-probability", "NaN"},
		{"--launch-delay", "-5s"},
		{"--describe-lag", "-1s"},
		{"--token-window", "-1h"},
	} {
		code, _, stderr := runCmd(t, "emulator", tc.flag, tc.value)
		if code != exitUsage || !strings.Contains(stderr, tc.flag) {
			t.Errorf("%s %s: exit %d, stderr %q; want %d naming the flag", tc.flag, tc.value, code, stderr, exitUsage)
		}
	}
}

// The switches' values are checked before anything starts, and a bad one
// is a usage error naming its flag.
func TestEmulatorSwitchRanges(t *testing.T) {
	for _, tc := range []struct{ flag, value string }{
		{"--site", "mars"},
		{"--token-mismatch", "forget"},
		{"--token-gone", "maybe"},
		{"--balance", "-1"},
		{"--balance", "NaN"},
		{"--operation-delay", "-1s"},
		{"--return-window", "-1h"},
		{"--return-quota", "-2"},
		{"--isolate-batch-limit", "0"},
		{"--expired-retention", "0s"},
		{"--renew-period", "13"},
		{"--quota", "GENERAL_BUNDLE_INSTANCE"},
		{"--quota", "GENERAL_BUNDLE_INSTANCE=lots"},
		{"--modify-bundle-batch-limit", "0"},
		{"--instance-name-match", "fuzzy"},
		{"--action-delay", "DescribeInstances=1s"},
		{"--action-delay", "ResetInstance=-1s"},
		{"--action-delay", "ResetInstance"},
		{"--fault", "operation-failure,action=DescribeInstances"},
	} {
		code, _, stderr := runCmd(t, "emulator", tc.flag, tc.value)
		if code != exitUsage || !strings.Contains(stderr, strings.TrimPrefix(tc.flag, "--")) {
			t.Errorf("%s %s: exit %d, stderr %q; want %d naming the flag", tc.flag, tc.value, code, stderr, exitUsage)
		}
	}
}

// A non-loopback --listen is refused while the unauthenticated admin API is
// on; --disable-admin or --admin-on-public-address lets it through (to the
// next check, the credentials, in this environment without any).
func TestEmulatorPublicListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9100", ":9100", "[::]:9100", "192.0.2.10:9100", "example.com:9100"} {
		code, _, stderr := runCmd(t, "emulator", "--listen", addr)
		if code != exitUsage || !strings.Contains(stderr, "--admin-on-public-address") || !strings.Contains(stderr, "--disable-admin") {
			t.Errorf("--listen %s: exit %d, stderr %q; want a refusal naming both ways out", addr, code, stderr)
		}
		for _, extra := range []string{"--disable-admin", "--admin-on-public-address"} {
			code, _, stderr := runCmd(t, "emulator", "--listen", addr, extra)
			if !strings.Contains(stderr, "TENCENTCLOUD_SECRET_ID") || strings.Contains(stderr, "not a loopback") {
				t.Errorf("--listen %s %s: exit %d, stderr %q; want past the address check", addr, extra, code, stderr)
			}
		}
	}
	for _, addr := range []string{"127.0.0.1:9100", "[::1]:9100", "localhost:9100", "127.0.0.2:0"} {
		_, _, stderr := runCmd(t, "emulator", "--listen", addr)
		if strings.Contains(stderr, "not a loopback") {
			t.Errorf("--listen %s refused: %s", addr, stderr)
		}
	}
}

// --help lists every switch.
func TestEmulatorHelpListsSwitches(t *testing.T) {
	code, stdout, _ := runCmd(t, "emulator", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, f := range []string{"--site", "--per-region-rate-limits", "--quota", "--balance", "--token-mismatch", "--token-gone",
		"--operation-delay", "--allow-linux-password", "--dry-run-as-error", "--describe-missing-as-error", "--isolate-batch-limit",
		"--return-window", "--return-quota", "--terminate-launch-failed", "--expired-retention", "--keep-expired", "--renew-period",
		"--session-token-file", "--admin-on-public-address", "--disable-admin", "--modify-bundle-batch-limit",
		"--busy-as-operation-denied", "--renew-isolated", "--instance-name-match", "--action-delay", "--fault"} {
		if !strings.Contains(stdout, "-"+strings.TrimPrefix(f, "--")) {
			t.Errorf("--help lacks %s", f)
		}
	}
	if !strings.Contains(stdout, "operation-failure") {
		t.Error("--help does not name the operation-failure fault")
	}
}

// The process serves the switches: the intl site refuses Tags, a quota
// raised by --quota holds, and a session token is required.
func TestEmulatorProcessSwitches(t *testing.T) {
	bin := reconcileBinary(t)
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("sess-tok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startEmulator(t, bin, "--site", "intl", "--quota", "GENERAL_BUNDLE_INSTANCE=60", "--no-rate-limits", "--session-token-file", tokFile)
	ctx := context.Background()
	req := func(tags bool) *lighthouse.CreateInstancesRequest {
		r := &lighthouse.CreateInstancesRequest{BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
			InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}, InstanceCount: 30}
		if tags {
			r.Tags = []lighthouse.Tag{{Key: "k", Value: "v"}}
		}
		return r
	}
	client := func(tok string) *lighthouse.Client {
		c, err := lighthouse.New(lighthouse.Options{Credential: lighthouse.NewCredential(emuID, emuKey, tok, "test"), Endpoint: p.url, RetryMax: -1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := client("").DescribeRegions(ctx); lighthouse.ErrorCode(err) != "AuthFailure.TokenFailure" {
		t.Errorf("no token: %v, want AuthFailure.TokenFailure", err)
	}
	c := client("sess-tok-1")
	if _, err := c.CreateInstances(ctx, "ap-guangzhou", req(true)); lighthouse.ErrorCode(err) != "UnknownParameter" {
		t.Errorf("intl site, Tags: %v, want UnknownParameter", err)
	}
	for i := range 2 {
		if _, err := c.CreateInstances(ctx, "ap-guangzhou", req(false)); err != nil {
			t.Fatalf("create %d of 30 under a quota of 60: %v", i, err)
		}
	}
	if _, err := c.CreateInstances(ctx, "ap-guangzhou", req(false)); lighthouse.ErrorCode(err) != "LimitExceeded.InstanceQuotaLimitExceeded" {
		t.Errorf("past the quota: %v", err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// The log is complete (and no longer written) once the process ended.
	if strings.Contains(p.stderr.String(), "sess-tok-1") {
		t.Errorf("the log shows the session token")
	}
}

// TestEmulatorAndReconcileAgreeOnSite: lightkeeper emulator and
// reconcile --endpoint at it agree on the site without being told: the
// emulator serves the China site, and reconcile --site auto takes a
// loopback endpoint for it, so creates carry the fleet's tags and are
// accepted. LIGHTKEEPER_SITE=intl in the environment of both makes both
// the international site: no tags, and still accepted. The start-up line
// names the flags a client needs.
func TestEmulatorAndReconcileAgreeOnSite(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	fleet := fleetDoc("web", "ap-guangzhou", 1) + "  tags: {team: blue}\n"
	for _, tc := range []struct {
		env      []string
		tags     bool
		flagLine string
	}{
		{nil, true, `client="--endpoint http://127.0.0.1:`},
		{[]string{"LIGHTKEEPER_SITE=intl"}, false, `--site intl"`},
	} {
		emu := startEmulatorEnv(t, bin, tc.env, "--launch-delay", "0")
		if !strings.Contains(emu.stderr.String(), tc.flagLine) {
			t.Errorf("start-up line lacks %q:\n%s", tc.flagLine, emu.stderr.String())
		}
		dir := writeFleets(t, map[string]string{"web.yaml": fleet})
		code, out, errOut := runBin(t, bin, tc.env, "reconcile", "--endpoint", emu.url, "--wait=1m", dir)
		if code != exitOK {
			t.Fatalf("env %v: reconcile exit %d\n%s\n%s", tc.env, code, out, errOut)
		}
		ins := emulatorInstances(t, emu.url)
		if len(ins) != 1 {
			t.Fatalf("env %v: %d instances", tc.env, len(ins))
		}
		tags := map[string]string{}
		for _, tag := range ins[0].Tags {
			tags[tag.Key] = tag.Value
		}
		if got := tags["team"] == "blue" && tags["lightkeeper-fleet"] == "web"; got != tc.tags {
			t.Errorf("env %v: tags %v; want the fleet's and lightkeeper's tags: %v", tc.env, tags, tc.tags)
		}
	}
}

// TestReconcileSaysWhatIsRetried: a call the service fails is retried, and
// each retry is a warning on stderr naming the action, the failure and the
// attempt, rather than a silent wait.
func TestReconcileSaysWhatIsRetried(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--fault", "http-5xx,action=DescribeInstances,count=2")
	dir := writeFleets(t, map[string]string{"web.yaml": fleetDoc("web", "ap-guangzhou", 1)})
	code, out, errOut := runBin(t, bin, nil, "reconcile", "--plan", "--endpoint", emu.url, dir)
	if code != exitChanges {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Count(errOut, "lighthouse call failed; retrying")
	if lines != 2 || !strings.Contains(errOut, "action=DescribeInstances") || !strings.Contains(errOut, "code=ClientError.HttpStatusCodeError") ||
		!strings.Contains(errOut, "attempt=2 of=7") || !strings.Contains(errOut, "attempt=3 of=7") {
		t.Errorf("%d retry lines; want 2 naming the action, the code and the attempts:\n%s", lines, errOut)
	}
}

// The day-two switches reach the emulator the process serves: the
// ModifyInstancesBundle batch limit, the busy code, the per-action delay,
// the name match, renewals of isolated instances and the operation-failure
// fault.
func TestEmulatorProcessDayTwoSwitches(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	ctx := context.Background()
	p := startEmulator(t, bin, "--launch-delay", "0", "--operation-delay", "0", "--no-rate-limits",
		"--modify-bundle-batch-limit", "30", "--busy-as-operation-denied", "--action-delay", "ResetInstance=1h",
		"--instance-name-match", "substring", "--renew-isolated", "--fault", "operation-failure,action=RenewInstances,count=1")
	c := p.client(t)
	created, err := c.CreateInstances(ctx, "ap-guangzhou", &lighthouse.CreateInstancesRequest{BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}, InstanceCount: 20, InstanceName: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	ids := created.InstanceIdSet
	if _, err := c.ModifyInstancesBundle(ctx, "ap-guangzhou", &lighthouse.ModifyInstancesBundleRequest{InstanceIds: ids[1:], BundleId: "bundle_gen_02"}); err != nil {
		t.Errorf("19 instances under --modify-bundle-batch-limit 30: %v", err)
	}
	if _, err := c.ResetInstance(ctx, "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: ids[0]}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ResetInstance(ctx, "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: ids[0]})
	if lighthouse.ErrorCode(err) != "OperationDenied.InstanceOperationInProgress" {
		t.Errorf("a reset during an hour-long reset: %v", err)
	}
	got, err := c.DescribeInstances(ctx, "ap-guangzhou", &lighthouse.DescribeInstancesRequest{Filters: []lighthouse.Filter{{Name: "instance-name", Values: []string{"web"}}}})
	if err != nil || len(got) != 20 {
		t.Errorf("instance-name web, substring: %v, %d", err, len(got))
	}
	if _, err := c.IsolateInstances(ctx, "ap-guangzhou", &lighthouse.IsolateInstancesRequest{InstanceIds: ids[19:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RenewInstances(ctx, "ap-guangzhou", &lighthouse.RenewInstancesRequest{InstanceIds: ids[19:], InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}}); err != nil {
		t.Fatalf("renewing an isolated instance with --renew-isolated: %v", err)
	}
	in, err := c.DescribeInstances(ctx, "ap-guangzhou", &lighthouse.DescribeInstancesRequest{InstanceIds: ids[19:]})
	if err != nil || len(in) != 1 || in[0].LatestOperationState != lighthouse.OperationFailed || in[0].InstanceState != lighthouse.StateShutdown {
		t.Errorf("renewal under the operation-failure fault: %v %+v", err, in)
	}
}
