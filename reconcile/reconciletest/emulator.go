package reconciletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

// DefaultQuiesceTimeout is how long Quiesce waits for the server to handle
// what reached it before it gives up and names what it waits for. A handler
// of the emulator answers in milliseconds (a delay fault ends when the
// client goes away), so this is seconds of slack for a loaded machine, not
// a time anything takes.
const DefaultQuiesceTimeout = 10 * time.Second

// Emulator is an emulator on httptest with a manual clock and a client,
// like emulatortest.Harness, and a count of the mutating requests it was
// sent (DryRun creates apart), which the chaos suite's check that a plan
// changes nothing needs and the emulator's own call counts cannot tell.
type Emulator struct {
	Server *emulator.Server
	Clock  *emulator.ManualClock
	Client *lighthouse.Client
	URL    string
	// QuiesceTimeout bounds Quiesce; 0 means DefaultQuiesceTimeout.
	QuiesceTimeout time.Duration

	mutations atomic.Int64
	opsMu     sync.Mutex
	ops       []Operation
	opSeen    map[[2]string]bool // instance ID, RequestId

	transport      *http.Transport
	attemptTimeout atomic.Int64 // nanoseconds; 0 = none
	reqSeq         atomic.Uint64
	mu             sync.Mutex
	cond           *sync.Cond
	sent           map[string]*attempt // attempts whose bytes reached the server's socket, not yet handled
	handled        map[string]bool     // attempts handled before the client's write of them returned
}

// attempt is one HTTP attempt of the client, as Quiesce names it.
type attempt struct {
	id, action, region string
	sent               time.Time
	ended              string // how the client's side ended ("" while it waits for the answer)
}

func (a *attempt) String() string {
	s := fmt.Sprintf("request %s (%s in %s), sent %s ago", a.id, a.action, a.region, time.Since(a.sent).Round(time.Millisecond))
	if a.ended != "" {
		return s + "; the client's attempt ended: " + a.ended
	}
	return s + "; the client still waits for its answer"
}

// requestHeader carries the number the client gave a request, so that the
// server side can tell which of them it has handled.
const requestHeader = "X-Reconciletest-Request"

// SetAttemptTimeout bounds each HTTP attempt of the client (0: no bound),
// so that a delay fault makes the client give up after the emulator acted.
func (e *Emulator) SetAttemptTimeout(d time.Duration) { e.attemptTimeout.Store(int64(d)) }

// Quiesce waits until the server has handled every request whose bytes
// reached it, including those the client gave up on: a create whose attempt
// timed out may reach the emulator's handler after the caller moved on, and
// must not be taken for something a later step did. A request the client
// gave up on before any of it was written to the connection never reaches
// the server and is not waited for.
//
// It waits at most QuiesceTimeout, then returns an error naming each
// request still unhandled (number, action, region, how long ago it was
// sent and how the client's side ended), so that a stuck scenario fails in
// seconds and says why.
func (e *Emulator) Quiesce() error {
	timeout := e.QuiesceTimeout
	if timeout <= 0 {
		timeout = DefaultQuiesceTimeout
	}
	var expired atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		expired.Store(true)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.cond.Broadcast()
	})
	defer timer.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.sent) > 0 {
		if expired.Load() {
			stuck := make([]string, 0, len(e.sent))
			for _, a := range e.sent {
				stuck = append(stuck, a.String())
			}
			slices.Sort(stuck)
			return fmt.Errorf("reconciletest: after %s the emulator has still not handled %d request(s) whose bytes reached it:\n  %s",
				timeout, len(stuck), strings.Join(stuck, "\n  "))
		}
		e.cond.Wait()
	}
	return nil
}

