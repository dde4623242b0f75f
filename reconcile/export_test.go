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
