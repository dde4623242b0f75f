package etcdtest

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestStopRestart puts a key, stops the member (a call then fails), restarts
// it on the same data and port, and reads the key with the same client.
func TestStopRestart(t *testing.T) {
	for _, o := range []Options{{}, {TLS: true}} {
		s := StartWith(t, o)
		c := s.Client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Put(ctx, "/k", "v"); err != nil {
			t.Fatalf("TLS %v: put: %v", o.TLS, err)
		}
		before, err := s.Traffic()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "/k"); err != nil {
			t.Fatalf("TLS %v: get: %v", o.TLS, err)
		}
		after, err := s.Traffic()
		if err != nil {
			t.Fatal(err)
		}
		if d := after.Sub(before); d.Unary < 1 || d.WireReceivedBytes <= d.ReceivedBytes || d.WireSentBytes <= d.SentBytes || d.ReceivedBytes <= 0 || d.SentBytes <= 0 || d.ReceivedMessages < 1 {
			t.Errorf("TLS %v: traffic of one Get: %v", o.TLS, d)
		}

		s.Stop()
		if s.Running() {
			t.Fatal("running after Stop")
		}
		if conn, err := net.Dial("tcp", s.proxy.addr); err == nil {
			conn.Close()
			t.Fatalf("TLS %v: the client port still takes connections after Stop", o.TLS)
		}
		short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err = c.Get(short, "/k")
		cancelShort()
		if err == nil {
			t.Fatalf("TLS %v: a Get succeeded while the member was stopped", o.TLS)
		}

		s.Restart()
		resp, err := c.Get(ctx, "/k")
		if err != nil {
			t.Fatalf("TLS %v: get after the restart: %v", o.TLS, err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
			t.Errorf("TLS %v: after the restart /k is %v, want v", o.TLS, resp.Kvs)
		}
	}
}
