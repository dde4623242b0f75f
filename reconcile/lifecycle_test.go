package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

const lifecycleFleets = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: paused
spec:
  region: ap-guangzhou
  count: 2
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
  scaleDown: isolate
  suspend: true
---
apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: broken
spec:
  region: ap-guangzhou
  count: 3
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
`

// lifecyclePlan is a plan of a suspended fleet that would create one
// instance and isolate another, and a failing fleet: slot 0 backs off after
// three launch failures in a row, slot 1 runs, slot 2 is created once its
// one failure's backoff is over.
func lifecyclePlan(t testing.TB) *Plan {
	fleets := loadYAML(t, lifecycleFleets)
	at := func(id, name, state, fleet string, slot int, created time.Duration) Instance {
		in := inst(id, name, state, fleet, slot)
		in.BundleID, in.BlueprintID, in.Created = "bundle_gen_03", "lhbp-g0tn7djh", t0.Add(created)
		return in
	}
	paused0 := at("lhins-pau00000", "paused-0", "RUNNING", "paused", 0, -40*24*time.Hour)
	paused0.Expires = t0.Add(10 * 24 * time.Hour)
	paused5 := at("lhins-pau00005", "paused-5", "RUNNING", "paused", 5, -24*time.Hour)
	paused5.TagFleet, paused5.TagSlot, paused5.Expires = "paused", 5, t0.Add(29*24*time.Hour)
	broken := []Instance{
		// Slot 0: a failure of another blueprint (before a fix in git)
		// ends the run; then three in a row, the newest 2 minutes ago.
		at("lhins-brk00000", "broken-0", "LAUNCH_FAILED", "broken", 0, -time.Hour),
		at("lhins-brk00001", "broken-0", "LAUNCH_FAILED", "broken", 0, -10*time.Minute),
		at("lhins-brk00002", "broken-0", "LAUNCH_FAILED", "broken", 0, -8*time.Minute),
		at("lhins-brk00003", "broken-0", "LAUNCH_FAILED", "broken", 0, -2*time.Minute),
		at("lhins-brk00010", "broken-1", "RUNNING", "broken", 1, -30*24*time.Hour),
		at("lhins-brk00020", "broken-2", "LAUNCH_FAILED", "broken", 2, -5*time.Minute),
	}
	broken[0].BlueprintID = "lhbp-0ld0ld00"
	broken[4].Expires = t0.Add(36 * time.Hour)
	seen := map[string]string{paused0.ID: paused0.State, paused5.ID: paused5.State}
	for _, in := range broken {
		seen[in.ID] = in.State
	}
	obs := map[string]*Observation{"ap-guangzhou": {Region: "ap-guangzhou", At: t0, Total: len(seen),
		Fleets: map[string][]Instance{"paused": {paused0, paused5}, "broken": broken}, Seen: seen}}
	p := Diff(fleets, obs, nil, t0, DiffOptions{})
	for _, fp := range p.Fleets {
		fp.Money = Money{Currency: "CNY", Monthly: float64(70 * len(fp.Creates)), Commitment: float64(70 * len(fp.Creates))}
	}
	p.total()
	p.Check(Limits{MaxCreates: DefaultMaxCreates, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit})
	p.Word(cliWords)
	return p
}

// lifecycleResult is an apply of lifecyclePlan whose create's token
// returned an instance DescribeInstances does not list.
func lifecycleResult() *Result {
	return &Result{FormatVersion: FormatVersion, Waiting: 1, Fleets: []*FleetResult{
		{Fleet: "broken", Region: "ap-guangzhou", Failing: true, Waiting: []Waiting{{Slot: 2, InstanceID: "lhins-gone0002", Since: t0, Until: t0.Add(DefaultExpectWindow)}}},
		{Fleet: "paused", Region: "ap-guangzhou", Suspended: true},
	}}
}

func TestLifecyclePlan(t *testing.T) {
	p := lifecyclePlan(t)
	var paused, broken *FleetPlan
	for _, fp := range p.Fleets {
		*map[string]**FleetPlan{"paused": &paused, "broken": &broken}[fp.Fleet] = fp
	}
	// Suspended: planned for the record, counted nowhere.
	if !paused.Suspended || len(paused.Creates) != 1 || len(paused.Surplus) != 1 || paused.Surplus[0].Action != ActionIsolate {
		t.Errorf("paused: %+v", paused)
	}
	if p.Totals.Creates != 1 || p.Totals.Isolates != 0 || p.Totals.Money.Monthly != 70 {
		t.Errorf("totals count the suspended fleet: %+v", p.Totals)
	}
	if !paused.NextExpiry.Equal(t0.Add(10*24*time.Hour)) || paused.NextExpiring != "lhins-pau00000" {
		t.Errorf("paused next expiry %s %s", paused.NextExpiry, paused.NextExpiring)
	}
	// Failing: slot 0 backs off 4 minutes from its third failure; slot 2's
	// one failure waited a minute, which is over.
	if !broken.Failing || broken.LaunchFailures != 3 || len(broken.Backoff) != 1 {
		t.Fatalf("broken: %+v", broken)
	}
	if bo := broken.Backoff[0]; bo.Slot != 0 || bo.Failures != 3 || bo.LastFailed != "lhins-brk00003" || !bo.Until.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("backoff %+v", bo)
	}
	if len(broken.Creates) != 1 || broken.Creates[0].Slot != 2 || !strings.Contains(broken.Creates[0].Reason, "1 launch failure in a row, the backoff of 1m is over") {
		t.Errorf("creates %+v", broken.Creates)
	}
	if !broken.NextExpiry.Equal(t0.Add(36*time.Hour)) || broken.NextExpiring != "lhins-brk00010" {
		t.Errorf("broken next expiry %s %s", broken.NextExpiry, broken.NextExpiring)
	}
	if got := p.Failing(); len(got) != 1 || got[0] != broken {
		t.Errorf("Failing() = %v", got)
	}
}

// Apply does nothing for a suspended fleet, and a failing fleet's result is
// not a success.
func TestApplySkipsSuspendedAndFailsFailing(t *testing.T) {
	p := lifecyclePlan(t)
	cloud := &stubCloud{}
	res, err := New(cloud, nil, Options{}).Apply(context.Background(), p, false)
	if err != nil {
		t.Fatal(err)
	}
	if cloud.n != 1 || res.Created != 1 || res.Isolated != 0 {
		t.Errorf("sent %d creates: %+v", cloud.n, res)
	}
	for _, fr := range res.Fleets {
		switch fr.Fleet {
		case "paused":
			if !fr.Suspended || len(fr.Created)+len(fr.Isolated) > 0 {
				t.Errorf("paused: %+v", fr)
			}
		case "broken":
			if !fr.Failing || len(fr.Created) != 1 || fr.Created[0].Slot != 2 {
				t.Errorf("broken: %+v", fr)
			}
		}
	}
	if res.OK() {
		t.Error("a failing fleet's apply is OK")
	}
}

func TestLaunchBackoffDelay(t *testing.T) {
	for _, tc := range []struct {
		b        LaunchBackoff
		failures int
		want     time.Duration
	}{
		{LaunchBackoff{}, 0, 0},
		{LaunchBackoff{}, 1, time.Minute},
		{LaunchBackoff{}, 2, 2 * time.Minute},
		{LaunchBackoff{}, 7, 64 * time.Minute},
		{LaunchBackoff{}, 11, 1024 * time.Minute},
		{LaunchBackoff{Max: time.Hour}, 7, time.Hour},
		{LaunchBackoff{Max: time.Hour}, 200, time.Hour},
		{LaunchBackoff{Initial: 30 * time.Second}, 3, 2 * time.Minute},
	} {
		if got := tc.b.Delay(tc.failures); got != tc.want {
			t.Errorf("%+v.Delay(%d) = %s, want %s", tc.b, tc.failures, got, tc.want)
		}
	}
	if d := (LaunchBackoff{}).Delay(1000); d <= 0 {
		t.Errorf("Delay(1000) = %s: overflowed", d)
	}
}

// The bound of LaunchBackoff's doc, for the schedule Diff makes: a slot
// created as soon as its backoff allows, every launch failing, is bought
// at most 1 + ceil(log2(T / Initial)) times in any T >= Initial from its
// first create, and as often as that whenever the launches take no time.
func TestLaunchBackoffBound(t *testing.T) {
	fleets := loadFleets(t, "web:1:")
	for _, launch := range []time.Duration{0, 15 * time.Second, 90 * time.Second} {
		var failed []Instance
		now := t0
		var creates []time.Time
		for now.Before(t0.Add(8 * 24 * time.Hour)) {
			o := observe(fleets)
			o["ap-guangzhou"].Fleets["web"] = failed
			p := Diff(fleets, o, nil, now, DiffOptions{})
			if len(p.Fleets[0].Creates) == 1 {
				creates = append(creates, now)
				in := inst("lhins-"+now.Format("150405"), "web-0", "LAUNCH_FAILED", "web", 0)
				in.Created = now
				failed = append(failed, in)
				now = now.Add(launch) // PENDING meanwhile: live, no create
			} else if bo := p.Fleets[0].Backoff; len(bo) == 1 && bo[0].Until.After(now) {
				// Skip the cycles that only find the slot backing off.
				now = now.Add(bo[0].Until.Sub(now).Truncate(10 * time.Second))
			}
			now = now.Add(10 * time.Second) // the daemon's interval
		}
		for _, minutes := range []float64{1, 2, 3, 60, 360, 1440, 10080} {
			T := time.Duration(minutes * float64(time.Minute))
			bound := 1 + int(ceilLog2(minutes))
			n := 0
			for _, c := range creates {
				if c.Sub(creates[0]) < T {
					n++
				}
			}
			if n > bound {
				t.Errorf("launch %s: %d creates in %s, bound %d", launch, n, T, bound)
			}
			if launch == 0 && n < bound-1 {
				t.Errorf("launch %s: only %d creates in %s, the backoff waits longer than it says (bound %d)", launch, n, T, bound)
			}
		}
	}
}

func ceilLog2(x float64) float64 {
	n := 0.0
	for v := 1.0; v < x; v *= 2 {
		n++
	}
	return n
}

// A change of shape in git ends the run of failures: the slot is tried at
// once.
func TestLaunchFailuresOfAnotherShapeDoNotCount(t *testing.T) {
	fleets := loadFleets(t, "web:1:")
	in := inst("lhins-00000000", "web-0", "LAUNCH_FAILED", "web", 0)
	in.Created, in.BlueprintID = t0, "lhbp-0ld0ld00"
	o := observe(fleets)
	o["ap-guangzhou"].Fleets["web"] = []Instance{in}
	p := Diff(fleets, o, nil, t0, DiffOptions{})
	if fp := p.Fleets[0]; len(fp.Creates) != 1 || len(fp.Backoff) != 0 || fp.LaunchFailures != 0 {
		t.Errorf("%+v", fp)
	}
	in.BlueprintID = "lhbp-g0tn7djh"
	o["ap-guangzhou"].Fleets["web"] = []Instance{in}
	p = Diff(fleets, o, nil, t0, DiffOptions{})
	if fp := p.Fleets[0]; len(fp.Creates) != 0 || len(fp.Backoff) != 1 || fp.LaunchFailures != 1 {
		t.Errorf("same shape: %+v", fp)
	}
}

// An instance SHUTDOWN by its expiry holds its slot for renewal in a fleet
// with renewBefore, unless the service denies its renewal
// (Observation.Unrenewable): then the slot is filled anew. One isolated
// before its expiry never holds it.
func TestDiffExpiredSlotHeldForRenewal(t *testing.T) {
	fleets := loadFleets(t, "web:1:")
	fleets[0].Spec.Charge.RenewBefore = 7 * 24 * time.Hour
	o := observe(fleets, "web-0=SHUTDOWN")
	in := &o["ap-guangzhou"].Fleets["web"][0]
	in.Expires, in.Isolated = t0.Add(-time.Hour), t0.Add(-time.Hour)
	p := Diff(fleets, o, nil, t0, DiffOptions{})
	if fp := p.Fleets[0]; len(fp.Creates) != 0 || len(fp.Renewals) != 1 || !fp.Renewals[0].Expired || !fp.Renewals[0].sends() {
		t.Fatalf("expired: %+v", fp)
	}
	o["ap-guangzhou"].Unrenewable = map[string]string{in.ID: "FailedOperation.RenewResourcesFailed"}
	p = Diff(fleets, o, nil, t0, DiffOptions{})
	if fp := p.Fleets[0]; len(fp.Creates) != 1 || len(fp.Renewals) != 0 {
		t.Fatalf("renewal denied: %+v", fp)
	}
	o["ap-guangzhou"].Unrenewable = nil
	in.Isolated = t0.Add(-2 * time.Hour) // isolated before it expired
	p = Diff(fleets, o, nil, t0, DiffOptions{})
	if fp := p.Fleets[0]; len(fp.Creates) != 1 || len(fp.Renewals) != 0 {
		t.Fatalf("isolated: %+v", fp)
	}
}

// A renewal intent is forgotten once the instance, with no operation
// running, shows another ExpiredTime than the one it renews from: the
// expiry it was about is gone, and a renewal from the new one is judged on
// its own. Before, an intent from an expiry moved back (by the console, or
// the emulator's admin API) was judged "ended SUCCESS but does not show a
// later ExpiredTime", marked failed, and the instance was never renewed
// again: the chaos's seed 643 expired for good.
func TestSettleRenewalsForgetsAMovedExpiry(t *testing.T) {
	from := t0.Add(48 * time.Hour)
	for _, c := range []struct {
		name      string
		expires   time.Time
		operating bool
		kept      bool
	}{
		{"the same expiry: the renewal may still show", from, false, true},
		{"the same expiry, an operation runs", from, true, true},
		{"renewed: done", from.AddDate(0, 1, 0), false, false},
		{"moved back by someone", t0.Add(-time.Minute), false, false},
		{"moved back while an operation runs: wait for it", t0.Add(-time.Minute), true, true},
	} {
		st := NewState()
		st.setIntent(OpIntent{SlotKey: SlotKey{"ap-guangzhou", "web", 0}, InstanceID: "lhins-00000000", Action: lighthouse.ActionRenewInstances,
			Target: from.Format(time.RFC3339), From: from.Format(time.RFC3339), Since: t0, RequestID: "r-1"})
		in := inst("lhins-00000000", "web-0", "RUNNING", "web", 0)
		in.Expires, in.Operating = c.expires, c.operating
		o := &Observation{Region: "ap-guangzhou", At: t0.Add(time.Hour), Fleets: map[string][]Instance{"web": {in}},
			Seen: map[string]string{in.ID: in.State}}
		st.settleRenewals(o, DefaultExpectWindow)
		if _, kept := st.intent(in.ID, lighthouse.ActionRenewInstances); kept != c.kept {
			t.Errorf("%s: intent kept %v, want %v", c.name, kept, c.kept)
		}
	}
}
