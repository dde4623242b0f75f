package daemon

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Status is what the daemon knows, as /status serves it in JSON and the
// status page shows it.
type Status struct {
	// Running and Ready are what /healthz and /readyz answer.
	Running bool `json:"running"`
	Ready   bool `json:"ready"`
	// Following is what the daemon follows: the repository, the branch,
	// tag or commit, and the directory of the fleets.
	Following *Following `json:"following,omitempty"`
	// Revision is the revision last synced, valid or not.
	Revision *RevisionInfo `json:"revision,omitempty"`
	// LastGood is the revision being reconciled: the last one whose
	// fleets loaded.
	LastGood *RevisionInfo `json:"lastGood,omitempty"`
	// Invalid is set while the revision last synced is invalid.
	Invalid *InvalidRevision `json:"invalid,omitempty"`
	// LastError is the error of the last cycle, "" if it went well.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// StateError is the last failure to save the state directory (the
	// state file, or the copy of a new revision, which is not applied
	// until its copy is saved); "" once a save succeeds again.
	StateError   string    `json:"stateError,omitempty"`
	StateErrorAt time.Time `json:"stateErrorAt,omitzero"`
	// StateSetAside is where the state file was moved at start because it
	// did not load; the daemon started from what the cloud shows.
	StateSetAside string `json:"stateSetAside,omitempty"`
	// LastRun is the last cycle that ended.
	LastRun *Run `json:"lastRun,omitempty"`
	// LastSuccess is when the last cycle with result success ended.
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	// NextRun is when the next cycle starts unless triggered earlier.
	NextRun time.Time `json:"nextRun,omitzero"`
	// Runs counts the cycles that ended.
	Runs int `json:"runs"`
	// Fleets is the state of each fleet after the last cycle: as the
	// cloud listed it again after an apply that sent anything
	// (FleetsAfterApply), else as the last plan saw it. Each fleet's
	// instances are served at /status/fleets/NAME.
	Fleets []FleetStatus `json:"fleets"`
	// FleetsObserved is when the instances of Fleets were listed.
	FleetsObserved time.Time `json:"fleetsObserved,omitzero"`
	// FleetsAfterApply reports that Fleets were listed after the apply
	// of the last plan.
	FleetsAfterApply bool `json:"fleetsAfterApply,omitempty"`
	// Held lists the limits the last plan exceeds; it was not applied.
	Held []reconcile.Violation `json:"held,omitempty"`
	// Plan and Result are the last plan and what its apply did (nil when
	// the plan was held or none was made).
	Plan   *reconcile.Plan   `json:"plan,omitempty"`
	Result *reconcile.Result `json:"result,omitempty"`
	// HA is the leader election, when the daemon takes part in one.
	HA *HAStatus `json:"ha,omitempty"`
	// Approvals are the approvers, the plan held and the approvals of held
	// plans (approve.go).
	Approvals *ApprovalStatus `json:"approvals"`
	// Events are the last MaxEvents events, newest first: revisions,
	// cycles, creates, isolations, failures and held plans.
	Events []Event `json:"events"`
}

