package reconciletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// Epoch is where the clocks of Env start.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Config is the behaviour RunContract asks of a cloud. Zero values mean the
// emulator's defaults.
type Config struct {
	LaunchDelay    time.Duration
	OperationDelay time.Duration
	DescribeLag    time.Duration
	TokenWindow    time.Duration
	TokenMismatch  emulator.TokenPolicy
	TokenGone      emulator.TokenPolicy
	// Quota: instances per region; 0 the default, negative unlimited.
	Quota int
	// LaunchFails makes every new instance end in LAUNCH_FAILED.
	LaunchFails bool
	// Site is the site served: the China one (when "") takes Tags on
	// create, the international one refuses them (UnknownParameter).
	Site emulator.Site
}

// Env is a cloud under test and the hooks RunContract needs to drive it.
type Env struct {
	Cloud  reconcile.Cloud
	Region string
	// Advance moves the cloud's clock.
	Advance func(time.Duration)
	// Now is the cloud's clock.
	Now func() time.Time
	// All lists every instance as it is now, ignoring the Describe lag.
	All func() []lighthouse.Instance
	// Delete removes an instance out of band.
	Delete func(id string) error
	// Fail makes the next n calls of action fail with kind
	// (drop-response, internal-error, http-5xx, request-limit-exceeded).
	Fail func(action string, kind emulator.FaultKind, n int)
}

// FakeEnv is an Env over a Fake.
func FakeEnv(t *testing.T, cfg Config) Env {
	clock := emulator.NewManualClock(Epoch)
	f := NewFake(clock)
	f.LaunchDelay, f.OperationDelay, f.DescribeLag = cfg.LaunchDelay, cfg.OperationDelay, cfg.DescribeLag
	f.TokenWindow, f.TokenMismatch, f.TokenGone, f.Quota = cfg.TokenWindow, cfg.TokenMismatch, cfg.TokenGone, cfg.Quota
	f.Intl = cfg.Site == emulator.SiteIntl
	if cfg.LaunchFails {
		f.LaunchFails = func(string) bool { return true }
	}
	return Env{Cloud: f, Region: "ap-guangzhou", Advance: clock.Advance, Now: clock.Now, All: f.All, Delete: f.DeleteInstance, Fail: f.Fail}
}

// EmulatorEnv is an Env over the emulator served on httptest
// (emulatortest), reached by a lighthouse.Client that never retries (so
// that one call is one attempt, as on the Fake).
func EmulatorEnv(t *testing.T, cfg Config) Env {
	ecfg := emulator.Config{
		LaunchDelay: cfg.LaunchDelay, OperationDelay: cfg.OperationDelay, DescribeLag: cfg.DescribeLag,
		TokenWindow: cfg.TokenWindow, TokenMismatch: cfg.TokenMismatch, TokenGone: cfg.TokenGone,
		RateLimits: emulator.NoRateLimits(), Site: cfg.Site,
	}
	if cfg.Quota != 0 {
		q := int64(cfg.Quota)
		ecfg.Quotas = map[string]int64{}
		for _, b := range emulator.DefaultCatalog().Bundles {
			ecfg.Quotas[b.BundleType+"_INSTANCE"] = q
		}
	}
	if cfg.LaunchFails {
		ecfg.LaunchFailureProbability = 1
	}
	h := emulatortest.New(t, ecfg, emulatortest.WithStart(Epoch), emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = -1 }))
	return Env{Cloud: h.Client, Region: "ap-guangzhou", Advance: h.Clock.Advance, Now: h.Clock.Now, All: h.Server.Instances, Delete: h.Server.DeleteInstance,
		Fail: func(action string, kind emulator.FaultKind, n int) {
			h.Server.InjectFault(emulator.Fault{Action: action, Kind: kind, Count: n})
		}}
}

// Emulator is an emulator on httptest with a manual clock and a client,
// like emulatortest.Harness, and a count of the mutating requests it was
// sent (DryRun creates apart), which the chaos suite's check that a plan
// changes nothing needs and the emulator's own call counts cannot tell.
type Emulator struct {
	Server *emulator.Server
	Clock  *emulator.ManualClock
	Client *lighthouse.Client
	URL    string

	mutations atomic.Int64

	transport      *http.Transport
	attemptTimeout atomic.Int64 // nanoseconds; 0 = none
	reqSeq         atomic.Uint64
	mu             sync.Mutex
	cond           *sync.Cond
	written        map[string]bool // requests the client wrote in full, not yet handled
	handled        map[string]bool // requests handled before the client saw them written
}

// requestHeader carries the number the client gave a request, so that the
// server side can tell which of them it has handled.
const requestHeader = "X-Reconciletest-Request"

// SetAttemptTimeout bounds each HTTP attempt of the client (0: no bound),
// so that a delay fault makes the client give up after the emulator acted.
func (e *Emulator) SetAttemptTimeout(d time.Duration) { e.attemptTimeout.Store(int64(d)) }

// Quiesce waits until the server has handled every request the client
// wrote in full, including those the client gave up on: a create whose
// attempt timed out may reach the emulator's handler after the caller moved
// on, and must not be taken for something a later step did.
func (e *Emulator) Quiesce() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.written) > 0 {
		e.cond.Wait()
	}
}

// RoundTrip numbers each attempt, applies the attempt timeout and records
// the attempts written in full.
func (e *Emulator) RoundTrip(r *http.Request) (*http.Response, error) {
	id := fmt.Sprint(e.reqSeq.Add(1))
	ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err != nil {
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.handled[id] {
			delete(e.handled, id)
		} else {
			e.written[id] = true
		}
	}})
	cancel := context.CancelFunc(func() {})
	if d := time.Duration(e.attemptTimeout.Load()); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	r = r.Clone(ctx)
	r.Header.Set(requestHeader, id)
	resp, err := e.transport.RoundTrip(r)
	if err != nil {
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

// done records that the server handled request id.
func (e *Emulator) done(id string) {
	if id == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.written[id] {
		delete(e.written, id)
	} else {
		e.handled[id] = true
	}
	e.cond.Broadcast()
}

// Mutations returns how many requests that could change the account
// reached the server: CreateInstances without DryRun, IsolateInstances and
// TerminateInstances, whatever they were answered.
func (e *Emulator) Mutations() int64 { return e.mutations.Load() }

// count is the server's handler, counting mutations on the way in.
func (e *Emulator) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer e.done(r.Header.Get(requestHeader))
		switch r.Header.Get("X-TC-Action") {
		case lighthouse.ActionCreateInstances:
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct{ DryRun bool }
			if json.Unmarshal(body, &req) != nil || !req.DryRun {
				e.mutations.Add(1)
			}
		case lighthouse.ActionIsolateInstances, lighthouse.ActionTerminateInstances:
			e.mutations.Add(1)
		}
		next.ServeHTTP(w, r)
	})
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
	e := &Emulator{written: map[string]bool{}, handled: map[string]bool{}}
	e.cond = sync.NewCond(&e.mu)
	e.transport = http.DefaultTransport.(*http.Transport).Clone()
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
