package daemon

import (
	"errors"
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
	// Fleets is the state of each fleet in the last plan.
	Fleets []FleetStatus `json:"fleets"`
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
	Trigger  string    `json:"trigger"` // start, interval, retry, request (Trigger or a watch)
	Started  time.Time `json:"started"`
	Duration float64   `json:"durationSeconds"`
	Result   string    `json:"result"` // one of the Result* constants
	Revision string    `json:"revision,omitempty"`
	Creates  int       `json:"creates"`
	Created  int       `json:"created"`
	Failed   int       `json:"failed"`
}

// FleetStatus is one fleet in the last plan and apply.
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
	Creates        int    `json:"creates"`
	Created        int    `json:"created"`
	CreateFailures int    `json:"createFailures"`
	Surplus        int    `json:"surplus"`
	Error          string `json:"error,omitempty"`
	// State is the fleet's state in one word: "ok", "converging" (fewer
	// live instances than desired) or "error".
	State string `json:"state"`
}

// state computes FleetStatus.State.
func (f FleetStatus) state() string {
	switch {
	case f.Error != "" || f.CreateFailures > 0:
		return "error"
	case f.Live < f.Desired:
		return "converging"
	}
	return "ok"
}

// Status returns a copy of the daemon's status.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	s := d.status
	d.mu.Unlock()
	s.Running = d.run.Load()
	s.Ready = d.ready.Load()
	s.Fleets = slices.Clone(s.Fleets)
	s.Held = slices.Clone(s.Held)
	s.HA = d.haStatus()
	s.Approvals = d.approvalStatus()
	return s
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

// fleetStatuses summarizes a plan and its result per fleet.
func fleetStatuses(p *reconcile.Plan, res *reconcile.Result) []FleetStatus {
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
			Pending: fp.Pending, Failed: fp.Failed, Expected: fp.Expected, Creates: len(fp.Creates), Surplus: len(fp.Surplus)}
		if fp.Error != nil {
			fs.Error = fp.Error.Message
		}
		for _, fr := range results[fp.Fleet] {
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
