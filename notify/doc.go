// Package notify delivers events to where operators already look: a
// signed generic webhook, a Slack incoming webhook and Prometheus
// Alertmanager. It knows nothing of fleets being reconciled: a caller
// (the daemon) turns what it saw into Events, each with a kind, a
// severity, the fleets, the revision, a line a person reads at a glance and
// a stable key.
//
// A Notifier sends two sorts of events. One-off facts (a revision applied,
// a leadership gained) go out once with Notify. Conditions (a plan held, a
// revision invalid) are reported with Conditions, the whole set that holds
// in one scope at a time: a condition is sent when it starts or changes
// (its Fingerprint), again after the sink's repeat interval while it holds,
// and once more, resolved, when a later call no longer lists it.
//
// Delivery never blocks the caller: each sink has its own bounded queue and
// worker; a full queue drops its oldest event (counted), a failed attempt
// is retried with exponential backoff and jitter, a sink that refuses an
// event (a 4xx but 408 and 429) is not asked again for it. Close gives what
// is queued a short grace period, then drops the rest. Observe counts every
// outcome by sink and result (sent, retried, failed, dropped).
//
// No secret leaves a sink: the webhook secret only signs, a URL (a Slack
// webhook's is a credential) is never in an error or a log line, only the
// sink's name is.
package notify
