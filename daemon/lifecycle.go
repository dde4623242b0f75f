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
	for _, rn := range fp.Renewals {
		if rn.Verdict == reconcile.RenewSend {
			fs.Renewals++
		} else {
			fs.Waiting = append(fs.Waiting, rn.Text())
		}
	}
}

// lifecycleResult fills in what an apply did of a fleet's renewals.
func lifecycleResult(fs *FleetStatus, fr *reconcile.FleetResult) {
	fs.Renewed = len(fr.Renewed)
	fs.RenewFailures = len(fr.RenewFailures)
	for _, f := range fr.RenewFailures {
		fs.Waiting = append(fs.Waiting, f.Message)
	}
}

// lifecycleMetrics are the collectors of fleets' lives.
type lifecycleMetrics struct {
	failing    *prometheus.GaugeVec
	suspended  prometheus.Gauge
	nextExpiry *prometheus.GaugeVec
	backoff    *prometheus.GaugeVec

	planRenewals *prometheus.GaugeVec
	renewals     *prometheus.CounterVec
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
		planRenewals: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lightkeeper_plan_renewals",
			Help: "Renewals in the last plan (fleets with charge.renewBefore): what=count, or what=spend, their cost in the price's currency.",
		}, []string{"what"}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lightkeeper_renewals_total",
			Help: "Renewals of apply, by result: renewed (the service accepted it), failed (refused or deferred), ambiguous (outcome unknown, confirmed through ExpiredTime next cycle, never sent twice).",
		}, []string{"result"}),
	}
}

func (lm *lifecycleMetrics) collectors() []prometheus.Collector {
	for _, r := range []string{"renewed", "failed", "ambiguous"} {
		lm.renewals.WithLabelValues(r)
	}
	return []prometheus.Collector{lm.failing, lm.suspended, lm.nextExpiry, lm.backoff, lm.planRenewals, lm.renewals}
}

// observeResult counts an apply's renewals.
func (lm *lifecycleMetrics) observeResult(r *reconcile.Result) {
	lm.renewals.WithLabelValues("renewed").Add(float64(r.Renewed))
	lm.renewals.WithLabelValues("failed").Add(float64(r.RenewFailed))
	lm.renewals.WithLabelValues("ambiguous").Add(float64(r.RenewAmbiguous))
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
	lm.planRenewals.WithLabelValues("count").Set(float64(p.Totals.Renewals))
	lm.planRenewals.WithLabelValues("spend").Set(p.Totals.RenewalSpend.Commitment)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
