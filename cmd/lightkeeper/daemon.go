package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/examples"
	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

func init() {
	register(command{name: "daemon", summary: "follow a git repository and keep its fleets reconciled (the systemd service)", run: runDaemon})
}

const daemonHelp = `
Follows the git repository of the configuration file, and keeps reconciling
the fleets of its last good revision: on the interval, on a webhook (POST
/hooks/git, GitHub, Gitea or GitLab, JSON or form-encoded) and, for a local
repository, on each commit. An invalid revision is reported and not applied;
a plan over a limit is held. With repository.verify, only revisions signed
by the listed OpenPGP or SSH keys are applied (the head commit, the
annotated tag followed, or both); any other is refused like an invalid one.
HTTP on the configured address: /healthz, /readyz, /metrics, /status and a
status page at /, each fleet's instances at /fleets/NAME (in JSON at
/status/fleets/NAME).

Notifications (the notify key): a plan held, a revision invalid or unsigned,
creates that fail, a fleet short for three cycles, an instance expiring, a
revision applied and a leadership gained or lost go to a signed webhook,
Slack or Alertmanager, never delaying a cycle. A plan held by a limit is
released once, for exactly that plan, by one of the approvers: POST /approve,
or 'lightkeeper approve'.

--example-config prints a configuration that shows every key, commented.
Relative paths in the file are read from the file's directory.

API credentials are looked up like the client does: TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY, the systemd credentials tencentcloud-secret-id and
tencentcloud-secret-key in $CREDENTIALS_DIRECTORY, then ~/.tencentcloud.

--check runs what start-up runs, creating and starting nothing: the file,
the credentials, the secret files (webhook, repository, etcd, notify and
approver files: they must exist, be readable and not be empty; one
that group or others may read is a warning, or an error with
secretFilePermissions: refuse), a state directory that can be created, the
repository URL and the API endpoint. ok means the daemon starts (only the
listen address is left to the start).

Several hosts: with the ha key, daemons on two or more hosts elect one
leader on etcd and only the leader reconciles; the others keep their git
cache fresh, answer /readyz with 503 "not leader", show the leader on
/status and pass webhooks to it. A leader that loses its etcd lease stops
issuing creates at once; SIGTERM hands the leadership over at once.

Signals: SIGHUP reloads the configuration (a file that does not load is
logged and the running configuration kept; the listen address changes only
at a restart; counters and metrics carry on). SIGTERM or SIGINT lets the API
calls in flight finish, saves the state and exits 0. Under systemd
(Type=notify) it sends READY=1 after the first cycle and feeds the watchdog
while the loop makes progress.

Memory: the daemon runs under the Go runtime's soft memory limit of the
memoryLimit key (default 24MiB, enough for about 10,000 instances; off for
none), set at start and at each reload; GOMEMLIMIT in the environment wins.

Exit codes: 0 after SIGTERM or a good --check, 1 on error (an invalid
configuration: each problem as FILE:LINE:COL), 64 on bad flags.

Example:
  lightkeeper daemon --example-config > /etc/lightkeeper/config.yaml
  lightkeeper daemon --config /etc/lightkeeper/config.yaml --check
  lightkeeper daemon --config /etc/lightkeeper/config.yaml --log-level debug
  curl -s http://127.0.0.1:9180/status
`

// watchdogStall is how long a cycle may go without any sign of progress (a
// sync, an API call ending) before the watchdog stops being fed. It is
// longer than a fetch's and an API call's own timeouts with their retries.
const watchdogStall = 10 * time.Minute

func runDaemon(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "daemon", "daemon --config FILE [--check] [--log-level LEVEL] [--log-format text|json]", daemonHelp)
	cfgFile := fs.String("config", "", "the configuration `file` (YAML)")
	check := fs.Bool("check", false, "check the configuration as start-up does, then exit")
	example := fs.Bool("example-config", false, "print a configuration showing every key, commented, then exit")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text (reads well in journald) or json")
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	level, err := parseLevel(*logLevel)
	switch {
	case len(rest) > 0:
		return usageError("daemon takes no arguments, got %q", rest)
	case err != nil:
		return usageError("%v", err)
	case *example:
		_, err := e.stdout.Write(examples.DaemonConfig)
		return err
	case *cfgFile == "":
		return usageError("--config FILE is required")
	}
	log, err := newLogger(e.stderr, *logFormat, level)
	if err != nil {
		return usageError("%v", err)
	}
	cfg, err := loadDaemonConfig(e, *cfgFile)
	if err != nil {
		return err
	}
	cred, err := lighthouse.FindCredential(e.getenv, e.getenv("HOME"))
	if err != nil {
		return err
	}
	s := &service{e: e, log: log, cred: cred, file: *cfgFile, notify: sdNotify, setMemoryLimit: e.setMemoryLimit}
	if *check {
		warnings, err := daemon.CheckConfig(cfg, s.deps(nil))
		if err := printProblems(e, *cfgFile, err); err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, w.Error())
		}
		fmt.Fprintf(e.stdout, "%s: ok\n", *cfgFile)
		return nil
	}
	// Everything the daemon creates (the git cache, the state) is its
	// own: private whatever the umask it was started with.
	syscall.Umask(0o077)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return s.run(ctx, cfg, hup)
}

// loadDaemonConfig loads the configuration and prints each problem.
func loadDaemonConfig(e *env, file string) (*daemon.Config, error) {
	cfg, err := daemon.LoadConfig(file, e.getenv)
	if err := printProblems(e, file, err); err != nil {
		return nil, err
	}
	return cfg, nil
}

