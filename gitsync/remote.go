package gitsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/lightkeeper/lightkeeper/schema"
)

// Remote follows a repository over the network (or file://) in a bare
// cache under Options.CacheDir. It is safe for concurrent use; Syncs are
// serialized.
type Remote struct {
	opts Options
	log  *slog.Logger
	dir  string // the bare cache: CacheDir/<hash of URL and ref>.git

	mu      sync.Mutex
	last    Revision      // returned by the last successful Sync
	lastRef plumbing.Hash // the remote ref's hash behind last
	refused refusal       // the last ref hash that Options.Verify refused
	// sizes and read are the blob sizes the last revision's check found
	// and the blobs it read whole (treeFS.known and knownRead), so that
	// the next one reads the header of, and inflates, only the blobs it
	// does not share with the last (those a fetch brought); dropped with
	// the cache. What the two share was checked when it came, and nothing
	// reads it again while the daemon runs (its parse cache and the copy
	// of the last good revision hold what was read of it); a restart
	// checks every header again.
	sizes map[plumbing.Hash]int64
	read  map[plumbing.Hash]bool
	// fs is the last revision's FS (see revision).
	fs *treeFS
	// expect is the commit a push reported, for the next Sync (expect.go).
	expect expected
	// earlyOnLoopback asks early from a remote on this host too (tests).
	earlyOnLoopback bool
}

// refusal remembers a ref hash whose revision Options.Verify refused, so
// that it is not read and checked again at every Sync while the ref stays.
type refusal struct {
	ref plumbing.Hash
	err error
}

// get returns the refusal of h, if h was refused.
func (f refusal) get(h plumbing.Hash) error {
	if f.err != nil && f.ref == h {
		return f.err
	}
	return nil
}

// remember records err as the refusal of h if it is one.
func (f *refusal) remember(h plumbing.Hash, err error, log *slog.Logger) {
	var ve *VerifyError
	if errors.As(err, &ve) {
		*f = refusal{ref: h, err: err}
		log.Warn("revision refused: its signature does not verify", "commit", shortHash(ve.Commit), "err", ve)
	}
}

var _ Source = (*Remote)(nil)

// NewRemote checks opts and returns a Remote. Nothing is fetched until Sync.
func NewRemote(opts Options) (*Remote, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, &Error{Op: "configure", URL: RedactURL(opts.URL), Err: err}
	}
	if o.URL == "" {
		return nil, &Error{Op: "configure", Err: errors.New("no repository URL")}
	}
	if o.CacheDir == "" {
		return nil, &Error{Op: "configure", URL: RedactURL(o.URL), Err: errors.New("no cache directory")}
	}
	if ep, err := transport.NewEndpoint(o.URL); err != nil {
		return nil, &Error{Op: "configure", URL: RedactURL(o.URL), Err: err}
	} else if ep.Password != "" {
		return nil, &Error{Op: "configure", URL: RedactURL(o.URL), Err: ErrCredentials,
			Hint: "the URL holds a password: put it in a file and set repository.auth.tokenFile"}
	}
	sum := sha256.Sum256([]byte(o.URL + "\x00" + o.Ref.name() + fmt.Sprint("\x00", o.FullClone || o.Ref.Commit != "")))
	dir := filepath.Join(o.CacheDir, hex.EncodeToString(sum[:8])+".git")
	return &Remote{opts: o, log: o.Logger.With("repo", RedactURL(o.URL)), dir: dir}, nil
}

// CacheDir returns the bare repository this Remote keeps its objects in.
func (r *Remote) CacheDir() string { return r.dir }

// Sync implements Source. For a branch or tag it lists the remote and, on
// the same session, fetches only when the followed ref has moved, and then
// only what the cache's commit does not reach (fetch.go); a pinned commit
// that is already cached needs no network at all. A cache that cannot be
// opened or read, or a fetch that fails after a successful listing, leads
// to one fresh clone.
func (r *Remote) Sync(ctx context.Context) (Revision, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	sess, err := r.opts.Auth.newSession(r.opts.URL)
	if err != nil {
		return Revision{}, false, &Error{Op: "auth", URL: RedactURL(r.opts.URL), Err: err, Hint: "check repository.auth"}
	}
	rev, want, err := r.update(ctx, sess, false)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) || ctx.Err() != nil {
			r.refused.remember(want, err, r.log)
			return Revision{}, false, err
		}
		r.log.Warn("git cache unusable, cloning again", "dir", r.dir, "err", err)
		if rev, want, err = r.update(ctx, sess, true); err != nil {
			r.refused.remember(want, err, r.log)
			return Revision{}, false, err
		}
	}
	changed := rev.Commit != r.last.Commit
	r.last, r.lastRef = rev, want
	if changed {
		r.log.Info("new revision", "ref", rev.Ref, "commit", rev.Short(), "subject", rev.Subject)
	}
	return rev, changed, nil
}

