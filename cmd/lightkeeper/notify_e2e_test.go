package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/amtest"
	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
	"github.com/lightkeeper/lightkeeper/notify"
)

// notifySamples is how many held plans TestNotifyApproveBinary approves;
// each is a sample of the two times it logs (docs/benchmarks.md,
// "Notifications and approvals"):
//
//	go test ./cmd/lightkeeper -run TestNotifyApproveBinary -notify.samples 10 -v
var notifySamples = flag.Int("notify.samples", 1, "held plans approved (and timed) by TestNotifyApproveBinary")

const (
	e2eHookSecret = "e2e-notify-hook-secret-0123"
	e2eAlice      = "e2e-alice-approver-token-0123456789"
)

// hookReceiver is a local webhook receiver: it verifies each signature and
// keeps each notification with the time it arrived.
type hookReceiver struct {
	t   testing.TB
	srv *httptest.Server
	mu  sync.Mutex
	got []receivedHook
	raw bytes.Buffer
}

type receivedHook struct {
	body notify.WebhookBody
	at   time.Time
}

func newHookReceiver(t testing.TB) *hookReceiver {
	r := &hookReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		b, body, err := notify.Receive([]byte(e2eHookSecret), req)
		if err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, receivedHook{b, at})
		r.raw.Write(body)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// find returns the first notification of kind and status whose details
// hold planId (if not ""), waiting for it.
func (r *hookReceiver) find(kind string, status notify.Status, planID string) receivedHook {
	r.t.Helper()
	var found receivedHook
	waitUntil(r.t, fmt.Sprintf("a %s %s notification", status, kind), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, h := range r.got {
			if h.body.Kind == kind && h.body.Status == status && (planID == "" || h.body.Details["planId"] == planID) {
				found = h
				return true
			}
		}
		return false
	})
	return found
}

