package election_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// waitFor bounds every wait: tests never pass or fail on timing.
const waitFor = 60 * time.Second

// member is one Elector running its election.
type member struct {
	e        *election.Elector
	leading  atomic.Bool
	triggers atomic.Int32
	mu       sync.Mutex
	changes  []bool
	messages []string // topic=data
	cancel   context.CancelFunc
	done     chan struct{}
}

func join(t *testing.T, endpoints []string, id string, edit ...func(*election.Options)) *member {
	t.Helper()
	opts := election.Options{Endpoints: endpoints, ID: id, URL: "http://" + id + ":9180", LeaseTTL: 2 * time.Second,
		DialTimeout: 2 * time.Second, Prefix: "/test/" + t.Name() + "/"}
	for _, f := range edit {
		f(&opts)
	}
	e, err := election.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{e: e, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		e.Run(ctx, election.Events{
			Lead: func(on bool) {
				m.leading.Store(on)
				m.mu.Lock()
				m.changes = append(m.changes, on)
				m.mu.Unlock()
			},
			Trigger: func() { m.triggers.Add(1) },
			Message: func(topic string, data []byte) {
				m.mu.Lock()
				m.messages = append(m.messages, topic+"="+string(data))
				m.mu.Unlock()
			},
		})
	}()
	t.Cleanup(func() { m.stop(); e.Close() })
	return m
}

