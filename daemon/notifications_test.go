package daemon_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/notify"
)

// TestNotificationsFollowTheCycle: the events of the cycles as a signed
// webhook sees them: a revision applied (what it created), an invalid
// revision and its resolution once fixed, an instance expiring (with its
// instance), creates that fail and a fleet that stays short for three
// cycles, and their resolutions once the fleet has its count.
func TestNotificationsFollowTheCycle(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	rcv := newReceiver(t)
	opts := e.options()
	opts.Notify = []notify.Route{rcv.route()}
	opts.PublicURL = "https://lk.example/"
	e.start(opts)
	e.waitRuns(1)
	applied := rcv.next(daemon.EventRevisionApplied, notify.Once)
	if applied.Details["created"] != 2.0 || len(applied.Fleets) != 1 || applied.Fleets[0] != "web" || applied.Revision == "" ||
		!strings.Contains(applied.Summary, "2 created, 0 isolated (web +2 -0)") || applied.URL != "https://lk.example/" || applied.Version != 1 {
		t.Errorf("applied: %+v", applied)
	}

	// An invalid revision, then its fix.
	e.write("web.yaml", strings.Replace(fleet("web", "bundle_gen_01", 2), "count: 2", "count: -1", 1))
	e.cycle()
	inv := rcv.next(daemon.EventRevisionInvalid, notify.Firing)
	if inv.Severity != notify.Critical || !strings.Contains(inv.Summary, "is invalid (1 problem, first: fleets/web.yaml:") ||
		!strings.Contains(inv.Summary, "still reconciling the last good revision") || inv.Details["lastGood"] != applied.Revision {
		t.Errorf("invalid: %+v", inv)
	}
	e.cycle() // still invalid: nothing new
	e.write("web.yaml", fleet("web", "bundle_gen_01", 2))
	e.cycle()
	if res := rcv.next(daemon.EventRevisionInvalid, notify.Resolved); res.Revision != inv.Revision || !res.Since.Equal(inv.Since) {
		t.Errorf("resolved: %+v (fired %+v)", res, inv)
	}
	if got := rcv.drain(); len(got) != 0 {
		t.Errorf("unexpected notifications: %+v", got)
	}

	// An instance that expires in two days.
	var id string
	for _, in := range e.emu.Instances() {
		if in.InstanceName == "web-1" {
			id = in.InstanceId
		}
	}
	if err := e.emu.SetExpiredTime(id, e.clock.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.cycle()
	exp := rcv.next(daemon.EventInstanceExpiring, notify.Firing)
	if exp.Instance != id || exp.Severity != notify.Warning || exp.Key != "instance.expiring/web/"+id || !strings.Contains(exp.Summary, "in 48h") {
		t.Errorf("expiring: %+v", exp)
	}

	// Creates that fail: the account cannot pay. Three cycles short.
	if err := e.emu.SetBalance(e.emu.Account().Spent + 0.01); err != nil {
		t.Fatal(err)
	}
	e.write("web.yaml", fleet("web", "bundle_gen_01", 3))
	e.cycle()
	failed := rcv.next(daemon.EventCreateFailed, notify.Firing)
	if failed.Key != "create.failed/web" || !strings.Contains(failed.Summary, "fleet web: 1 create failed: slot 2:") || failed.Region != "ap-guangzhou" {
		t.Errorf("create failed: %+v", failed)
	}
	e.cycle()
	if got := rcv.drain(); len(got) != 0 {
		t.Errorf("notifications before the third cycle: %+v", got)
	}
	e.cycle()
	short := rcv.next(daemon.EventFleetNotConverged, notify.Firing)
	if short.Summary != "fleet web has 2 of 3 instances live after 3 cycles" || short.Details["cycles"] != 3.0 {
		t.Errorf("not converged: %+v", short)
	}

	// Paid: the fleet converges, the conditions resolve.
	if err := e.emu.SetBalance(0); err != nil {
		t.Fatal(err)
	}
	e.cycle()
	seen := map[string]bool{}
	for range 3 {
		b := rcv.next("", "")
		seen[string(b.Status)+" "+b.Kind] = true
	}
	for _, want := range []string{"resolved fleet.not-converged", "resolved create.failed", "event revision.applied"} {
		if !seen[want] {
			t.Errorf("after the fix: no %s (got %v)", want, seen)
		}
	}
	// A delivery is counted once the receiver has answered: the last one
	// may be counted a moment after the receiver has it.
	sent := func() float64 { return e.metric("lightkeeper_notifications_total", "sink", "hook", "result", "sent") }
	for deadline := time.Now().Add(5 * time.Second); sent() < 9 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if v := sent(); v < 9 {
		t.Errorf("notifications_total{sent} = %v", v)
	}
	if v := e.metric("lightkeeper_notifications_total", "sink", "hook", "result", "failed"); v != 0 {
		t.Errorf("notifications_total{failed} = %v", v)
	}
	if v := e.metric("lightkeeper_reconcile_interval_seconds"); v != 3600 {
		t.Errorf("reconcile_interval_seconds = %v, want the options' hour", v)
	}
	e.lint()
}

// TestDeadSinkDoesNotDelayCycles: with a sink that takes the connection
// and never answers, cycles run as before (each ends while the sink still
// holds the first notification), and Run returns once the grace ends.
func TestDeadSinkDoesNotDelayCycles(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	hang, entered := make(chan struct{}), make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-hang
	}))
	defer srv.Close()
	defer close(hang)
	wh, err := notify.NewWebhook(notify.WebhookOptions{HTTPOptions: notify.HTTPOptions{Name: "dead", URL: srv.URL}, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.options()
	opts.Notify = []notify.Route{{Sink: wh}}
	opts.NotifyGrace = 50 * time.Millisecond
	e.start(opts)
	e.waitRuns(1)
	<-entered // the sink holds revision.applied
	for i := 2; i <= 6; i++ {
		e.write("web.yaml", fleet("web", "bundle_gen_01", i))
		if s := e.cycle(); s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != i {
			t.Fatalf("cycle %d: %q, %d live", i, s.LastRun.Result, e.live("web-"))
		}
	}
	if len(entered) != 0 {
		t.Errorf("the sink answered nothing yet took %d more requests", len(entered))
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if v := e.metric("lightkeeper_notifications_total", "sink", "dead", "result", "dropped"); v != 6 {
		t.Errorf("dropped %v, want the 6 revision.applied (one in flight, 5 queued)", v)
	}
}

// TestLeadershipNotifications: gaining and losing the leadership are
// notified; a follower sends none of the cycle's events, and a daemon
// that stops leading sends no resolution of what the leader now reports.
func TestLeadershipNotifications(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
	rcv := newReceiver(t)
	l := newFakeLeadership("lk-a")
	opts := approverOptions(e, rcv, &syncbuf.Buffer{})
	opts.Leadership = l
	e.start(opts)
	e.waitRuns(1)
	l.elect(t, true)
	if ev := rcv.next("", ""); ev.Kind != daemon.EventLeadershipGained || ev.Summary != "lk-a leads now: it reconciles the fleets" {
		t.Errorf("gained: %+v", ev)
	}
	e.waitRuns(2)
	if ev := rcv.next("", ""); ev.Kind != daemon.EventPlanHeld || ev.Status != notify.Firing {
		t.Errorf("held: %+v", ev)
	}
	l.elect(t, false)
	if ev := rcv.next("", ""); ev.Kind != daemon.EventLeadershipLost || ev.Severity != notify.Warning {
		t.Errorf("lost: %+v", ev)
	}
	e.cycle()
	if got := rcv.drain(); len(got) != 0 {
		t.Errorf("a follower notified: %+v", got)
	}
}
