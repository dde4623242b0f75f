package reconcile

import (
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// FormatVersion is the version of the JSON form of a Plan and a Result;
// it changes only when a field changes meaning or goes away.
const FormatVersion = 1

// Plan is what a reconcile would do, and why, for every fleet.
type Plan struct {
	FormatVersion int `json:"formatVersion"`
	// ID names what the plan would do (PlanID): two plans that would make
	// the same calls have the same ID, whenever they were made. An
	// approval of a held plan names it.
	ID     string       `json:"id"`
	At     time.Time    `json:"at"`
	Fleets []*FleetPlan `json:"fleets"`
	// Orphans are instances tagged for a fleet that is no longer in git.
	// They are reported, never touched.
	Orphans []Instance `json:"orphans,omitempty"`
	// Totals add up every fleet's creates, isolations and money.
	Totals Totals `json:"totals"`
	// Violations lists the guards the plan exceeds; Apply creates nothing
	// while there are any, unless told to allow it.
	Violations []Violation `json:"violations,omitempty"`

	obs      map[string]*Observation // what the plan was made from, for Apply
	words    Words                   // the front end's names, for the renderers (Word)
	unpriced bool                    // made by Observe: Apply refuses it
	trimmed  bool                    // by Trim: Apply refuses it
}

// Totals sum a plan or a fleet plan.
type Totals struct {
	Creates  int `json:"creates"`
	Isolates int `json:"isolates"`
	// Updates counts the resets, bundle changes and replacements the plan
	// makes (Limits.MaxUpdates).
	Updates int   `json:"updates"`
	Money   Money `json:"money"`
	// Renewals counts the renewals the plan sends, and RenewalSpend what
	// they cost (Commitment).
	Renewals     int   `json:"renewals"`
	RenewalSpend Money `json:"renewalSpend"`
}

// Money is what the creates of a plan cost: the monthly delta (what the
// fleet's bill grows by each month) and the commitment (what is paid up
// front: period x monthly price, per instance). Unknown reports that some
// price could not be had; the sums then cover only what was priced.
type Money struct {
	Currency   string  `json:"currency,omitempty"`
	Monthly    float64 `json:"monthly"`
	Commitment float64 `json:"commitment"`
	Unknown    bool    `json:"unknown,omitempty"`
}

// FleetPlan is the plan of one fleet.
type FleetPlan struct {
	Fleet  string `json:"fleet"`
	Region string `json:"region"`
	File   string `json:"file"`
	Line   int    `json:"line"`

	Desired int `json:"desired"`
	Live    int `json:"live"`    // instances filling slots below the count, PENDING included
	Pending int `json:"pending"` // of Live, still PENDING
	Failed  int `json:"failed"`  // LAUNCH_FAILED instances in the fleet's slots
	// Expected counts slots waiting for an instance a create returned (or
	// may have bought) that is not listed yet.
	Expected int `json:"expected"`
	// Outdated counts the live instances in the fleet's slots that differ
	// from its spec (bundle, blueprint, zone, renew flag, login, recorded
	// containers), whatever spec.update says.
	Outdated int `json:"outdated"`

	// Suspended reports spec.suspend: the plan shows what it would do,
	// and Apply does nothing for the fleet (totals and guards leave it
	// out).
	Suspended bool `json:"suspended,omitempty"`
	// NextExpiry is the earliest ExpiredTime of the fleet's live
	// instances, and NextExpiring that instance's ID.
	NextExpiry   time.Time `json:"nextExpiry,omitzero"`
	NextExpiring string    `json:"nextExpiring,omitempty"`
	// Failing reports a slot with LaunchBackoff.FailingAfter or more
	// launch failures in a row: the run that planned it is not a success.
	Failing bool `json:"failing,omitempty"`
	// LaunchFailures is the most launch failures in a row of any slot.
	LaunchFailures int `json:"launchFailures,omitempty"`
	// Backoff lists the empty slots not created now because their creates
	// ended in LAUNCH_FAILED (backoff.go).
	Backoff []Backoff `json:"backoff,omitempty"`
	// Renewals are the instances of a fleet with charge.renewBefore that
	// the plan renews, or would but waits for (renew.go), and
	// RenewalMoney what those it renews cost (Commitment).
	Renewals     []Renewal `json:"renewals,omitempty"`
	RenewalMoney Money     `json:"renewalMoney,omitzero"`

	Creates  []Create  `json:"creates,omitempty"`
	Surplus  []Surplus `json:"surplus,omitempty"`
	Drift    []Drift   `json:"drift,omitempty"`
	Waiting  []Waiting `json:"waiting,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	// Expiring lists the live instances that expire within the expiry
	// warning and are not renewed automatically (each also has a
	// warning).
	Expiring []Expiring  `json:"expiring,omitempty"`
	Money    Money       `json:"money"`
	Error    *FleetError `json:"error,omitempty"`
	Notes    []string    `json:"notes,omitempty"`
	// Rollout is the fleet's rollout under spec.update (strategy inPlace
	// or replace); nil under strategy report, which reports differences
	// as Drift.
	Rollout *Rollout `json:"rollout,omitempty"`

	// needs are the lookups the rollout needs before it can plan its
	// in-place changes (rollout_lookup.go).
	needs []lookupNeed

	// passwordFrom is where the fleet's login password is read when the
	// plan is applied (nil: it logs in with key pairs). The password
	// itself is never part of a plan.
	passwordFrom *spec.PasswordFrom
}

// Create is one CreateInstances call the plan makes: one slot, one
// instance. Its fields are read from Request, so what a plan shows is what
// it sends.
type Create struct {
	Slot        int    `json:"slot"`
	Name        string `json:"name"`
	Zone        string `json:"zone,omitempty"`
	BundleID    string `json:"bundleId"`
	BlueprintID string `json:"blueprintId"`
	Period      int    `json:"period"`
	Incarnation int    `json:"incarnation"`
	ClientToken string `json:"clientToken"`
	// Resend reports a create sent before that ended ambiguously: it goes
	// out again with the same token, which buys nothing if the first one
	// was carried out.
	Resend bool `json:"resend,omitempty"`
	// Replaces lists the dead instances of the slot (LAUNCH_FAILED,
	// SHUTDOWN, ...); a token that maps to one of them is a dead
	// incarnation.
	Replaces []string `json:"replaces,omitempty"`
	// Reason says why the slot is empty.
	Reason string `json:"reason"`
	// Shape is, for a replacement create (a rollout's), the slot's shape
	// hash its token derives from (ReplacementToken), and ReplacementOf
	// the live instance it replaces; "" for a slot's create.
	Shape         string `json:"shape,omitempty"`
	ReplacementOf string `json:"replacementOf,omitempty"`
	// Request is the CreateInstances request of the create, built once
	// with the plan (CreateRequest). Apply sends it as it is, but for the
	// ClientToken of a later incarnation, when the token of this one maps
	// to a dead instance, and for the login password of a fleet that reads
	// one (spec.login.passwordFrom), which is resolved only then and is
	// never part of a plan.
	Request *lighthouse.CreateInstancesRequest `json:"-"`

	// hidden is the fleet's hiddenHash, which the State records of the
	// instance the create buys.
	hidden string
}

// newCreate is the create of a fleet's slot at an incarnation: its request,
// and the fields a plan shows, read from that request.
func newCreate(f *spec.Fleet, slot, incarnation int, tags bool) Create {
	req := CreateRequest(f, slot, incarnation, tags)
	c := Create{Slot: slot, Name: req.InstanceName, BundleID: req.BundleId, BlueprintID: req.BlueprintId,
		Incarnation: incarnation, ClientToken: req.ClientToken, Request: req, hidden: hiddenHash(f)}
	if len(req.Zones) > 0 {
		c.Zone = req.Zones[0]
	}
	if ch := req.InstanceChargePrepaid; ch != nil {
		c.Period = int(ch.Period)
	}
	return c
}

// Surplus is an instance beyond the fleet's count or a second live
// instance in one slot.
type Surplus struct {
	Instance
	// Action is "isolate" when the plan isolates it, else "report".
	Action string `json:"action"`
	Reason string `json:"reason"`
	// HeldBy names the limit that turned the isolation into a report
	// (LimitIsolates, when it is 0); "" otherwise.
	HeldBy string `json:"heldBy,omitempty"`
}

// Drift is a live instance that differs from its spec in a way only a new
// instance would fix; it is reported, never acted on.
type Drift struct {
	InstanceID string `json:"instanceId"`
	Name       string `json:"name"`
	Field      string `json:"field"`
	Spec       string `json:"spec"`
	Actual     string `json:"actual"`
}

// Waiting is a slot held by an expectation.
type Waiting struct {
	Slot       int       `json:"slot"`
	InstanceID string    `json:"instanceId,omitempty"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
}

// Expiring is a live instance that expires within the expiry warning
// (DiffOptions.ExpiryWarning) and is not renewed automatically.
type Expiring struct {
	InstanceID string    `json:"instanceId"`
	Name       string    `json:"name"`
	Slot       int       `json:"slot"`
	Expires    time.Time `json:"expires"`
}

// FleetError is a problem that stops a fleet, named so a person can fix
// it: the field of the spec to change where one is at fault.
type FleetError struct {
	Code    string `json:"code,omitempty"` // the API's error code, if the API refused
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *FleetError) Error() string { return e.Message }

// Violation is a guard the plan exceeds, as data: which limit, what the
// plan would do and the most the limit allows. The engine does not word
// it: a front end does, naming the limit as its users set it (Plan.Word,
// Violation.Text).
type Violation struct {
	// Limit is LimitCreates, LimitMonthlySpend, LimitIsolates or
	// LimitRenewalSpend.
	Limit   string  `json:"limit"`
	Planned float64 `json:"planned"`
	Max     float64 `json:"max"`
	// Currency is that of Planned and Max, for LimitMonthlySpend and
	// LimitRenewalSpend.
	Currency string `json:"currency,omitempty"`
	// PricesUnknown reports, for LimitMonthlySpend, that some price could
	// not be had: the plan cannot show it stays under the limit.
	PricesUnknown bool `json:"pricesUnknown,omitempty"`
	// Message is the violation in the words of the front end that shows
	// it, filled in by Plan.Word; "" until then.
	Message string `json:"message,omitempty"`
}

// isolations counts the surplus instances the fleet plan isolates.
func (fp *FleetPlan) isolations() (n int) {
	for _, s := range fp.Surplus {
		if s.Action == ActionIsolate {
			n++
		}
	}
	return n
}

// Instances returns the instances of fleet that the plan was made from,
// as the region's sweep listed them (dead ones included), sorted by slot;
// nil when the fleet is not in the plan or its region was not observed.
// The slice is the plan's: do not change it.
func (p *Plan) Instances(fleet string) []Instance {
	for _, fp := range p.Fleets {
		if fp.Fleet == fleet {
			if o := p.obs[fp.Region]; o != nil {
				return o.Fleets[fleet]
			}
			return nil
		}
	}
	return nil
}

// Changes reports whether the plan would create, isolate, update or renew
// anything, or a fleet's rollout is not done (whatever holds it): a plan
// exits 2 until every rollout is.
func (p *Plan) Changes() bool {
	if p.Totals.Creates > 0 || p.Totals.Isolates > 0 || p.Totals.Updates > 0 || p.Totals.Renewals > 0 {
		return true
	}
	for _, fp := range p.Fleets {
		if fp.Error == nil && fp.Rollout != nil && len(fp.Rollout.Updates) > 0 {
			return true
		}
	}
	return false
}

// Errors returns the fleet errors of the plan.
func (p *Plan) Errors() []*FleetPlan {
	var out []*FleetPlan
	for _, fp := range p.Fleets {
		if fp.Error != nil {
			out = append(out, fp)
		}
	}
	return out
}