// update brings the cache to the followed ref and returns its revision
// (the last one when the ref has not moved) and the hash the ref names. A
// returned *Error is final (the remote's fault or the configuration's); any
// other error means the cache is suspect and a fresh clone may help.
func (r *Remote) update(ctx context.Context, sess *session, fresh bool) (Revision, plumbing.Hash, error) {
	if fresh {
		r.sizes, r.read = nil, nil
		r.release()
		if err := os.RemoveAll(r.dir); err != nil {
			return Revision{}, plumbing.ZeroHash, &Error{Op: "reset cache", URL: RedactURL(r.opts.URL), Err: err, Hint: "check the permissions of " + r.dir}
		}
	}
	repo, err := r.open()
	if err != nil {
		return Revision{}, plumbing.ZeroHash, err
	}
	if c := r.opts.Ref.Commit; c != "" {
		want := plumbing.NewHash(c)
		if err := r.refused.get(want); err != nil {
			return Revision{}, want, err
		}
		if repo.Storer.HasEncodedObject(want) != nil {
			if err := r.fetchPinned(ctx, repo, sess); err != nil {
				return Revision{}, want, err
			}
			if repo.Storer.HasEncodedObject(want) != nil {
				return Revision{}, want, &Error{Op: "fetch", URL: RedactURL(r.opts.URL),
					Err:  fmt.Errorf("%w: commit %s is on no branch or tag of the remote", ErrRefNotFound, want),
					Hint: "check repository.commit, or push the commit"}
			}
		}
		rev, err := r.revision(want)
		return rev, want, err
	}
	want, incremental, err := r.fetchRef(ctx, repo.Storer, sess, fetchNew)
	if err != nil {
		return Revision{}, want, err
	}
	n := len(packs(repo.Storer))
	if want == r.lastRef && r.last.Commit != "" {
		r.log.Debug("remote head unchanged", "ref", r.opts.Ref.name(), "commit", r.last.Short())
		if n > 1 && !r.opts.FullClone {
			if err := r.compact(repo.Storer, want); err != nil {
				r.log.Warn("could not compact the git cache; it is read as it is", "dir", r.dir, "err", err)
			} else {
				// The revision handed out reads the compacted cache.
				rev, err := r.revision(want)
				return rev, want, err
			}
		}
		return r.last, want, nil
	}
	if err := r.refused.get(want); err != nil {
		return Revision{}, want, err
	}
	if n > maxPacks && !r.opts.FullClone {
		if err := r.compact(repo.Storer, want); err != nil && !missing(err) {
			return Revision{}, want, fmt.Errorf("compact cache %s: %w", r.dir, err)
		}
	}
	rev, err := r.revision(want)
	if err != nil && incremental && missing(err) {
		// The new commit holds an object from before the cache's shallow
		// commit (a revert, a file moved back): ask for its whole tree.
		r.log.Info("the fetched commit reuses objects the shallow cache never had; fetching its whole tree", "commit", shortHash(want.String()), "err", err)
		if want, _, err = r.fetchRef(ctx, repo.Storer, sess, fetchWhole); err != nil {
			return Revision{}, want, err
		}
		rev, err = r.revision(want)
	}
	return rev, want, err
}

// release closes what the last revision's FS holds open, if any.
func (r *Remote) release() {
	if r.fs != nil {
		r.fs.release()
		r.fs = nil
	}
}

// open opens the bare cache, creating it if it does not exist. Any other
// failure to open means a broken cache: it is an error that is not an *Error.
func (r *Remote) open() (*git.Repository, error) {
	if _, err := os.Stat(r.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open cache %s: %w", r.dir, err)
	}
	repo, err := git.Open(cacheStorage(r.dir, filesystem.Options{}), nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(filepath.Dir(r.dir), 0o700); err != nil {
			return nil, &Error{Op: "open cache", URL: RedactURL(r.opts.URL), Err: err, Hint: "check the permissions of " + r.opts.CacheDir}
		}
		_ = os.RemoveAll(r.dir) // a leftover that is not a repository
		if _, err = git.PlainInit(r.dir, true); err == nil {
			repo, err = git.Open(cacheStorage(r.dir, filesystem.Options{}), nil)
		}
		if err != nil {
			return nil, &Error{Op: "init cache", URL: RedactURL(r.opts.URL), Err: err, Hint: "check the permissions of " + r.opts.CacheDir}
		}
		r.log.Info("created git cache", "dir", r.dir)
	} else if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", r.dir, err)
	}
	if _, err := repo.Remote("origin"); errors.Is(err, git.ErrRemoteNotFound) {
		_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{RedactURL(r.opts.URL)}})
		if err != nil {
			return nil, fmt.Errorf("configure cache %s: %w", r.dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read cache config %s: %w", r.dir, err)
	}
	return repo, nil
}

