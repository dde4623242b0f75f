// Package daemon is lightkeeper's service loop and its HTTP face: it follows
// a Source of fleet revisions (a git repository through gitsync, or a plain
// directory), loads each new revision's fleets, and keeps reconciling them
// with the reconcile engine, one cycle at a time.
//
// A cycle starts on an interval (with jitter), on Trigger (the git
// webhook), or when a Watcher source reports a change; triggers that come
// while a cycle runs are coalesced into one more cycle, and cycles that
// webhooks ask for start at least Options.TriggerGap apart. A cycle that
// fails is retried with exponential backoff.
//
// An invalid revision (schema or semantic errors, names that collide) is
// reported in the log, in /metrics (lightkeeper_invalid_revision) and in
// /status, and the last good revision keeps being reconciled until a valid
// one takes over. A revision that the source refuses because it is not
// signed by a trusted key (Revision.Refused, repository.verify) is reported
// and kept out the same way. The engine isolates fleets, so one fleet's
// failure never blocks the others. Limits apply to each cycle: a plan over a
// limit is held and reported, never applied.
//
// When Run's context ends, no new API call that mutates is started, the
// calls in flight finish (the engine records expectations as it goes), the
// state is saved to the state directory, and Run returns nil.
//
// With Options.Leadership the daemon is one of several on different hosts
// that follow the same fleets: only the leader of the election plans and
// applies; followers sync, report and pass webhooks to the leader, and call
// no Lighthouse API. A leader that loses the election stops starting
// mutating calls at once (the calls in flight finish).
//
// Config is the configuration file of `lightkeeper daemon` (LoadConfig).
// FromConfig builds a Daemon from it, with what a file does not hold
// (Deps: the API credentials, the logger, the election); CheckConfig runs
// the same checks without creating or starting anything, so that a file it
// passes starts.
//
// The HTTP handler serves /healthz, /readyz, /metrics (Prometheus),
// /status (JSON), a status page at /, each fleet's instances at
// /status/fleets/NAME (JSON) and /fleets/NAME (a page) and, when
// Options.Webhook is set, POST /hooks/git. What they show of a cycle comes
// from record (outcome.go), the one place a cycle is reported: the status,
// the metrics, the log and the timeline of events (events.go); trigger
// names are the same in all of them (trigger.go). NewServer serves it with every timeout set and a bound
// on open connections that keeps /healthz answering.
package daemon
