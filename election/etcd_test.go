package election

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gateway is a scripted etcd gateway: each path answers with its status
// and body; requests are recorded.
type gateway struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]string // path → request bodies
}

func newGateway(t *testing.T, answer func(path, body string) (int, string)) *gateway {
	t.Helper()
	g := &gateway{bodies: map[string][]string{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.bodies[r.URL.Path] = append(g.bodies[r.URL.Path], string(b))
		g.mu.Unlock()
		status, body := answer(r.URL.Path, string(b))
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gateway) sent(path string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.bodies[path]...)
}

func testEtcd(endpoints ...string) *etcd {
	c, err := newEtcd(Options{Endpoints: endpoints, DialTimeout: 2 * time.Second}, time.Second)
	if err != nil {
		panic(err)
	}
	return c
}

// TestGatewayAnswers: what the client makes of each answer etcd's gateway
// gives (grpc-gateway v2 of etcd 3.5 on, v1 of 3.4): the exact error a
// log line or Check's refusal shows.
func TestGatewayAnswers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		call   func(c *etcd) error
		want   string // with HOST for the server's address; "" for no error
	}{
		{"no leader (v2)", 503, `{"code":14,"message":"etcdserver: no leader"}`,
			func(c *etcd) error { _, err := c.get(ctx, rangeRequest{Key: []byte("k")}); return err },
			"etcd /v3/kv/range at HOST: HTTP 503: etcdserver: no leader (gRPC code 14)"},
		{"no leader (v1)", 503, `{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}`,
			func(c *etcd) error { return c.put(ctx, "k", []byte("v")) },
			"etcd /v3/kv/put at HOST: HTTP 503: etcdserver: no leader (gRPC code 14)"},
		{"not etcd", 404, "<html>no such page</html>",
			func(c *etcd) error { return c.put(ctx, "k", nil) },
			"etcd /v3/kv/put at HOST: HTTP 404: <html>no such page</html> (gRPC code 0)"},
		{"not JSON", 200, "<html>hello</html>",
			func(c *etcd) error { _, err := c.get(ctx, rangeRequest{Key: []byte("k")}); return err },
			"etcd /v3/kv/range at HOST: the answer is not the JSON of the v3 API (is this an etcd client URL?): invalid character '<' looking for beginning of value"},
		{"authentication on, no user", 400, `{"code":3,"message":"etcdserver: user name is empty"}`,
			func(c *etcd) error { _, _, err := c.grant(ctx, 10); return err },
			"etcd /v3/lease/grant at HOST: HTTP 400: etcdserver: user name is empty (gRPC code 3): etcd has authentication enabled: set ha.etcd.username and ha.etcd.passwordFile"},
		{"a wrong password", 400, `{"code":3,"message":"etcdserver: authentication failed, invalid user ID or password"}`,
			func(c *etcd) error { c.user, c.password = "lightkeeper", "wrong-pw"; return c.put(ctx, "k", nil) },
			`authenticate to etcd as "lightkeeper": etcd /v3/auth/authenticate at HOST: HTTP 400: etcdserver: authentication failed, invalid user ID or password (gRPC code 3): check ha.etcd.username and the password in ha.etcd.passwordFile`},
		{"no permission", 403, `{"code":7,"message":"etcdserver: permission denied"}`,
			func(c *etcd) error { return c.put(ctx, "k", nil) },
			"etcd /v3/kv/put at HOST: HTTP 403: etcdserver: permission denied (gRPC code 7): give the user read-write on the election's prefix (etcdctl role grant-permission ROLE readwrite PREFIX --prefix=true)"},
		{"revoke of an unknown lease", 404, `{"code":5,"message":"etcdserver: requested lease not found"}`,
			func(c *etcd) error { return c.revoke(ctx, 7) }, ""},
		{"grant refused", 200, `{"header":{},"error":"etcdserver: too many leases"}`,
			func(c *etcd) error { _, _, err := c.grant(ctx, 10); return err },
			`etcd /v3/lease/grant: no lease granted: "etcdserver: too many leases"`},
		{"keep-alive of an unknown lease", 200, `{"result":{"header":{"revision":"3"},"ID":"77"}}`,
			func(c *etcd) error {
				ttl, err := c.keepAlive(ctx, 77)
				if err == nil && ttl != 0 {
					return errors.New("a TTL for an unknown lease")
				}
				return err
			}, ""},
		{"keep-alive error in the stream (v1)", 200, `{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}`,
			func(c *etcd) error { _, err := c.keepAlive(ctx, 77); return err },
			"etcd /v3/lease/keepalive at HOST: HTTP 200: etcdserver: no leader (gRPC code 14)"},
		{"keep-alive cut short", 200, `{"result":{"TT`,
			func(c *etcd) error { _, err := c.keepAlive(ctx, 77); return err },
			"etcd /v3/lease/keepalive at HOST: read the answer: unexpected EOF"},
		{"watch of a compacted revision", 200, `{"result":{"header":{"revision":"9"},"created":true}}` + "\n" + `{"result":{"header":{},"canceled":true,"compact_revision":"5"}}`,
			func(c *etcd) error {
				next, err := c.watch(ctx, "k", nil, 2, func([]event) bool { return true })
				if next != 5 || !errors.Is(err, errCompacted) {
					return errors.Join(errors.New("want the oldest revision left, 5, and errCompacted"), err)
				}
				return err
			},
			"etcd /v3/watch at HOST: from revision 2: the revision was compacted (oldest left: 5)"},
		{"watch ended", 200, `{"result":{"header":{"revision":"9"},"created":true}}`,
			func(c *etcd) error {
				_, err := c.watch(ctx, "k", nil, 0, func([]event) bool { return true })
				return err
			},
			"etcd /v3/watch at HOST: the stream ended: unexpected EOF"},
		{"watch sending a message without end", 200, `{"result":{"header":{"revision":"9"},"created":true}}` + "\n" +
			`{"result":{"events":[{"kv":{"key":"aw==","value":"` + strings.Repeat("QUFB", 2<<20) + `"}}]}}`,
			func(c *etcd) error {
				_, err := c.watch(ctx, "k", nil, 0, func([]event) bool { return true })
				return err
			},
			"etcd /v3/watch at HOST: a message over 4194304 bytes"},
		{"watch without a leader", 200, `{"error":{"code":14,"message":"etcdserver: no leader"}}`,
			func(c *etcd) error {
				_, err := c.watch(ctx, "k", nil, 0, func([]event) bool { return true })
				return err
			},
			"etcd /v3/watch at HOST: HTTP 200: etcdserver: no leader (gRPC code 14)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, func(string, string) (int, string) { return tc.status, tc.body })
			err := tc.call(testEtcd(g.URL))
			want := strings.ReplaceAll(tc.want, "HOST", strings.TrimPrefix(g.URL, "http://"))
			switch {
			case want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case want != "" && (err == nil || err.Error() != want):
				t.Fatalf("error\n %v\nwant\n %s", err, want)
			}
		})
	}
}