// printProblems prints each problem of a spec.Errors on its own line and
// returns an error that counts them; other errors are returned as they are.
func printProblems(e *env, file string, err error) error {
	var errs spec.Errors
	if errors.As(err, &errs) {
		for _, pe := range errs {
			fmt.Fprintln(e.stderr, pe.Error())
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s in %s", plural(len(errs), "problem"), file)}
	}
	return err
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
	// setMemoryLimit applies the configuration's memoryLimit
	// (applyMemoryLimit); nil applies nothing.
	setMemoryLimit func(int64) int64

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

// deps are what the daemon of a configuration takes from the command;
// previous is the daemon it replaces, if any.
func (s *service) deps(previous *daemon.Daemon) daemon.Deps {
	return daemon.Deps{Credential: s.cred, Logger: s.log, Elect: s.elect, Previous: previous, Collector: s.e.collector}
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
	srv := daemon.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}), daemon.ServerOptions{Logger: s.log.With("component", "http")})
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

	cur, err := s.start(ctx, cfg, nil)
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

// reload loads the configuration again and, if it loads and passes the
// checks of start-up, stops the running daemon (which saves its state) and
// starts one on the new configuration, which carries on its counters. It
// returns the daemon now running: nil with an error when the running one
// was left alone; the one started again on the old configuration, with the
// error, when the new one could not start after the old had stopped; nil
// without an error only if neither could start (the service must then
// exit).
func (s *service) reload(ctx context.Context, cur *instance) (*instance, error) {
	cfg, err := daemon.LoadConfig(s.file, s.e.getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != cur.cfg.Listen {
		s.log.Warn("listen changed; it takes effect at the next restart", "listen", cur.cfg.Listen, "new", cfg.Listen)
	}
	if _, err := daemon.CheckConfig(cfg, s.deps(nil)); err != nil { // before stopping anything
		return nil, err
	}
	s.notify(sd.SdNotifyReloading)
	defer s.notify(sd.SdNotifyReady)
	cur.cancel()
	if err := <-cur.done; err != nil {
		s.log.Error("the daemon stopped with an error", "err", err)
	}
	next, err := s.start(ctx, cfg, cur.d)
	if err != nil {
		// The state directory is the only thing that changed; start again
		// on the configuration that ran.
		s.log.Error("cannot start on the new configuration; back to the old one", "err", err)
		old, oerr := s.start(ctx, cur.cfg, cur.d)
		if oerr != nil {
			s.log.Error("cannot start on the old configuration either", "err", errors.Join(err, oerr))
			return nil, nil
		}
		return old, err
	}
	s.log.Info("configuration reloaded")
	return next, nil
}

// start builds the Daemon of cfg, replacing previous (if any), and runs it.
func (s *service) start(ctx context.Context, cfg *daemon.Config, previous *daemon.Daemon) (*instance, error) {
	d, err := daemon.FromConfig(cfg, s.deps(previous))
	if err != nil {
		return nil, err
	}
	s.applyMemoryLimit(cfg)
	h := d.Handler()
	s.handler.Store(&h)
	s.current.Store(d)
	rctx, cancel := context.WithCancel(ctx)
	in := &instance{cfg: cfg, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := d.Run(rctx)
		if cerr := d.Close(); cerr != nil {
			s.log.Warn("closing the daemon", "err", cerr)
		}
		in.done <- err
	}()
	return in, nil
}

// leadership adapts an election.Elector to daemon.Leadership and
// daemon.Relay.
type leadership struct {
	*election.Elector
	message atomic.Pointer[func(topic string, data []byte)]
}

var _ daemon.Relay = (*leadership)(nil)

// Run takes part in the election until ctx ends.
func (l *leadership) Run(ctx context.Context, lead func(bool), trigger func()) {
	l.Elector.Run(ctx, election.Events{Lead: lead, Trigger: trigger, Message: func(topic string, data []byte) {
		if f := l.message.Load(); f != nil {
			(*f)(topic, data)
		}
	}})
}

// OnMessage sets what Run calls with each message a follower sent.
func (l *leadership) OnMessage(f func(topic string, data []byte)) { l.message.Store(&f) }

// Leader returns the leader as last seen.
func (l *leadership) Leader() (daemon.LeaderInfo, bool) {
	i, ok := l.Elector.Leader()
	return daemon.LeaderInfo{ID: i.ID, URL: i.URL, Revision: i.Revision, Since: i.Since}, ok
}

// elect builds the election of the ha key on etcd (daemon.Deps.Elect).
func (s *service) elect(h *daemon.HA, onError func(op string)) (daemon.Leadership, error) {
	tlsCfg, err := h.Etcd.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("ha.etcd.tls: %w", err)
	}
	password, err := h.Etcd.Password()
	if err != nil {
		return nil, err
	}
	el, err := election.New(election.Options{Endpoints: h.Etcd.Endpoints, Prefix: h.Etcd.Prefix, TLS: tlsCfg,
		Username: h.Etcd.Username, Password: password,
		DialTimeout: time.Duration(h.Etcd.DialTimeout), LeaseTTL: time.Duration(h.LeaseTTL), ID: h.ID, URL: h.AdvertiseURL,
		Logger: s.log.With("component", "election"), OnError: onError})
	if err != nil {
		return nil, err
	}
	return &leadership{Elector: el}, nil
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
