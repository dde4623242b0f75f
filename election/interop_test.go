package election_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// TestSharesTheElectionWithEtcdClient: the Elector's keys are those of
// etcd's own election recipe (go.etcd.io/etcd/client/v3/concurrency, which
// lightkeeper used up to 0.x and a daemon not yet upgraded still runs).
// During a rolling upgrade both take part in one election: one leader at a
// time, each seeing the other lead.
func TestSharesTheElectionWithEtcdClient(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	prefix := "/test/" + t.Name() + "/leader"
	campaign := func(id string) (*concurrency.Session, *concurrency.Election) {
		t.Helper()
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		el := concurrency.NewElection(s, prefix)
		b, _ := json.Marshal(election.Info{ID: id})
		if err := el.Campaign(ctx, string(b)); err != nil {
			t.Fatal(err)
		}
		return s, el
	}
	_, old := campaign("lk-old")

	a := join(t, srv.Endpoints(), "lk-a") // the same prefix: join's
	waitUntil(t, "lk-a to see lk-old lead", func() bool { i, ok := a.e.Leader(); return ok && i.ID == "lk-old" })
	if err := a.e.Check(ctx); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("lk-a's Check while lk-old leads = %v, want ErrNotLeader", err)
	}
	if a.leading.Load() {
		t.Fatal("lk-a leads beside lk-old")
	}
	if err := old.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "lk-a to lead once lk-old resigned", a.leading.Load)
	if err := a.e.Check(ctx); err != nil {
		t.Fatal(err)
	}

	// etcd's client sees lk-a lead, and a candidate of it waits for lk-a.
	resp, err := old.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var info election.Info
	if err := json.Unmarshal(resp.Kvs[0].Value, &info); err != nil || info.ID != "lk-a" {
		t.Fatalf("etcd's client sees %q lead (%v), want lk-a", resp.Kvs[0].Value, err)
	}
	s2, err := concurrency.NewSession(cli, concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	won := make(chan error, 1)
	go func() { won <- concurrency.NewElection(s2, prefix).Campaign(ctx, `{"id":"lk-old2"}`) }()
	// While lk-a leads, lk-old2 must not win.
	select {
	case err := <-won:
		if a.e.Check(ctx) == nil {
			t.Fatalf("lk-old2 won (%v) while lk-a leads", err)
		}
		t.Log("lk-a lost its lease before lk-old2 won (a starved host): nothing more to check")
		return
	case <-time.After(3 * time.Second):
	}
	a.stop()
	if err := <-won; err != nil {
		t.Fatalf("lk-old2's campaign after lk-a stopped: %v", err)
	}
}
