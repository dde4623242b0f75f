package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

func init() {
	register(command{name: "daemon", summary: "follow a git repository and keep its fleets reconciled (the systemd service)", run: runDaemon})
}

const daemonHelp = `
Follows the git repository of the configuration file (examples/daemon/config.yaml
shows every key), and keeps reconciling the fleets of its last good revision:
on the interval, on a webhook (POST /hooks/git) and, for a local repository,
on each commit. An invalid revision is reported and not applied; a plan over
a limit is held. With repository.verify, only revisions signed by the listed
OpenPGP or SSH keys are applied (the head commit, the annotated tag
followed, or both); any other is refused like an invalid revision. HTTP on
the configured address: /healthz, /readyz, /metrics, /status and a status
page at /.

API credentials are looked up like the client does: TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY, the systemd credentials tencentcloud-secret-id and
tencentcloud-secret-key in $CREDENTIALS_DIRECTORY, then ~/.tencentcloud.

Several hosts: with the ha key, daemons on two or more hosts elect one
leader on etcd and only the leader reconciles; the others keep their git
cache fresh, answer /readyz with 503 "not leader", show the leader on
/status and pass webhooks to it. A leader that loses its etcd lease stops
issuing creates at once; SIGTERM hands the leadership over at once
(examples/ha).

Signals: SIGHUP reloads the configuration (a file that does not load is
logged and the running configuration kept; the listen address changes only
at a restart). SIGTERM or SIGINT lets the API calls in flight finish, saves
the state and exits 0. Under systemd (Type=notify) it sends READY=1 after the
first cycle and feeds the watchdog while the loop makes progress.

Exit codes: 0 after SIGTERM or a good --check, 1 on error (an invalid
configuration: each problem as FILE:LINE:COL), 64 on bad flags.

Example:
  lightkeeper daemon --config /etc/lightkeeper/config.yaml --check
  lightkeeper daemon --config /etc/lightkeeper/config.yaml
  curl -s http://127.0.0.1:9180/status
`

// watchdogStall is how long a cycle may go without any sign of progress (a
// sync, an API call ending) before the watchdog stops being fed. It is
// longer than a fetch's and an API call's own timeouts with their retries.
const watchdogStall = 10 * time.Minute

func runDaemon(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "daemon", "daemon --config FILE [--check]", daemonHelp)
	cfgFile := fs.String("config", "", "the configuration `file` (YAML)")
	check := fs.Bool("check", false, "only check the configuration file, then exit")
	logFormat := fs.String("log-format", "text", "log format: text (reads well in journald) or json")
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("daemon takes no arguments, got %q", rest)
	}
	if *cfgFile == "" {
		return usageError("--config FILE is required")
	}
	cfg, err := loadDaemonConfig(e, *cfgFile)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(e.stdout, "%s: ok\n", *cfgFile)
		return nil
	}
	log, err := newLogger(e.stderr, *logFormat, slog.LevelInfo)
	if err != nil {
		return usageError("%v", err)
	}
	cred, err := lighthouse.FindCredential(e.getenv, e.getenv("HOME"))
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s := &service{e: e, log: log, cred: cred, file: *cfgFile, notify: sdNotify}
	return s.run(ctx, cfg, hup)
}

// loadDaemonConfig loads the configuration and prints each problem.
func loadDaemonConfig(e *env, file string) (*daemon.Config, error) {
	cfg, err := daemon.LoadConfig(file, e.getenv)
	var errs spec.Errors
	if errors.As(err, &errs) {
		for _, pe := range errs {
			fmt.Fprintln(e.stderr, pe.Error())
		}
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("%s in %s", plural(len(errs), "problem"), file)}
	}
	return cfg, err
}

// sdNotify tells systemd a state; outside systemd it does nothing.
func sdNotify(state string) { _, _ = sd.SdNotify(false, state) }

// service is the running daemon and what a reload needs.
type service struct {
	e      *env
	log    *slog.Logger
	cred   lighthouse.Credential
	file   string
	notify func(string)
	// ln, if set, is the listener to serve on instead of the configured
	// address (tests pass one on a free port).
	ln net.Listener

	handler atomic.Pointer[http.Handler] // the current daemon's, behind the one server
	current atomic.Pointer[daemon.Daemon]
}

// instance is one Daemon running with one configuration.
type instance struct {
	cfg    *daemon.Config
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan error
}

