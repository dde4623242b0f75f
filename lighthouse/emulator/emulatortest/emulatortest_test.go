package emulatortest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

func create(token string) *lighthouse.CreateInstancesRequest {
	return &lighthouse.CreateInstancesRequest{
		BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1},
		InstanceName:          "h-0", ClientToken: token,
	}
}

// The harness fills in credentials and a manual clock at DefaultStart, and
// its client signs with that clock, so a clock far from the wall clock
// still passes the 5-minute signature check.
func TestHarnessDefaults(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()})
	if !h.Now().Equal(emulatortest.DefaultStart) {
		t.Fatalf("clock starts at %v, want %v", h.Now(), emulatortest.DefaultStart)
	}
	ctx := context.Background()
	resp, err := h.Client.CreateInstances(ctx, "ap-guangzhou", create("h-0"))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.InstanceIdSet[0]
	state := func() string {
		got, err := h.Client.DescribeInstances(ctx, "ap-guangzhou", &lighthouse.DescribeInstancesRequest{InstanceIds: []string{id}})
		if err != nil || len(got) != 1 {
			t.Fatalf("describe %s: %v %v", id, got, err)
		}
		return got[0].InstanceState
	}
	if s := state(); s != lighthouse.StatePending {
		t.Fatalf("new instance %s, want PENDING", s)
	}
	h.Advance(emulator.DefaultLaunchDelay)
	if s := state(); s != lighthouse.StateRunning {
		t.Fatalf("after Advance(launch delay): %s, want RUNNING", s)
	}
	if h.Credential().SecretID() != emulatortest.SecretID {
		t.Errorf("credential %v", h.Credential())
	}
}

// Given credentials and options are kept; the client's retries are fast
// and its rate limits configurable.
func TestHarnessOptions(t *testing.T) {
	start := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	h := emulatortest.New(t, emulator.Config{Credentials: map[string]string{"AKIDmine": "my-key"}, RateLimits: emulator.NoRateLimits()},
		emulatortest.WithStart(start),
		emulatortest.WithClientRateLimits(map[string]float64{lighthouse.ActionDescribeZones: 0}))
	if !h.Now().Equal(start) || h.Credential().SecretID() != "AKIDmine" {
		t.Fatalf("start %v, credential %v", h.Now(), h.Credential())
	}
	// Three InternalErrors are ridden out by the fast retries.
	h.Server.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeZones, Kind: emulator.FaultInternalError, Count: 3})
	if _, err := h.Client.DescribeZones(context.Background(), "ap-guangzhou", nil); err != nil {
		t.Fatal(err)
	}
	if n := h.Server.Calls(lighthouse.ActionDescribeZones, "InternalError"); n != 3 {
		t.Fatalf("%d InternalErrors answered, want 3", n)
	}
	other := h.NewClient(t, func(o *lighthouse.Options) { o.RetryMax = -1 })
	h.Server.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeZones, Kind: emulator.FaultInternalError, Count: 1})
	if _, err := other.DescribeZones(context.Background(), "ap-guangzhou", nil); lighthouse.ErrorCode(err) != "InternalError" {
		t.Fatalf("no-retry client: err %v, want InternalError", err)
	}
}

// A session token configured for a SecretId is required in X-TC-Token;
// the harness's client sends it.
func TestHarnessSessionToken(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{
		Credentials:   map[string]string{"AKIDtemp": "temp-key"},
		SessionTokens: map[string]string{"AKIDtemp": "session-token-1"},
	})
	ctx := context.Background()
	if _, err := h.Client.DescribeRegions(ctx); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, tok := range []string{"", "session-token-2"} {
		c := h.NewClient(t, func(o *lighthouse.Options) {
			o.Credential = lighthouse.NewCredential("AKIDtemp", "temp-key", tok, "test")
			o.RetryMax = -1
		})
		_, err := c.DescribeRegions(ctx)
		if code := lighthouse.ErrorCode(err); code != "AuthFailure.TokenFailure" {
			t.Errorf("token %q: code %q, want AuthFailure.TokenFailure", tok, code)
		}
		if err != nil && tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}

func TestHarnessRealTime(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{}, emulatortest.RealTime())
	if h.Clock != nil {
		t.Fatal("RealTime harness has a manual clock")
	}
	if _, err := h.Client.DescribeRegions(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// WithHandler puts a handler in front of the emulator: every request of
// the client goes through it.
func TestWithHandler(t *testing.T) {
	var seen []string
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Header.Get("X-TC-Action"))
			next.ServeHTTP(w, r)
		})
	}
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()}, emulatortest.WithHandler(wrap))
	if _, err := h.Client.CreateInstances(context.Background(), "ap-guangzhou", create("w-0")); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != lighthouse.ActionCreateInstances {
		t.Fatalf("handler saw %q, want one CreateInstances", seen)
	}
}
