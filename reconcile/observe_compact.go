package reconcile

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/spec"
)

// This file keeps an observation small (issue 21: the daemon following
// 10,000 instances in 40 MB). The JSON decoder gives every string of every
// instance its own copy, though most of them repeat across a region (zone,
// bundle, blueprint, state, renew flag, operation, tag fleet); and growing
// one slice per fleet by appending leaves a third of each unused. An
// observation holds one copy of each repeated string (interner) and its
// instances in one array, each fleet a part of it (groupFleets).

// maxInterned bounds the distinct strings one interner keeps: past it, a
// string is kept as it came (an account whose instances all differ gains
// nothing from a table).
const maxInterned = 4096

// interner hands out one copy of each string it has seen. The zero value
// is not usable; make one with make(interner).
type interner map[string]string

// of returns the copy of s kept first.
func (t interner) of(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := t[s]; ok {
		return v
	}
	if len(t) < maxInterned {
		t[s] = s
	}
	return s
}

// compact makes in's repeated strings the interner's copies.
func (t interner) compact(in *Instance) {
	in.State, in.TagFleet, in.Zone = t.of(in.State), t.of(in.TagFleet), t.of(in.Zone)
	in.BundleID, in.BlueprintID, in.RenewFlag = t.of(in.BundleID), t.of(in.BlueprintID), t.of(in.RenewFlag)
	in.LatestOperation, in.LatestOperationState = t.of(in.LatestOperation), t.of(in.LatestOperationState)
	in.RestrictState = t.of(in.RestrictState)
	for i, k := range in.KeyIDs {
		in.KeyIDs[i] = t.of(k)
	}
}

// groupFleets groups the claimed instances by fleet, in place: each
// fleet's part of the one array, in the order sortInstances gives (slot,
// creation time, ID), its capacity its length so that appending to one
// fleet's instances never writes over the next fleet's. It runs after the
// last page, on the plan's path: each instance is moved at most once to
// its fleet's part (no sort of the whole array), and a fleet listed newest
// first is then turned around.
func groupFleets(all []Instance) map[string][]Instance {
	start := map[string]int{} // a fleet's count, then where its part starts
	for i := range all {
		start[all[i].Fleet]++
	}
	names := slices.Sorted(maps.Keys(start))
	end := make(map[string]int, len(names))
	off := 0
	for _, name := range names {
		start[name], end[name], off = off, off, off+start[name]
	}
	dest := make([]int32, len(all)) // where each instance goes, in listing order within its fleet
	for i := range all {
		f := all[i].Fleet
		dest[i] = int32(end[f])
		end[f]++
	}
	for i := range all {
		for d := int(dest[i]); d != i; d = int(dest[i]) {
			all[i], all[d] = all[d], all[i]
			dest[i], dest[d] = dest[d], dest[i]
		}
	}
	fleets := make(map[string][]Instance, len(names))
	for _, name := range names {
		part := all[start[name]:end[name]:end[name]]
		sortInstances(part)
		fleets[name] = part
	}
	return fleets
}

// ErrTrimmed is returned by Apply for a plan that Trim trimmed.
var ErrTrimmed = errors.New("reconcile: Apply was given a plan trimmed for its report (Plan.Trim); make a new plan")

// Trim drops from p what it was made from: the observations that only
// planning and Apply read (Instances then returns nil). What a report of p
// reads, its exported fields, stays. A daemon keeps the last plan for its
// status until the next one is made, and keeps the instances the status
// shows its own way; trimmed, the plan no longer holds every instance of
// the account. Apply refuses a trimmed plan (ErrTrimmed).
func (p *Plan) Trim() {
	if p == nil {
		return
	}
	p.trimmed = true
	p.obs = nil
}

// byID maps the ID of each instance that o's fleets claim to the instance
// in o: pointers, not copies, for the settling of the state's intents,
// which looks up a few.
func (o *Observation) byID() map[string]*Instance {
	n := 0
	for _, ins := range o.Fleets {
		n += len(ins)
	}
	m := make(map[string]*Instance, n)
	for _, ins := range o.Fleets {
		for i := range ins {
			m[ins[i].ID] = &ins[i]
		}
	}
	return m
}

// observeRegion is Observe for r, with room made at once for as many
// claimed instances as the region's last sweep claimed (recordSweep) or
// its fleets want, whichever is more, and a little more: growing the
// array as it goes would copy it (by a quarter at a time once large), and
// hold the old and the new one together at the peak of a cycle.
func (r *Reconciler) observeRegion(ctx context.Context, region string, fleets []*spec.Fleet, now time.Time) (*Observation, error) {
	want := 0
	for _, f := range fleets {
		want += f.Spec.Count
	}
	r.mu.Lock()
	hint := max(r.swept[region].claimed, want)
	r.mu.Unlock()
	return sweep(ctx, r.cloud, region, fleets, now, hint+hint/64)
}
