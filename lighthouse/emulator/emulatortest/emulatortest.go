// Package emulatortest runs the Lighthouse emulator for Go tests: an
// emulator.Server on an httptest.Server, a ManualClock that only the test
// moves, and a lighthouse.Client that talks HTTP to it with fast retries.
//
//	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()})
//	resp, err := h.Client.CreateInstances(ctx, "ap-guangzhou", req)
//	h.Advance(emulator.DefaultLaunchDelay) // PENDING -> RUNNING
//
// Everything is torn down by t.Cleanup. Tests of package emulator itself
// must live in the external package emulator_test to use this one, since
// it imports emulator.
package emulatortest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// Credentials the harness fills in when Config.Credentials is nil.
const (
	SecretID  = "AKIDemulatortest"
	SecretKey = "emulatortest-secret-key"
)

// DefaultStart is where the harness's ManualClock starts unless WithStart
// says otherwise: a fixed time, so that IDs, ExpiredTime and every other
// time-derived value is the same on every run.
var DefaultStart = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)

// Harness is a running emulator and a client of it.
type Harness struct {
	// Server is the emulator; use it to inject faults, read Calls and
	// Instances, delete instances out of band.
	Server *emulator.Server
	// HTTP serves Server on a loopback port.
	HTTP *httptest.Server
	// URL is HTTP.URL, the endpoint to give a lighthouse.Client.
	URL string
	// Clock is the emulator's clock; nil with RealTime.
	Clock *emulator.ManualClock
	// Client talks to the emulator (see NewClient for its settings).
	Client *lighthouse.Client
	// Config is the configuration the emulator was built from, with the
	// credentials and clock the harness filled in.
	Config emulator.Config

	clientEdits []func(*lighthouse.Options)
}

// Option adjusts the harness.
type Option func(*settings)

type settings struct {
	start       time.Time
	realTime    bool
	clientEdits []func(*lighthouse.Options)
	wrap        func(http.Handler) http.Handler
}

// WithStart starts the ManualClock at t instead of DefaultStart. Tests that
// sign with the wall clock (the official SDK does) pass time.Now().
func WithStart(t time.Time) Option { return func(s *settings) { s.start = t } }

// RealTime runs the emulator on the wall clock instead of a ManualClock
// (Harness.Clock is then nil), for benchmarks of real throughput. Pass-fail
// tests should not use it: their outcome would depend on timing.
func RealTime() Option { return func(s *settings) { s.realTime = true } }

// WithClient adjusts the options of Harness.Client and of every NewClient,
// after the harness's defaults.
func WithClient(edit func(*lighthouse.Options)) Option {
	return func(s *settings) { s.clientEdits = append(s.clientEdits, edit) }
}

// WithHandler serves wrap(Server) instead of Server, for tests that need
// to see or alter the requests on their way to the emulator.
func WithHandler(wrap func(http.Handler) http.Handler) Option {
	return func(s *settings) { s.wrap = wrap }
}

// WithClientRateLimits sets the client's rate limits (see
// lighthouse.Options.RateLimits); nil means the client's defaults. The
// harness's default is no client-side limits, because the client's buckets
// run on the wall clock and would make a test wait.
func WithClientRateLimits(limits map[string]float64) Option {
	return WithClient(func(o *lighthouse.Options) { o.RateLimits = limits })
}

// wallClock is the real time, for RealTime.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// New starts an emulator for cfg and returns it with a client. Where cfg
// leaves them unset it fills in the credentials (SecretID/SecretKey) and a
// ManualClock at DefaultStart (a *emulator.ManualClock already in
// cfg.Clock is used as is). Everything else in cfg keeps its meaning: nil
// RateLimits are the emulator's default limits, whose buckets refill only
// when the test advances the clock; pass emulator.NoRateLimits() to turn
// them off. It fails the test if the emulator or the client cannot be
// built.
func New(t testing.TB, cfg emulator.Config, opts ...Option) *Harness {
	t.Helper()
	s := settings{start: DefaultStart}
	for _, o := range opts {
		o(&s)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{SecretID: SecretKey}
	}
	h := &Harness{clientEdits: s.clientEdits}
	switch c := cfg.Clock.(type) {
	case *emulator.ManualClock:
		h.Clock = c
	case nil:
		if s.realTime {
			cfg.Clock = wallClock{}
		} else {
			h.Clock = emulator.NewManualClock(s.start)
			cfg.Clock = h.Clock
		}
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("emulatortest: %v", err)
	}
	h.Server, h.Config = srv, cfg
	var handler http.Handler = srv
	if s.wrap != nil {
		handler = s.wrap(srv)
	}
	h.HTTP = httptest.NewServer(handler)
	t.Cleanup(h.HTTP.Close)
	h.URL = h.HTTP.URL
	h.Client = h.NewClient(t)
	return h
}

// Credential returns a credential the emulator accepts: the first of
// Config.Credentials in SecretId order, with the session token the emulator
// expects for it, if any.
func (h *Harness) Credential() lighthouse.Credential {
	id := ""
	for k := range h.Config.Credentials {
		if id == "" || k < id {
			id = k
		}
	}
	return lighthouse.NewCredential(id, h.Config.Credentials[id], h.Config.SessionTokens[id], "emulatortest")
}

// NewClient returns another client of the emulator: Credential(), the
// harness's URL, signing with the emulator's clock, millisecond backoffs
// (RetryWaitMin 1 ms, RetryWaitMax 5 ms), 10 retries and no client-side
// rate limits; then the WithClient options, then edit, adjust it.
func (h *Harness) NewClient(t testing.TB, edit ...func(*lighthouse.Options)) *lighthouse.Client {
	t.Helper()
	o := lighthouse.Options{
		Credential:   h.Credential(),
		Endpoint:     h.URL,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		RetryMax:     10,
		RateLimits:   Unlimited(),
	}
	if h.Clock != nil {
		o.Now = h.Clock.Now
	}
	for _, f := range h.clientEdits {
		f(&o)
	}
	for _, f := range edit {
		f(&o)
	}
	c, err := lighthouse.New(o)
	if err != nil {
		t.Fatalf("emulatortest: client: %v", err)
	}
	return c
}

// Unlimited returns client rate limits that turn every default bucket off:
// emulator.NoRateLimits, since the client and the emulator keep to one
// table of limits (lighthouse.DefaultRateLimits).
func Unlimited() map[string]float64 { return emulator.NoRateLimits() }

// Advance moves the emulator's clock by d: operations whose time has come
// finish (PENDING -> RUNNING, isolation, termination), instances expire,
// tokens age and rate-limit buckets refill. It panics with RealTime.
func (h *Harness) Advance(d time.Duration) {
	if h.Clock == nil {
		panic("emulatortest: Advance on a harness running on real time")
	}
	h.Clock.Advance(d)
}

// Now is the emulator's current time.
func (h *Harness) Now() time.Time { return h.Config.Clock.Now() }
