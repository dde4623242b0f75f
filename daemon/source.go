package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Source yields the revision of the fleet repository that the daemon
// should reconcile. gitsync's sources satisfy it through a small adapter in
// cmd; DirSource is one for a plain directory.
type Source interface {
	// Sync brings the source up to date and returns its current revision.
	// On error the daemon keeps the revision it has.
	Sync(ctx context.Context) (Revision, error)
}

// Watcher is a Source that can tell when it changed (fsnotify on a local
// repository's refs). The daemon starts a sync on each value received; the
// channel is closed when ctx ends.
type Watcher interface {
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// Revision is one version of the fleet repository.
type Revision struct {
	// ID names the revision: a commit hash, or a content hash for a
	// directory. The daemon loads the fleets again only when it changes.
	ID string
	// FS holds the files of the revision, rooted at the repository (the
	// daemon applies Options.Path and Options.Exclude). It must stay
	// readable until the next Sync.
	FS fs.FS
	// Time is when the revision was made (the commit time), if known.
	Time time.Time
	// Subject is the first line of the commit message, if any.
	Subject string
	// SignedBy names the trusted key that signed the revision, when the
	// source verifies signatures (gitsync.Revision.SignedBy).
	SignedBy string
	// Refused, when set, is why the source refuses the revision (its
	// signature does not verify, a *gitsync.VerifyError); FS is nil then.
	// The daemon reports it like an invalid revision and keeps
	// reconciling the last good one.
	Refused error
}

// Short returns the first 12 characters of the ID, for logs and pages.
func (r Revision) Short() string {
	if len(r.ID) > 12 {
		return r.ID[:12]
	}
	return r.ID
}

// DirSource is a Source that reads a plain directory of this host. The ID
// of a revision is a SHA-256 over the paths and contents of its regular
// files (directories and files starting with '.' are skipped, like a
// fleet walk does), so an edit is a new revision and a rewrite of the same
// bytes is not. It is meant for tests, demos and hosts that get their
// fleets by other means than git.
type DirSource struct {
	// Dir is the directory.
	Dir string
}

// Sync hashes the directory and returns it as a revision. The FS reads
// the live directory, so a file edited between Sync and the load is read
// as it is then; a git source has no such race.
func (s DirSource) Sync(ctx context.Context) (Revision, error) {
	fsys := os.DirFS(s.Dir)
	h := sha256.New()
	var newest time.Time
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00%d\x00", p, info.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return Revision{}, fmt.Errorf("read %s: %w", s.Dir, err)
	}
	return Revision{ID: "dir-" + hex.EncodeToString(h.Sum(nil))[:40], FS: fsys, Time: newest}, nil
}
