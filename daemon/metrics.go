package daemon

import (
	"context"
	"iter"
	"strconv"
	"strings"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// maxScrapesInFlight is how many /metrics requests are served at once;
// more are answered 503 (prom.Registry.Handler). One Prometheus scrapes
// one at a time, two for a pair kept for HA; a scrape of 1,000 fleets
// holds about 0.4 MB until it is written, so the bound keeps slow or
// many readers from holding more than a few MB.
const maxScrapesInFlight = 4

// Result labels of lightkeeper_reconcile_runs_total.
const (
	// ResultSuccess: the plan was made and applied with no failure.
	ResultSuccess = "success"
	// ResultPartial: the cycle ran, but a fleet failed or a create did not
	// succeed; the other fleets were reconciled.
	ResultPartial = "partial"
	// ResultHeld: the plan exceeds a guard and was not applied.
	ResultHeld = "held"
	// ResultError: nothing could be reconciled (no good revision, the
	// sync failed before any revision was had, or no plan could be made).
	ResultError = "error"
	// ResultCanceled: the daemon was stopped during the cycle.
	ResultCanceled = "canceled"
)

// metrics are the daemon's Prometheus collectors, under Prometheus naming
// conventions: a lightkeeper_ prefix, base units, _total for counters.
type metrics struct {
	duration       *prom.Histogram
	runs           *prom.CounterVec
	fleets         *fleetMetrics // metrics_fleets.go
	creates        *prom.CounterVec
	isolates       *prom.CounterVec
	updates        *prom.CounterVec
	apiCalls       *prom.CounterVec
	fetches        *prom.CounterVec
	revision       *prom.GaugeVec
	lastSuccess    *prom.Gauge
	invalid        *prom.Gauge
	held           *prom.Gauge
	planCreates    *prom.Gauge
	planSpend      *prom.Gauge
	ready          *prom.Gauge
	triggers       *prom.CounterVec
	revisionLoads  *prom.CounterVec
	stateSaveFails *prom.Counter
	webhooks       *prom.CounterVec
	notifications  *prom.CounterVec
	interval       *prom.Gauge
	approvals      *prom.CounterVec

	life *lifecycleMetrics // lifecycle.go
	fast *fastMetrics      // fastpath.go
}

func newMetrics(reg *prom.Registry) (*metrics, error) {
	m := &metrics{
		duration: prom.NewHistogram("lightkeeper_reconcile_duration_seconds",
			"Time one reconcile cycle took: sync, load, observe, plan and apply.",
			[]float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}),
		runs: prom.NewCounterVec("lightkeeper_reconcile_runs_total",
			"Reconcile cycles by result: success, partial (some fleet or create failed), held (over a limit), error, canceled, follower (synced only: another daemon leads).",
			"result"),
		fleets: newFleetMetrics(),
		creates: prom.NewCounterVec("lightkeeper_creates_total",
			"Creates of apply, by result: created, waiting (the token returned an instance DescribeInstances does not list: deleted by hand or not listed yet), ambiguous (outcome unknown, re-sent with the same token), failed, deferred (not sent: the daemon was stopping or lost the leadership).",
			"result"),
		isolates: prom.NewCounterVec("lightkeeper_isolates_total",
			"Isolations sent by apply, by result: isolated, failed.",
			"result"),
		updates: prom.NewCounterVec("lightkeeper_updates_total",
			"Updates of rollouts by action (renew-flag, modify-bundle, reset, replace, isolate-replaced) and result: sent, created (a replacement), unknown (the answer was lost; judged before anything is sent again), refused, failed, not-sent, running, waiting, done.",
			"action", "result"),
		apiCalls: prom.NewCounterVec("lightkeeper_api_calls_total",
			"Lighthouse API calls by action and error code (\"\" for success; one count per Instances listing).",
			"action", "code"),
		fetches: prom.NewCounterVec("lightkeeper_git_fetches_total",
			"Syncs of the fleet repository by result: success, error.",
			"result"),
		revision: prom.NewGaugeVec("lightkeeper_revision_info",
			"1 for the revision last synced; last_good is \"true\" when it is the one being reconciled.",
			"revision", "last_good"),
		lastSuccess: prom.NewGauge("lightkeeper_last_success_timestamp_seconds",
			"Unix time of the end of the last reconcile cycle whose result was success."),
		invalid: prom.NewGauge("lightkeeper_invalid_revision",
			"1 while the newest revision is invalid and the last good one is reconciled instead."),
		held: prom.NewGauge("lightkeeper_plan_held",
			"1 while the last plan exceeds a safety limit and is held, not applied."),
		planCreates: prom.NewGauge("lightkeeper_plan_creates",
			"Creates in the last plan."),
		planSpend: prom.NewGauge("lightkeeper_plan_monthly_spend",
			"Monthly spend the creates of the last plan add, in the price's currency."),
		ready: prom.NewGauge("lightkeeper_ready",
			"1 once the first sync and observe succeeded (what /readyz reports)."),
		triggers: prom.NewCounterVec("lightkeeper_triggers_total",
			"Starts of a reconcile cycle asked for, by source: start, interval, retry (after a failed cycle), webhook (any Trigger call), watch (a change the source reported), elected (this daemon became the leader), forwarded (a follower passed a webhook on). Requests during a cycle coalesce into one.",
			"source"),
		revisionLoads: prom.NewCounterVec("lightkeeper_revision_loads_total",
			"Fleet specs loaded from a new revision, by result: valid, invalid.",
			"result"),
		stateSaveFails: prom.NewCounter("lightkeeper_state_save_errors_total",
			"Failed writes of the state file."),
		webhooks: prom.NewCounterVec("lightkeeper_webhook_requests_total",
			"Requests to POST /hooks/git by result (accepted, ignored, refused) and reason.",
			"result", "reason"),
		interval: prom.NewGauge("lightkeeper_reconcile_interval_seconds",
			"The time between cycles (repository.interval), for alerts that count cycles missed."),
		notifications: prom.NewCounterVec("lightkeeper_notifications_total",
			"Notifications by sink and result: sent, retried (an attempt failed; tried again), failed (refused, or every attempt failed), dropped (the queue was full, or the grace period at shutdown ended).",
			"sink", "result"),
		approvals: prom.NewCounterVec("lightkeeper_approvals_total",
			"Approvals of held plans (POST /approve, and those a follower passed on) by result: accepted, forwarded (to the leader), unauthorized (wrong or missing token), invalid (no plan ID), stale (not the plan held), replayed (approved already).",
			"result"),
	}
	for _, c := range []prom.Collector{m.interval, m.notifications, m.approvals, m.duration, m.runs, m.fleets, m.creates, m.isolates, m.updates, m.apiCalls, m.fetches,
		m.revision, m.lastSuccess, m.invalid, m.held, m.planCreates, m.planSpend, m.ready, m.triggers, m.revisionLoads, m.stateSaveFails, m.webhooks} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.life, m.fast = newLifecycleMetrics(), newFastMetrics()
	for _, c := range append(m.life.collectors(), m.fast.collectors()...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Counters that are read as rates start at 0 for every known label.
	for _, r := range []string{ResultSuccess, ResultPartial, ResultHeld, ResultError, ResultCanceled, ResultFollower} {
		m.runs.WithLabelValues(r)
	}
	for _, r := range []string{"created", "waiting", "ambiguous", "failed", "deferred"} {
		m.creates.WithLabelValues(r)
	}
	for _, r := range []string{"success", "error"} {
		m.fetches.WithLabelValues(r)
	}
	for _, a := range []string{reconcile.UpdateModifyBundle, reconcile.UpdateReset} {
		for _, r := range []string{reconcile.OutcomeSent, reconcile.OutcomeUnknown, reconcile.OutcomeRefused} {
			m.updates.WithLabelValues(a, r)
		}
	}
	for _, r := range approvalResults {
		m.approvals.WithLabelValues(r)
	}
	for _, t := range []string{TriggerStart, TriggerInterval, TriggerRetry, TriggerWebhook, TriggerWatch, TriggerElected, TriggerForwarded, TriggerApproved} {
		m.triggers.WithLabelValues(t)
	}
	return m, nil
}

// observePlan sets the per-fleet series from p and observed (the plan p,
// or the fleets listed again after its apply; fleetMetrics.observe) and
// the plan's gauges from p; fleets gone from the plan lose their series.
func (m *metrics) observePlan(p, observed *reconcile.Plan) {
	m.fleets.observe(p, observed)
	m.life.observe(p)
	m.planCreates.Set(float64(p.Totals.Creates))
	m.planSpend.Set(p.Totals.Money.Monthly)
}

// observeResult counts what an apply did.
func (m *metrics) observeResult(r *reconcile.Result) {
	failed, deferred, isolateFailed := r.Failed, 0, 0
	for _, fr := range r.Fleets {
		for _, f := range fr.Failures {
			switch {
			case f.Action != "":
				// A rollout's: lightkeeper_updates_total counts it.
			case f.InstanceID != "":
				isolateFailed++
			case f.Code == CodeShuttingDown, f.Code == lighthouse.CodeFenced:
				deferred++
			}
		}
	}
	m.creates.WithLabelValues("created").Add(float64(r.Created))
	m.creates.WithLabelValues("waiting").Add(float64(r.Waiting))
	m.life.observeResult(r)
	m.creates.WithLabelValues("ambiguous").Add(float64(r.Ambiguous))
	m.creates.WithLabelValues("failed").Add(float64(failed - deferred))
	m.creates.WithLabelValues("deferred").Add(float64(deferred))
	m.isolates.WithLabelValues("isolated").Add(float64(r.Isolated))
	m.isolates.WithLabelValues("failed").Add(float64(isolateFailed))
	for _, fr := range r.Fleets {
		for _, u := range fr.Updates {
			m.updates.WithLabelValues(u.Action, strings.ReplaceAll(u.Outcome, " ", "-")).Inc()
		}
		for _, c := range fr.Created {
			if strings.HasPrefix(c.ClientToken, reconcile.ReplacementTokenPrefix) {
				m.updates.WithLabelValues(reconcile.UpdateReplace, "created").Inc()
			}
		}
	}
}

// setRevision makes rev the one revision_info series.
func (m *metrics) setRevision(rev string, lastGood bool) {
	m.revision.Reset()
	m.revision.WithLabelValues(rev, strconv.FormatBool(lastGood)).Set(1)
}

// countingCloud is a reconcile.Cloud that counts each call by action and
// error code, and marks each call's end as a sign of the loop's progress.
type countingCloud struct {
	reconcile.Cloud
	calls *prom.CounterVec
	// touch, if set, is called after each call.
	touch func()
}

var _ reconcile.Cloud = (*countingCloud)(nil)

func (c *countingCloud) count(action string, err error) {
	if c.touch != nil {
		c.touch()
	}
	code := ""
	if err != nil {
		code = lighthouse.ErrorCode(err)
		if code == "" {
			code = "ClientError"
		}
	}
	c.calls.WithLabelValues(action, code).Inc()
}

// Instances counts one call per listing (the client pages inside it).
func (c *countingCloud) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		var failed error
		for in, err := range c.Cloud.Instances(ctx, region, req) {
			if err != nil {
				failed = err
			}
			if !yield(in, err) {
				break
			}
		}
		c.count(lighthouse.ActionDescribeInstances, failed)
	}
}

// CreateInstances counts a create.
func (c *countingCloud) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	resp, err := c.Cloud.CreateInstances(ctx, region, req)
	c.count(lighthouse.ActionCreateInstances, err)
	return resp, err
}

// InquirePriceCreateInstances counts a price inquiry.
func (c *countingCloud) InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	resp, err := c.Cloud.InquirePriceCreateInstances(ctx, region, req)
	c.count(lighthouse.ActionInquirePriceCreateInstances, err)
	return resp, err
}

// IsolateInstances counts an isolation.
func (c *countingCloud) IsolateInstances(ctx context.Context, region string, req *lighthouse.IsolateInstancesRequest) (*lighthouse.IsolateInstancesResponse, error) {
	resp, err := c.Cloud.IsolateInstances(ctx, region, req)
	c.count(lighthouse.ActionIsolateInstances, err)
	return resp, err
}
