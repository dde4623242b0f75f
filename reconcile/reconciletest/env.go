package reconciletest

import (
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
	// FailOperations makes the next n operations of action end in
	// LatestOperationState FAILED (emulator.FaultOperationFailure).
	FailOperations func(action string, n int)
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
	return Env{Cloud: f, Region: "ap-guangzhou", Advance: clock.Advance, Now: clock.Now, All: f.All, Delete: f.DeleteInstance, Fail: f.Fail,
		FailOperations: func(action string, n int) { f.FailOperations(action, "", n) }}
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
		},
		FailOperations: func(action string, n int) {
			h.Server.InjectFault(emulator.Fault{Action: action, Kind: emulator.FaultOperationFailure, Count: n})
		}}
}
