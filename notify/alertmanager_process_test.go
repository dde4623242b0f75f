package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/amtest"
	"github.com/lightkeeper/lightkeeper/notify"
)

// TestAlertmanagerProcess runs a real Alertmanager (Debian's
// prometheus-alertmanager): a condition reported to the Notifier appears
// in GET /api/v2/alerts with its labels, stays while it holds (re-sent
// every resend), and is gone once the Notifier resolves it.
func TestAlertmanagerProcess(t *testing.T) {
	am := amtest.Start(t)
	t.Logf("%s at %s", am.Version, am.URL)
	sink, err := notify.NewAlertmanager(notify.AlertmanagerOptions{HTTPOptions: notify.HTTPOptions{Name: "alertmanager", URL: am.URL},
		Resend: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	n, err := notify.New(notify.Options{Routes: []notify.Route{{Sink: sink, ConditionsOnly: true}}, Observe: c.observe,
		PublicURL: "http://lk.example:9180/"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	invalid := notify.Event{Kind: "revision.invalid", Key: "revision.invalid", Fingerprint: "abc", Severity: notify.Critical,
		Summary: "revision abc1234 is invalid", Revision: "abc1234"}
	n.Notify(notify.Event{Kind: "revision.applied", Summary: "not an alert"})
	n.Conditions("revision", []notify.Event{invalid})
	n.Conditions("plan", []notify.Event{held})

	ctx := context.Background()
	match := map[string]string{"alertname": "LightkeeperRevisionInvalid", "severity": "critical"}
	var first amtest.Alert
	waitAlerts(t, am, func(alerts []amtest.Alert) bool {
		got := amtest.Find(alerts, match)
		if len(got) == 1 && len(amtest.Find(alerts, map[string]string{"alertname": "LightkeeperPlanHeld", "fleet": "web"})) == 1 {
			first = got[0]
			return true
		}
		return false
	})
	if first.Annotations["summary"] != "revision abc1234 is invalid" || first.GeneratorURL != "http://lk.example:9180/" || first.Status.State != "active" {
		t.Errorf("alert %+v", first)
	}
	// Re-sent while it holds: Alertmanager sees it updated, endsAt moved on.
	waitAlerts(t, am, func(alerts []amtest.Alert) bool {
		got := amtest.Find(alerts, match)
		return len(got) == 1 && got[0].EndsAt.After(first.EndsAt)
	})
	alerts, err := am.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(amtest.Find(alerts, map[string]string{"alertname": "LightkeeperRevisionApplied"})) != 0 {
		t.Error("a one-off event became an alert")
	}

	n.Conditions("revision", nil)
	waitAlerts(t, am, func(alerts []amtest.Alert) bool { return len(amtest.Find(alerts, match)) == 0 })
	alerts, err = am.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(amtest.Find(alerts, map[string]string{"alertname": "LightkeeperPlanHeld"})) != 1 {
		t.Errorf("resolving the revision's condition touched the plan's: %+v", alerts)
	}
	if c.get("alertmanager failed") != 0 || c.get("alertmanager sent") < 3 {
		t.Errorf("counts %v", c.m)
	}
}

// waitAlerts polls Alertmanager's alerts until ok holds.
func waitAlerts(t *testing.T, am *amtest.Alertmanager, ok func([]amtest.Alert) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	var last []amtest.Alert
	for time.Now().Before(deadline) {
		alerts, err := am.Alerts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(alerts) {
			return
		}
		last = alerts
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Alertmanager's alerts never got there; last: %+v", last)
}
