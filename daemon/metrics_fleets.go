package daemon

import (
	"sync"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// fleetMetrics is the collector of the per-fleet series:
// lightkeeper_fleet_instances (six a fleet), lightkeeper_fleet_failing,
// lightkeeper_fleet_backoff_slots and
// lightkeeper_fleet_next_expiry_timestamp_seconds. It keeps a few numbers a
// fleet and makes the series at scrape time, rather than holding a child
// of a GaugeVec for each (with its label pairs, its hash and the map's
// entry: 3.6 MB for 1,000 fleets, docs/benchmarks.md "Idle at scale, issue
// 21"); the exposition is the same as the GaugeVecs' was
// (TestFleetMetricsExpositionAsGaugeVecs).
type fleetMetrics struct {
	mu     sync.Mutex
	fleets map[string]*fleetSeries
}

// fleetSeries is what fleetMetrics keeps of one fleet.
type fleetSeries struct {
	// counts are the values of lightkeeper_fleet_instances, by
	// fleetStates; hasCounts is false until the fleet was observed.
	counts     [6]int
	hasCounts  bool
	failing    bool
	backoff    int
	nextExpiry int64 // Unix seconds, if hasExpiry
	hasExpiry  bool
}

// fleetStates are the state labels of lightkeeper_fleet_instances, in the
// order of fleetSeries.counts.
var fleetStates = [6]string{"desired", "live", "pending", "failed", "expected", "outdated"}

// The per-fleet families and their help.
const (
	fleetInstancesName = "lightkeeper_fleet_instances"
	fleetInstancesHelp = "Instances of a fleet as last listed (after the apply, when the cycle sent anything; else by the plan): desired (spec.count), live (filling slots, pending included), pending, failed (LAUNCH_FAILED), expected (created, not listed yet), outdated (live, differing from the spec)."
	fleetFailingName   = "lightkeeper_fleet_failing"
	fleetFailingHelp   = "1 while a slot of the fleet has had 3 or more launches in a row end in LAUNCH_FAILED (the cycle is then not a success), else 0."
	fleetExpiryName    = "lightkeeper_fleet_next_expiry_timestamp_seconds"
	fleetExpiryHelp    = "Unix time of the earliest ExpiredTime of the fleet's live instances (no series while none is known). One series per fleet: alert on it minus time()."
	fleetBackoffName   = "lightkeeper_fleet_backoff_slots"
	fleetBackoffHelp   = "Empty slots of the fleet not created in the last plan because their launches failed and their backoff is not over."
)

func newFleetMetrics() *fleetMetrics {
	return &fleetMetrics{fleets: map[string]*fleetSeries{}}
}

// Names implements prom.Collector.
func (fm *fleetMetrics) Names() []string {
	return []string{fleetInstancesName, fleetFailingName, fleetExpiryName, fleetBackoffName}
}

// Collect implements prom.Collector: the series of every fleet kept.
func (fm *fleetMetrics) Collect(s *prom.Scrape) {
	instances := s.Family(fleetInstancesName, fleetInstancesHelp, prom.TypeGauge, "fleet", "state")
	failing := s.Family(fleetFailingName, fleetFailingHelp, prom.TypeGauge, "fleet")
	expiry := s.Family(fleetExpiryName, fleetExpiryHelp, prom.TypeGauge, "fleet")
	backoff := s.Family(fleetBackoffName, fleetBackoffHelp, prom.TypeGauge, "fleet")
	fm.mu.Lock()
	defer fm.mu.Unlock()
	n := len(fm.fleets)
	instances.Grow(n * len(fleetStates))
	failing.Grow(n)
	expiry.Grow(n)
	backoff.Grow(n)
	for name, fs := range fm.fleets {
		if fs.hasCounts {
			for i, state := range fleetStates {
				instances.Add(float64(fs.counts[i]), name, state)
			}
		}
		failing.Add(b2f(fs.failing), name)
		backoff.Add(float64(fs.backoff), name)
		if fs.hasExpiry {
			expiry.Add(float64(fs.nextExpiry), name)
		}
	}
}

// observe keeps the series of plan p's fleets: the counts of
// lightkeeper_fleet_instances from observed (p, or the fleets listed again
// after its apply; a fleet of p that observed does not list keeps its
// counts), the rest from p. The fleets gone from p lose their series.
func (fm *fleetMetrics) observe(p, observed *reconcile.Plan) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	now := make(map[string]*fleetSeries, len(p.Fleets))
	for _, fp := range p.Fleets {
		s := fm.fleets[fp.Fleet]
		if s == nil {
			s = &fleetSeries{}
		}
		s.failing = fp.Failing && fp.Error == nil
		s.backoff = len(fp.Backoff)
		s.nextExpiry, s.hasExpiry = fp.NextExpiry.Unix(), !fp.NextExpiry.IsZero()
		now[fp.Fleet] = s
	}
	for _, fp := range observed.Fleets {
		s := now[fp.Fleet]
		if s == nil {
			continue // not in the plan: no series
		}
		s.counts = [6]int{fp.Desired, fp.Live, fp.Pending, fp.Failed, fp.Expected, fp.Outdated}
		s.hasCounts = true
	}
	fm.fleets = now
}
