package gitsync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Local follows a repository on this host (a work tree or a bare
// repository) by reading its refs and objects directly; nothing is copied.
// Watch reports when its refs change. It is safe for concurrent use.
type Local struct {
	opts   Options
	path   string // as given, made absolute
	gitDir string // the repository's own git directory (HEAD)
	common string // where refs and packed-refs live (differs for linked work trees)
	log    *slog.Logger

	mu      sync.Mutex
	last    Revision
	lastRef plumbing.Hash
	refused refusal
	// sizes are the blob sizes of the last revision's tree, which the
	// next one's verify need not read again (treeFS.known).
	sizes map[plumbing.Hash]int64
}

var (
	_ Source  = (*Local)(nil)
	_ Watcher = (*Local)(nil)
)

// NewLocal returns a Local for opts.URL, a path or a file:// URL of an
// existing repository.
func NewLocal(opts Options) (*Local, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, &Error{Op: "configure", URL: opts.URL, Err: err}
	}
	p, err := localPath(o.URL)
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		return nil, &Error{Op: "configure", URL: o.URL, Err: err}
	}
	gitDir, common, err := findGitDir(p)
	if err != nil {
		return nil, &Error{Op: "open", URL: o.URL, Err: fmt.Errorf("%w: %w", ErrUnreachable, err), Hint: "check repository.url: it must be a git repository on this host"}
	}
	return &Local{opts: o, path: p, gitDir: gitDir, common: common, log: o.Logger.With("repo", p)}, nil
}

// findGitDir returns the git directory of the repository at p and the
// common directory that holds its refs.
func findGitDir(p string) (gitDir, common string, err error) {
	dotgit := filepath.Join(p, ".git")
	fi, err := os.Stat(dotgit)
	switch {
	case err == nil && fi.IsDir():
		gitDir = dotgit
	case err == nil:
		b, err := os.ReadFile(dotgit)
		if err != nil {
			return "", "", err
		}
		d, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
		if !ok {
			return "", "", fmt.Errorf("%s: not a gitdir file", dotgit)
		}
		gitDir = strings.TrimSpace(d)
		if !filepath.IsAbs(gitDir) {
			gitDir = filepath.Join(p, gitDir)
		}
	default:
		if _, err := os.Stat(filepath.Join(p, "HEAD")); err != nil {
			return "", "", fmt.Errorf("%s is not a git repository", p)
		}
		if _, err := os.Stat(filepath.Join(p, "objects")); err != nil {
			return "", "", fmt.Errorf("%s is not a git repository", p)
		}
		gitDir = p
	}
	common = gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common = strings.TrimSpace(string(b))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
	}
	return filepath.Clean(gitDir), filepath.Clean(common), nil
}

// Sync implements Source: it reads the followed ref and returns its commit.
// The repository is opened afresh each time, so packs written by a push or
// a gc since the last Sync are seen.
func (l *Local) Sync(ctx context.Context) (Revision, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Revision{}, false, err
	}
	repo, err := git.PlainOpenWithOptions(l.path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return Revision{}, false, &Error{Op: "open", URL: l.opts.URL, Err: fmt.Errorf("%w: %w", ErrUnreachable, err), Hint: "check repository.url: it must be a git repository on this host"}
	}
	var h plumbing.Hash
	if c := l.opts.Ref.Commit; c != "" {
		h = plumbing.NewHash(c)
	} else {
		ref, err := repo.Reference(plumbing.ReferenceName(l.opts.Ref.name()), true)
		if err != nil {
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				err = fmt.Errorf("%w: the repository has no %s", ErrRefNotFound, l.opts.Ref.describe())
			}
			return Revision{}, false, &Error{Op: "read ref", URL: l.opts.URL, Err: err, Hint: "check repository.branch/tag; the last good revision is kept"}
		}
		h = ref.Hash()
		if h == l.lastRef && l.last.Commit != "" {
			return l.last, false, nil
		}
	}
	if err := l.refused.get(h); err != nil {
		return Revision{}, false, err
	}
	rev, err := readRevision(repo.Storer, h, l.opts, false, l.sizes, nil)
	if err != nil {
		e := &Error{Op: "read", URL: l.opts.URL, Err: err}
		var ve *VerifyError
		switch {
		case errors.As(err, &ve):
			e.Op = "verify"
			l.refused.remember(h, e, l.log)
		case errors.Is(err, ErrPathNotFound):
			e.Hint = "check repository.path"
		case errors.Is(err, plumbing.ErrObjectNotFound) && l.opts.Ref.Commit != "":
			e.Err = fmt.Errorf("%w: %w", ErrRefNotFound, err)
			e.Hint = "check repository.commit"
		}
		return Revision{}, false, e
	}
	changed := rev.Commit != l.last.Commit
	l.last, l.lastRef = rev, h
	if t, ok := rev.FS.(*treeFS); ok {
		l.sizes = t.knownSizes()
	}
	if changed {
		l.log.Info("new revision", "ref", rev.Ref, "commit", rev.Short(), "subject", rev.Subject)
	}
	return rev, changed, nil
}

// Watch watches the repository's HEAD, packed-refs and refs (new
// directories under refs included) and sends on the returned channel
// within moments of a change: a commit, a push, a branch created or
// deleted. Sends never block and coalesce: one value may stand for many
// changes, so call Sync after each. The channel is closed when ctx is done.
// Lock files are ignored; any other change of a ref sends, whether or not
// it is the ref followed (Sync is cheap when nothing moved).
func (l *Local) Watch(ctx context.Context) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("gitsync: watch %s: %w", l.path, err)
	}
	roots := map[string]bool{l.gitDir: true, l.common: true}
	for d := range roots {
		if err := w.Add(d); err != nil {
			w.Close()
			return nil, fmt.Errorf("gitsync: watch %s: %w", d, err)
		}
	}
	refs := filepath.Join(l.common, "refs")
	if err := addTree(w, refs); err != nil {
		w.Close()
		return nil, fmt.Errorf("gitsync: watch %s: %w", refs, err)
	}
	ch := make(chan struct{}, 1)
	fire := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(ch)
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				l.log.Warn("watching refs", "err", err)
				fire() // an overflow may have hidden a change
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Base(ev.Name)
				if strings.HasSuffix(name, ".lock") {
					continue
				}
				dir := filepath.Dir(ev.Name)
				inRefs := ev.Name == refs || strings.HasPrefix(ev.Name, refs+string(filepath.Separator))
				if !inRefs && !(roots[dir] && (name == "HEAD" || name == "packed-refs")) {
					continue
				}
				if inRefs && ev.Has(fsnotify.Create) {
					if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
						if err := addTree(w, ev.Name); err != nil {
							l.log.Warn("watching new refs directory", "dir", ev.Name, "err", err)
						}
					}
				}
				if ev.Op == fsnotify.Chmod {
					continue
				}
				l.log.Debug("refs changed", "file", ev.Name, "op", ev.Op.String())
				fire()
			}
		}
	}()
	return ch, nil
}

// addTree watches dir and every directory under it.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		if d.IsDir() {
			return w.Add(p)
		}
		return nil
	})
}
