package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// holdingTransport holds the CreateInstances request whose body contains
// hold until release is closed, after the client's fence let it pass: a
// leader paused between its last check and the wire.
type holdingTransport struct {
	hold    string
	held    chan struct{} // closed when the request is held
	release chan struct{}
	once    sync.Once
	creates atomic.Int32
}

func (h *holdingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-TC-Action") == lighthouse.ActionCreateInstances {
		h.creates.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), h.hold) {
			h.once.Do(func() { close(h.held) })
			<-h.release
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// overlapDaemon is one daemon of the overlap test, in this process.
type overlapDaemon struct {
	d      *daemon.Daemon
	l      *leadership
	cancel context.CancelFunc
	done   chan error
}

func startOverlapDaemon(t testing.TB, id string, etcd []string, h *emulatortest.Harness, dir string, rt http.RoundTripper) *overlapDaemon {
	t.Helper()
	el, err := election.New(election.Options{Endpoints: etcd, ID: id, LeaseTTL: 2 * time.Second, Prefix: "/overlap/"})
	if err != nil {
		t.Fatal(err)
	}
	l := &leadership{Elector: el}
	client := h.NewClient(t, func(o *lighthouse.Options) {
		o.Fence = func(ctx context.Context, _ string) error { return l.Check(ctx) }
		o.HTTPClient = &http.Client{Transport: rt, Timeout: time.Minute}
	})
	d, err := daemon.New(daemon.Options{
		Source: daemon.DirSource{Dir: dir}, Cloud: client, Leadership: l, Interval: time.Hour, Jitter: -1,
		Limits: reconcile.Limits{MaxCreates: reconcile.NoLimit, MaxMonthlySpend: reconcile.NoLimit}, StateDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	od := &overlapDaemon{d: d, l: l, cancel: cancel, done: make(chan error, 1)}
	go func() { od.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		od.cancel()
		<-od.done
		el.Close()
	})
	return od
}

// TestOverlapWindowCannotOvershoot: a leader held between its fence check
// and the wire while its lease is lost, a second leader that fills every
// slot meanwhile (DescribeInstances does not list the first leader's
// instances yet), and then the held create going out late: its token is
// the second leader's for that slot, so nothing is bought twice.
func TestOverlapWindowCannotOvershoot(t *testing.T) {
	srv := etcdtest.Start(t)
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), DescribeLag: time.Hour})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(`apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: web}
spec: {region: ap-guangzhou, count: 3, bundleId: bundle_gen_01, blueprintId: lhbp-g0tn7djh, charge: {period: 1}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	holdA := &holdingTransport{hold: `"InstanceName":"web-2"`, held: make(chan struct{}), release: make(chan struct{})}
	a := startOverlapDaemon(t, "lk-a", srv.Endpoints(), h, dir, holdA)
	select {
	case <-holdA.held:
	case <-time.After(time.Minute):
		t.Fatal("lk-a did not send its create of web-2")
	}
	waitUntil(t, "lk-a's creates of web-0 and web-1", func() bool { return len(h.Server.Instances()) == 2 })
	// lk-b campaigns meanwhile: it is next in line.
	holdB := &holdingTransport{hold: "never held", held: make(chan struct{}), release: make(chan struct{})}
	b := startOverlapDaemon(t, "lk-b", srv.Endpoints(), h, dir, holdB)
	waitUntil(t, "lk-b to follow", func() bool { s := b.d.Status(); return s.Runs >= 1 && s.HA.LeaderID == "lk-a" })

	// lk-a's lease expires while its create of web-2 is on its way.
	cli := srv.Client(t)
	ctx := context.Background()
	resp, err := cli.Get(ctx, "/overlap/leader/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("leader key: %v %v", resp, err)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "lk-a to lose the leadership", func() bool { return a.d.Status().HA.ElectionsLost >= 1 })
	waitUntil(t, "lk-b to lead and end a cycle", func() bool {
		s := b.d.Status()
		return s.HA.Leader && s.LastRun != nil && s.LastRun.Result == daemon.ResultSuccess
	})
	// lk-b saw no instance (the lag) and sent all three creates: its
	// tokens returned lk-a's two instances and bought web-2.
	if a.d.Status().HA.Leader {
		t.Fatal("lk-a leads again while lk-b leads")
	}
	if got := holdB.creates.Load(); got != 3 {
		t.Fatalf("lk-b sent %d creates, want 3 (it sees no instance yet)", got)
	}
	if n := len(h.Server.Instances()); n != 3 {
		t.Fatalf("%d instances after lk-b's cycle, want 3", n)
	}

	close(holdA.release) // lk-a's create of web-2 reaches the service late
	waitUntil(t, "lk-a's late create to end", func() bool {
		s := a.d.Status()
		return s.LastRun != nil && s.Runs >= 1 && s.LastRun.Result != ""
	})
	names := map[string]int{}
	for _, in := range h.Server.Instances() {
		names[in.InstanceName]++
	}
	if len(names) != 3 || names["web-0"] != 1 || names["web-1"] != 1 || names["web-2"] != 1 {
		t.Fatalf("instances by name: %v; want web-0, web-1 and web-2 once each", names)
	}
	if got := holdA.creates.Load(); got != 3 {
		t.Fatalf("lk-a sent %d creates, want its 3 (none after it lost the lease)", got)
	}
}
