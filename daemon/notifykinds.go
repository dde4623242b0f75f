package daemon

// This file holds the kinds of the notifications (notify.Event.Kind);
// events.go holds the timeline of Status.Events, another thing.

// The kinds of notification events (notify.Event.Kind), as the sinks'
// events lists name them. docs/daemon.md ("Events") says what each carries.
const (
	// EventRevisionApplied: an apply changed something (created,
	// isolated; the money it adds).
	EventRevisionApplied = "revision.applied"
	// EventRevisionInvalid: the newest revision does not load; the last
	// good one is reconciled meanwhile. A condition.
	EventRevisionInvalid = "revision.invalid"
	// EventRevisionUnsigned: the newest revision is refused by
	// repository.verify. A condition.
	EventRevisionUnsigned = "revision.unsigned"
	// EventPlanHeld: the plan exceeds a limit and is not applied; the
	// event names its ID and how to approve it. A condition.
	EventPlanHeld = "plan.held"
	// EventPlanApproved: a person approved a held plan (who, which).
	EventPlanApproved = "plan.approved"
	// EventCreateFailed: creates of a fleet failed in the last apply. A
	// condition, per fleet.
	EventCreateFailed = "create.failed"
	// EventUpdateFailed: an in-place update of a fleet failed (rollouts,
	// when they land). A condition, per fleet.
	EventUpdateFailed = "update.failed"
	// EventRenewFailed: a renewal of a fleet's instances failed (renewals,
	// when they land). A condition, per fleet.
	EventRenewFailed = "renew.failed"
	// EventFleetFailing: a fleet cannot be reconciled (its plan has an
	// error) or its launches keep failing. A condition, per fleet.
	EventFleetFailing = "fleet.failing"
	// EventFleetNotConverged: a fleet has had fewer live instances than
	// its count for Options.NotConvergedCycles cycles in a row. A
	// condition, per fleet.
	EventFleetNotConverged = "fleet.not-converged"
	// EventRolloutPaused: a fleet's rollout stopped and waits for a
	// person (rollouts, when they land). A condition, per fleet.
	EventRolloutPaused = "rollout.paused"
	// EventInstanceExpiring: a live instance expires within the expiry
	// warning and is not renewed automatically. A condition, per instance.
	EventInstanceExpiring = "instance.expiring"
	// EventLeadershipGained and EventLeadershipLost: this daemon became
	// the leader of its election, or stopped being it.
	EventLeadershipGained = "leadership.gained"
	EventLeadershipLost   = "leadership.lost"
)

// EventKinds lists every event kind, in the order the documentation and
// the configuration schema list them.
var EventKinds = []string{EventRevisionApplied, EventRevisionInvalid, EventRevisionUnsigned, EventPlanHeld, EventPlanApproved,
	EventCreateFailed, EventUpdateFailed, EventRenewFailed, EventFleetFailing, EventFleetNotConverged, EventRolloutPaused,
	EventInstanceExpiring, EventLeadershipGained, EventLeadershipLost}

// conditionKinds are the kinds that are conditions: sent while they hold
// and resolved when they clear. The others are one-off events.
var conditionKinds = map[string]bool{EventRevisionInvalid: true, EventRevisionUnsigned: true, EventPlanHeld: true,
	EventCreateFailed: true, EventUpdateFailed: true, EventRenewFailed: true, EventFleetFailing: true,
	EventFleetNotConverged: true, EventRolloutPaused: true, EventInstanceExpiring: true}
