package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file plans a fleet's rollout, purely, from what Diff gathered of
// its slots, the State's snapshot and the service's answers of the
// observation (Lookups): what each instance that differs from the spec
// needs, and which of those the bounds (maxUnavailable, maxSurge,
// minReady) let this run make (docs/design.md section 11.2).

// Lookups are the service's answers, per instance ID, about what the
// instances a rollout would change may become. Reconciler.Plan asks for
// them (rollout_lookup.go) only when some instance differs, and puts them
// in the Observation, so that Diff stays pure.
type Lookups struct {
	// Bundles: DescribeModifyInstanceBundles of the spec's bundle.
	Bundles map[string]BundleOption
	// Blueprints: DescribeResetInstanceBlueprints of the spec's blueprint.
	Blueprints map[string]BlueprintOption
	// Denied: DescribeInstancesDeniedActions, for the instances asked.
	Denied map[string][]lighthouse.DeniedAction
}

// BundleOption is what DescribeModifyInstanceBundles says of changing an
// instance to Bundle: its ModifyBundleState and message, and the price
// difference; Err when it could not be asked.
type BundleOption struct {
	Bundle  string
	State   string
	Message string
	Price   lighthouse.InstancePrice
	Err     string
}

// BlueprintOption is what DescribeResetInstanceBlueprints says of
// resetting an instance to Blueprint; Err when it could not be asked.
type BlueprintOption struct {
	Blueprint  string
	Resettable bool
	Message    string
	Err        string
}

// lookupNeed is a question a rollout needs answered before it can plan an
// instance's change: Kind "bundle" or "blueprint" about Target, or
// "denied".
type lookupNeed struct {
	Kind     string
	Instance Instance
	Target   string
}

// rollout gathers one fleet's slots while Diff walks them, then plans.
type rollout struct {
	f     *spec.Fleet
	o     *Observation
	sn    snapshot
	now   time.Time
	opts  DiffOptions
	slots []*rolloutSlot
	live  int // live instances in the fleet's slots
	// dups counts the duplicates fill reported: they count as live, and
	// hold surge room until someone isolates them.
	dups int
	// maxUnavailable and maxSurge are spec.update's, resolved.
	maxUnavailable, maxSurge int
}

// rolloutSlot is one slot below count that has a live instance.
type rolloutSlot struct {
	slot    int
	current *Instance // the instance that serves the slot
	old     *Instance // an instance being replaced by current, or nil
	dead    []Instance
}

// newRollout starts the rollout of f, or returns nil when its strategy is
// report.
func newRollout(f *spec.Fleet, o *Observation, sn snapshot, now time.Time, opts DiffOptions) *rollout {
	u := f.Spec.Update
	if u.Strategy == spec.UpdateReport || u.Strategy == "" {
		return nil
	}
	unavailable, surge := u.Bounds(f.Spec.Count)
	return &rollout{f: f, o: o, sn: sn, now: now, opts: opts, maxUnavailable: unavailable, maxSurge: surge}
}

// fill takes the live instances of a slot (oldest first) and returns the
// ones to report as duplicates. Two live instances of different shapes are
// a replacement in progress: the one of the spec's shape (else the newer)
// serves the slot, and the other is isolated once it is ready. Two of one
// shape, or more than two, are duplicates, as without a rollout.
func (ro *rollout) fill(slot int, live, dead []Instance) []Instance {
	dups := ro.pair(slot, live, dead)
	ro.dups += len(dups)
	return dups
}