// RoundTrip numbers each attempt, applies the attempt timeout and hands
// the attempt to the connection it goes out on, which records it as sent
// once its bytes reached the socket (see conn).
func (e *Emulator) RoundTrip(r *http.Request) (*http.Response, error) {
	a := &attempt{id: fmt.Sprint(e.reqSeq.Add(1)), action: r.Header.Get("X-TC-Action"), region: r.Header.Get("X-TC-Region")}
	ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if c, ok := i.Conn.(*conn); ok {
			c.carry(a)
		}
	}})
	cancel := context.CancelFunc(func() {})
	if d := time.Duration(e.attemptTimeout.Load()); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	r = r.Clone(ctx)
	r.Header.Set(requestHeader, a.id)
	resp, err := e.transport.RoundTrip(r)
	if err != nil {
		e.mu.Lock()
		a.ended = err.Error()
		e.mu.Unlock()
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// conn is a client connection that tells its Emulator when an attempt's
// bytes reach the socket. Only then can the server read and handle it:
// net/http reports a request written (httptrace's WroteRequest) once it is
// in the transport's buffer, before the buffer is flushed, and an attempt
// canceled in between (its timeout closes the connection) never leaves
// the client. Counting such an attempt as sent made Quiesce wait for it
// forever.
type conn struct {
	net.Conn
	e    *Emulator
	mu   sync.Mutex
	next *attempt // the attempt whose bytes go out next, until a write of them succeeds
}

// carry says that a's bytes are the next written on c (HTTP/1.1: one
// attempt at a time per connection).
func (c *conn) carry(a *attempt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = a
}

// Write records the attempt being written as sent once a write of it
// succeeded: its first write holds its header, which is all the server needs
// to call the handler.
func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil {
		c.mu.Lock()
		a := c.next
		c.next = nil
		c.mu.Unlock()
		if a != nil {
			c.e.sentOut(a)
		}
	}
	return n, err
}

// sentOut records that a's bytes reached the server's socket.
func (e *Emulator) sentOut(a *attempt) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.handled[a.id] {
		delete(e.handled, a.id)
		return
	}
	a.sent = time.Now()
	e.sent[a.id] = a
}

// done records that the server handled request id.
func (e *Emulator) done(id string) {
	if id == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.sent[id]; ok {
		delete(e.sent, id)
	} else {
		e.handled[id] = true
	}
	e.cond.Broadcast()
}

// Mutations returns how many requests that could change the account
// reached the server: CreateInstances without DryRun, IsolateInstances,
// TerminateInstances and the day-two actions that change instances,
// whatever they were answered.
func (e *Emulator) Mutations() int64 { return e.mutations.Load() }

// Operation is an operation the emulator started on an instance: a reset
// or a bundle change that it carried out (whatever the client was told),
// with its target as the request named it.
type Operation struct {
	Action     string
	InstanceID string
	// Target is the reset's BlueprintId or the bundle change's BundleId.
	Target string
	// RequestID is the LatestOperationRequestId the instance shows for it.
	RequestID string
	// At is the emulator's time when it started.
	At time.Time
}

// Operations returns every reset and bundle change the emulator started,
// in order: the ground truth of how often each instance was acted on,
// which no client's view (a lost answer, a timeout) can hide.
func (e *Emulator) Operations() []Operation {
	e.opsMu.Lock()
	defer e.opsMu.Unlock()
	return slices.Clone(e.ops)
}

// count is the server's handler, counting mutations on the way in and
// recording the operations it starts (Operations).
func (e *Emulator) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer e.done(r.Header.Get(requestHeader))
		action := r.Header.Get("X-TC-Action")
		switch action {
		case lighthouse.ActionCreateInstances:
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct{ DryRun bool }
			if json.Unmarshal(body, &req) != nil || !req.DryRun {
				e.mutations.Add(1)
			}
		case lighthouse.ActionIsolateInstances, lighthouse.ActionTerminateInstances, lighthouse.ActionModifyInstancesRenewFlag, lighthouse.ActionRenewInstances:
			e.mutations.Add(1)
		case lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle:
			e.mutations.Add(1)
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				InstanceId            string
				InstanceIds           []string
				BlueprintId, BundleId string
			}
			_ = json.Unmarshal(body, &req)
			ids := req.InstanceIds
			if req.InstanceId != "" {
				ids = []string{req.InstanceId}
			}
			before := e.latest(ids)
			next.ServeHTTP(w, r)
			e.recordOps(action, ids, before, req.BlueprintId+req.BundleId)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// latest is the LatestOperation and LatestOperationRequestId of each of
