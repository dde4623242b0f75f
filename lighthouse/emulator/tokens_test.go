package emulator_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestClientTokenReplay(t *testing.T) {
	e := newEnv(t, nil)
	first := e.create(basicCreate(map[string]any{"ClientToken": "lk-1", "InstanceCount": 2}))
	again := e.create(basicCreate(map[string]any{"ClientToken": "lk-1", "InstanceCount": 2}))
	if !slices.Equal(first, again) {
		t.Errorf("replayed token gave %v, first %v", again, first)
	}
	if n := len(e.srv.Instances()); n != 2 {
		t.Errorf("%d instances after a replay, want 2", n)
	}
	// Tokens are per region.
	if _, code := e.call("CreateInstances", "ap-shanghai", basicCreate(map[string]any{"ClientToken": "lk-1", "InstanceCount": 2})); code != "" {
		t.Fatal(code)
	}
	if n := len(e.srv.Instances()); n != 4 {
		t.Errorf("same token in another region: %d instances, want 4", n)
	}
	// Without a token every call creates.
	e.create(basicCreate(nil))
	e.create(basicCreate(nil))
	if n := len(e.srv.Instances()); n != 6 {
		t.Errorf("%d instances, want 6", n)
	}
}

func TestClientTokenWindow(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.TokenWindow = time.Hour })
	first := e.create(basicCreate(map[string]any{"ClientToken": "w"}))
	e.clock.Advance(59 * time.Minute)
	if again := e.create(basicCreate(map[string]any{"ClientToken": "w"})); !slices.Equal(first, again) {
		t.Errorf("within the window: %v, want %v", again, first)
	}
	e.clock.Advance(time.Minute)
	if again := e.create(basicCreate(map[string]any{"ClientToken": "w"})); slices.Equal(first, again) {
		t.Errorf("after the window the token still replays")
	}
	off := newEnv(t, func(c *emulator.Config) { c.TokenWindow = -1 })
	a := off.create(basicCreate(map[string]any{"ClientToken": "w"}))
	b := off.create(basicCreate(map[string]any{"ClientToken": "w"}))
	if slices.Equal(a, b) {
		t.Errorf("token memory disabled but the token replayed")
	}
}

func TestClientTokenPolicies(t *testing.T) {
	tests := []struct {
		name          string
		mismatch      emulator.TokenPolicy
		gone          emulator.TokenPolicy
		wantMismatch  string // "replay", "new" or an error code
		wantAfterGone string
	}{
		{"defaults", "", "", "replay", "replay"},
		{"reject", emulator.TokenReject, emulator.TokenReject, "UnsupportedOperation.IdempotentParameterMismatch", "UnsupportedOperation.IdempotentParameterMismatch"},
		{"create-new", emulator.TokenCreateNew, emulator.TokenCreateNew, "new", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *emulator.Config) { c.TokenMismatch, c.TokenGone = tt.mismatch, tt.gone })
			first := e.create(basicCreate(map[string]any{"ClientToken": "m"}))
			check := func(what, want string, params map[string]any) {
				raw, code := e.call("CreateInstances", region, params)
				var out lighthouse.CreateInstancesResponse
				decode(t, raw, &out)
				switch want {
				case "replay":
					if code != "" || !slices.Equal(out.InstanceIdSet, first) {
						t.Errorf("%s: %s %v, want replay of %v", what, code, out.InstanceIdSet, first)
					}
				case "new":
					if code != "" || len(out.InstanceIdSet) != 1 || out.InstanceIdSet[0] == first[0] {
						t.Errorf("%s: %s %v, want a new instance", what, code, out.InstanceIdSet)
					}
				default:
					if code != want {
						t.Errorf("%s: code %q, want %q", what, code, want)
					}
				}
			}
			check("mismatch", tt.wantMismatch, basicCreate(map[string]any{"ClientToken": "m", "InstanceName": "other"}))
			// Make the token's instances disappear.
			g := e.create(basicCreate(map[string]any{"ClientToken": "g"}))
			if err := e.srv.DeleteInstance(g[0]); err != nil {
				t.Fatal(err)
			}
			first = g
			check("gone", tt.wantAfterGone, basicCreate(map[string]any{"ClientToken": "g"}))
		})
	}
	if _, err := emulator.New(emulator.Config{Credentials: map[string]string{"a": "b"}, TokenGone: "forget"}); err == nil {
		t.Error("unknown token policy accepted")
	}
}

func TestClientTokenConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	const n = 32
	var wg sync.WaitGroup
	results := make([][]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.sdkClient(region, testID, testKey)
			var out lighthouse.CreateInstancesResponse
			errs[i] = sdkCall(c, "CreateInstances", basicCreate(map[string]any{"ClientToken": "same-token", "Tags": []lighthouse.Tag{{Key: "k", Value: "v"}}}), &out)
			results[i] = out.InstanceIdSet
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if !slices.Equal(results[i], results[0]) || len(results[i]) != 1 {
			t.Errorf("goroutine %d got %v, goroutine 0 got %v", i, results[i], results[0])
		}
	}
	if got := len(e.srv.Instances()); got != 1 {
		t.Errorf("%d concurrent creates with one token made %d instances, want 1", n, got)
	}
	if c := e.srv.Calls("CreateInstances", ""); c != n {
		t.Errorf("Calls = %d, want %d", c, n)
	}
}
