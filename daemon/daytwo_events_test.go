package daemon_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// TestDayTwoEventsThroughTheDaemon: the day-two events come from what a
// real cycle plans and applies against the emulator, as a signed webhook
// sees them: a fleet whose launches keep failing is fleet.failing, and
// the renewals and the rollout's updates an apply makes are counted in
// its revision.applied.
func TestDayTwoEventsThroughTheDaemon(t *testing.T) {
	t.Run("failing", func(t *testing.T) {
		e := newEnvConfig(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)},
			func(c *emulator.Config) { c.LaunchFailureProbability = 1 })
		rcv := startNotified(e, func(*daemon.Options) {})
		failing := false
		for i := 0; i < 60 && !failing; i++ {
			e.clock.Advance(20 * time.Second)
			failing = e.cycle().Fleets[0].State == daemon.FleetFailing
		}
		if !failing {
			t.Fatal("the fleet was never failing")
		}
		ev := rcv.next(daemon.EventFleetFailing, notify.Firing)
		if ev.Key != "fleet.failing/web" || ev.Severity != notify.Critical || ev.Region != "ap-guangzhou" ||
			!strings.HasPrefix(ev.Summary, "fleet web is failing: a slot's launches failed ") || ev.Details["launchFailures"].(float64) < reconcile.DefaultFailingAfter {
			t.Errorf("fleet.failing: %+v", ev)
		}
	})

	t.Run("renewed", func(t *testing.T) {
		e := newEnv(t, map[string]string{"web.yaml": renewingFleet("web", 1)})
		rcv := startNotified(e, func(o *daemon.Options) { o.Limits.MaxRenewalSpend = reconcile.NoLimit })
		applied(t, rcv, 1, 0, 0)
		e.clock.Advance(emulator.DefaultLaunchDelay)
		all := e.emu.Instances()
		if len(all) != 1 {
			t.Fatalf("%d instances", len(all))
		}
		if err := e.emu.SetExpiredTime(all[0].InstanceId, e.clock.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if s := e.cycle(); s.Fleets[0].Renewed != 1 {
			t.Fatalf("the cycle renewed nothing: %+v", s.Fleets[0])
		}
		if ev := applied(t, rcv, 0, 0, 1); !strings.Contains(ev.Summary, "1 renewed") {
			t.Errorf("revision.applied of the renewal: %q", ev.Summary)
		}
	})

	t.Run("updated", func(t *testing.T) {
		e := newEnv(t, map[string]string{"web.yaml": rolledFleet("lhbp-g0tn7djh")})
		rcv := startNotified(e, func(o *daemon.Options) { o.Limits.MaxUpdates = reconcile.NoLimit })
		applied(t, rcv, 3, 0, 0)
		e.clock.Advance(emulator.DefaultLaunchDelay)
		e.write("web.yaml", rolledFleet("lhbp-a7oxy2bx"))
		e.cycle()
		if ev := applied(t, rcv, 0, 1, 0); !strings.Contains(ev.Summary, "1 updated") {
			t.Errorf("revision.applied of the update: %q", ev.Summary)
		}
	})
}

// startNotified starts e's daemon, its options changed by configure, with
// a webhook route to a new receiver; it waits for the first cycle and
// returns the receiver.
func startNotified(e *env, configure func(*daemon.Options)) *receiver {
	e.t.Helper()
	rcv := newReceiver(e.t)
	opts := e.options()
	configure(&opts)
	opts.Notify = []notify.Route{rcv.route()}
	e.start(opts)
	e.waitRuns(1)
	return rcv
}

// applied takes the next revision.applied and checks that it counts what
// was created, updated and renewed, in fleet web alone.
func applied(t *testing.T, rcv *receiver, created, updated, renewed float64) notify.WebhookBody {
	t.Helper()
	ev := rcv.next(daemon.EventRevisionApplied, notify.Once)
	if ev.Details["created"] != created || ev.Details["updated"] != updated || ev.Details["renewed"] != renewed || len(ev.Fleets) != 1 || ev.Fleets[0] != "web" {
		t.Errorf("revision.applied: want %v created, %v updated, %v renewed in web; got %+v", created, updated, renewed, ev)
	}
	return ev
}

// TestHeldPlanNamesItsDayTwo: a plan held by limits.maxRenewalSpendPerRun
// that also updates one fleet and renews another (and creates nothing)
// says so in its plan.held: both fleets, the update, the renewal and what
// it costs.
func TestHeldPlanNamesItsDayTwo(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": rolledFleet("lhbp-g0tn7djh"), "db.yaml": renewingFleet("db", 1)})
	rcv := startNotified(e, func(o *daemon.Options) { o.Limits.MaxUpdates, o.Limits.MaxRenewalSpend = reconcile.NoLimit, 0 })
	rcv.next(daemon.EventRevisionApplied, notify.Once)
	e.clock.Advance(emulator.DefaultLaunchDelay)
	for _, in := range e.emu.Instances() {
		if strings.HasPrefix(in.InstanceName, "db-") {
			if err := e.emu.SetExpiredTime(in.InstanceId, e.clock.Now().Add(48*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.write("web.yaml", rolledFleet("lhbp-a7oxy2bx"))
	s := e.cycle()
	if s.LastRun.Result != daemon.ResultHeld || s.Plan == nil || s.Plan.Totals.Updates != 1 || s.Plan.Totals.Renewals != 1 || s.Plan.Totals.Creates != 0 {
		t.Fatalf("not held with an update and a renewal: %+v %+v", s.LastRun, s.Plan)
	}
	spend := s.Plan.Totals.RenewalSpend
	cost := fmt.Sprintf("%.2f %s", spend.Commitment, spend.Currency)
	ev := rcv.next(daemon.EventPlanHeld, notify.Firing)
	fleets := slices.Clone(ev.Fleets)
	slices.Sort(fleets)
	if !slices.Equal(fleets, []string{"db", "web"}) || ev.Region != "ap-guangzhou" {
		t.Errorf("held fleets %v, region %q: want db (renews) and web (updates)", ev.Fleets, ev.Region)
	}
	if want := " (with 1 update and 1 renewal for " + cost + ")"; !strings.HasSuffix(ev.Summary, want) || !strings.Contains(ev.Summary, "limits.maxRenewalSpendPerRun") {
		t.Errorf("summary %q, want it to end %q", ev.Summary, want)
	}
	if want := "The plan creates 0 and isolates 0 instances, updates 1, and renews 1 for " + cost + "."; !strings.Contains(ev.Description, want) {
		t.Errorf("description %q, want %q", ev.Description, want)
	}
	if ev.Details["updates"] != 1.0 || ev.Details["renewals"] != 1.0 || ev.Details["renewalSpend"] != spend.Commitment || spend.Commitment <= 0 ||
		ev.Details["currency"] != spend.Currency {
		t.Errorf("details %v", ev.Details)
	}
}
