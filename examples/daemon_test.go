package examples

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEmulatorDropIn checks systemd/lightkeeper.service with the drop-in
// of a daemon whose endpoint is an emulator (daemon/emulator.conf) through
// systemd/check.sh, and that it gives the service the key that
// scripts/daemon-demo.sh and daemon/local.yaml run the emulator with, as
// the default of the two Tencent Cloud credentials the unit loads.
func TestEmulatorDropIn(t *testing.T) {
	checkDropIn(t, "daemon/emulator.conf")
	dropIn := read(t, "daemon/emulator.conf")
	unit := read(t, "../systemd/lightkeeper.service")
	demo := read(t, "../scripts/daemon-demo.sh")
	local := read(t, "daemon/local.yaml")
	set := regexp.MustCompile(`(?m)^SetCredential=([a-z-]+):(\S+)$`).FindAllStringSubmatch(dropIn, -1)
	if len(set) != 2 {
		t.Fatalf("the drop-in sets %d credentials, want 2: %q", len(set), set)
	}
	vars := map[string]string{"tencentcloud-secret-id": "TENCENTCLOUD_SECRET_ID", "tencentcloud-secret-key": "TENCENTCLOUD_SECRET_KEY"}
	for _, m := range set {
		name, value := m[1], m[2]
		if !regexp.MustCompile(`(?m)^LoadCredential=` + name + `:`).MatchString(unit) {
			t.Errorf("the unit loads no credential %s: the drop-in's default is for nothing", name)
		}
		v, ok := vars[name]
		if !ok {
			t.Errorf("the drop-in sets %s, not a Tencent Cloud credential", name)
			continue
		}
		for file, text := range map[string]string{"scripts/daemon-demo.sh": demo, "examples/daemon/local.yaml": local} {
			if !strings.Contains(text, v+"="+value) {
				t.Errorf("%s does not run the emulator with %s=%s, the drop-in's", file, v, value)
			}
		}
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
