package examples

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHADropIn checks systemd/lightkeeper.service with the HA drop-in
// (ha/ha.conf) applied, through systemd/check.sh: systemd-analyze verify
// and the exposure limit. Where systemd-analyze is missing the script says
// SKIP and passes, and so does this test.
func TestHADropIn(t *testing.T) { checkDropIn(t, "ha/ha.conf") }

// checkDropIn runs systemd/check.sh with the drop-in at path (relative to
// examples/) applied to the unit.
func checkDropIn(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("bash", "../systemd/check.sh", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd/check.sh %s: %v\n%s", path, err, out)
	}
	if !strings.Contains(string(out), "with the drop-in "+path) && !strings.Contains(string(out), "SKIP") {
		t.Errorf("systemd/check.sh did not apply the drop-in:\n%s", out)
	}
	t.Logf("%s", out)
}