// TestWatchResumes: a watch reports each batch of events and the revision
// after the last, and starts from it when made again; a put and a delete
// are told apart.
func TestWatchResumes(t *testing.T) {
	g := newGateway(t, func(_, body string) (int, string) {
		if strings.Contains(body, `"start_revision":"8"`) {
			return 200, `{"result":{"header":{"revision":"9"},"created":true}}` + "\n" +
				`{"result":{"header":{"revision":"9"},"events":[{"type":"DELETE","kv":{"key":"aw==","mod_revision":"9"}}]}}` + "\n"
		}
		return 200, `{"result":{"header":{"revision":"6"},"created":true}}` + "\n" +
			`{"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"aw==","value":"MQ==","create_revision":"7","mod_revision":"7"}}]}}` + "\n"
	})
	c := testEtcd(g.URL)
	var got []string
	record := func(evs []event) bool {
		for _, ev := range evs {
			got = append(got, string(ev.Kv.Key)+"="+string(ev.Kv.Value)+map[bool]string{true: " deleted"}[ev.deleted()])
		}
		return true
	}
	next, err := c.watch(context.Background(), "k", nil, 0, record)
	if next != 8 || err == nil {
		t.Fatalf("first watch: next %d, %v; want 8 and the stream's end", next, err)
	}
	next, _ = c.watch(context.Background(), "k", nil, next, record)
	if next != 10 || strings.Join(got, ",") != "k=1,k= deleted" {
		t.Fatalf("next %d, events %q", next, got)
	}
	if w := g.sent("/v3/watch"); len(w) != 2 || !strings.Contains(w[0], `"key":"aw=="`) || strings.Contains(w[0], "start_revision") {
		t.Fatalf("watch requests: %q", w)
	}
}