// TestNotifyApproveBinary drives the built daemon against `lightkeeper
// emulator` and a real Alertmanager, all as processes, with a local
// webhook receiver: an invalid commit raises an alert that resolves after
// the fix; a plan held over maxCreatesPerRun is notified with its ID, shown
// by `lightkeeper approve`, approved with it and applied exactly once; the
// same approval again is refused, by the command and as a replayed request.
// It logs the time from the held plan to its notification at the
// receiver, and from the approve command to the first create.
func TestNotifyApproveBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	am := amtest.Start(t)
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "0", "--quota", "GENERAL_BUNDLE_INSTANCE=1000") // room for -notify.samples
	client := emu.client(t)
	rcv := newHookReceiver(t)
	r := newDaemonRig(t)
	r.endpoint = emu.url
	dir := filepath.Dir(r.cfgFile)
	for name, content := range map[string]string{"notify-secret": e2eHookSecret, "alice": e2eAlice} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := etcdtest.FreeAddr(t)
	base := "http://" + addr
	r.writeConfig(fmt.Sprintf(`listen: %q
publicURL: %s/
notify:
  - {type: webhook, url: %q, secretFile: notify-secret}
  - {type: alertmanager, url: %q, repeatInterval: 1s}
approvers:
  - {name: alice, tokenFile: alice}
`, addr, base, rcv.srv.URL+"/hook", am.URL))
	cfg := strings.Replace(mustRead(t, r.cfgFile), "maxCreatesPerRun: 10", "maxCreatesPerRun: 3", 1)
	if err := os.WriteFile(r.cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(bin, "daemon", "--config", r.cfgFile, "--check")
	check.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+emuID, "TENCENTCLOUD_SECRET_KEY="+emuKey)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("--check: %v\n%s", err, out)
	}
	count := 2
	r.commit(count)
	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "/readyz", func() bool { return d.get("/readyz") == http.StatusOK })
	waitUntil(t, "2 instances", func() bool { return len(webInstances(t, client)) == count })
	ctx := context.Background()

	// An invalid commit: an alert, resolved by the fix.
	invalid := map[string]string{"alertname": "LightkeeperRevisionInvalid", "severity": "critical"}
	r.commitDoc(strings.Replace(webFleet(count), "count: 2", "count: -1", 1), "web: broken")
	waitUntil(t, "the invalid revision's alert in Alertmanager", func() bool {
		alerts, err := am.Alerts(ctx)
		return err == nil && len(amtest.Find(alerts, invalid)) == 1
	})
	alerts, _ := am.Alerts(ctx)
	if a := amtest.Find(alerts, invalid)[0]; a.Annotations["revision"] != r.head() || a.GeneratorURL != base+"/" {
		t.Errorf("alert %+v", a)
	}
	r.commit(count)
	waitUntil(t, "the alert to resolve", func() bool {
		alerts, err := am.Alerts(ctx)
		return err == nil && len(amtest.Find(alerts, invalid)) == 0
	})
	rcv.find("revision.invalid", notify.Resolved, "")

	var fromCommit, toNotify, toCreate []time.Duration
	tokenFile := filepath.Join(dir, "alice")
	for i := range *notifySamples {
		count += 6 // 6 creates, 3 over the limit
		committed := time.Now()
		r.commit(count)
		held := rcv.find("plan.held", notify.Firing, "")
		waitUntil(t, "the held plan of this commit", func() bool {
			held = rcv.latest("plan.held")
			c, _ := held.body.Details["creates"].(float64)
			return held.body.Status == notify.Firing && c == 6 && held.at.After(committed)
		})
		id, _ := held.body.Details["planId"].(string)
		fromCommit = append(fromCommit, held.at.Sub(committed))
		toNotify = append(toNotify, held.at.Sub(held.body.At))
		if len(webInstances(t, client)) != count-6 {
			t.Fatal("a held plan bought something")
		}
		waitUntil(t, "the held plan's alert", func() bool {
			alerts, err := am.Alerts(ctx)
			return err == nil && len(amtest.Find(alerts, map[string]string{"alertname": "LightkeeperPlanHeld", "fleet": "web"})) == 1
		})

		if i == 0 {
			// The ID is a hash of what the plan would do: the command
			// line plans the same calls from the same commit and the
			// same cloud, and names them with the same ID as the daemon
			// does in its notification and its /status.
			code, out, errOut := runBin(t, bin, nil, "reconcile", "--plan", "--output", "json", "--endpoint", emu.url, filepath.Join(r.repo, "fleets"))
			var p struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil || code != exitChanges || p.ID != id {
				t.Fatalf("reconcile --plan: exit %d, id %q (%v), want the held plan's %q\n%s", code, p.ID, err, id, errOut)
			}
			st, _ := d.status(t)["plan"].(map[string]any)
			if st["id"] != id {
				t.Fatalf("/status plan id %v, want %q", st["id"], id)
			}
		}
		out, err := exec.Command(bin, "approve", "--daemon", base).Output()
		if err != nil || !strings.Contains(string(out), "Held plan "+id) || !strings.Contains(string(out), "--token-file FILE "+id) {
			t.Fatalf("approve without PLAN-ID: %v\n%s", err, out)
		}
		before := createCalls(t, emu)
		start := time.Now()
		out, err = exec.Command(bin, "approve", "--daemon", base, "--token-file", tokenFile, id).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "approved by alice") {
			t.Fatalf("approve: %v\n%s", err, out)
		}
		for createCalls(t, emu) == before {
			if time.Since(start) > waitLimit {
				t.Fatal("no create after the approval")
			}
			time.Sleep(2 * time.Millisecond)
		}
		toCreate = append(toCreate, time.Since(start))
		waitUntil(t, fmt.Sprintf("%d instances", count), func() bool { return len(webInstances(t, client)) == count })
		rcv.find("revision.applied", notify.Once, id)
		waitUntil(t, "the held plan's alert to resolve", func() bool {
			alerts, err := am.Alerts(ctx)
			return err == nil && len(amtest.Find(alerts, map[string]string{"alertname": "LightkeeperPlanHeld"})) == 0
		})

		// The same approval again: by the command, and the request itself.
		cmd := exec.Command(bin, "approve", "--daemon", base, "--token-file", tokenFile, id)
		out, err = cmd.CombinedOutput()
		if code := exitCode(t, err); code != exitRefused || !strings.Contains(string(out), "used once") {
			t.Errorf("sample %d: approve again: exit %d\n%s", i, code, out)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/approve", strings.NewReader(`{"plan":"`+id+`"}`))
		req.Header.Set("Authorization", "Bearer "+e2eAlice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("sample %d: the replayed request: HTTP %d, want 409", i, resp.StatusCode)
		}
	}
	runs, _ := d.status(t)["runs"].(float64)
	d.trigger(t) // one more cycle: nothing to buy
	waitUntil(t, "a cycle after the replays", func() bool {
		n, _ := d.status(t)["runs"].(float64)
		return n > runs && d.lastRunDone(t)
	})
	names := webInstances(t, client)
	if len(names) != count || createCalls(t, emu) != count {
		t.Errorf("%d instances and %d creates, want %d of each", len(names), createCalls(t, emu), count)
	}
	for name, n := range names {
		if n != 1 {
			t.Errorf("%s bought %d times", name, n)
		}
	}
	if m := d.metrics(); !strings.Contains(m, `lightkeeper_approvals_total{result="replayed"} `+fmt.Sprint(2**notifySamples)) ||
		!strings.Contains(m, `lightkeeper_notifications_total{result="failed",sink="webhook"} 0`) {
		t.Errorf("metrics:\n%s", grepLines(m, "lightkeeper_approvals_total")+grepLines(m, "lightkeeper_notifications_total"))
	}
	rcv.mu.Lock()
	bodies := rcv.raw.String()
	rcv.mu.Unlock()
	for _, secret := range []string{e2eHookSecret, e2eAlice, emuKey} {
		if strings.Contains(d.log.String(), secret) || strings.Contains(bodies, secret) {
			t.Errorf("a secret is in the daemon's log or a notification")
		}
	}
	if code := d.term(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	t.Logf("commit -> the held plan's notification at the receiver: %s", durations(fromCommit))
	t.Logf("held plan recorded -> its notification at the receiver: %s", durations(toNotify))
	t.Logf("approve command -> first create: %s", durations(toCreate))
}

// latest returns the last notification of kind received.
func (r *hookReceiver) latest(kind string) receivedHook {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.got) - 1; i >= 0; i-- {
		if r.got[i].body.Kind == kind {
			return r.got[i]
		}
	}
	return receivedHook{}
}

// createCalls counts the emulator's CreateInstances calls that succeeded.
func createCalls(t testing.TB, emu *emulatorProcess) int {
	t.Helper()
	resp, err := http.Get(emu.url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Calls map[string]map[string]int `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Calls["CreateInstances"]["OK"]
}

// durations says the median and the largest of ds.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("median %v, max %v over %d (%v)", s[len(s)/2].Round(time.Microsecond), s[len(s)-1].Round(time.Microsecond), len(s), ds)
}
