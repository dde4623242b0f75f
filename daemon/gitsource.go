package daemon

import (
	"context"
	"errors"

	"github.com/lightkeeper/lightkeeper/gitsync"
)

// GitSource adapts a gitsync.Source to a Source: a revision is a commit,
// named by its hash. If src is a gitsync.Watcher (a local repository), so
// is the result, and each change of its refs starts a cycle.
func GitSource(src gitsync.Source) Source {
	g := gitSource{src: src}
	if w, ok := src.(gitsync.Watcher); ok {
		return gitWatchSource{gitSource: g, w: w}
	}
	return g
}

type gitSource struct{ src gitsync.Source }

// Sync syncs the repository and returns its current commit. A commit that
// gitsync refuses because its signature does not verify is returned as a
// Revision with Refused set and no files.
func (g gitSource) Sync(ctx context.Context) (Revision, error) {
	rev, _, err := g.src.Sync(ctx)
	var ve *gitsync.VerifyError
	if errors.As(err, &ve) {
		return Revision{ID: ve.Commit, Time: ve.Time, Subject: ve.Subject, Refused: ve}, nil
	}
	if err != nil {
		return Revision{}, err
	}
	return Revision{ID: rev.Commit, FS: rev.FS, Time: rev.Time, Subject: rev.Subject, SignedBy: rev.SignedBy}, nil
}

type gitWatchSource struct {
	gitSource
	w gitsync.Watcher
}

// Watch reports changes of the repository's refs.
func (g gitWatchSource) Watch(ctx context.Context) (<-chan struct{}, error) { return g.w.Watch(ctx) }

var (
	_ Source  = gitSource{}
	_ Watcher = gitWatchSource{}
)
