package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// TestServerAndConfigPrintNoSecret: the emulator may be given the same
// real credentials as the client (lightkeeper emulator reads the same
// environment); printing or logging its Config or Server must not show a
// SecretKey.
func TestServerAndConfigPrintNoSecret(t *testing.T) {
	const key = "emulator-secret-NEVER-SHOWN"
	cfg := emulator.Config{Credentials: map[string]string{"AKIDemuprint0001": key}}
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		S *emulator.Server
		C emulator.Config
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, v := range map[string]any{"*Server": srv, "Config": cfg, "*Config": &cfg, "holder": holder{srv, cfg}} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, key) {
				t.Errorf("fmt %s of %s shows the key: %.300s", verb, name, got)
			}
		}
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("emulator", "srv", srv, "cfg", cfg)
	}
	if strings.Contains(buf.String(), key) {
		t.Errorf("slog shows the key:\n%.600s", buf.String())
	}
	for name, v := range map[string]any{"*Server": srv, "Config": cfg} {
		if b, _ := json.Marshal(v); bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON of %s shows the key: %.300s", name, b)
		}
	}
	if got := fmt.Sprintf("%+v", cfg); !strings.Contains(got, "AKIDemuprint0001") {
		t.Errorf("Config print hides the SecretId too: %.300s", got)
	}
}
