package daemon

import (
	"github.com/lightkeeper/lightkeeper/internal/prom"

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
	suspended *prom.Gauge

	planRenewals *prom.GaugeVec
	renewals     *prom.CounterVec
}

func newLifecycleMetrics() *lifecycleMetrics {
	return &lifecycleMetrics{
		suspended: prom.NewGauge("lightkeeper_fleets_suspended",
			"Fleets with spec.suspend: true in the last plan: observed and planned, nothing done."),
		planRenewals: prom.NewGaugeVec("lightkeeper_plan_renewals",
			"Renewals in the last plan (fleets with charge.renewBefore): what=count, or what=spend, their cost in the price's currency.",
			"what"),
		renewals: prom.NewCounterVec("lightkeeper_renewals_total",
			"Renewals of apply, by result: renewed (the service accepted it), failed (refused or deferred), ambiguous (outcome unknown, confirmed through ExpiredTime next cycle, never sent twice).",
			"result"),
	}
}

func (lm *lifecycleMetrics) collectors() []prom.Collector {
	for _, r := range []string{"renewed", "failed", "ambiguous"} {
		lm.renewals.WithLabelValues(r)
	}
	return []prom.Collector{lm.suspended, lm.planRenewals, lm.renewals}
}

// observeResult counts an apply's renewals.
func (lm *lifecycleMetrics) observeResult(r *reconcile.Result) {
	lm.renewals.WithLabelValues("renewed").Add(float64(r.Renewed))
	lm.renewals.WithLabelValues("failed").Add(float64(r.RenewFailed))
	lm.renewals.WithLabelValues("ambiguous").Add(float64(r.RenewAmbiguous))
}

// observe sets the gauges from a plan (the per-fleet ones are
// fleetMetrics').
func (lm *lifecycleMetrics) observe(p *reconcile.Plan) {
	suspended := 0
	for _, fp := range p.Fleets {
		if fp.Suspended {
			suspended++
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
