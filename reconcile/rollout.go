package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file holds what a rollout is made of (docs/design.md section 11): a
// fleet's shape, the plan's Rollout and Update, and the ClientToken of a
// replacement. rollout_plan.go plans one (pure) and rollout_budget.go
// spends its bounds, rollout_lookup.go asks the service what an instance
// may become, rollout_apply.go carries it out.

// Update actions: what happens to one instance in a rollout.
const (
	// UpdateRenewFlag sets the renew flag (ModifyInstancesRenewFlag): no
	// disruption, not counted by Limits.MaxUpdates.
	UpdateRenewFlag = "renew-flag"
	// UpdateModifyBundle changes the bundle (ModifyInstancesBundle).
	UpdateModifyBundle = "modify-bundle"
	// UpdateReset reinstalls the instance (ResetInstance): its system disk
	// is wiped.
	UpdateReset = "reset"
	// UpdateReplace creates the slot's next instance with the new shape
	// (maxSurge > 0), or isolates the instance so that its slot is filled
	// anew (maxSurge 0).
	UpdateReplace = "replace"
	// UpdateIsolateReplaced isolates an instance whose replacement is
	// ready: the end of a replacement.
	UpdateIsolateReplaced = "isolate-replaced"
	// UpdateNone: what differs cannot be changed (see Update.Reason).
	UpdateNone = "none"
)

// Update statuses: where an instance's update stands.
const (
	StatusPlanned = "planned" // this run makes it
	StatusLater   = "later"   // a later batch (the bounds allow no more now)
	StatusHeld    = "held"    // a limit holds it (Update.HeldBy)
	StatusRunning = "running" // an operation on the instance runs
	StatusWaiting = "waiting" // waits for something to show (Update.Reason)
	StatusFailed  = "failed"  // failed; the fleet's rollout pauses
	StatusPaused  = "paused"  // not made while the fleet's rollout is paused
	StatusCannot  = "cannot"  // cannot be made in this strategy (Update.Reason)
)

// Rollout is a fleet's rollout: how its instances follow a change of its
// shape in git, under spec.update.
type Rollout struct {
	Strategy       string  `json:"strategy"`
	MaxUnavailable int     `json:"maxUnavailable"`
	MaxSurge       int     `json:"maxSurge"`
	MinReady       float64 `json:"minReadySeconds"`
	// Total is the fleet's count; Updated the slots whose only live
	// instance has the spec's shape; Ready the slots with an instance
	// ready for minReady; Outdated the live instances that differ from
	// the spec.
	Total    int `json:"total"`
	Updated  int `json:"updated"`
	Ready    int `json:"ready"`
	Outdated int `json:"outdated"`
	// Batch is the batch of this run (1-based; 0 when it makes none) and
	// Batches an estimate of how many the rollout takes in all.
	Batch   int `json:"batch"`
	Batches int `json:"batches"`
	// Updates lists each instance that differs, and what happens to it.
	Updates []Update `json:"updates"`
	// Waiting says what the rollout waits for, Paused why it stopped
	// (a failure: a person must look); "" when neither.
	Waiting string `json:"waiting,omitempty"`
	Paused  string `json:"paused,omitempty"`

	// slots maps each live instance of the fleet's slots to its slot, for
	// Apply's check of the bounds just before it disrupts anything.
	slots map[string]int
}

// Update is what happens to one instance in a rollout.
type Update struct {
	Slot       int    `json:"slot"`
	InstanceID string `json:"instanceId"`
	Name       string `json:"name"`
	// Action is UpdateRenewFlag, UpdateModifyBundle, UpdateReset,
	// UpdateReplace, UpdateIsolateReplaced or UpdateNone.
	Action string `json:"action"`
	// Status is StatusPlanned, StatusLater, ... (see the constants).
	Status string `json:"status"`
	// Changes are the differences the action makes.
	Changes []Change `json:"changes,omitempty"`
	Reason  string   `json:"reason"`
	// Batch is the batch the update falls in: Rollout.Batch for this
	// run's, an estimate for later ones; 0 for what no batch makes.
	Batch int `json:"batch,omitempty"`
	// WipesDisk reports a reset: the instance's system disk is wiped.
	WipesDisk bool `json:"wipesDisk,omitempty"`
	// IsolateFirst reports a replacement without surge: the instance is
	// isolated, then its slot is filled anew by a create.
	IsolateFirst bool `json:"isolateFirst,omitempty"`
	// Money is what the update costs: a bundle change's monthly
	// difference and the price difference charged, a replacement's as a
	// create's; nil when nothing.
	Money *Money `json:"money,omitempty"`
	// HeldBy names the limit that holds it (LimitUpdates); "" otherwise.
	HeldBy string `json:"heldBy,omitempty"`
	// ClientToken and Attempt are a replacement create's.
	ClientToken string `json:"clientToken,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`

	// op is the operation of a reset or a bundle change; create the
	// replacement create (its request built once, as a slot create's);
	// renewFlag the flag to set; region the instance's.
	op        Op
	create    *Create
	reset     *lighthouse.ResetInstanceRequest
	modify    *lighthouse.ModifyInstancesBundleRequest
	renewFlag string
	by        string // isolate-replaced: the replacement
	bundle    string // a bundle change's old bundle, for its money
	blueprint string
}

