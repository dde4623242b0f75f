package daemon

import (
	"errors"
	"strings"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/spec"
)

// A revision that the source refused (its signature does not verify) is
// reported exactly like an invalid one (cycle.go, outcome.go): the log,
// /status (the invalid revision, with the refusal as its problem),
// lightkeeper_invalid_revision and
// lightkeeper_revision_loads_total{result="invalid"}. Nothing of it is
// loaded or saved; the last good revision keeps being reconciled.

// refusalProblem is the problem of a refused revision, placed at the
// object refused: `commit 0123456789ab: not signed (hint)`.
func refusalProblem(rev Revision) *spec.Error {
	var ve *gitsync.VerifyError
	if errors.As(rev.Refused, &ve) {
		return &spec.Error{File: ve.Object, Message: strings.TrimPrefix(ve.Error(), ve.Object+": ")}
	}
	return &spec.Error{File: "revision " + rev.Short(), Message: rev.Refused.Error()}
}
