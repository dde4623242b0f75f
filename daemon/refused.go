package daemon

import (
	"errors"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/spec"
)

// refuse reports a revision that the source refused (its signature does
// not verify) exactly like an invalid one: the log, /status (the invalid
// revision, with the refusal as its problem), lightkeeper_invalid_revision
// and lightkeeper_revision_loads_total{result="invalid"}. Nothing of it is
// loaded or saved; the last good revision keeps being reconciled.
func (d *Daemon) refuse(rev Revision, now time.Time, errs *[]string) {
	problem := refusalProblem(rev)
	d.setInvalid(rev, now, []*spec.Error{problem}, errs)
	log := d.log.With("revision", rev.Short(), "problem", problem.Error())
	if d.good != nil {
		log = log.With("reconciling", d.good.rev.Short())
	}
	log.Error("revision refused: its signature does not verify")
}

// refusalProblem is the problem of a refused revision, placed at the
// object refused: `commit 0123456789ab: not signed (hint)`.
func refusalProblem(rev Revision) *spec.Error {
	var ve *gitsync.VerifyError
	if errors.As(rev.Refused, &ve) {
		return &spec.Error{File: ve.Object, Message: strings.TrimPrefix(ve.Error(), ve.Object+": ")}
	}
	return &spec.Error{File: "revision " + rev.Short(), Message: rev.Refused.Error()}
}
