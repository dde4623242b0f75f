package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Defaults of DiffOptions.
const (
	// DefaultExpectWindow is how long a slot waits for an instance that a
	// create returned but DescribeInstances does not list yet. It must be
	// longer than the service's Describe lag, and shorter than the time
	// the service remembers a ClientToken (docs/design.md section 5.6,
	// conditions 1 and 2).
	DefaultExpectWindow = 5 * time.Minute
	// DefaultExpiryWarning is how early an instance on manual renewal is
	// warned about before it expires.
	DefaultExpiryWarning = 7 * 24 * time.Hour
)

// DiffOptions tune Diff. The zero value means the defaults.
type DiffOptions struct {
	// Tags says the site takes Tags on create (Options.Tags): the plan's
	// requests carry them, and what the international site cannot create
	// is not checked.
	Tags bool
	// ExpectWindow: see DefaultExpectWindow.
	ExpectWindow time.Duration
	// ExpiryWarning: see DefaultExpiryWarning.
	ExpiryWarning time.Duration
	// LaunchBackoff is how slots whose creates end in LAUNCH_FAILED are
	// tried again (backoff.go).
	LaunchBackoff LaunchBackoff
}

func (o DiffOptions) withDefaults() DiffOptions {
	if o.ExpectWindow <= 0 {
		o.ExpectWindow = DefaultExpectWindow
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = DefaultExpiryWarning
	}
	o.LaunchBackoff = o.LaunchBackoff.withDefaults()
	return o
}