// run serves the HTTP address of cfg and runs a Daemon, replacing it with
// one on the reloaded configuration at each value on hup, until ctx ends.
func (s *service) run(ctx context.Context, cfg *daemon.Config, hup <-chan os.Signal) error {
	ln := s.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.log.Info("lightkeeper daemon starting", "config", s.file, "listen", ln.Addr().String(), "repository", gitsync.RedactURL(cfg.Repository.URL))

	cur, err := s.start(ctx, cfg)
	if err != nil {
		return err
	}
	go s.watchdog(ctx)
	ready := cur.d.FirstCycle()
	for {
		select {
		case <-ready:
			ready = nil
			s.notify(sd.SdNotifyReady)
		case err := <-cur.done:
			// Run returns early only if it cannot start.
			return err
		case <-hup:
			s.log.Info("SIGHUP: reloading the configuration", "config", s.file)
			next, err := s.reload(ctx, cur)
			switch {
			case next == nil && err != nil:
				s.log.Error("reload failed; keeping the running configuration", "err", err)
			case next == nil:
				return errors.New("reload: no daemon could be started")
			default:
				if err != nil {
					s.log.Error("reload failed; running the previous configuration again", "err", err)
				}
				cur = next
			}
		case <-ctx.Done():
			s.notify(sd.SdNotifyStopping)
			s.log.Info("stopping: letting the calls in flight finish")
			cur.cancel()
			return <-cur.done
		}
	}
}

// reload loads the configuration again and, if it loads and its source and
// webhook can be built, stops the running daemon (which saves its state)
// and starts one on the new configuration. It returns the daemon now
// running: nil with an error when the running one was left alone; the one
// started again on the old configuration, with the error, when the new one
// could not start after the old had stopped; nil without an error only if
// neither could start (the service must then exit).
func (s *service) reload(ctx context.Context, cur *instance) (*instance, error) {
	cfg, err := daemon.LoadConfig(s.file, s.e.getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != cur.cfg.Listen {
		s.log.Warn("listen changed; it takes effect at the next restart", "listen", cur.cfg.Listen, "new", cfg.Listen)
	}
	opts, hook, err := s.options(cfg) // built before stopping anything
	if err != nil {
		return nil, err
	}
	s.notify(sd.SdNotifyReloading)
	defer s.notify(sd.SdNotifyReady)
	cur.cancel()
	if err := <-cur.done; err != nil {
		s.log.Error("the daemon stopped with an error", "err", err)
	}
	next, err := s.launch(ctx, cfg, opts, hook)
	if err != nil {
		// The state file is the only thing that changed; start again on
		// the configuration that ran.
		s.log.Error("cannot start on the new configuration; back to the old one", "err", err)
		old, oerr := s.start(ctx, cur.cfg)
		if oerr != nil {
			s.log.Error("cannot start on the old configuration either", "err", errors.Join(err, oerr))
			return nil, nil
		}
		return old, err
	}
	s.log.Info("configuration reloaded")
	return next, nil
}

// start builds a Daemon from cfg and runs it.
func (s *service) start(ctx context.Context, cfg *daemon.Config) (*instance, error) {
	opts, hook, err := s.options(cfg)
	if err != nil {
		return nil, err
	}
	return s.launch(ctx, cfg, opts, hook)
}

// launch builds a Daemon from opts, the options of cfg, points hook at it
// and runs it.
func (s *service) launch(ctx context.Context, cfg *daemon.Config, opts daemon.Options, hook *hookRelay) (*instance, error) {
	d, err := daemon.New(opts)
	if err != nil {
		hook.close()
		return nil, err
	}
	hook.d.Store(d)
	h := d.Handler()
	s.handler.Store(&h)
	s.current.Store(d)
	rctx, cancel := context.WithCancel(ctx)
	in := &instance{cfg: cfg, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := d.Run(rctx)
		hook.close()
		in.done <- err
	}()
	return in, nil
}

// hookRelay is the webhook handler of one daemon; it triggers the daemon
// once it exists (New needs the handler first).
type hookRelay struct {
	h http.Handler
	d atomic.Pointer[daemon.Daemon]
	// closer, if set, is closed once the daemon has stopped (the etcd
	// connection of its election).
	closer io.Closer
}

// close closes what the daemon's options opened.
func (r *hookRelay) close() {
	if r.closer != nil {
		_ = r.closer.Close()
	}
}

// ServeHTTP serves the webhook.
func (r *hookRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.h.ServeHTTP(w, req) }

func (r *hookRelay) trigger(gitsync.Push) {
	if d := r.d.Load(); d != nil {
		d.Trigger()
	}
}

func (r *hookRelay) observe(result, reason string) {
	if d := r.d.Load(); d != nil {
		d.ObserveWebhook(result, reason)
	}
}

func (r *hookRelay) etcdError(op string) {
	if d := r.d.Load(); d != nil {
		d.ObserveEtcdError(op)
	}
}

// leadership adapts an election.Elector to daemon.Leadership.
type leadership struct{ *election.Elector }

// Run takes part in the election until ctx ends.
func (l leadership) Run(ctx context.Context, lead func(bool), trigger func()) {
	l.Elector.Run(ctx, election.Events{Lead: lead, Trigger: trigger})
}

// Leader returns the leader as last seen.
func (l leadership) Leader() (daemon.LeaderInfo, bool) {
	i, ok := l.Elector.Leader()
	return daemon.LeaderInfo{ID: i.ID, URL: i.URL, Revision: i.Revision, Since: i.Since}, ok
}

// newLeadership builds the election of cfg.HA; relay counts its errors.
func (s *service) newLeadership(h *daemon.HA, relay *hookRelay) (*leadership, error) {
	tlsCfg, err := h.Etcd.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("ha.etcd.tls: %w", err)
	}
	el, err := election.New(election.Options{Endpoints: h.Etcd.Endpoints, Prefix: h.Etcd.Prefix, TLS: tlsCfg,
		DialTimeout: time.Duration(h.Etcd.DialTimeout), LeaseTTL: time.Duration(h.LeaseTTL), ID: h.ID, URL: h.AdvertiseURL,
		Logger: s.log.With("component", "election"), OnError: relay.etcdError})
	if err != nil {
		return nil, err
	}
	return &leadership{el}, nil
}