// fetchPinned fetches every branch and tag of the remote with their whole
// history, to find a pinned commit.
func (r *Remote) fetchPinned(ctx context.Context, repo *git.Repository, sess *session) error {
	opts := &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  r.opts.URL,
		Auth:       sess.method,
		Force:      true,
		Tags:       git.NoTags,
		RefSpecs:   []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
	}
	r.log.Debug("fetching", "commit", r.opts.Ref.Commit)
	err := repo.FetchContext(ctx, opts)
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	e := sess.classify(ctx, "fetch", r.opts.URL, err, r.opts.Auth)
	if errors.Is(e, ErrUnreachable) && ctx.Err() == nil && sess.hostKeyError() == nil {
		// Not the remote's answer: it may be the cache.
		return fmt.Errorf("fetch into %s: %w", r.dir, scrubErr(err, r.opts.URL, sess.secrets...))
	}
	return e
}

// revision reads commit h (peeling an annotated tag) from a storage of its
// own, checks that every object under Options.Path is present and readable,
// and returns the Revision. The storage lists the cache's packs once and
// keeps each open once read (the check reads every new blob's header, a
// lookup each); they are closed when the next revision replaces it, and opened
// again if its FS is read after that.
func (r *Remote) revision(h plumbing.Hash) (Revision, error) {
	st := cacheStorage(r.dir, filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
	rev, err := readRevision(st, h, r.opts, true, r.sizes, r.read)
	if t, ok := rev.FS.(*treeFS); ok && err == nil {
		r.sizes, r.read = t.knownSizes(), t.readBlobs()
		r.release()
		r.fs = t
	} else {
		st.Close()
	}
	var ve *VerifyError
	switch {
	case errors.As(err, &ve):
		return Revision{}, &Error{Op: "verify", URL: RedactURL(r.opts.URL), Err: err}
	case errors.Is(err, ErrPathNotFound):
		return Revision{}, &Error{Op: "read", URL: RedactURL(r.opts.URL), Err: err, Hint: "check repository.path"}
	}
	return rev, err
}

// readRevision resolves h to a commit in s, checks its signature with
// o.Verify (if set; a refusal is a *VerifyError), checks the objects under
// o.Path (reading the content a load may read too when content is set: a
// Remote's cache may be half-written, a repository git wrote is not) and
// returns the Revision. known and knownRead are what the last revision's
// checks of the same store found (see treeFS), or nil.
func readRevision(s storer.EncodedObjectStorer, h plumbing.Hash, o Options, content bool, known map[plumbing.Hash]int64, knownRead map[plumbing.Hash]bool) (Revision, error) {
	c, err := peel(s, h)
	if err != nil {
		return Revision{}, err
	}
	rev := Revision{Commit: c.Hash.String(), Time: c.Committer.When, Subject: subject(c.Message), Ref: o.Ref.name()}
	if o.Verify != nil {
		if rev.SignedBy, err = o.Verify.check(s, h, c, rev); err != nil {
			return Revision{}, err
		}
	}
	t, err := newTreeFS(s, c, o.Path, o.MaxFileSize)
	if err != nil {
		return Revision{}, err
	}
	t.known, t.knownRead = known, knownRead
	if err := t.verify(t.root, content); err != nil {
		return Revision{}, fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	rev.FS = t
	return rev, nil
}

// MaxSubject is the longest commit subject a Revision holds, in
// characters; a longer one is cut there and ends in "…". Anything else
// taken from a commit or tag and shown (a tag's name, a signature's
// namespace) is cut the same way: as a message shows a value
// (schema.Short).
const MaxSubject = schema.MaxShown

// subject is the first line of a commit message, cut at MaxSubject.
func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return schema.Short(strings.TrimSpace(line))
}

// peel follows annotated tags to the commit.
func peel(s storer.EncodedObjectStorer, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		o, err := s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("read object %s: %w", h, err)
		}
		switch o.Type() {
		case plumbing.CommitObject:
			return object.DecodeCommit(s, o)
		case plumbing.TagObject:
			t, err := object.DecodeTag(s, o)
			if err != nil {
				return nil, fmt.Errorf("read tag %s: %w", h, err)
			}
			h = t.Target
		default:
			return nil, fmt.Errorf("%s is a %s, not a commit", h, o.Type())
		}
	}
	return nil, fmt.Errorf("tag %s: too many levels", h)
}

// isFleetName reports whether a file name is one a fleet load reads.
func isFleetName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}
