package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// connHolderEnv, set to ADDR,N, makes the test binary a process that opens
// N idle TCP connections to ADDR, prints "held K" (those that connected),
// and keeps them until its stdin closes.
const connHolderEnv = "LIGHTKEEPER_TEST_HOLD_CONNS"

// floodEnv sets how many idle connections TestDaemonBinaryConnectionFlood
// opens (default 600); the measurement uses 21000.
const floodEnv = "LIGHTKEEPER_FLOOD_CONNS"

// holdConnectionsPerProcess stays under the file descriptor limit of one
// process (20000 here, hard); more connections take more processes.
const holdConnectionsPerProcess = 9000

func holdConnections(spec string) int {
	addr, ns, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", connHolderEnv, spec)
		return 2
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			conns = append(conns, c)
		}
	}
	fmt.Printf("held %d\n", len(conns))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// openFDs counts the open file descriptors of a process.
func openFDs(t testing.TB, pid int) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestDaemonBinaryConnectionFlood opens many idle connections to the
// daemon's HTTP address (none sends a byte) and checks, with the daemon as
// a process, that it keeps its open connections bounded and /healthz
// answering. The /healthz latencies are logged, not judged.
func TestDaemonBinaryConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("counts file descriptors in /proc")
	}
	flood := 600
	if v := os.Getenv(floodEnv); v != "" {
		var err error
		if flood, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s=%q", floodEnv, v)
		}
	}
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "0")
	r := newDaemonRig(t)
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	r.commit(1)
	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "/readyz", func() bool { return d.get("/readyz") == http.StatusOK })
	idle := openFDs(t, d.cmd.Process.Pid)

	// The flood, from processes of their own.
	held := 0
	for n := flood; n > 0; n -= holdConnectionsPerProcess {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", connHolderEnv, addr, min(n, holdConnectionsPerProcess)))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stdin.Close(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		k, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "held ")))
		if err != nil || !strings.HasPrefix(line, "held ") {
			t.Fatalf("connection holder: %q, %v", line, err)
		}
		held += k
	}
	during := openFDs(t, d.cmd.Process.Pid)

	// A prober's view: a new connection per check, as a load balancer does.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var lat []time.Duration
	failed := 0
	for range 200 {
		t0 := time.Now()
		resp, err := client.Get(d.base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			failed++
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	after := openFDs(t, d.cmd.Process.Pid)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	t.Logf("%d idle connections opened (%d connected); daemon fds: %d before, %d after the flood, %d after the probes; /healthz: %d of 200 failed, p50 %v, p99 %v",
		flood, held, idle, during, after, failed, pct(0.50), pct(0.99))
	if failed > 0 {
		t.Errorf("%d of 200 /healthz checks failed under %d idle connections", failed, flood)
	}
	bound := idle + daemon.DefaultMaxConns + daemon.DefaultReserveConns + 16
	if during > bound || after > bound {
		t.Errorf("the daemon keeps %d then %d file descriptors open under %d idle connections; want at most %d", during, after, flood, bound)
	}
	if !strings.Contains(d.log.String(), "too many HTTP connections") {
		t.Error("no warning about the connections closed")
	}
}
