package reconcile

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
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

// groupFleets sorts the claimed instances by fleet, then by slot, creation
// time and ID, and returns each fleet's part of the one array. Each part's
// capacity is its length, so that appending to one fleet's instances never
// writes over the next fleet's.
func groupFleets(all []Instance) map[string][]Instance {
	slices.SortFunc(all, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Fleet, b.Fleet), cmp.Compare(a.Slot, b.Slot), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	fleets := map[string][]Instance{}
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].Fleet == all[i].Fleet {
			j++
		}
		fleets[all[i].Fleet] = all[i:j:j]
		i = j
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

// regionSizes remembers how many instances the last sweep of each region
// claimed, so that the next one makes room for them at once instead of
// growing its array as it goes: growing it copies it, and holds the old
// and the new one together at the peak of a cycle.
type regionSizes struct {
	mu      sync.Mutex
	claimed map[string]int
}

// observeRegion is Observe for r, with room made for as many claimed
// instances as the region's last sweep claimed, and a little more.
func (r *Reconciler) observeRegion(ctx context.Context, region string, fleets []*spec.Fleet, now time.Time) (*Observation, error) {
	r.sizes.mu.Lock()
	hint := r.sizes.claimed[region]
	r.sizes.mu.Unlock()
	o, err := sweep(ctx, r.cloud, region, fleets, now, hint+hint/64)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, ins := range o.Fleets {
		n += len(ins)
	}
	r.sizes.mu.Lock()
	defer r.sizes.mu.Unlock()
	if r.sizes.claimed == nil {
		r.sizes.claimed = map[string]int{}
	}
	r.sizes.claimed[region] = n
	return o, nil
}