// pair is fill but for counting the duplicates.
func (ro *rollout) pair(slot int, live, dead []Instance) []Instance {
	s := &rolloutSlot{slot: slot, current: &live[0], dead: dead}
	ro.slots = append(ro.slots, s)
	ro.live += len(live)
	if len(live) > 2 {
		// Duplicates beside a replacement (two runners' creates outside
		// the create guarantees): the replacement still ends, one of the
		// spec's shape serving and the oldest of another shape isolated
		// once it is ready, and the rest is reported as duplicates. Else
		// the rollout would wait for surge room that never comes (chaos
		// seed 271).
		cur := slices.IndexFunc(live, func(in Instance) bool { return ro.matches(slot, &in) })
		old := slices.IndexFunc(live, func(in Instance) bool { return !ro.matches(slot, &in) })
		if cur < 0 || old < 0 {
			return live[1:]
		}
		s.current, s.old = &live[cur], &live[old]
		var dups []Instance
		for i, in := range live {
			if i != cur && i != old {
				dups = append(dups, in)
			}
		}
		return dups
	}
	if len(live) != 2 {
		return live[1:]
	}
	a, b := &live[0], &live[1]
	okA, okB := ro.matches(slot, a), ro.matches(slot, b)
	switch {
	case okB && !okA:
		s.current, s.old = b, a
	case okA && !okB:
		s.current, s.old = a, b
	case !okA && !okB && ro.shapeOf(a) != ro.shapeOf(b):
		s.current, s.old = b, a
	default:
		return live[1:]
	}
	return nil
}

// shapeOf is what DescribeInstances shows of an instance's shape.
func (ro *rollout) shapeOf(in *Instance) string {
	return strings.Join([]string{in.Zone, in.BundleID, in.BlueprintID, strings.Join(in.KeyIDs, ",")}, "|")
}

// matches reports whether in has the spec's shape for slot (the renew
// flag apart, which is changed in place).
func (ro *rollout) matches(slot int, in *Instance) bool {
	for _, c := range differences(ro.f, slot, in, ro.sn) {
		if c.Field != fieldRenewFlag {
			return false
		}
	}
	return true
}

// The fields a rollout changes, as Change.Field names them.
const (
	fieldZone      = "spec.zones"
	fieldBundle    = "spec.bundleId"
	fieldBlueprint = "spec.blueprintId"
	fieldKeys      = "spec.login.keyIds"
	fieldHidden    = "spec.containers, spec.login.passwordFrom"
	fieldRenewFlag = "spec.charge.renewFlag"
)

// differences lists how in, in slot, differs from its fleet: what
// DescribeInstances shows (a field it does not show is not compared), and
// what the State recorded of what it cannot show.
func differences(f *spec.Fleet, slot int, in *Instance, sn snapshot) []Change {
	s := f.Spec
	var out []Change
	add := func(field, from, to string) {
		if from != "" && from != to {
			out = append(out, Change{Field: field, From: from, To: to})
		}
	}
	if z := f.Zone(slot); z != "" {
		add(fieldZone, in.Zone, z)
	}
	add(fieldBundle, in.BundleID, s.BundleID)
	add(fieldBlueprint, in.BlueprintID, s.BlueprintID)
	if keys := specKeys(f); keys != nil && !slices.Equal(in.KeyIDs, keys) {
		out = append(out, Change{Field: fieldKeys, From: strings.Join(in.KeyIDs, ","), To: strings.Join(keys, ",")})
	}
	if rec, ok := sn.shapes[in.ID]; ok && rec.Hidden != hiddenHash(f) {
		out = append(out, Change{Field: fieldHidden, From: "as lightkeeper recorded at " + rec.At.UTC().Format(time.RFC3339), To: "as the spec says"})
	}
	add(fieldRenewFlag, in.RenewFlag, s.Charge.RenewFlag)
	return out
}

func has(changes []Change, fields ...string) bool {
	return slices.ContainsFunc(changes, func(c Change) bool { return slices.Contains(fields, c.Field) })
}

// readyFor reports whether in is ready and has been for minReady.
func (ro *rollout) readyFor(in *Instance) bool {
	if in == nil || !ready(in) {
		return false
	}
	minReady := ro.f.Spec.Update.MinReady
	if minReady <= 0 {
		return true
	}
	rec, ok := ro.sn.readySince[in.ID]
	return ok && ro.now.Sub(rec.Since) >= minReady
}

