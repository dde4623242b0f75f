package emulator_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// TestLoadStateRejectsHostileInput: a state file (or PUT /_emulator/state)
// that is valid JSON but not a valid state is refused with an error, and
// leaves the emulator serving; it must never panic.
func TestLoadStateRejectsHostileInput(t *testing.T) {
	e := newEnv(t, nil)
	for _, in := range []string{
		`{"version":1,"tokens":[null]}`,
		`{"version":1,"instances":[null]}`,
		`{"version":1,"tokens":[{"Region":"ap-guangzhou","Token":"","InstanceIds":[],"Created":"2026-01-01T00:00:00Z"}]}`,
		`{"version":1,"tokens":[{"Region":"ap-guangzhou","Token":"t","InstanceIds":null,"Created":"2026-01-01T00:00:00Z"}]}`,
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("LoadState(%s) panicked: %v", in, p)
				}
			}()
			if err := e.srv.LoadState(strings.NewReader(in)); err == nil {
				t.Errorf("LoadState(%s) accepted it", in)
			}
		}()
	}
	e.wantCode("DescribeInstances", map[string]any{}, "")
}

// FuzzLoadState: whatever a state file holds, LoadState returns an error
// or loads it; it never panics, and the emulator keeps answering.
func FuzzLoadState(f *testing.F) {
	e := newEnv(f, nil)
	e.create(basicCreate(map[string]any{"ClientToken": "fuzz", "InstanceCount": 2}))
	var buf strings.Builder
	if err := e.srv.SaveState(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.String())
	f.Add(`{"version":1,"instances":[{"InstanceId":"lhins-aaaaaaaa","Region":"ap-guangzhou","EmulatorOpEnd":"2026-01-01T00:00:00Z"}]}`)
	f.Fuzz(func(t *testing.T, state string) {
		if err := e.srv.LoadState(strings.NewReader(state)); err != nil {
			return
		}
		e.srv.Instances()
		var out strings.Builder
		if err := e.srv.SaveState(&out); err != nil {
			t.Fatalf("SaveState after loading %q: %v", state, err)
		}
	})
}

// TestStateHoldsNothingOfAPassword: the state file remembers a token's
// parameters to compare later requests, but nothing derived from a login
// password: two creates that differ only in the password leave the same
// state, and the password itself is nowhere in it.
func TestStateHoldsNothingOfAPassword(t *testing.T) {
	state := func(password string) string {
		e := newEnv(t, nil)
		e.create(basicCreate(map[string]any{
			"BlueprintId":        "lhbp-w1n2022a",
			"ClientToken":        "win-0",
			"LoginConfiguration": map[string]any{"Password": password},
		}))
		var buf strings.Builder
		if err := e.srv.SaveState(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	a, b := state("Windows-Pass-1234"), state("Another-Pass-5678")
	if strings.Contains(a, "Windows-Pass-1234") {
		t.Fatal("the state file contains the password")
	}
	fp := func(s string) string {
		i := strings.Index(s, `"Fingerprint"`)
		if i < 0 {
			t.Fatalf("no token fingerprint in state %s", s)
		}
		return s[i : i+strings.Index(s[i:], "]")]
	}
	if fp(a) != fp(b) {
		t.Errorf("the token fingerprint depends on the password:\n%s\n%s", fp(a), fp(b))
	}
}

// TestLoadStateOfEarlierVersion: a state file written by the emulator of
// main at ef75c96 (format version 1, before the day-two operations) loads:
// its instances, tokens, money and the create in flight, which then
// finishes; the next save is version 2 and loads again.
func TestLoadStateOfEarlierVersion(t *testing.T) {
	old, err := os.ReadFile("testdata/state-v1-main-ef75c96.json")
	if err != nil {
		t.Fatal(err)
	}
	clock := emulator.NewManualClock(time.Date(2026, time.January, 5, 9, 0, 31, 0, time.UTC)) // when it was saved
	e := newEnv(t, func(c *emulator.Config) { c.Clock = clock; c.Seed = 3; c.MaxClockSkew = -1 })
	if err := e.srv.LoadState(bytes.NewReader(old)); err != nil {
		t.Fatalf("load a version 1 state: %v", err)
	}
	got := map[string]int{}
	var pending string
	for _, in := range e.srv.Instances() {
		got[in.InstanceState]++
		if in.InstanceState == "PENDING" {
			pending = in.InstanceId
		}
	}
	if want := map[string]int{"RUNNING": 3, "LAUNCH_FAILED": 2, "SHUTDOWN": 1, "PENDING": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	if a := e.srv.Account(); a.Spent != 780 {
		t.Errorf("spent %.2f, want 780", a.Spent)
	}
	// The token of the first create still replays its instances.
	replay := e.create(basicCreate(map[string]any{"ClientToken": "v1-manual", "InstanceCount": 3, "InstanceName": "api", "BundleId": "bundle_gen_01"}))
	if len(replay) != 3 || len(e.srv.Instances()) != 7 {
		t.Errorf("replayed token gave %v; %d instances", replay, len(e.srv.Instances()))
	}
	clock.Advance(emulator.DefaultLaunchDelay)
	if in := e.get(pending); in.InstanceState != "LAUNCH_FAILED" || in.LatestOperationState != "FAILED" {
		t.Errorf("the create in flight when saved ended %s %s; want LAUNCH_FAILED, as drawn before the save", in.InstanceState, in.LatestOperationState)
	}
	// Day-two operations work on the loaded instances, and a save with one
	// in flight is version 2 and loads again.
	running := replay[1]
	if e.get(running).InstanceState != "RUNNING" {
		running = replay[2]
	}
	e.mustCall("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{running}, "BundleId": "bundle_gen_02"}, nil)
	var buf bytes.Buffer
	if err := e.srv.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"version": 2`)) || !bytes.Contains(buf.Bytes(), []byte(`"EmulatorChange"`)) {
		t.Fatalf("new state is not version 2 with the change in flight:\n%.300s", buf.Bytes())
	}
	f := newEnv(t, func(c *emulator.Config) { c.Clock = clock; c.MaxClockSkew = -1 })
	if err := f.srv.LoadState(&buf); err != nil {
		t.Fatal(err)
	}
	clock.Advance(emulator.DefaultOperationDelay)
	if in := f.get(running); in.BundleId != "bundle_gen_02" || in.LatestOperationState != "SUCCESS" {
		t.Errorf("bundle change in flight across a save: %s %s", in.BundleId, in.LatestOperationState)
	}
	if err := f.srv.LoadState(strings.NewReader(`{"version":3}`)); err == nil || !strings.Contains(err.Error(), "1 to 2") {
		t.Errorf("version 3: %v", err)
	}
}
