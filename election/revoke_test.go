package election_test

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// TestRevokedLeaseEndsTheTerm: a lease revoked from outside (an operator,
// or etcd expiring it while the leader was paused) ends the leader's term.
func TestRevokedLeaseEndsTheTerm(t *testing.T) {
	srv := etcdtest.Start(t)
	a := join(t, srv.Endpoints(), "lk-a")
	waitUntil(t, "lk-a to lead", a.leading.Load)
	cli := srv.Client(t)
	ctx := context.Background()
	resp, err := cli.Get(ctx, "/test/"+t.Name()+"/leader/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("leader key: %v %v", resp, err)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "lk-a to stop leading", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.changes) >= 2
	})
	waitUntil(t, "lk-a to lead again", a.leading.Load)
}