// plan plans the rollout into fp.Rollout: what each slot needs, then which
// of that this run makes, in slot order, within the bounds.
func (ro *rollout) plan(fp *FleetPlan) {
	f, u := ro.f, ro.f.Spec.Update
	r := &Rollout{Strategy: u.Strategy, MaxUnavailable: ro.maxUnavailable, MaxSurge: ro.maxSurge, MinReady: u.MinReady.Seconds(), Total: f.Spec.Count, Updates: []Update{}}
	var cands []*Update
	unrecorded := 0
	pendingReplacements := 0
	for _, s := range ro.slots {
		if ro.readyFor(s.current) || ro.readyFor(s.old) {
			r.Ready++
		}
		if _, ok := ro.sn.shapes[s.current.ID]; !ok && (len(f.Spec.Containers) > 0 || f.Spec.Login != nil && f.Spec.Login.PasswordFrom != nil) {
			unrecorded++
		}
		if s.old != nil {
			r.Outdated++
			r.Updates = append(r.Updates, ro.finishReplacement(s))
			continue
		}
		changes := differences(f, s.slot, s.current, ro.sn)
		if len(changes) == 0 {
			r.Updated++
			continue
		}
		r.Outdated++
		if i := slices.IndexFunc(changes, func(c Change) bool { return c.Field == fieldRenewFlag }); i >= 0 {
			r.Updates = append(r.Updates, Update{Slot: s.slot, InstanceID: s.current.ID, Name: s.current.Name, Action: UpdateRenewFlag, Status: StatusPlanned,
				Changes: changes[i : i+1], Reason: "the renew flag is set in place (ModifyInstancesRenewFlag); no disruption", renewFlag: f.Spec.Charge.RenewFlag})
			changes = slices.Delete(slices.Clone(changes), i, i+1)
		}
		if len(changes) == 0 {
			continue
		}
		var ups []Update
		if u.Strategy == spec.UpdateReplace {
			var pending bool
			ups, pending = ro.replace(s, changes)
			if pending {
				pendingReplacements++
			}
		} else {
			ups = ro.inPlace(fp, s, changes)
		}
		r.Updates = append(r.Updates, ups...)
	}
	if unrecorded > 0 {
		fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("for %s of this fleet lightkeeper has no record of the containers and password source it was given (created without this state directory, or by someone else): taken to be the spec's, so a change of those alone is not rolled out there",
			plural(unrecorded, "instance")))
	}
	for i := range r.Updates {
		if r.Updates[i].Status == statusCandidate {
			cands = append(cands, &r.Updates[i])
		}
	}
	ro.budget(fp, r, cands, pendingReplacements)
	ro.number(r)
	r.slots = map[string]int{}
	for _, s := range ro.slots {
		r.slots[s.current.ID] = s.slot
		if s.old != nil {
			r.slots[s.old.ID] = s.slot
		}
	}
	fp.Rollout, fp.Outdated = r, r.Outdated
}

// statusCandidate marks an update that needs room within the bounds; the
// budget makes it planned, later or paused.
const statusCandidate = "candidate"

// finishReplacement plans the end of a replacement in progress: the old
// instance is isolated once its replacement is ready for minReady.
func (ro *rollout) finishReplacement(s *rolloutSlot) Update {
	old, cur := s.old, s.current
	up := Update{Slot: s.slot, InstanceID: old.ID, Name: old.Name, Action: UpdateIsolateReplaced, Changes: differences(ro.f, s.slot, old, ro.sn), by: cur.ID}
	switch {
	case old.Operating:
		up.Status, up.Reason = StatusRunning, fmt.Sprintf("replaced by %s; an operation (%s) runs on it", cur.ID, orNone(old.LatestOperation))
	case ro.sn.notReturnable[old.ID] != "":
		up.Status, up.Reason = StatusCannot, fmt.Sprintf("replaced by %s, but the service refused to isolate it (%s); return it in the console", cur.ID, ro.sn.notReturnable[old.ID])
	case ro.readyFor(cur):
		up.Status, up.Reason = StatusPlanned, fmt.Sprintf("its replacement %s is ready%s; isolated as part of the rollout", cur.ID, ro.forMinReady())
	default:
		up.Status, up.Reason = StatusWaiting, fmt.Sprintf("its replacement %s is not ready%s yet (%s)", cur.ID, ro.forMinReady(), readiness(cur))
	}
	return up
}

