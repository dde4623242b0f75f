package daemon

// A revision is adopted as the last good one only once its copy is saved
// (lastgood.go), so that a restart under an invalid head reconciles what
// /status called the last good revision, and nothing is applied from a
// revision before that. A push's fast path need not wait for the copy to
// observe, though: its filtered DescribeInstances calls run while the copy
// is written, and it waits for the copy before it sends a create
// (docs/design.md section 8.5).

// adoption is a loaded revision on its way to becoming the last good one.
type adoption struct {
	ev   *loadEvent
	prev Revision   // the revision current before this one
	good *goodState // the revision and its fleets
	// saving gives the result of saving the copy when it is written
	// meanwhile; nil once settled.
	saving chan error
}

// adopt makes a's revision the last good one if its copy was saved
// (saveErr nil); else the revision before stays current and the next cycle
// loads it again and tries again. It reports whether a was adopted.
func (d *Daemon) adopt(a *adoption, saveErr error) bool {
	if saveErr != nil {
		a.ev.saveErr = saveErr
		d.current = a.prev
		return false
	}
	d.good = a.good
	return true
}

// pending is the revision a cycle plans a push's fast path from: the one
// whose copy is being saved, else the last good one.
func (o *outcome) pending(d *Daemon) *goodState {
	if o.adopting != nil {
		return o.adopting.good
	}
	return d.good
}

// settle waits for the copy of the revision the cycle is adopting, if any,
// and adopts it if the copy was saved. It reports whether the revision
// pending(d) named is now the last good one. Every cycle settles before it
// plans in full, and before it ends.
func (d *Daemon) settle(o *outcome) bool {
	a := o.adopting
	if a == nil {
		return true
	}
	o.adopting = nil
	return d.adopt(a, <-a.saving)
}
