// Package gitsync fetches revisions of the git repository that holds the
// fleet specs, for the daemon that follows it.
//
// A Source yields Revisions. Each Revision names one commit and exposes its
// tree (or a subdirectory of it) as an fs.FS read straight from the git
// objects of that commit, so a fetch that is still running, or one that died
// half-way, can never mix the files of two revisions.
//
// Two Sources exist:
//
//   - Remote follows a repository over ssh://, https://, http:// or file://
//     with go-git. It keeps a bare cache in a directory of its own, asks the
//     remote for its head before fetching (and does nothing when it has not
//     moved), fetches shallow, survives force-pushes and re-clones a cache
//     that is corrupt or half-written.
//   - Local reads a repository on this host (a path or file:// URL) directly
//     and can Watch its refs with fsnotify, so a commit or a push starts a
//     sync within a second.
//
// With Options.Verify, a Source hands out only revisions signed by a trusted
// key (OpenPGP, or SSH as git's gpg.format ssh makes them): the head commit,
// the annotated tag followed, or both. Any other revision is refused with a
// *VerifyError that says what is wrong and what to do.
//
// New picks one from Options. Errors are *Error values that name the
// repository (with any userinfo removed from its URL), wrap a sentinel such
// as ErrHostKeyMismatch for errors.Is, and say what to do. No token or
// password is ever put in an error or a log line.
package gitsync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// Source yields the revision of a repository that the daemon should apply.
type Source interface {
	// Sync brings the source up to date and returns its current revision.
	// changed is true when the commit differs from the one the previous
	// successful Sync returned (and on the first successful Sync). On error
	// the Revision is the zero value; the caller keeps the one it has.
	Sync(ctx context.Context) (rev Revision, changed bool, err error)
}