// stop ends the member's Run and waits for it.
func (m *member) stop() {
	m.cancel()
	<-m.done
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitFor, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaders returns the members that lead.
func leaders(ms ...*member) []*member {
	var out []*member
	for _, m := range ms {
		if m.leading.Load() {
			out = append(out, m)
		}
	}
	return out
}

// backend is an etcd the election tests run against.
type backend interface {
	Endpoints() []string
	Stop()
	Restart()
}

// backends runs test against the embedded etcd (the server code of the
// client's version) and against the etcd binary installed here, if any
// (etcdtest.StartProcess: Debian 12 ships 3.4).
func backends(t *testing.T, test func(t *testing.T, srv backend)) {
	t.Run("embedded", func(t *testing.T) { test(t, etcdtest.Start(t)) })
	t.Run("process", func(t *testing.T) {
		p := etcdtest.StartProcess(t)
		t.Logf("etcd process: %s", p.Version)
		test(t, p)
	})
}

func TestOneLeaderAndHandOver(t *testing.T) { backends(t, testOneLeaderAndHandOver) }

func testOneLeaderAndHandOver(t *testing.T, srv backend) {
	a, b, c := join(t, srv.Endpoints(), "lk-a"), join(t, srv.Endpoints(), "lk-b"), join(t, srv.Endpoints(), "lk-c")
	all := []*member{a, b, c}
	waitUntil(t, "a leader", func() bool { return len(leaders(all...)) == 1 })
	lead := leaders(all...)[0]
	ctx := context.Background()
	if err := lead.e.Check(ctx); err != nil {
		t.Fatalf("the leader's Check: %v", err)
	}
	var followers []*member
	for _, m := range all {
		if m != lead {
			followers = append(followers, m)
			if err := m.e.Check(ctx); !errors.Is(err, election.ErrNotLeader) {
				t.Fatalf("a follower's Check = %v, want ErrNotLeader", err)
			}
		}
	}
	// Followers see the leader, and the revision it publishes.
	if err := lead.e.Publish(ctx, "0123456789abcdef0123456789abcdef01234567"); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		waitUntil(t, "the followers to see the leader's revision", func() bool {
			i, ok := f.e.Leader()
			return ok && i.ID == lead.e.ID() && i.URL == "http://"+lead.e.ID()+":9180" && i.Revision == "0123456789abcdef0123456789abcdef01234567" && !i.Since.IsZero()
		})
	}
	// A follower's trigger reaches the leader only.
	if err := followers[0].e.Forward(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the forwarded trigger", func() bool { return lead.triggers.Load() == 1 })
	if followers[0].triggers.Load()+followers[1].triggers.Load() != 0 {
		t.Fatal("a follower received a trigger")
	}
	// A follower's messages reach the leader only, each once, in order.
	for _, data := range []string{`{"plan":"a"}`, `{"plan":"a"}`, `{"plan":"b"}`} {
		if err := followers[1].e.Send(ctx, "approve", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := followers[0].e.Send(ctx, "no/slash", nil); err == nil {
		t.Error("a topic with a slash was sent")
	}
	waitUntil(t, "the messages", func() bool { lead.mu.Lock(); defer lead.mu.Unlock(); return len(lead.messages) >= 3 })
	lead.mu.Lock()
	if got := strings.Join(lead.messages, " "); got != `approve={"plan":"a"} approve={"plan":"a"} approve={"plan":"b"}` {
		t.Errorf("the leader got %s", got)
	}
	lead.mu.Unlock()
	for _, f := range followers {
		f.mu.Lock()
		if len(f.messages) != 0 {
			t.Errorf("a follower got %q", f.messages)
		}
		f.mu.Unlock()
	}

	// The leader stops: it calls Lead(false) and revokes its lease, and
	// one of the others leads.
	lead.stop()
	if lead.leading.Load() {
		t.Fatal("the stopped leader did not call Lead(false)")
	}
	waitUntil(t, "a new leader", func() bool { return len(leaders(followers...)) == 1 })
	next := leaders(followers...)[0]
	if err := next.e.Check(ctx); err != nil {
		t.Fatalf("the new leader's Check: %v", err)
	}
	if err := lead.e.Check(ctx); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("the old leader's Check = %v, want ErrNotLeader", err)
	}
	waitUntil(t, "the follower to see the new leader", func() bool {
		for _, f := range followers {
			if f != next {
				i, ok := f.e.Leader()
				return ok && i.ID == next.e.ID()
			}
		}
		return false
	})
}

// TestEtcdDownStopsTheLeader: while etcd is down the leader's Check fails
// at once, it stops leading within its lease, and nobody leads; once etcd
// is back, one member leads again.
func TestEtcdDownStopsTheLeader(t *testing.T) { backends(t, testEtcdDownStopsTheLeader) }

func testEtcdDownStopsTheLeader(t *testing.T, srv backend) {
	var errs sync.Map
	count := func(op string) {
		n, _ := errs.LoadOrStore(op, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
	}
	a := join(t, srv.Endpoints(), "lk-a", func(o *election.Options) { o.OnError = count })
	b := join(t, srv.Endpoints(), "lk-b", func(o *election.Options) { o.OnError = count })
	waitUntil(t, "a leader", func() bool { return len(leaders(a, b)) == 1 })
	lead := leaders(a, b)[0]

	t0 := time.Now()
	srv.Stop()
	t.Logf("etcd stopped in %v", time.Since(t0))
	if err := lead.e.Check(context.Background()); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("Check with etcd down = %v, want ErrNotLeader", err)
	}
	if n, ok := errs.Load("check"); !ok || n.(*atomic.Int32).Load() == 0 {
		t.Fatal("the failed check was not reported to OnError")
	}
	waitUntil(t, "the leader to stop leading", func() bool { return len(leaders(a, b)) == 0 })
	t.Logf("leader stopped leading %v after etcd stopped", time.Since(t0))
	t0 = time.Now()
	srv.Restart()
	t.Logf("etcd restarted in %v", time.Since(t0))
	waitUntil(t, "a leader after etcd came back", func() bool { return len(leaders(a, b)) == 1 })
	t.Logf("leader elected %v after etcd restart began", time.Since(t0))
	if err := leaders(a, b)[0].e.Check(context.Background()); err != nil {
		t.Fatalf("Check after etcd came back: %v", err)
	}
}

// TestEtcdPaused: an etcd process frozen (SIGSTOP) past the lease, as in
// a partition where connections stay open and nothing answers: the
// leader's Check fails at once, it stops leading within its lease, and
// one member leads again once etcd continues.
func TestEtcdPaused(t *testing.T) {
	p := etcdtest.StartProcess(t)
	a, b := join(t, p.Endpoints(), "lk-a"), join(t, p.Endpoints(), "lk-b")
	waitUntil(t, "a leader", func() bool { return len(leaders(a, b)) == 1 })
	lead := leaders(a, b)[0]
	p.Pause()
	if err := lead.e.Check(context.Background()); !errors.Is(err, election.ErrNotLeader) {
		p.Resume()
		t.Fatalf("Check with etcd frozen = %v, want ErrNotLeader", err)
	}
	waitUntil(t, "the leader to stop leading", func() bool { return len(leaders(a, b)) == 0 })
	p.Resume()
	waitUntil(t, "a leader after etcd continued", func() bool { return len(leaders(a, b)) == 1 })
}

// TestTLS: the elector reaches an etcd that takes only clients with a
// certificate of its CA.
func TestTLS(t *testing.T) {
	srv := etcdtest.StartWith(t, etcdtest.Options{TLS: true})
	files := srv.TLS()
	ca, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, srv.Endpoints(), "lk-a", func(o *election.Options) {
		o.TLS = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	waitUntil(t, "the TLS member to lead", func() bool { return a.leading.Load() })
	if err := a.e.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCheck is the fence's cost: what a leader pays before each
// mutating API call (a linearizable read of its key on a local etcd).
func BenchmarkCheck(b *testing.B) {
	srv := etcdtest.Start(b)
	e, err := election.New(election.Options{Endpoints: srv.Endpoints(), ID: "lk-a", LeaseTTL: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var leading atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx, election.Events{Lead: leading.Store})
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(waitFor)
	for !leading.Load() {
		if time.Now().After(deadline) {
			b.Fatal("not elected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := e.Check(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
