package daemon

import (
	"net/http"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// FleetDetail is one fleet with its instances, as /status/fleets/NAME
// serves it in JSON and /fleets/NAME shows it.
type FleetDetail struct {
	FleetStatus
	// Observed is when the instances were listed; AfterApply reports that
	// it was after the apply of the last plan (else by the plan itself).
	Observed   time.Time `json:"observed"`
	AfterApply bool      `json:"afterApply,omitempty"`
	// Instances are the fleet's instances as listed then, by slot: those
	// that fill its slots, the surplus and the dead ones (LAUNCH_FAILED,
	// SHUTDOWN, ...). An instance created since is not among them.
	Instances []reconcile.Instance `json:"instances"`
	// Events are the fleet's events in Status.Events, newest first.
	Events []Event `json:"events"`
}

// fleetDetail returns the fleet called name after the last cycle, or
// false when the last plan has no such fleet (or this daemon follows).
func (d *Daemon) fleetDetail(name string) (FleetDetail, Status, bool) {
	s, observed := d.statusObserved()
	i := slices.IndexFunc(s.Fleets, func(f FleetStatus) bool { return f.Name == name })
	if i < 0 || observed == nil {
		return FleetDetail{}, s, false
	}
	ins, err := observed.instances(name)
	if err != nil {
		d.log.Error("cannot show the instances of a fleet", "fleet", name, "err", err)
	}
	fd := FleetDetail{FleetStatus: s.Fleets[i], Observed: s.FleetsObserved, AfterApply: s.FleetsAfterApply,
		Instances: ins, Events: []Event{}}
	if fd.Instances == nil {
		fd.Instances = []reconcile.Instance{}
	}
	for _, e := range s.Events {
		if e.Fleet == name {
			fd.Events = append(fd.Events, e)
		}
	}
	return fd, s, true
}

// fleetNotFound answers for a fleet that the last plan does not have.
func (*Daemon) fleetNotFound(w http.ResponseWriter, s Status, name string) {
	msg := "no fleet " + name + " in the last plan"
	switch {
	case s.HA != nil && !s.HA.Leader:
		msg = "this daemon follows: the leader (" + s.HA.LeaderID + ") lists the fleets' instances"
	case s.Fleets == nil:
		msg = "no plan made yet"
	}
	http.Error(w, msg, http.StatusNotFound)
}

// serveFleet serves the fleet that the request's path names with write,
// or answers 404.
func (d *Daemon) serveFleet(write func(http.ResponseWriter, FleetDetail, Status)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		fd, s, ok := d.fleetDetail(name)
		if !ok {
			d.fleetNotFound(w, s, name)
			return
		}
		write(w, fd, s)
	}
}

// writeFleetJSON writes /status/fleets/NAME.
func writeFleetJSON(w http.ResponseWriter, fd FleetDetail, _ Status) { writeJSON(w, fd) }

// fleetPageData is what the page of one fleet shows.
type fleetPageData struct {
	pageBase
	FleetDetail
	// LastGood is the revision reconciled; Invalid reports that the
	// newest one is invalid (the fleet is as LastGood says).
	LastGood *RevisionInfo
	Invalid  bool
}

// writeFleetPage writes /fleets/NAME.
func (d *Daemon) writeFleetPage(w http.ResponseWriter, fd FleetDetail, s Status) {
	render(w, fleetTmpl, fleetPageData{pageBase: pageBase{State: pageState(s), Now: d.opts.Now(), Refresh: pageRefresh},
		FleetDetail: fd, LastGood: s.LastGood, Invalid: s.Invalid != nil})
}