// Watcher is implemented by Sources that can tell when they have likely
// changed (Local): each value on the channel means "call Sync now".
type Watcher interface {
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// Revision is one commit of the repository.
type Revision struct {
	// Commit is the full hex hash of the commit.
	Commit string
	// Time is the committer time of the commit.
	Time time.Time
	// Subject is the first line of the commit message, cut at MaxSubject
	// characters.
	Subject string
	// Ref is the reference followed: "refs/heads/main", "refs/tags/v1" or,
	// for a pinned commit, the commit hash.
	Ref string
	// FS holds the files of the commit under Options.Path, read from the git
	// objects of this commit only, as os.Root's FS presents a directory:
	// symbolic links that stay inside it are followed, those that lead out
	// are refused; a file's size comes from its object's header, and a file
	// over Options.MaxFileSize cannot be read (nor is it inflated). It is
	// safe for concurrent use. It stays readable until a later Sync of the
	// same Source has to re-clone a corrupt cache or compacts it (a Remote
	// does when its ref has not moved, or after many fetches); load what
	// you need from it right after Sync. It has a method ContentKey(name string) string
	// (see ContentKeyer) that names a file's content by its blob hash
	// without reading it, for spec.Input.Key.
	FS fs.FS
	// SignedBy names the trusted key that signed the revision when
	// Options.Verify is set: "OpenPGP key FINGERPRINT (user id)" or "SSH
	// key SHA256:… (principals)"; in mode tag-and-head "tag WHO; commit
	// WHO". Empty without Options.Verify.
	SignedBy string
}

// Short returns the first 12 hex digits of the commit, for logs.
func (r Revision) Short() string { return shortHash(r.Commit) }

// shortHash is the first 12 hex digits of a commit hash.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Ref selects what to follow. Exactly one field may be set; when none is,
// the branch "main" is followed.
type Ref struct {
	// Branch follows the head of a branch, e.g. "main".
	Branch string
	// Tag follows a tag, e.g. "v1.2.0"; a tag that is moved is followed.
	Tag string
	// Commit pins a commit by its full 40-digit hex hash.
	Commit string
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// normalize checks r and fills in the default branch.
func (r Ref) normalize() (Ref, error) {
	n := 0
	for _, s := range []string{r.Branch, r.Tag, r.Commit} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return r, errors.New("set only one of branch, tag and commit")
	case n == 0:
		r.Branch = "main"
	case r.Commit != "":
		r.Commit = strings.ToLower(r.Commit)
		if !commitRE.MatchString(r.Commit) {
			return r, fmt.Errorf("commit %q: write the full 40-digit hex hash", r.Commit)
		}
	}
	for _, s := range []string{r.Branch, r.Tag} {
		if strings.HasPrefix(s, "refs/") || strings.ContainsAny(s, " ~^:?*[\\") || strings.Contains(s, "..") {
			return r, fmt.Errorf("%q is not a valid branch or tag name (write it without refs/heads/ or refs/tags/)", s)
		}
	}
	return r, nil
}

// name is the full reference name followed, or the pinned hash.
func (r Ref) name() string {
	switch {
	case r.Commit != "":
		return r.Commit
	case r.Tag != "":
		return "refs/tags/" + r.Tag
	}
	return "refs/heads/" + r.Branch
}

// describe names the ref for people: `branch "main"`.
func (r Ref) describe() string {
	switch {
	case r.Commit != "":
		return fmt.Sprintf("commit %s", r.Commit)
	case r.Tag != "":
		return fmt.Sprintf("tag %q", r.Tag)
	}
	return fmt.Sprintf("branch %q", r.Branch)
}

// Auth says how to authenticate to a remote. Secrets are read from files at
// each Sync, so a rotated credential is picked up without a restart; a
// systemd credential is such a file in $CREDENTIALS_DIRECTORY.
type Auth struct {
	// SSHKeyFile is a private key (OpenSSH or PEM, not passphrase-protected)
	// for ssh:// and scp-like URLs.
	SSHKeyFile string
	// KnownHostsFile is required for SSH: the server's host key must be in
	// it. Unknown hosts are refused; there is no trust on first use.
	KnownHostsFile string
	// TokenFile holds a token or password for HTTP(S) basic auth; surrounding
	// white space is ignored.
	TokenFile string
	// Username goes with TokenFile ("git" when empty; GitHub and Gitea take
	// any name with a token, GitLab wants "oauth2" for OAuth tokens). For
	// SSH it is the login when the URL has none ("git" when empty).
	Username string
}

// Options configure a Source.
type Options struct {
	// URL of the repository: ssh://, scp-like (git@host:path), https://,
	// http://, file:// or a local path. A password in the URL is refused:
	// put it in Auth.TokenFile.
	URL string
	// Ref to follow; the zero value follows branch "main".
	Ref Ref
	// Path is the subdirectory that holds the fleets ("" for the root).
	Path string
	// CacheDir is where a Remote keeps its bare clone (created if missing,
	// owned entirely by the Source). Unused by Local.
	CacheDir string
	// Auth for a Remote.
	Auth Auth
	// Timeout bounds each Sync's network work (default 2 minutes).
	Timeout time.Duration
	// FullClone fetches the whole history instead of a shallow clone of
	// depth 1. A pinned commit always fetches full history once.
	FullClone bool
	// Logger receives debug and info lines; nil discards them.
	Logger *slog.Logger
	// Verify, if set, refuses every revision that is not signed as it
	// requires: Sync returns no Revision but an *Error with Op "verify"
	// that wraps a *VerifyError (the commit refused and why). Modes tag
	// and tag-and-head need Ref.Tag.
	Verify *Verifier
	// MaxFileSize is the largest file of a Revision's FS that can be read,
	// in bytes (default DefaultMaxFileSize, the fleet-file limit of package
	// spec). A larger blob is never inflated: its size comes from its
	// object's header, Stat reports it and reading it fails.
	MaxFileSize int64
}

// DefaultMaxFileSize is Options.MaxFileSize when it is not set: 1 MiB, as
// a fleet file.
const DefaultMaxFileSize = 1 << 20

// DefaultTimeout bounds a Sync when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

func (o Options) withDefaults() (Options, error) {
	var err error
	if o.Ref, err = o.Ref.normalize(); err != nil {
		return o, err
	}
	if o.Verify != nil && o.Verify.mode != VerifyHead && o.Ref.Tag == "" {
		return o, fmt.Errorf("verify mode %s checks the tag followed: follow a tag", o.Verify.mode)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := strings.Trim(path.Clean("/"+strings.ReplaceAll(o.Path, "\\", "/")), "/")
	if p == "" {
		p = "."
	}
	if !fs.ValidPath(p) {
		return o, fmt.Errorf("path %q is not a valid subdirectory", o.Path)
	}
	o.Path = p
	return o, nil
}

// IsLocal reports whether url names a repository on this host (a file://
// URL or a path), which New serves with a Local source.
func IsLocal(rawURL string) bool {
	if strings.HasPrefix(rawURL, "file://") {
		return true
	}
	if strings.Contains(rawURL, "://") {
		return false
	}
	// scp-like "host:path" (but not "C:\..." or "./a:b").
	if i := strings.IndexByte(rawURL, ':'); i > 0 && !strings.ContainsAny(rawURL[:i], "/\\") {
		return false
	}
	return rawURL != ""
}

// New returns a Local source for a path or file:// URL and a Remote source
// otherwise.
func New(opts Options) (Source, error) {
	if IsLocal(opts.URL) {
		return NewLocal(opts)
	}
	return NewRemote(opts)
}

// localPath turns a file:// URL into a path.
func localPath(rawURL string) (string, error) {
	if !strings.HasPrefix(rawURL, "file://") {
		return rawURL, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL names host %q: only local files are supported", u.Host)
	}
	return u.Path, nil
}