// updates counts the resets, bundle changes and replacements the fleet
// plan makes.
func (fp *FleetPlan) updates() (n int) {
	if fp.Rollout == nil {
		return 0
	}
	for i := range fp.Rollout.Updates {
		if u := &fp.Rollout.Updates[i]; u.Status == StatusPlanned && u.counted() {
			n++
		}
	}
	return n
}

// replaces reports whether the rollout creates a replacement this run.
func (r *Rollout) replaces() bool {
	return slices.ContainsFunc(r.Updates, func(u Update) bool { return u.create != nil && u.Status == StatusPlanned })
}

// Change is one field in which an instance differs from its fleet.
type Change struct {
	Field string `json:"field"` // spec.bundleId, spec.blueprintId, ...
	From  string `json:"from"`
	To    string `json:"to"`
}

// counted reports whether u is counted by Limits.MaxUpdates: a reset, a
// bundle change or a replacement.
func (u *Update) counted() bool {
	switch u.Action {
	case UpdateModifyBundle, UpdateReset, UpdateReplace:
		return true
	}
	return false
}

// hiddenHash is the hash of what a fleet gives its instances that
// DescribeInstances cannot show: the containers and where the password is
// read (never the password). The State records it for each instance
// lightkeeper creates or resets (ShapeRecord).
func hiddenHash(f *spec.Fleet) string {
	s := f.Spec
	var from *spec.PasswordFrom
	if s.Login != nil {
		from = s.Login.PasswordFrom
	}
	b, err := json.Marshal(struct {
		Containers   []spec.Container   `json:"c"`
		PasswordFrom *spec.PasswordFrom `json:"p"`
	}{s.Containers, from})
	if err != nil {
		panic("reconcile: marshal a fleet's containers: " + err.Error())
	}
	return shortHash("hidden", string(b))
}

// specKeys is the login key IDs the spec gives, sorted; nil when the
// fleet's login is not by key pairs (then an instance's keys are not
// compared).
func specKeys(f *spec.Fleet) []string {
	if l := f.Spec.Login; l != nil && len(l.KeyIDs) > 0 {
		return slices.Sorted(slices.Values(l.KeyIDs))
	}
	return nil
}

// ShapeHash is the hash of what an instance of slot is made of: bundle,
// blueprint, the slot's zone, login key IDs and where the password is read,
// and containers. A replacement's ClientToken derives from it, so that a
// spec change in the middle of a rollout is a new change.
func ShapeHash(f *spec.Fleet, slot int) string {
	s := f.Spec
	return shortHash("shape", s.BundleID, s.BlueprintID, f.Zone(slot), strings.Join(specKeys(f), ","), hiddenHash(f))
}

// resetTarget names the result of a reset to f's blueprint, keys and
// hidden shape: the Op.Target of the reset.
func resetTarget(f *spec.Fleet) string {
	return shortHash("reset", f.Spec.BlueprintID, strings.Join(specKeys(f), ","), hiddenHash(f))
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ReplacementTokenPrefix starts the ClientToken of every replacement
// create: a token version of its own, so that no replacement's token is
// ever a slot create's.
const ReplacementTokenPrefix = "lk1r-"

// ReplacementToken is the ClientToken of a replacement create: the prefix
// and 48 hex digits of SHA-256 over (region, fleet, slot, shape hash,
// attempt), 53 ASCII characters. Like Token it is a pure function, so a
// rerun without state sends the same token for the same target shape; a
// spec change in the middle of a rollout is another shape, another token.
// The attempt moves on when the replacement it bought is dead
// (LAUNCH_FAILED), by the same walk as a slot's incarnations.
func ReplacementToken(region, fleet string, slot int, shape string, attempt int) string {
	h := sha256.New()
	for _, part := range []string{"lightkeeper/v1/replace", region, fleet, strconv.Itoa(slot), shape, strconv.Itoa(attempt)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return ReplacementTokenPrefix + hex.EncodeToString(h.Sum(nil))[:48]
}

// newReplacement is the create of slot's replacement: the slot's create
// request with the replacement's token.
func newReplacement(f *spec.Fleet, slot, attempt int, tags bool, replaces string) Create {
	c := newCreate(f, slot, attempt, tags)
	c.Shape = ShapeHash(f, slot)
	c.Request.ClientToken = ReplacementToken(f.Spec.Region, f.Name(), slot, c.Shape, attempt)
	c.ClientToken, c.ReplacementOf = c.Request.ClientToken, replaces
	return c
}

// ready reports whether in serves: RUNNING, no operation running, and its
// latest operation not a failed change of a rollout.
func ready(in *Instance) bool {
	if in.State != lighthouse.StateRunning || in.LatestOperationState == lighthouse.OperationOperating {
		return false
	}
	failed := in.LatestOperationState == lighthouse.OperationFailed
	return !(failed && (in.LatestOperation == lighthouse.ActionResetInstance || in.LatestOperation == lighthouse.ActionModifyInstancesBundle))
}
