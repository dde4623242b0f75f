package emulator_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestLogLinePerRequest(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(c *emulator.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	const password = "Secret-Passw0rd!"
	e.mustCall("CreateInstances", basicCreate(map[string]any{"BlueprintId": "lhbp-w1n2022a", "LoginConfiguration": map[string]any{"Password": password}}), nil)
	e.wantCode("CreateInstances", basicCreate(map[string]any{"BlueprintId": "lhbp-w1n2022a", "LoginConfiguration": map[string]any{"Password": "short"}}), "InvalidParameterValue.InvalidPassword")
	e.do(e.rawRequest("DescribeInstances", region, []byte(`{}`), testID, "wrong-key", e.clock.Now().Unix()))
	lines := strings.Split(strings.TrimSpace(buf.b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 requests:\n%s", len(lines), buf.b.String())
	}
	wantCodes := []string{"", "InvalidParameterValue.InvalidPassword", "AuthFailure.SignatureFailure"}
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["code"] != wantCodes[i] || rec["region"] != region || rec["request_id"] == "" || rec["latency"] == nil || rec["action"] == "" {
			t.Errorf("line %d: %v", i, rec)
		}
	}
	for _, secret := range []string{password, "short", testKey, "wrong-key", "Signature="} {
		if strings.Contains(buf.b.String(), secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}