func (ro *rollout) forMinReady() string {
	if m := ro.f.Spec.Update.MinReady; m > 0 {
		return " for " + m.String()
	}
	return ""
}

// readiness says why an instance is not ready, or since when it is.
func readiness(in *Instance) string {
	switch {
	case in.State != lighthouse.StateRunning:
		return in.State
	case in.Operating:
		return orNone(in.LatestOperation) + " running"
	case in.LatestOperationState == lighthouse.OperationFailed:
		return orNone(in.LatestOperation) + " failed"
	}
	return "ready, not long enough"
}

// replace plans a slot whose instance differs under strategy replace: a
// new instance with the spec's shape beside it (maxSurge > 0), or the
// instance isolated so that its slot is filled anew (maxSurge 0). pending
// reports a replacement create that may have bought an instance not
// listed yet (it counts as live).
func (ro *rollout) replace(s *rolloutSlot, changes []Change) (ups []Update, pending bool) {
	f, in := ro.f, s.current
	up := Update{Slot: s.slot, InstanceID: in.ID, Name: in.Name, Action: UpdateReplace, Changes: changes}
	key := SlotKey{f.Spec.Region, f.Name(), s.slot}
	shape := ShapeHash(f, s.slot)
	if ro.maxSurge == 0 {
		up.IsolateFirst = true
		switch {
		case in.Operating:
			up.Status, up.Reason = StatusRunning, fmt.Sprintf("an operation (%s) runs on it", orNone(in.LatestOperation))
		case ro.sn.notReturnable[in.ID] != "":
			up.Status, up.Reason = StatusCannot, fmt.Sprintf("the service refused to isolate it (%s), so its slot cannot be filled anew; return it in the console, or allow maxSurge", ro.sn.notReturnable[in.ID])
		default:
			up.Status, up.Reason = statusCandidate, "replaced: isolated first (maxSurge 0), then its slot is filled anew with the spec's shape"
		}
		return []Update{up}, false
	}
	// A replacement of this shape that died (LAUNCH_FAILED, isolated) or
	// was never listed within the window is a dead attempt: the next one
	// has its own token, or the token would return the dead one forever
	// (chaos seed 5326: deleted out of band, TokenGone return-original).
	attempt := 0
	if e, ok := ro.sn.replacements[key]; ok && e.InstanceID != "" && e.Token == ReplacementToken(key.Region, key.Fleet, key.Slot, shape, e.Incarnation) {
		st, seen := ro.o.Seen[e.InstanceID]
		if seen && !Live(st) || !seen && ro.now.Sub(e.Since) > ro.opts.ExpectWindow {
			attempt = e.Incarnation + 1
		}
	}
	var dead []string
	for _, d := range s.dead {
		dead = append(dead, d.ID)
	}
	c := newReplacement(f, s.slot, attempt, ro.opts.Tags, in.ID)
	c.Replaces = dead
	up.create, up.ClientToken, up.Attempt = &c, c.ClientToken, attempt
	if e, ok := ro.sn.replacements[key]; ok && e.Token != ReplacementToken(key.Region, key.Fleet, key.Slot, shape, e.Incarnation) && ro.now.Sub(e.Since) <= ro.opts.ExpectWindow {
		// An earlier change's replacement, sent before the spec changed,
		// may have bought an instance not listed yet: no second one beside
		// it until it shows or the window passes (chaos seed 1338: three
		// live instances in one slot under Describe lag).
		if _, seen := ro.o.Seen[e.InstanceID]; e.InstanceID == "" || !seen {
			up.create = nil
			up.Status, up.Reason = StatusWaiting, fmt.Sprintf("a replacement for an earlier spec, created %s, is not listed yet", e.Since.UTC().Format(time.RFC3339))
			return []Update{up}, true
		}
	}
	if e, ok := ro.sn.replacements[key]; ok && e.Token == ReplacementToken(key.Region, key.Fleet, key.Slot, shape, e.Incarnation) {
		if e.InstanceID == "" {
			// The create ended without an answer: sent again, same token.
			c.Incarnation, c.Resend = e.Incarnation, true
			c.Request.ClientToken = e.Token
			c.ClientToken, up.ClientToken, up.Attempt = e.Token, e.Token, e.Incarnation
			up.Status, up.Reason = StatusPlanned, fmt.Sprintf("a replacement create sent %s may have bought an instance; sent again with the same token", e.Since.UTC().Format(time.RFC3339))
			return []Update{up}, true
		}
		if _, seen := ro.o.Seen[e.InstanceID]; !seen && ro.now.Sub(e.Since) <= ro.opts.ExpectWindow {
			up.create = nil
			up.Status, up.Reason = StatusWaiting, fmt.Sprintf("its replacement %s, created %s, is not listed yet", e.InstanceID, e.Since.UTC().Format(time.RFC3339))
			return []Update{up}, true
		}
	}
	up.Status, up.Reason = statusCandidate, "replaced: a new instance with the spec's shape and the same name, then this one is isolated once the new one is ready"
	return []Update{up}, false
}

