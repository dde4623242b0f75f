package reconcile

import (
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Defaults of LaunchBackoff.
const (
	// DefaultLaunchBackoff is the wait after a slot's first launch failure;
	// it doubles with each failure in a row.
	DefaultLaunchBackoff = time.Minute
	// DefaultFailingAfter is how many launch failures in a row make a
	// fleet failing.
	DefaultFailingAfter = 3
)

// LaunchBackoff is how a slot whose creates end in LAUNCH_FAILED is tried
// again. It is derived from what DescribeInstances shows, the slot's
// LAUNCH_FAILED instances and their CreatedTime, not from a State: a
// one-shot run without a state directory backs off as the daemon does,
// and no restart, second runner or lost file resets it.
//
// After k failures in a row the slot's next create waits until the newest
// failed instance's CreatedTime plus Initial x 2^(k-1), capped at Max when
// Max is set. Without a cap, a slot whose every launch fails is bought at
// most 1 + ceil(log2(T / Initial)) times in any time T >= Initial (the
// k-th retry comes at least Initial x (2^k - 1) after the first create), so
// a fleet of count N buys at most N x (1 + ceil(log2(T / Initial))): 10
// servers a slot in 6 hours, 12 in a day, 15 in a week. With a cap C the
// waits stop growing at C, and past about 2C the bound grows by N every C
// (docs/design.md section 12.2).
type LaunchBackoff struct {
	// Initial is the wait after the first failure; default
	// DefaultLaunchBackoff.
	Initial time.Duration
	// Max caps the wait; 0 (default) is no cap, under which the bound
	// above holds for every T.
	Max time.Duration
	// FailingAfter is how many failures in a row mark the fleet failing
	// (FleetPlan.Failing); default DefaultFailingAfter.
	FailingAfter int
}

func (b LaunchBackoff) withDefaults() LaunchBackoff {
	if b.Initial <= 0 {
		b.Initial = DefaultLaunchBackoff
	}
	if b.Max < 0 {
		b.Max = 0
	}
	if b.FailingAfter <= 0 {
		b.FailingAfter = DefaultFailingAfter
	}
	return b
}

// Delay is the wait after failures launch failures in a row (0 for none).
func (b LaunchBackoff) Delay(failures int) time.Duration {
	b = b.withDefaults()
	if failures <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < failures; i++ {
		if b.Max > 0 && d >= b.Max {
			break
		}
		if d > time.Duration(1<<62)/2 { // no overflow: past any wait that matters
			break
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Backoff is an empty slot whose creates ended in LAUNCH_FAILED: it is not
// created again before Until.
type Backoff struct {
	Slot int `json:"slot"`
	// Failures counts the slot's launch failures in a row: its
	// LAUNCH_FAILED instances of the spec's shape created since its newest
	// instance that launched (or since the first).
	Failures int `json:"failures"`
	// LastFailed is the newest of them, and LastCreated its CreatedTime.
	LastFailed  string    `json:"lastFailed"`
	LastCreated time.Time `json:"lastCreated"`
	// Until is when the slot is created again.
	Until time.Time `json:"until"`
}

// launchFailures counts the launch failures in a row of one slot: walking
// its instances from the newest, the LAUNCH_FAILED ones of the fleet's
// shape (bundle, blueprint and, where the spec names one, zone) until one
// that launched. A PENDING instance neither counts nor ends the run (it may
// fail too); one of another shape ends it, so a fix in git (another
// blueprint, bundle or zone) is tried at once. It returns the count and the
// newest failed instance.
func launchFailures(f *spec.Fleet, slot int, ins []Instance) (int, *Instance) {
	failed := false
	for i := range ins {
		failed = failed || ins[i].State == lighthouse.StateLaunchFailed
	}
	if !failed {
		return 0, nil // the steady state: nothing to sort
	}
	sorted := slices.Clone(ins)
	slices.SortStableFunc(sorted, func(a, b Instance) int { return b.Created.Compare(a.Created) })
	n := 0
	var newest *Instance
	for i := range sorted {
		in := &sorted[i]
		if in.State == lighthouse.StatePending {
			continue
		}
		if in.State != lighthouse.StateLaunchFailed || !sameLaunchShape(f, slot, in) {
			break
		}
		if newest == nil {
			newest = in
		}
		n++
	}
	return n, newest
}

// sameLaunchShape reports whether a failed instance was created with the
// fleet's current bundle, blueprint and slot zone, as far as the API shows
// them ("" is not evidence of a difference).
func sameLaunchShape(f *spec.Fleet, slot int, in *Instance) bool {
	differs := func(want, got string) bool { return want != "" && got != "" && want != got }
	return !differs(f.Spec.BundleID, in.BundleID) && !differs(f.Spec.BlueprintID, in.BlueprintID) && !differs(f.Zone(slot), in.Zone)
}

// slotBackoff is the backoff of an empty slot at now: whether it waits, and
// its failures in a row (which mark the fleet failing even once the wait is
// over).
func slotBackoff(f *spec.Fleet, slot int, ins []Instance, now time.Time, b LaunchBackoff) (Backoff, bool) {
	n, newest := launchFailures(f, slot, ins)
	if n == 0 {
		return Backoff{Slot: slot}, false
	}
	bo := Backoff{Slot: slot, Failures: n, LastFailed: newest.ID, LastCreated: newest.Created}
	if newest.Created.IsZero() {
		return bo, false // no time to count from: nothing shows a wait is due
	}
	bo.Until = newest.Created.Add(b.Delay(n))
	return bo, now.Before(bo.Until)
}
