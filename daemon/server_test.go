package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// serverRig is a Server on a free port whose /block requests wait until
// released.
type serverRig struct {
	t       *testing.T
	srv     *Server
	addr    string
	release chan struct{}
	entered chan struct{}
}

func newServerRig(t *testing.T, o ServerOptions) *serverRig {
	t.Helper()
	r := &serverRig{t: t, release: make(chan struct{}), entered: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /block", func(w http.ResponseWriter, _ *http.Request) {
		r.entered <- struct{}{}
		<-r.release
	})
	mux.HandleFunc("POST /body", func(w http.ResponseWriter, req *http.Request) {
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.srv, r.addr = NewServer(mux, o), ln.Addr().String()
	go r.srv.Serve(ln)
	t.Cleanup(func() {
		close(r.release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.srv.Shutdown(ctx)
	})
	return r
}

// dial opens a connection that sends nothing.
func (r *serverRig) dial() net.Conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// healthz asks /healthz on a new connection.
func (r *serverRig) healthz() error {
	c := &http.Client{Timeout: waitFor, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + r.addr + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		return fmt.Errorf("%s, nosniff %q", resp.Status, resp.Header.Get("X-Content-Type-Options"))
	}
	return nil
}

// closedByServer waits until the server closes c (a read ends).
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	_, err := io.Copy(io.Discard, c) // a response may come first
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

const waitFor = time.Minute

func (r *serverRig) counts() (open, reserved int) {
	r.srv.lim.mu.Lock()
	defer r.srv.lim.mu.Unlock()
	return r.srv.lim.open, r.srv.lim.reserved
}

// TestServerEvictsIdleConnections: past MaxConns, the connection idle the
// longest is closed; /healthz still answers.
func TestServerEvictsIdleConnections(t *testing.T) {
	r := newServerRig(t, ServerOptions{MaxConns: 4, ReserveConns: 1})
	var conns []net.Conn
	for range 10 {
		conns = append(conns, r.dial())
	}
	if err := r.healthz(); err != nil {
		t.Fatalf("/healthz under 10 idle connections: %v", err)
	}
	for i, c := range conns[:7] { // the 10th and healthz's took the last two slots
		if !closedByServer(t, c) {
			t.Errorf("idle connection %d still open", i)
		}
	}
	if open, reserved := r.counts(); open > 4 || reserved != 0 {
		t.Errorf("%d open, %d in the reserve", open, reserved)
	}
}

// TestServerReserve: while every connection is busy, the reserve takes
// /healthz; a connection past the reserve is closed at once; a reserve
// connection lives ReserveLifetime.
func TestServerReserve(t *testing.T) {
	r := newServerRig(t, ServerOptions{MaxConns: 2, ReserveConns: 1, ReserveLifetime: 300 * time.Millisecond})
	for range 2 {
		c := r.dial()
		fmt.Fprintf(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-r.entered
	}
	if err := r.healthz(); err != nil {
		t.Fatalf("/healthz with every connection busy: %v", err)
	}
	hog := r.dial() // takes the reserve once healthz's connection is gone
	waitUntil(t, func() bool { _, reserved := r.counts(); return reserved == 1 })
	past := r.dial()
	if !closedByServer(t, past) {
		t.Error("a connection past the reserve was kept")
	}
	if !closedByServer(t, hog) {
		t.Error("a reserve connection outlived ReserveLifetime")
	}
	waitUntil(t, func() bool { _, reserved := r.counts(); return reserved == 0 })
	if err := r.healthz(); err != nil {
		t.Fatalf("/healthz once the reserve is free: %v", err)
	}
}

// TestServerTimeouts: a body sent too slowly, and a keep-alive connection
// left idle, are closed.
func TestServerTimeouts(t *testing.T) {
	r := newServerRig(t, ServerOptions{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	slow := r.dial()
	fmt.Fprintf(slow, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n0123456789")
	if !closedByServer(t, slow) {
		t.Error("a stalled body kept its connection")
	}
	idle := r.dial()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("keep-alive request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if !closedByServer(t, idle) {
		t.Error("an idle keep-alive connection was kept")
	}
	waitUntil(t, func() bool { open, _ := r.counts(); return open == 0 }) // the server's side of the closes
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("waited too long")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
