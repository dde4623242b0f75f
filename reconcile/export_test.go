package reconcile

import "context"

// Test-only names for the external tests (package reconcile_test), which
// may import reconciletest where this package's own tests may not.

// OpCall is opCall.
type OpCall = opCall

// OpOutcome is opOutcome.
type OpOutcome = opOutcome

// Operate is operate.
func (r *Reconciler) Operate(ctx context.Context, region string, calls []OpCall) []OpOutcome {
	return r.operate(ctx, region, calls)
}

// FocusAtAnyCost lifts PlanFocused's bound on the calls of a filtered view,
// so that the chaos suite's small accounts take the fast path.
func (r *Reconciler) FocusAtAnyCost() { r.anyFocusCost = true }
