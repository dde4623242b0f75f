package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Deps are what a Daemon built from its configuration takes from the
// command that runs it: what a configuration file does not hold.
type Deps struct {
	// Credential signs the Lighthouse API calls (lighthouse.FindCredential).
	Credential lighthouse.Credential
	// Logger receives the daemon's log lines; nil discards them.
	Logger *slog.Logger
	// Elect builds the leader election of the ha key; it is required when
	// the configuration has one (the command wires etcd in: the daemon
	// does not import it). onError counts a failed etcd call. A
	// Leadership that is an io.Closer is closed by Daemon.Close.
	Elect func(ha *HA, onError func(op string)) (Leadership, error)
	// Collector paces the garbage collector around the cycles
	// (Options.Collector); nil leaves it alone.
	Collector Collector
	// Previous is the daemon this one replaces when the configuration is
	// reloaded; it must have stopped. Its metrics and the counters of its
	// status carry on (Options.Previous).
	Previous *Daemon
}

// FromConfig builds the Daemon of a configuration: the git source with its
// cache under the state directory, the API client, the limits, the webhook
// and, with the ha key, the leader election of deps.Elect. It checks what
// start-up needs first (build): the secret files exist, are not empty and
// are private (a warning is logged for one that group or others may read,
// unless secretFilePermissions is refuse), the state directory is created
// private. The problems it finds are a spec.Errors placed in the file.
// CheckConfig runs the same checks without creating anything. Close the
// Daemon once Run has returned.
func FromConfig(cfg *Config, deps Deps) (*Daemon, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := build(cfg, deps, true)
	if err != nil {
		return nil, err
	}
	for _, w := range b.warnings {
		log.Warn("configuration: " + w.Error())
	}
	if v := cfg.Repository.Verify; v != nil && v.Verifier() != nil {
		pgp, ssh := v.Verifier().Keys()
		log.Info("only signed revisions are applied", "verify", v.Verifier().Mode(), "openpgp_keys", pgp, "ssh_keys", ssh)
	}
	d, err := New(b.opts)
	if err != nil {
		b.close()
		return nil, err
	}
	d.closers = b.closers
	b.relay.d.Store(d)
	return d, nil
}

// CheckConfig runs the checks and builds of FromConfig, so that a
// configuration it passes starts, but creates nothing (the state
// directory must be one that can be created) and starts nothing. It
// returns the warnings FromConfig would log.
func CheckConfig(cfg *Config, deps Deps) (warnings spec.Errors, err error) {
	b, err := build(cfg, deps, false)
	if err != nil {
		return nil, err
	}
	b.close()
	return b.warnings, nil
}

// built is what build makes of a configuration.
type built struct {
	opts     Options
	warnings spec.Errors
	relay    *relay      // points the webhook and the election at the Daemon once it exists
	closers  []io.Closer // closed by Daemon.Close
}

func (b *built) close() {
	for _, c := range b.closers {
		_ = c.Close()
	}
}

// relay passes the calls of what is built before the Daemon (the webhook
// handler, the election) to it once it exists.
type relay struct {
	d atomic.Pointer[Daemon]
	// src is the git source, told of the commit a push names before the
	// cycle it triggers (gitsync.Expecter).
	src gitsync.Source
}

func (r *relay) push(p gitsync.Push) {
	if e, ok := r.src.(gitsync.Expecter); ok {
		e.Expect(p.After)
	}
	if d := r.d.Load(); d != nil {
		d.Trigger()
	}
}

func (r *relay) observe(result, reason string) {
	if d := r.d.Load(); d != nil {
		d.ObserveWebhook(result, reason)
	}
}

func (r *relay) etcdError(op string) {
	if d := r.d.Load(); d != nil {
		d.ObserveEtcdError(op)
	}
}

