// Package freeport hands tests loopback addresses that are free to bind:
// for the servers they start as processes (etcd, Alertmanager, the daemon)
// and for the proxies between them.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Addr returns 127.0.0.1 with a port that is free now and lies below
// the kernel's ephemeral range (net.ipv4.ip_local_port_range), so that no
// outgoing connection takes it before the caller binds it, or while a
// stopped process that had it is started again. Ports that 127.0.0.1:0
// hands out come from that range, and with many processes connecting to
// each other one was taken in between often enough to fail tests.
func Addr(t testing.TB) string {
	t.Helper()
	ln, err := Listen()
	if err != nil {
		t.Fatalf("freeport: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Listen listens on 127.0.0.1 at a free port below the ephemeral range.
func Listen() (net.Listener, error) {
	low := ephemeralLow()
	const from = 10000
	for range 200 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", from+rand.IntN(low-from)))
		if err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d", from, low-1)
}

// ephemeralLow is the first port of the ephemeral range (32768 if it
// cannot be read, or is too low to leave room below it).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 20000 {
		return 32768
	}
	return n
}
