package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// status reads the daemon's /status (nil if it cannot).
func (p *daemonProcess) status(t testing.TB) map[string]any {
	t.Helper()
	resp, err := http.Get(p.base + "/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st map[string]any
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	return st
}

// metrics returns the text of the daemon's /metrics.
func (p *daemonProcess) metrics() string {
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDaemonBinaryFollowsABareRepository drives the built binary, following
// a bare repository that commits are pushed to, against `lightkeeper
// emulator`, both as processes: a pushed commit raising a count creates
// exactly the new instances; an invalid commit leaves the fleets as they were
// and shows in /status and /metrics; the next good commit applies.
func TestDaemonBinaryFollowsABareRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := reconcileBinary(t)
	// An instance deleted by hand is replaced at once only where the
	// service forgets the token of a deleted instance (create-new); under
	// the default policy its slot waits one expectation window first.
	emu := startEmulator(t, bin, "--launch-delay", "0", "--token-gone", "create-new")
	client := emu.client(t)
	r := newDaemonRig(t)
	root := filepath.Dir(r.repo)
	bare := filepath.Join(root, "fleets.git")
	r.git(root, "init", "-q", "--bare", "-b", "main", bare)
	r.git(r.repo, "remote", "add", "origin", bare)
	push := func(doc, subject string) {
		t.Helper()
		r.commitDoc(doc, subject)
		r.git(r.repo, "push", "-q", "origin", "main")
	}
	push(webFleet(2), "web: 2")

	r.repo = bare // the daemon follows the bare repository
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "2 instances", func() bool { return len(webInstances(t, client)) == 2 })

	r.repo = filepath.Join(root, "repo")
	push(webFleet(4), "web: 4")
	waitUntil(t, "4 instances", func() bool { return len(webInstances(t, client)) == 4 })

	push(strings.Replace(webFleet(5), "count: 5", "count: -1", 1), "web: broken")
	waitUntil(t, "the invalid revision in /status", func() bool {
		inv, _ := d.status(t)["invalid"].(map[string]any)
		return inv != nil && inv["subject"] == "web: broken"
	})
	if m := d.metrics(); !strings.Contains(m, "lightkeeper_invalid_revision 1") {
		t.Errorf("/metrics after an invalid commit:\n%s", grepLines(m, "invalid"))
	}
	// The last good revision is what is reconciled: an instance deleted by
	// hand comes back, and the count stays 4.
	listed := emulatorInstances(t, emu.url)
	if len(listed) == 0 {
		t.Fatal("no instances in the emulator")
	}
	emu.deleteInstance(t, listed[0].InstanceId)
	d.trigger(t)
	waitUntil(t, "4 instances again under the last good revision", func() bool { return len(webInstances(t, client)) == 4 && d.lastRunDone(t) })
	st := d.status(t)
	if lg, _ := st["lastGood"].(map[string]any); lg == nil || lg["subject"] != "web: 4" {
		t.Errorf("lastGood %v, want the commit \"web: 4\"", st["lastGood"])
	}

	push(webFleet(5), "web: 5")
	waitUntil(t, "5 instances after the fix", func() bool { return len(webInstances(t, client)) == 5 })
	waitUntil(t, "the invalid revision cleared", func() bool { return strings.Contains(d.metrics(), "lightkeeper_invalid_revision 0") })
	if code := d.term(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	for name, n := range webInstances(t, client) {
		if n != 1 {
			t.Errorf("%s bought %d times", name, n)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// trigger starts a cycle through the webhook.
func (p *daemonProcess) trigger(t testing.TB) {
	t.Helper()
	postHook(t, p.base, "0000000000000000000000000000000000000000")
}

// hookDeliveries numbers the deliveries of postHook.
var hookDeliveries atomic.Uint64

// postHook sends a GitLab push of main to the daemon at base (its shared
// token "s3cret") and wants it accepted.
func postHook(t testing.TB, base, after string) {
	t.Helper()
	// Each delivery is a body of its own, as real ones are (before,
	// timestamps): one seen before is refused as a replay.
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%040x","after":%q}`, hookDeliveries.Add(1), after)
	req, _ := http.NewRequest(http.MethodPost, base+"/hooks/git", strings.NewReader(body))
	req.Header.Set("X-Gitlab-Event", "Push Hook")
	req.Header.Set("X-Gitlab-Token", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

// lastRunDone reports whether the last cycle in /status succeeded.
func (p *daemonProcess) lastRunDone(t testing.TB) bool {
	run, _ := p.status(t)["lastRun"].(map[string]any)
	return run != nil && run["result"] == "success"
}

// deleteInstance deletes an instance out of band, as a person would.
func (p *emulatorProcess) deleteInstance(t testing.TB, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, p.url+"/_emulator/instances/"+id, nil)
	req.Header.Set(emulator.AdminHeader, "1") // a write to the admin API says it is not a web page's
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("delete %s: %d", id, resp.StatusCode)
	}
}