// Following is what a daemon follows.
type Following struct {
	// Repository is the repository's URL (any credentials in it
	// redacted) or, for a plain directory, its path.
	Repository string `json:"repository"`
	// Branch, Tag or Commit is what is followed in it (one of them).
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Path is the directory of the fleets in the repository ("." for its
	// root).
	Path string `json:"path"`
}

// RevisionInfo names a revision.
type RevisionInfo struct {
	ID      string    `json:"id"`
	Short   string    `json:"short"`
	Time    time.Time `json:"time,omitzero"`
	Subject string    `json:"subject,omitempty"`
	// Loaded is when the daemon loaded it.
	Loaded time.Time `json:"loaded,omitzero"`
	// SignedBy names the trusted key that signed it, when
	// repository.verify is set.
	SignedBy string `json:"signedBy,omitempty"`
}

// InvalidRevision is a revision whose fleets did not load.
type InvalidRevision struct {
	RevisionInfo
	// Errors are the problems found, each placed at a file, line and
	// column when the loader could place it: the first 20 of each file and
	// 100 in all, then a summary whose More counts the rest (see
	// spec.Options.MaxErrors).
	Errors []*spec.Error `json:"errors"`
}

// Run is one reconcile cycle.
type Run struct {
	// Trigger names what started the cycle, as lightkeeper_triggers_total
	// does: start, interval, retry, webhook, watch, elected, forwarded
	// (the Trigger* constants). Triggers that came while one was pending
	// joined its cycle, which is named for the first.
	Trigger  string    `json:"trigger"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"durationSeconds"`
	Result   string    `json:"result"` // one of the Result* constants
	Revision string    `json:"revision,omitempty"`
	Creates  int       `json:"creates"`
	Created  int       `json:"created"`
	Failed   int       `json:"failed"`
}

// FleetStatus is one fleet after the last cycle: its counts as last
// observed (after the apply, when the cycle sent anything), what the last
// plan and apply did.
type FleetStatus struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	File     string `json:"file,omitempty"`
	Desired  int    `json:"desired"`
	Live     int    `json:"live"`
	Pending  int    `json:"pending"`
	Failed   int    `json:"failed"`
	Expected int    `json:"expected"`
	// Creates are the creates the last plan made for the fleet; Created
	// and CreateFailures what its apply did.
	Creates        int `json:"creates"`
	Created        int `json:"created"`
	CreateFailures int `json:"createFailures"`
	// Money is what the last plan's creates of the fleet cost (zero when
	// it had none).
	Money   reconcile.Money `json:"money"`
	Surplus int             `json:"surplus"`
	// Outdated counts the live instances that differ from the spec.
	Outdated int    `json:"outdated"`
	Error    string `json:"error,omitempty"`
	// Rollout is where the fleet's rollout stands (spec.update strategy
	// inPlace or replace); nil without one.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// State is the fleet's state in one word: "ok", "converging" (fewer
	// live instances than desired), "updating" (a rollout in progress),
	// "paused" (a rollout stopped after a failure: a person must look),
	// "error", "suspended" (spec.suspend: nothing is done for it) or
	// "failing" (its launches keep failing).
	State string `json:"state"`

	// Suspended: spec.suspend; the fleet is observed and planned, and
	// nothing is created, changed, renewed or isolated for it.
	Suspended bool `json:"suspended,omitempty"`
	// Failing: a slot's launches failed LaunchFailures (3 or more) times in
	// a row; the cycle is not a success.
	Failing        bool `json:"failing,omitempty"`
	LaunchFailures int  `json:"launchFailures,omitempty"`
	// NextExpiry is the earliest ExpiredTime of the fleet's live
	// instances, and NextExpiring that instance.
	NextExpiry   time.Time `json:"nextExpiry,omitzero"`
	NextExpiring string    `json:"nextExpiring,omitempty"`
	// Renewals counts the renewals the last plan made for the fleet
	// (charge.renewBefore), Renewed those the service accepted and
	// RenewFailures those that were not done; RenewFailures' sentences
	// are in Waiting.
	Renewals      int `json:"renewals,omitempty"`
	Renewed       int `json:"renewed,omitempty"`
	RenewFailures int `json:"renewFailures,omitempty"`
	// Waiting says, a sentence each, what the fleet's slots wait for: an
	// instance a create's token returned that DescribeInstances does not
	// list (and when a new server is bought if it is still missing), or
	// the end of a backoff after launch failures.
	Waiting []string `json:"waiting,omitempty"`
}

// Fleet states beyond ok, converging and error (FleetStatus.State).
const (
	FleetSuspended = reconcile.ConditionSuspended
	FleetFailing   = reconcile.ConditionFailing
)

// RolloutStatus is a fleet's rollout in the last plan and apply: the
// plan's fleets[].rollout in a few numbers and words (Status.Plan has it
// whole).
type RolloutStatus struct {
	Strategy string `json:"strategy"`
	Updated  int    `json:"updated"`
	Total    int    `json:"total"`
	Ready    int    `json:"ready"`
	Outdated int    `json:"outdated"`
	// Batch is the batch the last cycle made (0: none), of Batches.
	Batch   int `json:"batch"`
	Batches int `json:"batches"`
	// Changed counts the updates the last apply sent; Changing those
	// running on the instances.
	Changed  int `json:"changed"`
	Changing int `json:"changing"`
	// Waiting says what it waits for; Paused why it stopped.
	Waiting string `json:"waiting,omitempty"`
	Paused  string `json:"paused,omitempty"`
	// Failures are the updates the last apply could not make.
	Failures []string `json:"failures,omitempty"`
}

// state computes FleetStatus.State.
func (f FleetStatus) state() string {
	switch {
	case f.Error != "" || f.CreateFailures > 0:
		return "error"
	case f.Suspended:
		return FleetSuspended
	case f.Failing:
		return FleetFailing
	case f.Rollout != nil && f.Rollout.Paused != "":
		return "paused"
	case f.Live < f.Desired:
		return "converging"
	case f.Rollout != nil && (f.Rollout.Outdated > 0 || f.Rollout.Changing > 0):
		return "updating"
	}
	return "ok"
}

// Status returns a copy of the daemon's status.
func (d *Daemon) Status() Status {
	s, _ := d.statusObserved()
	return s
}

// statusObserved returns a copy of the status and what its fleets were
// listed from, taken together.
func (d *Daemon) statusObserved() (Status, *observedInstances) {
	d.mu.Lock()
	s, observed := d.status, d.observed
	d.mu.Unlock()
	s.Running = d.run.Load()
	s.Ready = d.ready.Load()
	s.Fleets = slices.Clone(s.Fleets)
	s.Held = slices.Clone(s.Held)
	s.Events = slices.Clone(s.Events)
	// "fleets": [] and "events": [] before the first cycle, for jq, not null.
	if s.Fleets == nil {
		s.Fleets = []FleetStatus{}
	}
	if s.Events == nil {
		s.Events = []Event{}
	}
	s.HA = d.haStatus()
	s.Approvals = d.approvalStatus()
	return s, observed
}