// ids, as the emulator holds them.
func (e *Emulator) latest(ids []string) map[string][2]string {
	out := map[string][2]string{}
	for _, in := range e.Server.Instances() {
		if slices.Contains(ids, in.InstanceId) {
			out[in.InstanceId] = [2]string{in.LatestOperation, in.LatestOperationRequestId}
		}
	}
	return out
}

// recordOps records, for each of ids whose latest operation is now action
// with another RequestId than before, that the emulator started it. A
// concurrent call on the same instance may be the one that acted; each
// operation is recorded once, by its RequestId.
func (e *Emulator) recordOps(action string, ids []string, before map[string][2]string, target string) {
	after := e.latest(ids)
	now := e.Clock.Now()
	e.opsMu.Lock()
	defer e.opsMu.Unlock()
	if e.opSeen == nil {
		e.opSeen = map[[2]string]bool{}
	}
	for _, id := range ids {
		a := after[id]
		if a[0] != action || a[1] == before[id][1] || e.opSeen[[2]string{id, a[1]}] {
			continue
		}
		e.opSeen[[2]string{id, a[1]}] = true
		e.ops = append(e.ops, Operation{Action: action, InstanceID: id, Target: target, RequestID: a[1], At: now})
	}
}

// StartEmulator serves an emulator for cfg (Credentials, Clock and
// RateLimits are filled in when unset; the clock skew check is off) and
// returns a client for it built from opts, with the credential, endpoint
// and clock filled in, no client-side rate limits and millisecond
// backoffs unless opts says otherwise, and HTTPClient replaced by one whose
// transport is the Emulator itself (see SetAttemptTimeout and Quiesce).
// The server closes when t ends.
func StartEmulator(t testing.TB, cfg emulator.Config, opts lighthouse.Options) *Emulator {
	t.Helper()
	if _, ok := cfg.Clock.(*emulator.ManualClock); cfg.Clock != nil && !ok {
		t.Fatal("reconciletest: StartEmulator needs a *emulator.ManualClock")
	}
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{"AKIDtest": "secret"}
	}
	if cfg.RateLimits == nil {
		cfg.RateLimits = emulator.NoRateLimits()
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = -1
	}
	e := &Emulator{sent: map[string]*attempt{}, handled: map[string]bool{}}
	e.cond = sync.NewCond(&e.mu)
	e.transport = http.DefaultTransport.(*http.Transport).Clone()
	var dialer net.Dialer
	e.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &conn{Conn: c, e: e}, nil
	}
	t.Cleanup(e.transport.CloseIdleConnections)
	// The harness's client options (credential, endpoint, clock, no rate
	// limits) are the defaults; opts overrides them where set.
	client := func(o *lighthouse.Options) {
		def := *o
		*o = opts
		o.Endpoint = def.Endpoint
		o.HTTPClient = &http.Client{Transport: e}
		if o.Credential.SecretID() == "" {
			o.Credential = def.Credential
		}
		if o.Now == nil {
			o.Now = def.Now
		}
		if o.RateLimits == nil {
			o.RateLimits = def.RateLimits
		}
		if o.RetryWaitMin == 0 {
			o.RetryWaitMin, o.RetryWaitMax = time.Millisecond, 2*time.Millisecond
		}
	}
	h := emulatortest.New(t, cfg, emulatortest.WithStart(Epoch), emulatortest.WithHandler(e.count), emulatortest.WithClient(client))
	e.Server, e.Clock, e.Client, e.URL = h.Server, h.Clock, h.Client, h.URL
	return e
}
