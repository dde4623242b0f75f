package daemon

// Collector paces the Go runtime's garbage collector around the daemon's
// cycles (docs/design.md section 8.7). A push waits for every collection
// that runs between its arrival and its first create: on two cores
// following 10,000 instances, one takes 10–20 ms of that path. So the
// cycle that ends collects its own garbage at once, rather than leaving it
// to the first allocation of the next cycle, a push perhaps; and a push's
// cycle holds collections back until its first creates are sent, or until
// it knows it takes no fast path. The full sweep that follows runs as
// every cycle does.
//
// The command's Collector works through runtime/debug
// (cmd/lightkeeper/daemon_memory.go); none (nil), as for daemons that tests
// run in their own process, changes nothing.
type Collector interface {
	// Hold holds collections back until release is called: a push's
	// cycle has started.
	Hold() (release func())
	// Collect runs a collection and returns when it is done: a cycle has
	// ended.
	Collect()
}

// hold holds the collector back for a push's cycle, until unhold.
func (d *Daemon) hold(o *outcome) {
	if c := d.opts.Collector; c != nil && pushTrigger(o.run.Trigger) {
		o.release = c.Hold()
	}
}

// unhold ends the hold of o's cycle on the collector, if any, once.
func (o *outcome) unhold() {
	if o.release != nil {
		o.release()
		o.release = nil
	}
}

// collect collects a cycle's garbage once it has ended.
func (d *Daemon) collect() {
	if c := d.opts.Collector; c != nil {
		c.Collect()
	}
}