// TestEndpointsFailOver: a member that refuses connections is skipped for
// the next, which is asked first from then on, as is one that cannot serve;
// a request that reached a member and failed there is not sent to another
// (a put must not be applied twice).
func TestEndpointsFailOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	g := newGateway(t, func(string, string) (int, string) { return 200, `{"header":{"revision":"3"}}` })
	c := testEtcd(dead, g.URL)
	for range 2 {
		if err := c.put(context.Background(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(g.sent("/v3/kv/put")); n != 2 || c.next.Load() != 1 {
		t.Fatalf("%d puts reached the live member, next endpoint %d", n, c.next.Load())
	}

	// A member without a raft leader answers 503: the next call goes to
	// another; an answer about the request itself moves nothing.
	ctx := context.Background()
	sick := newGateway(t, func(string, string) (int, string) { return 503, `{"code":14,"message":"etcdserver: no leader"}` })
	c = testEtcd(sick.URL, g.URL)
	if _, err := c.get(ctx, rangeRequest{Key: []byte("k")}); err == nil {
		t.Fatal("no error from a member without a leader")
	}
	if _, err := c.get(ctx, rangeRequest{Key: []byte("k")}); err != nil || len(sick.sent("/v3/kv/range")) != 1 {
		t.Fatalf("the call after a 503: %v, %d calls to the member without a leader", err, len(sick.sent("/v3/kv/range")))
	}
	gone := newGateway(t, func(string, string) (int, string) {
		return 404, `{"code":5,"message":"etcdserver: requested lease not found"}`
	})
	c = testEtcd(gone.URL, g.URL)
	if err := c.revoke(ctx, 7); err != nil || c.next.Load() != 0 {
		t.Fatalf("revoke of an unknown lease: %v, next endpoint %d", err, c.next.Load())
	}

	var hits atomic.Int32
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // the request arrived; no answer
	}))
	defer cut.Close()
	c = testEtcd(cut.URL, g.URL)
	err = c.put(context.Background(), "k", []byte("v"))
	if err == nil || hits.Load() != 1 || len(g.sent("/v3/kv/put")) != 2 {
		t.Fatalf("a put cut after it reached a member: %v, %d hits there, %d puts at the other", err, hits.Load(), len(g.sent("/v3/kv/put")))
	}
}

// TestNewRefusesEndpoints: an endpoint that is not a client URL is refused
// by New, with what to write instead.
func TestNewRefusesEndpoints(t *testing.T) {
	_, err := New(Options{Endpoints: []string{"etcd-1:2379", "unix:///run/etcd.sock"}, ID: "lk-a"})
	if err == nil || err.Error() != `election: etcd endpoint "unix:///run/etcd.sock": want a client URL such as https://etcd-1:2379` {
		t.Fatalf("New: %v", err)
	}
	e, err := New(Options{Endpoints: []string{"etcd-1:2379/"}, ID: "lk-a"})
	if err != nil || e.etcd.endpoints[0] != "http://etcd-1:2379" {
		t.Fatalf("New: %v", err)
	}
}

// TestSessionLostWhenEtcdForgetsTheLease: a keep-alive that etcd answers
// without a TTL ends the session, as the lease is gone.
func TestSessionLostWhenEtcdForgetsTheLease(t *testing.T) {
	g := newGateway(t, func(path, _ string) (int, string) {
		if path == "/v3/lease/grant" {
			return 200, `{"header":{"revision":"1"},"ID":"77","TTL":"2"}`
		}
		return 200, `{"result":{"header":{"revision":"1"},"ID":"77"}}`
	})
	var log strings.Builder // written before Done is closed
	e, err := New(Options{Endpoints: []string{g.URL}, ID: "lk-a", LeaseTTL: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.newSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	select {
	case <-s.Done():
	case <-time.After(time.Minute):
		t.Fatal("the session outlived a lease etcd forgot")
	}
	if !strings.Contains(log.String(), `lease=4d reason="etcd no longer knows the lease (expired or revoked)"`) {
		t.Errorf("log: %s", log.String())
	}
	if ka := g.sent("/v3/lease/keepalive"); len(ka) != 1 || ka[0] != `{"ID":"77"}` {
		t.Fatalf("keep-alives sent: %q", ka)
	}
}

// TestKeepAliveKeepsTheConnection: the gateway ends a keep-alive's stream
// just after its answer (a last chunk of its own); the client reads to
// that end, so that renewals reuse one connection instead of opening one
// each.
func TestKeepAliveKeepsTheConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"result":{"header":{"revision":"3"},"ID":"77","TTL":"2"}}`+"\n")
		w.(http.Flusher).Flush()
		time.Sleep(5 * time.Millisecond) // the stream's end comes after the answer
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := testEtcd(srv.URL)
	for range 5 {
		if ttl, err := c.keepAlive(context.Background(), 77); err != nil || ttl != 2 {
			t.Fatalf("keepAlive: %d, %v", ttl, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 renewals opened %d connections, want 1", n)
	}
}

// TestKeepAliveDoesNotWaitForTheStream: a stream that stays open after
// its answer (a proxy that holds it) does not hold the renewal: it returns
// with the answer, and the connection is given up.
func TestKeepAliveDoesNotWaitForTheStream(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"result":{"header":{"revision":"3"},"ID":"77","TTL":"2"}}`+"\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	done := make(chan error, 1)
	go func() {
		_, err := testEtcd(srv.URL).keepAlive(context.Background(), 77)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the renewal waited for a stream that does not end")
	}
}
