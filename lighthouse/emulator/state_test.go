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
