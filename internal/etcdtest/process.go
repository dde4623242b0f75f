package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdEnv names the etcd binary StartProcess runs, when set; otherwise it
// is "etcd" on $PATH (Debian: apt-get install etcd-server).
const EtcdEnv = "LIGHTKEEPER_ETCD"

// Binary returns the etcd binary StartProcess runs, "" if there is none.
func Binary() string {
	if b := os.Getenv(EtcdEnv); b != "" {
		return b
	}
	b, err := exec.LookPath("etcd")
	if err != nil {
		return ""
	}
	return b
}

// Process is a single-member etcd run from its binary, as a separate
// process: the etcd a distribution ships (Debian 12's is 3.4), which the
// embedded Server cannot stand for. Stop kills it (SIGKILL), Pause and
// Resume stop and continue it (SIGSTOP, SIGCONT).
type Process struct {
	t       testing.TB
	bin     string
	dir     string
	client  string // host:port
	peer    string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	Version string // the first line of etcd --version
}

// StartProcess starts the etcd binary (Binary) on free loopback ports with
// its data in t.TempDir(), and kills it when the test ends. Without a
// binary the test is skipped, saying how to install one.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skipf("no etcd binary: install one (apt-get install etcd-server) or set $%s; the embedded server runs these tests meanwhile", EtcdEnv)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("etcdtest: %s --version: %v", bin, err)
	}
	p := &Process{t: t, bin: bin, dir: filepath.Join(t.TempDir(), "data"), client: FreeAddr(t), peer: FreeAddr(t),
		Version: strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])}
	if err := p.start(); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Endpoints are the client URLs; they stay the same across Restart.
func (p *Process) Endpoints() []string { return []string{"http://" + p.client} }

func (p *Process) start() error {
	cmd := exec.Command(p.bin,
		"--name", "etcdtest", "--data-dir", p.dir,
		"--listen-client-urls", "http://"+p.client, "--advertise-client-urls", "http://"+p.client,
		"--listen-peer-urls", "http://"+p.peer, "--initial-advertise-peer-urls", "http://"+p.peer,
		"--initial-cluster", "etcdtest=http://"+p.peer, "--log-level", "error", "--logger", "zap")
	log, err := os.OpenFile(filepath.Join(filepath.Dir(p.dir), "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	c, err := clientv3.New(clientv3.Config{Endpoints: p.Endpoints(), DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		// Status needs no user when authentication is on; the member
		// serves once it knows a raft leader.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx, p.Endpoints()[0])
		cancel()
		if err == nil && st.Leader != 0 {
			return nil
		}
		if err == nil {
			err = errors.New("no raft leader yet")
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(p.dir), "etcd.log"))
			return fmt.Errorf("%s exited while starting: %s", p.bin, b)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready after %v: %w", p.bin, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the process (SIGKILL, like a crash) and waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process dies too
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts a killed process again on the same data and ports. While
// it was down, a test running beside it may have held one of its ports for
// a moment (freeport listens to find a free one), so a start refused with
// "address already in use" is tried again a few times.
func (p *Process) Restart() {
	p.t.Helper()
	p.Stop()
	var err error
	for range 10 {
		if err = p.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("etcdtest: restart: %v", err)
	}
}

// Pause stops the process with SIGSTOP: its connections stay open and
// nothing answers, like a member frozen or cut off by a partition. It
// returns once the kernel reports the process stopped.
func (p *Process) Pause() {
	p.signal(syscall.SIGSTOP)
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return // not Linux, or gone
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
	}
}

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() { p.signal(syscall.SIGCONT) }

func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}
