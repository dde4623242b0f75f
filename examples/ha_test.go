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
func TestHADropIn(t *testing.T) {
	out, err := exec.Command("bash", "../systemd/check.sh", "ha/ha.conf").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd/check.sh ha/ha.conf: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "with the drop-in ha/ha.conf") && !strings.Contains(string(out), "SKIP") {
		t.Errorf("systemd/check.sh did not apply the drop-in:\n%s", out)
	}
	t.Logf("%s", out)
}