// Diff compares the fleets with what was observed in their regions and what
// st remembers, and returns the plan. It is pure and deterministic: no I/O,
// the same inputs give the same plan. now is the time of the plan; obs
// maps a region to its observation and must hold every fleet's region. A
// nil st is an empty State. Money is left for Reconciler.Plan to fill in.
func Diff(fleets []*spec.Fleet, obs map[string]*Observation, st *State, now time.Time, opts DiffOptions) *Plan {
	opts = opts.withDefaults()
	if st == nil {
		st = NewState()
	}
	sn := st.snapshot()
	p := &Plan{FormatVersion: FormatVersion, At: now}
	inGit := map[string]*spec.Fleet{}
	for _, f := range fleets {
		inGit[f.Name()] = f
	}
	for _, f := range fleets {
		fp := diffFleet(f, obs[f.Spec.Region], sn, now, opts)
		p.Fleets = append(p.Fleets, fp)
	}
	slices.SortFunc(p.Fleets, func(a, b *FleetPlan) int {
		return compareKeys(SlotKey{a.Region, a.Fleet, 0}, SlotKey{b.Region, b.Fleet, 0})
	})
	regions := make([]string, 0, len(obs))
	for r := range obs {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		o := obs[r]
		names := make([]string, 0, len(o.Fleets))
		for name := range o.Fleets {
			if f, ok := inGit[name]; !ok || f.Spec.Region != r {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			for _, in := range o.Fleets[name] {
				if in.Live() {
					p.Orphans = append(p.Orphans, in)
				}
			}
		}
	}
	p.obs = obs
	p.total()
	return p
}

// Surplus actions.
const (
	ActionReport  = "report"
	ActionIsolate = "isolate"
)

func diffFleet(f *spec.Fleet, o *Observation, sn snapshot, now time.Time, opts DiffOptions) *FleetPlan {
	s := f.Spec
	fp := &FleetPlan{Fleet: f.Name(), Region: s.Region, File: f.Source.File, Line: f.Source.Line, Desired: s.Count}
	if l := s.Login; l != nil && l.PasswordFrom != nil {
		from := *l.PasswordFrom
		fp.passwordFrom = &from
	}
	if o == nil {
		fp.Error = &FleetError{Message: fmt.Sprintf("region %s was not observed", s.Region)}
		return fp
	}
	ro := newRollout(f, o, sn, now, opts)
	ins := o.Fleets[f.Name()]
	for i := range ins {
		if in := &ins[i]; in.TagFleet != "" && (in.TagFleet != in.Fleet || in.TagSlot != in.Slot) {
			fp.Warnings = append(fp.Warnings, fmt.Sprintf("instance %s is named %q (slot %d) but tagged %s=%s, %s=%d; it counts for the slot its name gives",
				in.ID, in.Name, in.Slot, spec.TagFleet, in.TagFleet, spec.TagSlot, in.TagSlot))
		}
	}
	bySlot, beyond := slotRuns(ins, s.Count)
	for slot := range s.Count {
		key := SlotKey{s.Region, f.Name(), slot}
		live, dead := liveAndDead(bySlot[slot])
		for i := range dead {
			if dead[i].State == lighthouse.StateLaunchFailed {
				fp.Failed++
			}
		}
		if n, _ := launchFailures(f, slot, bySlot[slot]); n > 0 {
			fp.LaunchFailures = max(fp.LaunchFailures, n)
			fp.Failing = fp.Failing || n >= opts.LaunchBackoff.FailingAfter
		}
		if len(live) > 0 {
			fp.Live++
			if live[0].State == lighthouse.StatePending {
				fp.Pending++
			}
			if rn := renewalOf(f, slot, live[0], sn.intents, now, opts.ExpectWindow); rn != nil {
				fp.Renewals = append(fp.Renewals, *rn)
			}
			for _, in := range live {
				checkInstance(fp, f, slot, in, now, opts, ro == nil)
			}
			dups := live[1:]
			if ro != nil {
				dups = ro.fill(slot, live, dead)
			} else if len(differences(f, slot, &live[0], sn)) > 0 {
				fp.Outdated++
			}
			for _, dup := range dups {
				fp.Surplus = append(fp.Surplus, Surplus{Instance: dup, Action: ActionReport,
					Reason: fmt.Sprintf("a second live instance in slot %d (first: %s); lightkeeper never removes duplicates, remove it by hand if it is not wanted", slot, live[0].ID)})
			}
			continue
		}
		if holder := expiredHolder(f, o, dead); holder != nil {
			// Expired in a fleet that renews: renewed, not replaced.
			fp.Renewals = append(fp.Renewals, heldRenewal(f, slot, *holder, sn.intents, now, opts.ExpectWindow))
			continue
		}
		inc := sn.incarnations[key]
		var replaces []string
		for _, d := range dead {
			replaces = append(replaces, d.ID)
		}
		reason := emptyReason(f.InstanceName(slot), dead)
		resend := false
		if e, ok := sn.expectations[key]; ok {
			if e.InstanceID == "" {
				inc, resend = e.Incarnation, true
				reason = fmt.Sprintf("a create sent %s may have bought an instance (its outcome was not seen); sent again with the same token", e.Since.UTC().Format(time.RFC3339))
			} else {
				state, seen := o.Seen[e.InstanceID]
				if !seen && now.Sub(e.Since) <= opts.ExpectWindow {
					fp.Expected++
					fp.Waiting = append(fp.Waiting, Waiting{Slot: slot, InstanceID: e.InstanceID, Since: e.Since, Until: e.Since.Add(opts.ExpectWindow)})
					continue
				}
				inc = max(inc, e.Incarnation+1)
				if !seen {
					reason = fmt.Sprintf("instance %s, created for this slot at %s, was never listed within %s: it is gone", e.InstanceID, e.Since.UTC().Format(time.RFC3339), opts.ExpectWindow)
				} else if Live(state) {
					reason = fmt.Sprintf("instance %s, created for this slot, no longer carries its name", e.InstanceID)
				}
			}
		}
		if !resend {
			// A create whose outcome is unknown is sent again with its
			// token whatever the backoff: it buys nothing if it was
			// carried out.
			bo, wait := slotBackoff(f, slot, dead, now, opts.LaunchBackoff)
			if wait {
				fp.Backoff = append(fp.Backoff, bo)
				continue
			}
			if !bo.Until.IsZero() {
				reason = fmt.Sprintf("%s; %s in a row, the backoff of %s is over", reason, plural(bo.Failures, "launch failure"), shortDuration(opts.LaunchBackoff.Delay(bo.Failures)))
			}
		}
		c := newCreate(f, slot, inc, opts.Tags)
		c.Resend, c.Replaces, c.Reason = resend, replaces, reason
		fp.Creates = append(fp.Creates, c)
	}
	slices.SortFunc(beyond, func(a, b Instance) int { return b.Slot - a.Slot })
	for _, in := range beyond {
		if !in.Live() {
			continue
		}
		fp.Surplus = append(fp.Surplus, surplus(f, in, sn))
	}
	if ro != nil {
		ro.plan(fp)
	}
	if len(fp.Creates) > 0 || fp.Rollout != nil && fp.Rollout.replaces() {
		siteProblem(fp, f, opts.Tags)
	}
	lifecycle(fp, f, o)
	lifecycleWarnings(fp, f, o.Fleets[f.Name()])
	return fp
}

// slotRuns splits a fleet's instances by slot: bySlot[slot] for the slots
// below count, in the order given, and beyond for the others. The
// instances are not copied when they come ordered by slot, as Observe
// orders them: each slot's is then a run of ins, capped so that an append
// to it cannot reach the next.
func slotRuns(ins []Instance, count int) (bySlot [][]Instance, beyond []Instance) {
	bySlotOrder := func(a, b Instance) int { return cmp.Compare(a.Slot, b.Slot) }
	if !slices.IsSortedFunc(ins, bySlotOrder) {
		ins = slices.Clone(ins)
		slices.SortStableFunc(ins, bySlotOrder)
	}
	bySlot = make([][]Instance, count)
	for i := 0; i < len(ins); {
		j := i + 1
		for j < len(ins) && ins[j].Slot == ins[i].Slot {
			j++
		}
		if slot := ins[i].Slot; slot >= 0 && slot < count {
			bySlot[slot] = ins[i:j:j]
		} else {
			beyond = append(beyond, ins[i:j]...)
		}
		i = j
	}
	return bySlot, beyond
}

// liveAndDead splits a slot's instances into those that fill it and the
// others, each in the order given; with no dead one, live is ins itself.
func liveAndDead(ins []Instance) (live, dead []Instance) {
	all := true
	for i := range ins {
		all = all && ins[i].Live()
	}
	if all {
		return ins, nil
	}
	for _, in := range ins {
		if in.Live() {
			live = append(live, in)
		} else {
			dead = append(dead, in)
		}
	}
	return live, dead
}

// surplus decides what happens to a live instance beyond the count: it is
// isolated only when the fleet opts in (scaleDown: isolate) and lightkeeper
// created it, as its tags or its own records show. A name that matches the
// template is never enough to return someone's server.
func surplus(f *spec.Fleet, in Instance, sn snapshot) Surplus {
	sp := Surplus{Instance: in, Action: ActionReport}
	where := "beyond the count of " + strconv.Itoa(f.Spec.Count)
	if in.Slot < 0 {
		where = "tagged with a malformed slot"
	}
	_, recorded := sn.created[in.ID]
	owned := in.TagFleet == f.Name() || recorded
	switch {
	case f.Spec.ScaleDown != spec.ScaleDownIsolate:
		sp.Reason = fmt.Sprintf("slot %d is %s; reported only (set spec.scaleDown: isolate to return surplus instances)", in.Slot, where)
	case !owned:
		sp.Reason = fmt.Sprintf("slot %d is %s, but nothing shows lightkeeper created it (no %s tag, not in its records); reported only", in.Slot, where, spec.TagFleet)
	case sn.notReturnable[in.ID] != "":
		sp.Reason = fmt.Sprintf("slot %d is %s; the service refused to isolate it (%s), so it is not tried again; return it in the console or let it expire", in.Slot, where, sn.notReturnable[in.ID])
	case in.Operating || in.State == lighthouse.StatePending:
		sp.Reason = fmt.Sprintf("slot %d is %s; an operation is in progress, it will be isolated once it ends", in.Slot, where)
	default:
		sp.Action = ActionIsolate
		sp.Reason = fmt.Sprintf("slot %d is %s (spec.scaleDown: isolate)", in.Slot, where)
	}
	return sp
}

// emptyReason says why a slot has no live instance.
func emptyReason(name string, dead []Instance) string {
	if len(dead) == 0 {
		return fmt.Sprintf("no instance named %q", name)
	}
	d := dead[len(dead)-1]
	switch d.State {
	case lighthouse.StateLaunchFailed:
		return fmt.Sprintf("instance %s ended in LAUNCH_FAILED", d.ID)
	case lighthouse.StateShutdown:
		return fmt.Sprintf("instance %s is SHUTDOWN (expired or returned); its slot is free", d.ID)
	}
	return fmt.Sprintf("instance %s is %s", d.ID, d.State)
}

// checkInstance reports drift from the spec (withDrift: the fleet has no
// rollout, which shows differences its own way) and a coming expiry.
func checkInstance(fp *FleetPlan, f *spec.Fleet, slot int, in Instance, now time.Time, opts DiffOptions, withDrift bool) {
	s := f.Spec
	drift := func(field, want, got string) {
		if withDrift && got != "" && want != got {
			fp.Drift = append(fp.Drift, Drift{InstanceID: in.ID, Name: in.Name, Field: field, Spec: want, Actual: got})
		}
	}
	drift("spec.bundleId", s.BundleID, in.BundleID)
	drift("spec.blueprintId", s.BlueprintID, in.BlueprintID)
	if z := f.Zone(slot); z != "" {
		drift("spec.zones", z, in.Zone)
	}
	drift("spec.charge.renewFlag", s.Charge.RenewFlag, in.RenewFlag)
	if !in.Expires.IsZero() && in.RenewFlag != lighthouse.RenewNotifyAuto && s.Charge.RenewBefore <= 0 {
		if left := in.Expires.Sub(now); left <= opts.ExpiryWarning {
			fp.Expiring = append(fp.Expiring, Expiring{InstanceID: in.ID, Name: in.Name, Slot: slot, Expires: in.Expires})
			fp.Warnings = append(fp.Warnings, fmt.Sprintf("instance %s (%s) expires %s (in %s) and is not renewed automatically; renew it, or it goes SHUTDOWN and lightkeeper buys a new one for slot %d",
				in.ID, in.Name, in.Expires.UTC().Format(time.RFC3339), left.Round(time.Hour), slot))
		}
	}
}
