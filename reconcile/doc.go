// Package reconcile keeps Lighthouse fleets at the size their specs declare:
// observe the instances of each region, diff them against the fleets, plan
// creates (and, where a fleet opts in, isolations), check the plan against
// guards, and apply it with deterministic ClientTokens.
//
// The data flows one way (docs/design.md section 2):
//
//	Observe (one paginated DescribeInstances sweep per region)
//	  -> Diff(fleets, observations, state) = Plan      pure, no I/O
//	  -> Plan.Check(Limits)                            guards
//	  -> Apply                                         CreateInstances, IsolateInstances
//
// # Identity and idempotency
//
// A fleet of count N is N slots 0..N-1. A slot's identity is the instance
// name its fleet's template renders (spec.Fleet.InstanceName); where the
// site takes tags, the lightkeeper-fleet and lightkeeper-slot tags are a
// second witness. Each slot is created by its own CreateInstances call with
// InstanceCount 1 and the ClientToken Token(region, fleet, slot,
// incarnation). The token never depends on time, a commit or randomness, so a
// rerun after a crash, a retry after a lost response and a second runner all
// send the same token for the same slot.
//
// The service documents ClientToken only as a client-chosen string of at most
// 64 ASCII characters that makes a request idempotent; it documents no
// retention window and no answer for a reused token whose instance is gone
// or whose parameters differ. So a token here only makes retries safe; it
// never decides what to create. The incarnation moves on only when the
// instance a token maps to is verifiably dead (seen in LAUNCH_FAILED,
// SHUTDOWN, TERMINATING or DELETING, or never seen for a whole expectation
// window after the service named it), or when the service refuses the token
// (UnsupportedOperation.IdempotentParameterMismatch: it was used with other
// parameters) and the slot then stays empty for a whole expectation window,
// since a refused token proves that a create happened, not that its instance
// is dead. Without any state the
// walk starts at incarnation 0 and replays each dead incarnation's token,
// which returns the dead instance and buys nothing; a State only shortens
// the walk.
//
// An expectation covers the time between a create and the moment its
// instance shows in DescribeInstances: once a create returned an ID, or ended
// in a way that may have bought a server (lost response, timeout, 5xx), the
// slot counts as filled until the instance is seen or the expectation window
// passes, and an ambiguous create is sent again only with its own token.
//
// The exact conditions under which no overshoot is guaranteed are written
// in docs/design.md section 5.6, and what happens outside them in 5.7.
package reconcile