// inPlace plans a slot whose instance differs under strategy inPlace: a
// bundle change, then a reset, one at a time; a zone is reported.
func (ro *rollout) inPlace(fp *FleetPlan, s *rolloutSlot, changes []Change) []Update {
	f, in := ro.f, s.current
	var ups []Update
	base := Update{Slot: s.slot, InstanceID: in.ID, Name: in.Name}
	if has(changes, fieldZone) {
		up := base
		up.Action, up.Status = UpdateNone, StatusCannot
		up.Changes = []Change{changes[slices.IndexFunc(changes, func(c Change) bool { return c.Field == fieldZone })]}
		up.Reason = "an instance cannot move to another zone in place; use strategy: replace, or change spec.zones back"
		ups = append(ups, up)
	}
	busyWith := ""
	if has(changes, fieldBundle) {
		up := base
		up.Action = UpdateModifyBundle
		up.Changes = []Change{{Field: fieldBundle, From: in.BundleID, To: f.Spec.BundleID}}
		up.op = Op{Action: lighthouse.ActionModifyInstancesBundle, Target: f.Spec.BundleID, From: in.BundleID, Shows: f.Spec.BundleID}
		up.bundle, up.blueprint = in.BundleID, in.BlueprintID
		up.modify = &lighthouse.ModifyInstancesBundleRequest{InstanceIds: []string{in.ID}, BundleId: f.Spec.BundleID, AutoVoucher: f.Spec.AutoVoucher}
		ro.judgeInPlace(fp, &up, in)
		ups = append(ups, up)
		if up.Status != StatusCannot {
			// One change at a time per instance: the reset waits for it
			// (or, if it failed, for the pause to end).
			busyWith = "the bundle change"
		}
	}
	if has(changes, fieldBlueprint, fieldKeys, fieldHidden) {
		up := base
		up.Action, up.WipesDisk = UpdateReset, true
		for _, c := range changes {
			if c.Field == fieldBlueprint || c.Field == fieldKeys || c.Field == fieldHidden {
				up.Changes = append(up.Changes, c)
			}
		}
		up.op = Op{Action: lighthouse.ActionResetInstance, Target: resetTarget(f), From: OpView(lighthouse.ActionResetInstance, *in),
			Shows: f.Spec.BlueprintID + "|" + strings.Join(specKeys(f), ",")}
		up.op.Record = hiddenHash(f)
		up.reset = ResetRequest(f, in.ID)
		if rec, ok := ro.sn.shapes[in.ID]; ok {
			up.op.Known = rec.RequestID
		}
		switch {
		case !ro.opts.Tags && f.Spec.Login != nil:
			up.Status = StatusCannot
			up.Reason = "the international site's ResetInstance takes no login (LoginConfiguration): a reset would leave the instance without its login; use strategy: replace"
		case busyWith != "":
			up.Status, up.Reason = StatusLater, "after "+busyWith+" (one change at a time per instance)"
			if ro.o.Lookups == nil {
				// The service may refuse the bundle change (a downgrade):
				// the reset then goes on, and must have been asked about
				// (chaos seed 115: it waited for an answer never asked).
				fp.needs = append(fp.needs, lookupNeed{Kind: "blueprint", Instance: *in, Target: f.Spec.BlueprintID})
			}
		default:
			ro.judgeInPlace(fp, &up, in)
		}
		ups = append(ups, up)
	}
	return ups
}

