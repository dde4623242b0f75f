package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// daemonProcess is a running `lightkeeper daemon`.
type daemonProcess struct {
	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	done chan struct{} // closed when stderr hits EOF
	base string        // http://ADDR
}

func startDaemonProcess(t testing.TB, bin, cfgFile, addr string) *daemonProcess {
	t.Helper()
	cmd := exec.Command(bin, "daemon", "--config", cfgFile)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey, "NOTIFY_SOCKET=", "WATCHDOG_USEC=")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProcess{cmd: cmd, log: &syncbuf.Buffer{}, done: make(chan struct{}), base: "http://" + addr}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(p.log, sc.Text())
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.log.String())
		}
	})
	return p
}

func (p *daemonProcess) get(path string) int {
	resp, err := http.Get(p.base + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// term sends SIGTERM, waits for the daemon to exit and returns its exit code.
func (p *daemonProcess) term(t testing.TB) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatal("the daemon did not exit after SIGTERM")
	}
	return exitCode(t, p.cmd.Wait())
}

// instances lists the emulator's instances named web-*, by name.
func webInstances(t testing.TB, c *lighthouse.Client) map[string]int {
	t.Helper()
	names := map[string]int{}
	for in, err := range c.Instances(context.Background(), "ap-guangzhou", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(in.InstanceName, "web-") {
			names[in.InstanceName]++
		}
	}
	return names
}

// TestDaemonBinary drives the built binary against `lightkeeper emulator`,
// both as processes: a commit is applied; SIGHUP with a broken config keeps
// the daemon running; SIGTERM while a raised count is being applied exits
// 0; the restarted daemon completes the fleet and buys nothing twice.
func TestDaemonBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "0")
	client := emu.client(t)
	r := newDaemonRig(t)
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	// Creates at 4 a second, so that SIGTERM lands during an apply.
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	r.editConfig(t, "api:\n", "api:\n  rateLimits: {CreateInstances: 4}\n", "maxCreatesPerRun: 10", "maxCreatesPerRun: 50")
	cfg := mustRead(t, r.cfgFile) // written back after a bad reload
	r.commit(2)

	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "/readyz", func() bool { return d.get("/readyz") == http.StatusOK })
	waitUntil(t, "2 instances", func() bool { return len(webInstances(t, client)) == 2 })

	if err := os.WriteFile(r.cfgFile, []byte("repository: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the failed reload to be logged", func() bool { return strings.Contains(d.log.String(), "reload failed") })
	if code := d.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz after a bad reload: %d", code)
	}
	if err := os.WriteFile(r.cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	r.commit(20) // seen through the watch on the local repository's refs
	waitUntil(t, "the apply to start", func() bool { return len(webInstances(t, client)) > 2 })
	if code := d.term(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	before := len(webInstances(t, client))
	t.Logf("%d of 20 instances when the daemon stopped", before)
	if _, err := os.Stat(filepath.Join(r.stateDir, "state.json")); err != nil {
		t.Fatalf("no state saved: %v", err)
	}

	d = startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "20 instances after the restart", func() bool { return len(webInstances(t, client)) >= 20 })
	waitUntil(t, "a cycle with nothing to do", func() bool { return strings.Contains(d.log.String(), "result=success") && d.get("/readyz") == 200 })
	if code := d.term(t); code != 0 {
		t.Fatalf("exit %d after the second SIGTERM", code)
	}
	names := webInstances(t, client)
	if len(names) != 20 {
		t.Fatalf("%d instances, want 20: %v", len(names), names)
	}
	for name, n := range names {
		if n != 1 {
			t.Errorf("%s bought %d times", name, n)
		}
	}
}