// setStatus changes the status under its lock.
func (d *Daemon) setStatus(f func(*Status)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.status)
}

func revisionInfo(r Revision, loaded time.Time) *RevisionInfo {
	return &RevisionInfo{ID: r.ID, Short: r.Short(), Time: r.Time, Subject: r.Subject, Loaded: loaded, SignedBy: r.SignedBy}
}

// fleetStatuses summarizes a plan and its result per fleet, with the
// counts of after (what Observe listed after the apply) when it is set.
func fleetStatuses(p *reconcile.Plan, res *reconcile.Result, after *reconcile.Plan) []FleetStatus {
	now := planFleets(after)
	out := make([]FleetStatus, 0, len(p.Fleets))
	var results map[string][]*reconcile.FleetResult // by fleet, in res's order
	if res != nil {
		results = make(map[string][]*reconcile.FleetResult, len(res.Fleets))
		for _, fr := range res.Fleets {
			results[fr.Fleet] = append(results[fr.Fleet], fr)
		}
	}
	for _, fp := range p.Fleets {
		fs := FleetStatus{Name: fp.Fleet, Region: fp.Region, File: fp.File, Desired: fp.Desired, Live: fp.Live,
			Pending: fp.Pending, Failed: fp.Failed, Expected: fp.Expected, Creates: len(fp.Creates), Money: fp.Money, Surplus: len(fp.Surplus), Outdated: fp.Outdated}
		if fp.Error != nil {
			fs.Error = fp.Error.Message
		}
		if ap := now[fp.Fleet]; ap != nil {
			fs.Desired, fs.Live, fs.Pending, fs.Failed, fs.Expected, fs.Surplus = ap.Desired, ap.Live, ap.Pending, ap.Failed, ap.Expected, len(ap.Surplus)
			fs.Outdated = ap.Outdated
			if ap.Error != nil && fs.Error == "" {
				fs.Error = ap.Error.Message
			}
		}
		lifecycleStatus(&fs, fp)
		fs.Rollout = rolloutStatus(fp, results[fp.Fleet])
		for _, fr := range results[fp.Fleet] {
			for _, w := range fr.Waiting {
				fs.Waiting = append(fs.Waiting, w.Text())
			}
			lifecycleResult(&fs, fr)
			fs.Created = len(fr.Created)
			for _, f := range fr.Failures {
				if f.InstanceID == "" {
					fs.CreateFailures++
				}
			}
			if fr.Error != nil && fs.Error == "" {
				fs.Error = fr.Error.Message
			} else if fs.Error == "" && len(fr.Failures) > 0 {
				fs.Error = fr.Failures[0].Message
			}
		}
		fs.State = fs.state()
		out = append(out, fs)
	}
	return out
}

// rolloutStatus is a fleet's rollout in the last plan and apply, nil
// without one.
func rolloutStatus(fp *reconcile.FleetPlan, results []*reconcile.FleetResult) *RolloutStatus {
	r := fp.Rollout
	if r == nil {
		return nil
	}
	rs := &RolloutStatus{Strategy: r.Strategy, Updated: r.Updated, Total: r.Total, Ready: r.Ready, Outdated: r.Outdated,
		Batch: r.Batch, Batches: r.Batches, Waiting: r.Waiting, Paused: r.Paused}
	for _, u := range r.Updates {
		if u.Status == reconcile.StatusRunning {
			rs.Changing++
		}
	}
	for _, fr := range results {
		for _, u := range fr.Updates {
			if u.Outcome == reconcile.OutcomeSent {
				rs.Changed++
			}
		}
		for _, f := range fr.Failures {
			if f.Action != "" {
				rs.Failures = append(rs.Failures, fmt.Sprintf("%s %s: %s", f.Action, f.InstanceID, f.Message))
			}
		}
	}
	return rs
}

// specErrors turns a load error into placed errors.
func specErrors(err error) []*spec.Error {
	var es spec.Errors
	if errors.As(err, &es) {
		return es
	}
	var e *spec.Error
	if errors.As(err, &e) {
		return []*spec.Error{e}
	}
	return []*spec.Error{{Message: err.Error()}}
}

// planFleets maps the fleets of p by name (nil for a nil p).
func planFleets(p *reconcile.Plan) map[string]*reconcile.FleetPlan {
	if p == nil {
		return nil
	}
	m := make(map[string]*reconcile.FleetPlan, len(p.Fleets))
	for _, fp := range p.Fleets {
		m[fp.Fleet] = fp
	}
	return m
}