// build is the one function that start-up (create set) and --check run:
// it checks what the daemon needs of the host and builds its options.
func build(cfg *Config, deps Deps, create bool) (*built, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &configParser{file: cfg.File, root: cfg.root}
	b := &built{relay: &relay{}}
	b.warnings = checkSecretFiles(cfg, p)
	checkStateDirectory(cfg, p, create)
	if len(p.errs) > 0 {
		return nil, p.result(0)
	}
	srcOpts := cfg.SourceOptions()
	// The daemon applies repository.path itself, so errors and the status
	// name files as they are in the repository (fleets/web.yaml).
	srcOpts.Path = ""
	srcOpts.Logger = log.With("component", "gitsync")
	src, err := gitsync.New(srcOpts)
	if err != nil {
		p.at(err.Error(), "repository", "url")
		return nil, p.result(0)
	}
	b.relay.src = src
	var lead Leadership
	var fence func(context.Context, string) error
	if cfg.HA != nil {
		if deps.Elect == nil {
			return nil, errors.New("daemon: the configuration has ha but no election was given (Deps.Elect)")
		}
		l, err := deps.Elect(cfg.HA, b.relay.etcdError)
		if err != nil {
			p.at(err.Error(), "ha")
			return nil, p.result(0)
		}
		if c, ok := l.(io.Closer); ok {
			b.closers = append(b.closers, c)
		}
		lead = l
		fence = func(ctx context.Context, _ string) error { return l.Check(ctx) }
	}
	endpoint := cfg.APIEndpoint()
	client, err := lighthouse.New(lighthouse.Options{Credential: deps.Credential, Endpoint: endpoint, RateLimits: cfg.API.RateLimits,
		Logger: log.With("component", "lighthouse"), Fence: fence})
	if err != nil {
		b.close()
		return nil, err
	}
	var hook *gitsync.WebhookHandler
	if cfg.Webhook != nil {
		secret, err := readSecretFile(cfg.Webhook.SecretFile)
		if err == nil {
			hook, err = gitsync.NewWebhookHandler(gitsync.WebhookOptions{Secret: secret, Ref: cfg.Repository.GitRef(),
				OnPush: b.relay.push, Observe: b.relay.observe, Logger: log.With("component", "webhook")})
		}
		if err != nil {
			b.close()
			p.at(err.Error(), "webhook", "secretFile")
			return nil, p.result(0)
		}
	}
	routes := notifyRoutes(cfg, p, "lightkeeper")
	approvers := approverTokens(cfg, p)
	if len(p.errs) > 0 {
		b.close()
		return nil, p.result(0)
	}
	b.opts = Options{
		Source:     GitSource(src),
		Cloud:      client,
		Reconcile:  reconcile.Options{Tags: lighthouse.TakesTags(cfg.API.Site, endpoint)},
		Limits:     cfg.limits(),
		Spec:       spec.Options{MaxTotalCount: cfg.Limits.MaxTotalCount},
		Path:       cfg.fleetsPath(),
		Following:  following(cfg),
		Exclude:    cfg.Exclude,
		Interval:   time.Duration(cfg.Repository.Interval),
		StateDir:   cfg.StateDirectory,
		Logger:     log,
		Leadership: lead,
		Previous:   deps.Previous,
		Collector:  deps.Collector,
		// repository.verify: the saved last good copy must name its signer.
		RequireSigned: srcOpts.Verify != nil,
		Notify:        routes,
		PublicURL:     cfg.PublicURL,
		Approvers:     approvers,
	}
	if hook != nil {
		b.opts.Webhook = hook
	}
	return b, nil
}

// following is what the daemon of cfg follows, for its status: the
// repository and the ref, the branch "main" when none is set (as gitsync
// follows it).
func following(cfg *Config) Following {
	r := cfg.Repository
	f := Following{Repository: gitsync.RedactURL(r.URL), Branch: r.Branch, Tag: r.Tag, Commit: r.Commit}
	if f.Branch == "" && f.Tag == "" && f.Commit == "" {
		f.Branch = "main"
	}
	return f
}

// limits are the reconcile limits of the limits key (no
// maxMonthlySpend or maxRenewalSpendPerRun: no ceiling).
func (c *Config) limits() reconcile.Limits {
	l := reconcile.Limits{MaxCreates: c.Limits.MaxCreatesPerRun, MaxMonthlySpend: reconcile.NoLimit, MaxIsolates: c.Limits.MaxIsolatesPerRun,
		MaxRenewalSpend: reconcile.NoLimit}
	if m := c.Limits.MaxMonthlySpend; m != nil {
		l.MaxMonthlySpend = *m
	}
	if m := c.Limits.MaxRenewalSpendPerRun; m != nil {
		l.MaxRenewalSpend = *m
	}
	l.MaxUpdates = c.Limits.MaxUpdatesPerRun
	return l
}

// fleetsPath is repository.path as Options.Path: slash-separated, inside
// the repository, "." for its root.
func (c *Config) fleetsPath() string {
	p := path.Clean(strings.Trim(c.Repository.Path, "/"))
	if p == "" {
		return "."
	}
	return p
}

// checkStateDirectory creates the state directory and the git cache in it,
// private (create), or checks that they can be created.
func checkStateDirectory(cfg *Config, p *configParser, create bool) {
	dir := cfg.StateDirectory
	at := func(err error) { p.at(fmt.Sprintf("%s cannot be created: %v", dir, err), "stateDirectory") }
	if !create {
		if err := creatable(dir); err != nil {
			at(err)
		}
		return
	}
	cache := filepath.Join(dir, "git")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		at(err)
		return
	}
	if err := syscall.Access(dir, 0o2|0o1); err != nil { // W_OK|X_OK
		p.at(fmt.Sprintf("%s is not writable: %v", dir, err), "stateDirectory")
		return
	}
	// A cache made by an older version, or under another umask, is made
	// private: it holds the repository, tokens never, names and history
	// always.
	if err := os.Chmod(cache, 0o700); err != nil {
		at(err)
	}
}

// creatable reports whether MkdirAll(dir) would succeed: the nearest
// directory that exists must be writable and searchable.
func creatable(dir string) error {
	for d := dir; ; {
		fi, err := os.Stat(d)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", d)
		case err == nil:
			if err := syscall.Access(d, 0o2|0o1); err != nil { // W_OK|X_OK
				return fmt.Errorf("%s is not writable: %w", d, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return err
		}
		d = parent
	}
}
