package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/atomicfile"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func init() {
	register(command{name: "emulator", summary: "serve a local Lighthouse API for tests, demos and CI", run: runEmulator})
}

const emulatorHelp = `
Serves the Lighthouse API (version 2020-03-24) on --listen: TC3-HMAC-SHA256
signatures are verified, instances go PENDING -> RUNNING on a real clock, and
client tokens, rate limits and quotas behave as documented. Point lightkeeper
(or any Tencent Cloud SDK) at http://ADDR/ to use it.

Credentials: --secret-id and --secret-key-file, else the environment variables
TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (the same ones the client
reads, so one environment serves both sides of a local run).

Temporary keys: with --session-token-file, or TENCENTCLOUD_SESSION_TOKEN or
TENCENTCLOUD_SECURITY_TOKEN set, requests must carry that token in X-TC-Token.

The admin API under http://ADDR/_emulator/ injects faults, lists instances,
deletes instances out of band and shows call counts; it needs no signature,
so a --listen address that is not loopback is refused while it is on, unless
--disable-admin turns it off or --admin-on-public-address accepts the risk.

Behaviours the API documents loosely, or that differ between the China and
the international sites, are switches (--site, --token-mismatch, --token-gone,
--dry-run-as-error, --describe-missing-as-error, --return-window,
--return-quota, --terminate-launch-failed, --per-region-rate-limits,
--modify-bundle-batch-limit, --busy-as-operation-denied, --renew-isolated,
--instance-name-match, ...), so a client can be tested under each;
docs/emulator.md (Switches) says which document each default comes from.

Site: china by default, or $LIGHTKEEPER_SITE, as lightkeeper reconcile
--site reads it: reconcile --site auto takes a plain-http loopback endpoint
for the China site, so "--endpoint http://ADDR" alone agrees with this
default, and LIGHTKEEPER_SITE=intl in one environment makes both sides intl.
The start-up line names the flags a client needs.

Day two: ResetInstance, ModifyInstancesBundle, RenewInstances (and the
isolations and terminations) run as operations of --operation-delay, or
--action-delay ACTION=D; the operation-failure fault ends them FAILED.

Exit codes: 0 after SIGINT/SIGTERM, 1 on error, 64 on bad flags.

Examples:
  export TENCENTCLOUD_SECRET_ID=AKIDlocal TENCENTCLOUD_SECRET_KEY=localsecret
  lightkeeper emulator --listen 127.0.0.1:9100 --state-file /tmp/lighthouse.json
  lightkeeper emulator --site intl --quota GENERAL_BUNDLE_INSTANCE=20000 --no-rate-limits
`

func runEmulator(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "emulator", "emulator [flags]", emulatorHelp)
	listen := fs.String("listen", "127.0.0.1:9100", "`address` to serve the API on")
	secretID := fs.String("secret-id", "", "SecretId accepted by the emulator (default $TENCENTCLOUD_SECRET_ID)")
	secretKeyFile := fs.String("secret-key-file", "", "`file` holding the SecretKey (default $TENCENTCLOUD_SECRET_KEY)")
	stateFile := fs.String("state-file", "", "`file` to keep instances and client tokens in across restarts (default: memory only)")
	catalog := fs.String("catalog", "", "YAML or JSON `file` replacing the built-in catalog of regions, bundles and blueprints")
	seed := fs.Int64("seed", 1, "seed of the random faults and launch failures, for reproducible runs")
	noLimits := fs.Bool("no-rate-limits", false, "serve every action without rate limits")
	launchDelay := fs.Duration("launch-delay", emulator.DefaultLaunchDelay, "how long a new instance stays PENDING before RUNNING (0: at once)")
	launchFail := fs.Float64("launch-failure-probability", 0, "chance (0..1) that a new instance ends in LAUNCH_FAILED")
	describeLag := fs.Duration("describe-lag", 0, "hide new instances from DescribeInstances for this long")
	tokenWindow := fs.Duration("token-window", emulator.DefaultTokenWindow, "how long a ClientToken is remembered")
	noAdmin := fs.Bool("disable-admin", false, "answer 404 under /_emulator/ (no fault injection or test hooks)")
	sw := addEmulatorSwitches(e, fs)
	var faults []emulator.Fault
	fs.Func("fault", "inject a `fault` from the start, repeatable: KIND[,action=A][,probability=P][,count=N][,delay=D][,status=S]\nand, for operation-failure, [,instance=ID]; KIND one of drop-response, delay, http-5xx, internal-error,\nrequest-limit-exceeded, describe-lag, operation-failure", func(s string) error {
		f, err := emulator.ParseFault(s)
		if err != nil {
			return err
		}
		faults = append(faults, f)
		return nil
	})
	logFormat := fs.String("log-format", "text", "log format: text or json")
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("emulator takes no arguments, got %q", rest)
	}
	if p := *launchFail; !(p >= 0 && p <= 1) { // also refuses NaN
		return usageError("--launch-failure-probability must be between 0 and 1, not %v", p)
	}
	if err := nonNegative(durationFlag{"--launch-delay", *launchDelay}, durationFlag{"--describe-lag", *describeLag}, durationFlag{"--token-window", *tokenWindow}); err != nil {
		return err
	}
	if err := checkListen(*listen, !*noAdmin, *sw.adminOnPublic); err != nil {
		return err
	}
	var cfg emulator.Config
	if err := sw.apply(&cfg); err != nil {
		return err
	}
	logger, err := newLogger(e.stderr, *logFormat, slog.LevelInfo)
	if err != nil {
		return usageError("%v", err)
	}
	id, key, err := emulatorCredentials(e, *secretID, *secretKeyFile)
	if err != nil {
		return err
	}
	cfg.Credentials = map[string]string{id: key}
	cfg.Seed = *seed
	cfg.Logger = logger
	cfg.LaunchDelay = instantIfZero(*launchDelay)
	cfg.LaunchFailureProbability = *launchFail
	cfg.DescribeLag = *describeLag
	cfg.TokenWindow = *tokenWindow
	cfg.Faults = faults
	cfg.DisableAdmin = *noAdmin
	tok, err := sw.sessionToken(e)
	if err != nil {
		return err
	}
	if tok != "" {
		cfg.SessionTokens = map[string]string{id: tok}
	}
	if *noLimits {
		cfg.RateLimits = emulator.NoRateLimits()
	}
	if *catalog != "" {
		c, err := emulator.LoadCatalogFile(*catalog)
		if err != nil {
			return err
		}
		cfg.Catalog = c
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	if *stateFile != "" {
		if err := loadEmulatorState(srv, *stateFile); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	logger.Info("emulator listening", "addr", url+"/", "secret_id", id, "state_file", *stateFile,
		"site", cfg.Site, "admin", !*noAdmin, "session_token", tok != "", "quotas", sw.quotaNames(),
		"client", clientFlags(url, cfg.Site))

	saver := &stateSaver{srv: srv, path: *stateFile}
	var saveTick <-chan time.Time
	if *stateFile != "" {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		saveTick = t.C
	}
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-saveTick:
			if err := saver.save(); err != nil {
				logger.Error("save state", "err", err)
			}
		case <-ctx.Done():
			shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := hs.Shutdown(shutCtx)
			cancel()
			if *stateFile != "" {
				if serr := saver.save(); serr != nil {
					return serr
				}
			}
			logger.Info("emulator stopped")
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		}
	}
}

