package etcdtest

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestProcessRestartWaitsForItsPort: a test beside this one may hold the
// stopped member's client port for a moment (freeport listens to find a
// free port); Restart tries again instead of failing the test.
func TestProcessRestartWaitsForItsPort(t *testing.T) {
	p := StartProcess(t)
	p.Stop()
	ln, err := net.Listen("tcp", p.client)
	if err != nil {
		t.Fatalf("hold the client port: %v", err)
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		ln.Close()
	}()
	p.Restart()
	c, err := clientv3.New(clientv3.Config{Endpoints: p.Endpoints(), DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("put after the restart: %v", err)
	}
}
