package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// This file holds what the daemon shows of its fleets' lives: suspended and
// failing fleets, slots that wait, and expiries, in /status, on the page
// and in the metrics.

// lifecycleStatus fills in a fleet's suspension, failures, waits and next
// expiry from its plan.
func lifecycleStatus(fs *FleetStatus, fp *reconcile.FleetPlan) {
	fs.Suspended, fs.Failing, fs.LaunchFailures = fp.Suspended, fp.Failing && fp.Error == nil, fp.LaunchFailures
	fs.NextExpiry, fs.NextExpiring = fp.NextExpiry, fp.NextExpiring
	for _, w := range fp.Waiting {
		fs.Waiting = append(fs.Waiting, w.Text())
	}
	for _, bo := range fp.Backoff {
		fs.Waiting = append(fs.Waiting, bo.Text())
	}
}

// lifecycleMetrics are the collectors of fleets' lives.
type lifecycleMetrics struct {
	failing    *prometheus.GaugeVec
	suspended  prometheus.Gauge
	nextExpiry *prometheus.GaugeVec
	backoff    *prometheus.GaugeVec
}

func newLifecycleMetrics() *lifecycleMetrics {
	return &lifecycleMetrics{
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_failing",
			Help: "1 while a slot of the fleet has had 3 or more launches in a row end in LAUNCH_FAILED (the cycle is then not a success), else 0.",
		}, []string{"fleet"}),
		suspended: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lightkeeper_fleets_suspended",
			Help: "Fleets with spec.suspend: true in the last plan: observed and planned, nothing done.",
		}),
		nextExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_next_expiry_timestamp_seconds",
			Help: "Unix time of the earliest ExpiredTime of the fleet's live instances (no series while none is known). One series per fleet: alert on it minus time().",
		}, []string{"fleet"}),
		backoff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_fleet_backoff_slots",
			Help: "Empty slots of the fleet not created in the last plan because their launches failed and their backoff is not over.",
		}, []string{"fleet"}),
	}
}

func (lm *lifecycleMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{lm.failing, lm.suspended, lm.nextExpiry, lm.backoff}
}

// observe sets the gauges from a plan; gone is the fleets no longer in it,
// whose series are deleted.
func (lm *lifecycleMetrics) observe(p *reconcile.Plan, gone []string) {
	for _, name := range gone {
		for _, v := range []*prometheus.GaugeVec{lm.failing, lm.nextExpiry, lm.backoff} {
			v.DeleteLabelValues(name)
		}
	}
	suspended := 0
	for _, fp := range p.Fleets {
		if fp.Suspended {
			suspended++
		}
		lm.failing.WithLabelValues(fp.Fleet).Set(b2f(fp.Failing && fp.Error == nil))
		lm.backoff.WithLabelValues(fp.Fleet).Set(float64(len(fp.Backoff)))
		if fp.NextExpiry.IsZero() {
			lm.nextExpiry.DeleteLabelValues(fp.Fleet)
		} else {
			lm.nextExpiry.WithLabelValues(fp.Fleet).Set(float64(fp.NextExpiry.Unix()))
		}
	}
	lm.suspended.Set(float64(suspended))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