// judgeInPlace decides where an in-place change stands: the judge on the
// journal's intent, then what the service said it may do.
func (ro *rollout) judgeInPlace(fp *FleetPlan, up *Update, in *Instance) {
	var prev *OpIntent
	if it, ok := ro.sn.intents[intentKey(in.ID, up.op.Action)]; ok {
		prev = &it
	}
	j := Judge(*in, up.op, prev, ro.now, ro.opts.ExpectWindow)
	switch j.Verdict {
	case VerdictRunning:
		up.Status, up.Reason = StatusRunning, j.Reason
		return
	case VerdictWait:
		up.Status, up.Reason = StatusWaiting, j.Reason
		return
	case VerdictFailed:
		up.Status, up.Reason = StatusFailed, j.Reason
		return
	case VerdictDone:
		// Only a change DescribeInstances cannot show gets here: the
		// State records it once Plan settles the intent.
		up.Status, up.Reason = StatusWaiting, j.Reason+"; recorded at the next observation"
		return
	}
	lk := ro.o.Lookups
	if lk == nil {
		fp.needs = append(fp.needs, lookupNeed{Kind: "denied", Instance: *in})
		if up.Action == UpdateReset {
			fp.needs = append(fp.needs, lookupNeed{Kind: "blueprint", Instance: *in, Target: ro.f.Spec.BlueprintID})
		} else {
			fp.needs = append(fp.needs, lookupNeed{Kind: "bundle", Instance: *in, Target: ro.f.Spec.BundleID})
		}
		up.Status, up.Reason = statusCandidate, "not checked with the service yet"
		return
	}
	for _, d := range lk.Denied[in.ID] {
		if d.Action != up.op.Action {
			continue
		}
		if busy(&lighthouse.Error{Code: d.Code}) {
			up.Status, up.Reason = StatusRunning, fmt.Sprintf("the service says it may not now: %s (%s)", d.Message, d.Code)
		} else {
			up.Status, up.Reason = StatusCannot, fmt.Sprintf("DescribeInstancesDeniedActions: %s (%s)", d.Message, d.Code)
		}
		return
	}
	switch up.Action {
	case UpdateModifyBundle:
		b, ok := lk.Bundles[in.ID]
		switch {
		case !ok || b.Err != "":
			up.Status, up.Reason = StatusWaiting, "could not ask DescribeModifyInstanceBundles: "+cmp.Or(b.Err, "not asked")
		case b.State != lighthouse.ModifyBundleAvailable:
			up.Status, up.Reason = StatusCannot, fmt.Sprintf("DescribeModifyInstanceBundles says %s is %s for this instance: %s", up.op.Target, b.State, cmp.Or(b.Message, "no reason given"))
		default:
			up.Status, up.Reason = statusCandidate, "an upgrade the service sells for this instance; the price difference is charged"
			up.Money = &Money{Currency: b.Price.Currency, Commitment: round2(b.Price.DiscountPrice)}
		}
	case UpdateReset:
		b, ok := lk.Blueprints[in.ID]
		switch {
		case !ok || b.Err != "":
			up.Status, up.Reason = StatusWaiting, "could not ask DescribeResetInstanceBlueprints: "+cmp.Or(b.Err, "not asked")
		case !b.Resettable:
			up.Status, up.Reason = StatusCannot, fmt.Sprintf("DescribeResetInstanceBlueprints says it cannot be reset to %s: %s", ro.f.Spec.BlueprintID, cmp.Or(b.Message, "no reason given"))
		default:
			up.Status, up.Reason = statusCandidate, "reset to the spec's blueprint, login and containers"
		}
	}
}