// clientFlags are the flags that point lightkeeper reconcile at the
// emulator on url serving site: --site auto takes a loopback endpoint for
// the China site, so --site is needed only for the other one.
func clientFlags(url string, site emulator.Site) string {
	if site == emulator.SiteChina {
		return "--endpoint " + url
	}
	return "--endpoint " + url + " --site " + string(site)
}

// durationFlag is a duration flag's name and value, for nonNegative.
type durationFlag struct {
	name string
	d    time.Duration
}

// nonNegative refuses the first of flags that is negative, with a usage
// error naming it.
func nonNegative(flags ...durationFlag) error {
	for _, f := range flags {
		if f.d < 0 {
			return usageError("%s must not be negative, not %v", f.name, f.d)
		}
	}
	return nil
}

// instantIfZero maps the flag's 0 ("no delay") to the Config's negative
// value for "at once"; in Config a zero duration means "the default".
func instantIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// emulatorCredentials takes the SecretId from the flag or the environment
// and the SecretKey from a file or the environment, never from a flag (a
// flag would show in ps and shell history).
func emulatorCredentials(e *env, id, keyFile string) (string, string, error) {
	if id == "" {
		id = e.getenv(lighthouse.EnvSecretID)
	}
	var key string
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return "", "", fmt.Errorf("read --secret-key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	} else {
		key = e.getenv(lighthouse.EnvSecretKey)
	}
	if id == "" || key == "" {
		return "", "", usageError("no credentials for the emulator: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or pass --secret-id and --secret-key-file")
	}
	return id, key, nil
}

func loadEmulatorState(srv *emulator.Server, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // first run: start empty, the file is written on the way out
	}
	if err != nil {
		return fmt.Errorf("open state file: %w", err)
	}
	defer f.Close()
	if err := srv.LoadState(f); err != nil {
		return fmt.Errorf("load state file %s: %w (move it away to start empty)", path, err)
	}
	return nil
}

// stateSaver keeps the emulator's state file up to date.
type stateSaver struct {
	srv  *emulator.Server
	path string
	last []byte // what the file holds now; nil before the first save
}

// save writes the state if it changed since the last save, atomically: a
// temporary file in the same directory, synced, then renamed over the old
// one. An idle emulator touches the disk no more.
func (s *stateSaver) save() error {
	var buf bytes.Buffer
	if err := s.srv.SaveState(&buf); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if s.last != nil && bytes.Equal(buf.Bytes(), s.last) {
		return nil
	}
	if err := atomicfile.WriteFile(s.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	s.last = buf.Bytes()
	return nil
}

// newLogger builds the process logger; only cmd/ configures slog.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
