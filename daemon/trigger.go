package daemon

import "sync"

// Triggers: what starts a cycle. Each name is the same in Run.Trigger
// (/status and the page) and in the source label of
// lightkeeper_triggers_total.
const (
	// TriggerStart is the first cycle after Run starts.
	TriggerStart = "start"
	// TriggerInterval is a cycle after Options.Interval.
	TriggerInterval = "interval"
	// TriggerRetry is a cycle after a failed one, with backoff.
	TriggerRetry = "retry"
	// TriggerWebhook is a cycle asked for by Trigger (the git webhook).
	TriggerWebhook = "webhook"
	// TriggerWatch is a cycle for a change a Watcher source reported.
	TriggerWatch = "watch"
	// TriggerElected is the first cycle of a term as leader.
	TriggerElected = "elected"
	// TriggerForwarded is a cycle a follower asked of this leader.
	TriggerForwarded = "forwarded"
)

// asked is a pending cycle that a trigger asked for, and the trigger's
// name. Triggers that come while one is pending are coalesced into it,
// and the cycle is named for the first of them (each one is counted in
// the metrics as it comes).
type asked struct {
	ch   chan struct{} // buffered 1: a cycle is pending
	mu   sync.Mutex
	name string // the first trigger since the last take
}

func newAsked() *asked { return &asked{ch: make(chan struct{}, 1)} }

// ask asks for a cycle for trigger name. It never blocks.
func (a *asked) ask(name string) {
	a.mu.Lock()
	if a.name == "" {
		a.name = name
	}
	a.mu.Unlock()
	select {
	case a.ch <- struct{}{}:
	default:
	}
}

// take returns the name of the trigger that asked, after a value was
// received from ch, and forgets it; def if none is known.
func (a *asked) take(def string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := a.name
	a.name = ""
	if name == "" {
		return def
	}
	return name
}

// countTrigger counts a trigger in lightkeeper_triggers_total.
func (d *Daemon) countTrigger(name string) { d.m.triggers.WithLabelValues(name).Inc() }
