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
func startEmulator(t *testing.T, bin string, args ...string) *emulatorProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey)
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
func (p *emulatorProcess) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (p *emulatorProcess) client(t *testing.T) *lighthouse.Client {
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
	bin := buildBinary(t)
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