// options maps a configuration to daemon options: the git source, the API
// client, the limits and the webhook (the relay, which the caller points at
// the daemon once it exists).
func (s *service) options(cfg *daemon.Config) (daemon.Options, *hookRelay, error) {
	if err := os.MkdirAll(cfg.StateDirectory, 0o700); err != nil {
		return daemon.Options{}, nil, fmt.Errorf("state directory: %w", err)
	}
	srcOpts := cfg.SourceOptions()
	// The daemon applies repository.path itself, so errors and the status
	// name files as they are in the repository (fleets/web.yaml).
	srcOpts.Path = ""
	srcOpts.Logger = s.log.With("component", "gitsync")
	src, err := gitsync.New(srcOpts)
	if err != nil {
		return daemon.Options{}, nil, err
	}
	if v := srcOpts.Verify; v != nil {
		pgp, ssh := v.Keys()
		s.log.Info("only signed revisions are applied", "verify", v.Mode(), "openpgp_keys", pgp, "ssh_keys", ssh)
	}
	relay := &hookRelay{}
	var lead daemon.Leadership
	var fence func(context.Context, string) error
	if cfg.HA != nil {
		l, err := s.newLeadership(cfg.HA, relay)
		if err != nil {
			return daemon.Options{}, nil, err
		}
		lead, relay.closer = l, l
		fence = func(ctx context.Context, _ string) error { return l.Check(ctx) }
	}
	endpoint := cfg.API.Endpoint
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	client, err := lighthouse.New(lighthouse.Options{Credential: s.cred, Endpoint: endpoint, RateLimits: cfg.API.RateLimits,
		Logger: s.log.With("component", "lighthouse"), Fence: fence})
	if err != nil {
		relay.close()
		return daemon.Options{}, nil, err
	}
	limits := reconcile.Limits{MaxCreates: cfg.Limits.MaxCreatesPerRun, MaxIsolates: cfg.Limits.MaxIsolatesPerRun}
	if m := cfg.Limits.MaxMonthlySpend; m != nil {
		limits.MaxMonthlySpend = *m
		if *m == 0 {
			// reconcile reads 0 as "no ceiling"; the file's 0 means
			// "spend nothing".
			limits.MaxMonthlySpend = math.SmallestNonzeroFloat64
		}
	}
	fleets := path.Clean(strings.Trim(cfg.Repository.Path, "/"))
	if fleets == "" {
		fleets = "."
	}
	if cfg.Webhook != nil {
		secret, err := os.ReadFile(cfg.Webhook.SecretFile)
		if err != nil {
			relay.close()
			return daemon.Options{}, nil, fmt.Errorf("webhook secret: %w", err)
		}
		relay.h, err = gitsync.NewWebhookHandler(gitsync.WebhookOptions{Secret: []byte(strings.TrimSpace(string(secret))),
			Ref: cfg.Repository.GitRef(), OnPush: relay.trigger, Observe: relay.observe, Logger: s.log.With("component", "webhook")})
		if err != nil {
			relay.close()
			return daemon.Options{}, nil, err
		}
	} else {
		relay.h = http.NotFoundHandler()
	}
	return daemon.Options{
		Source:     daemon.GitSource(src),
		Cloud:      client,
		Reconcile:  reconcile.Options{Tags: lighthouse.SendsTags(cfg.API.Site, endpoint)},
		Limits:     limits,
		Spec:       spec.Options{MaxTotalCount: cfg.Limits.MaxTotalCount},
		Path:       fleets,
		Exclude:    cfg.Exclude,
		Interval:   time.Duration(cfg.Repository.Interval),
		StateDir:   cfg.StateDirectory,
		Webhook:    relay,
		Logger:     s.log,
		Leadership: lead,

		// repository.verify: the saved last good copy must name its signer.
		RequireSigned: srcOpts.Verify != nil,
	}, relay, nil
}

// watchdog feeds systemd's watchdog at half its period while the current
// daemon's loop is not stalled.
func (s *service) watchdog(ctx context.Context) {
	period, err := sd.SdWatchdogEnabled(false)
	if err != nil || period <= 0 {
		return
	}
	t := time.NewTicker(period / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d := s.current.Load(); d != nil && d.Stalled(watchdogStall) {
				s.log.Error("the reconcile loop made no progress; not feeding the watchdog", "for_more_than", watchdogStall)
				continue
			}
			s.notify(sd.SdNotifyWatchdog)
		}
	}
}
