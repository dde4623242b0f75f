package daemon

import "github.com/lightkeeper/lightkeeper/reconcile"

// configWords name the limits as the configuration file does, so that a
// held plan's violations in /status, on the page and in the log name the
// key to change. The daemon applies no plan over a limit: it holds it until
// the limit or the fleets change.
var configWords = reconcile.Words{
	MaxCreates:      "limits.maxCreatesPerRun",
	MaxMonthlySpend: "limits.maxMonthlySpend",
	MaxIsolates:     "limits.maxIsolatesPerRun",
	MaxRenewalSpend: "limits.maxRenewalSpendPerRun",
	MaxUpdates:      "limits.maxUpdatesPerRun",
}
