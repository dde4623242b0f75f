package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Instance is what reconcile keeps of an observed instance: only what
// the diff and the plan need, so an observation of 10,000 instances stays
// small.
type Instance struct {
	ID    string `json:"instanceId"`
	Name  string `json:"name"`
	State string `json:"state"`
	// Fleet and Slot are the slot the instance fills: by its name, or by
	// lightkeeper's tags when the name claims no slot (renamed in the
	// console).
	Fleet string `json:"fleet"`
	Slot  int    `json:"slot"`
	// TagFleet and TagSlot are lightkeeper's tags, where the site took
	// them ("" and -1 otherwise; -1 also for a malformed slot tag).
	TagFleet string `json:"tagFleet,omitempty"`
	TagSlot  int    `json:"tagSlot"`

	Zone        string `json:"zone,omitempty"`
	BundleID    string `json:"bundleId,omitempty"`
	BlueprintID string `json:"blueprintId,omitempty"`
	RenewFlag   string `json:"renewFlag,omitempty"`
	// PublicIPs are the instance's public addresses, for people (a status
	// page); nothing decides on them.
	PublicIPs []string  `json:"publicIps,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	Expires   time.Time `json:"expires,omitzero"`
	// Operating reports an operation in progress (LatestOperationState
	// OPERATING): the instance must not be acted on now.
	Operating bool `json:"operating,omitempty"`

	// What the day-two engine reads (operation.go): the latest operation
	// on the instance as DescribeInstances shows it (LatestOperation*; the
	// international site shows no start time, which is then zero), its
	// login key IDs (sorted), InstanceRestrictState and IsolatedTime.
	LatestOperation          string    `json:"latestOperation,omitempty"`
	LatestOperationState     string    `json:"latestOperationState,omitempty"`
	LatestOperationRequestID string    `json:"latestOperationRequestId,omitempty"`
	LatestOperationStarted   time.Time `json:"latestOperationStarted,omitzero"`
	KeyIDs                   []string  `json:"keyIds,omitempty"`
	RestrictState            string    `json:"restrictState,omitempty"`
	Isolated                 time.Time `json:"isolated,omitzero"`
}

// Live reports whether the instance fills its slot: any state but
// LAUNCH_FAILED and the states of an instance going away (docs/design.md
// section 5.2).
func (in *Instance) Live() bool { return Live(in.State) }

// Live reports whether an instance in state fills a slot.
func Live(state string) bool {
	switch state {
	case lighthouse.StateLaunchFailed, lighthouse.StateShutdown, lighthouse.StateTerminating, lighthouse.StateDeleting:
		return false
	}
	return true
}

// Observation is one region's instances as one DescribeInstances sweep saw
// them, grouped by the fleet slot they fill. Instances that no fleet claims by
// name and that carry no lightkeeper tag are counted, not kept.
type Observation struct {
	Region string    `json:"region"`
	At     time.Time `json:"at"`
	// Fleets maps a fleet name to its instances, sorted by slot then ID.
	// It includes instances tagged for fleets that are no longer in git.
	Fleets map[string][]Instance `json:"fleets"`
	// Seen is every instance ID of the sweep, claimed or not, so that a
	// returned ID can be told apart from one that is not listed.
	Seen map[string]string `json:"-"` // ID -> state
	// Total is the number of instances in the region.
	Total int `json:"total"`
	// Lookups are the service's answers about what the instances a rollout
	// would change may become; nil until Reconciler.Plan asked.
	Lookups *Lookups `json:"-"`
	// Partial marks a filtered observation (ObserveFleets): it holds only
	// the fleets it was made for, Seen only what its filters listed, and
	// Total is 0. It is never used for orphans, region totals, surplus,
	// renewals or rollouts (docs/design.md section 5.10).
	Partial bool `json:"partial,omitempty"`
	// Unrenewable maps the ID of an instance SHUTDOWN by its expiry to the
	// code DescribeInstancesDeniedActions gives for RenewInstances, when it
	// denies it: the instance is not held for renewal (renew.go).
	Unrenewable map[string]string `json:"-"`
}

// Observe lists every instance of region in one paginated sweep and groups
// those that fleets claim: by name for the fleets given (the fleets of
// region), or by lightkeeper's tags for any fleet, so that Diff can report
// instances of fleets no longer in git (or moved to another region).
func Observe(ctx context.Context, cloud Cloud, region string, fleets []*spec.Fleet, now time.Time) (*Observation, error) {
	return sweep(ctx, cloud, region, fleets, now, 0)
}

// sweep is Observe with room for sizeHint claimed instances (and as many
// IDs seen) made at once (observe_compact.go).
func sweep(ctx context.Context, cloud Cloud, region string, fleets []*spec.Fleet, now time.Time, sizeHint int) (*Observation, error) {
	ix := spec.NewNameIndex(fleets)
	obs := &Observation{Region: region, At: now, Seen: make(map[string]string, sizeHint)}
	strs := make(interner)
	claimed := make([]Instance, 0, sizeHint) // grouped by fleet at the end
	for li, err := range cloud.Instances(ctx, region, nil) {
		if err != nil {
			return nil, fmt.Errorf("observe %s: %w", region, err)
		}
		obs.Total++
		in, ok := claim(ix, &li)
		strs.compact(&in)
		obs.Seen[in.ID] = in.State
		if ok {
			claimed = append(claimed, in)
		}
	}
	obs.Fleets = groupFleets(claimed)
	return obs, nil
}

// claim groups a listed instance into the fleet slot it fills: by its name
// for the fleets of ix, else by lightkeeper's tags; ok is false when
// neither claims it.
func claim(ix *spec.NameIndex, li *lighthouse.Instance) (Instance, bool) {
	in := instanceOf(li)
	if f, slot, ok := ix.Lookup(li.InstanceName); ok {
		in.Fleet, in.Slot = f.Name(), slot
	} else if in.TagFleet != "" {
		in.Fleet, in.Slot = in.TagFleet, in.TagSlot
	} else {
		return in, false
	}
	return in, true
}

// sort orders each fleet's instances by slot, then creation, then ID.
func (obs *Observation) sort() {
	for _, ins := range obs.Fleets {
		sortInstances(ins)
	}
}

// sortInstances orders a fleet's instances by slot, then creation time,
// then ID. DescribeInstances lists the newest first, so a fleet whose slots
// were created in order comes reversed: that is turned around without
// sorting, or moving an instance more than once.
func sortInstances(ins []Instance) {
	order := func(a, b *Instance) int {
		return cmp.Or(cmp.Compare(a.Slot, b.Slot), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	}
	ascending, descending := true, true
	for i := 1; i < len(ins) && (ascending || descending); i++ {
		c := order(&ins[i-1], &ins[i])
		ascending, descending = ascending && c <= 0, descending && c >= 0
	}
	switch {
	case ascending:
	case descending:
		slices.Reverse(ins)
	default:
		slices.SortFunc(ins, func(a, b Instance) int { return order(&a, &b) })
	}
}

// instanceOf is what reconcile keeps of an instance the API listed; its
// Fleet and Slot are left for the caller (Slot -1).
func instanceOf(li *lighthouse.Instance) Instance {
	in := Instance{ID: li.InstanceId, Name: li.InstanceName, State: li.InstanceState, Slot: -1, TagSlot: -1}
	if tf, ts, ok := slotOfTags(li.Tags); ok {
		in.TagFleet, in.TagSlot = tf, ts
	}
	in.Zone, in.BundleID, in.BlueprintID, in.RenewFlag = li.Zone, li.BundleId, li.BlueprintId, li.RenewFlag
	in.Created, in.Expires = parseTime(li.CreatedTime), parseTime(li.ExpiredTime)
	in.Operating = li.LatestOperationState == lighthouse.OperationOperating
	in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestID = li.LatestOperation, li.LatestOperationState, li.LatestOperationRequestId
	in.LatestOperationStarted, in.Isolated = parseTime(li.LatestOperationStartedTime), parseTime(li.IsolatedTime)
	if len(li.LoginSettings.KeyIds) > 0 {
		in.KeyIDs = slices.Sorted(slices.Values(li.LoginSettings.KeyIds))
	}
	in.PublicIPs = li.PublicAddresses
	in.RestrictState = li.InstanceRestrictState
	return in
}

// parseTime reads the API's "2006-01-02T15:04:05Z" times; nil or malformed
// is the zero time.
func parseTime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}
	}
	return t
}
