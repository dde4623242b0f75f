package emulator_test

import (
	"strings"
	"testing"
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
