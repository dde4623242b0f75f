package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/escape"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

func init() {
	register(command{name: "reconcile", summary: "plan (--plan) or create what the fleets lack, with safe, idempotent creates", run: runReconcile})
}

// Exit codes of reconcile beyond the shared ones.
const (
	exitChanges   = 2 // --plan: changes are pending
	exitOverLimit = 3 // the plan exceeds a safety limit; nothing was created
)

// envEndpoint names the environment variable that gives --endpoint's
// default, so CI can point one command line at another site or an emulator.
const envEndpoint = "LIGHTKEEPER_ENDPOINT"

// envSite gives --site's default, for the same reason: an emulator
// endpoint standing in for the China site needs "china".
const envSite = "LIGHTKEEPER_SITE"

// defaultWait is how long --wait waits when given without a duration.
const defaultWait = 10 * time.Minute

const reconcileHelp = `
Reads the fleet specs in each PATH (as validate takes them: directories,
files, - for standard input; default "."), lists the instances of every
region they use (one DescribeInstances sweep each), and plans what is
missing: one CreateInstances call per empty slot, each with a deterministic
ClientToken, so a rerun after a crash, a retry or a second runner never buys
a server twice. With --plan it prints the plan and changes nothing (no
mutating call is made; --api-dry-run adds DryRun creates, which buy nothing).
Without it, it applies the plan: creates, rate-limited (CreateInstances 5/s),
and isolations where a fleet sets scaleDown: isolate and --max-isolates
allows.

Guards: a plan that creates more than --max-creates instances, adds more than
--max-monthly-spend a month, isolates more than --max-isolates or renews for
more than --max-renewal-spend exits 3 and does nothing, unless
--allow-over-limit. Every limit takes a number of 0 or more (0: nothing may
be done) or -1 for no limit.

Lifecycle: fleets with charge.renewBefore have the instances that expire
within it renewed for charge.period months (RenewInstances, priced first;
never twice for one expiry), and an instance SHUTDOWN by its expiry
renewed rather than replaced. A slot whose launches end in LAUNCH_FAILED
waits 1 min doubling between creates, counted from what DescribeInstances
shows; 3 in a row make the fleet failing, and the apply exits 1. A fleet
with suspend: true is planned for the record and left alone. A token that
returns an instance DescribeInstances does not list counts as waiting,
never as created: keep --state-dir between runs so the slot gets a new
server once the expectation window passes.

Rollouts: a fleet with spec.update (strategy inPlace or replace) follows a
change of its bundle, blueprint, zones, renew flag, login or containers, in
batches within maxUnavailable and maxSurge, never sending a change twice.
--max-updates N (default 0: the rollout is only reported) bounds the resets,
bundle changes and replacements of one run; what is over it waits for the
next run. An apply without --wait makes the batch it can now and says
"rollout in progress"; the next plan exits 2 until the rollout is done.
--wait drives it to the end, within what remains of the guards. Resets wipe
the system disk: the plan says so.

Site: the China site takes Tags on create, the international one does not.
--site auto (default) decides by the endpoint: the default and the regional
Tencent endpoints are china (lightkeeper-fleet and lightkeeper-slot tags and
the fleets' tags are sent), and so is a plain-http loopback endpoint, which
is an emulator, since lightkeeper emulator serves the China site unless told
--site intl; the intl endpoint and any other URL are intl (no tags). Both
commands take their --site default from $LIGHTKEEPER_SITE, so one
environment sets both sides of a local run.

Credentials, first found wins: TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_SESSION_TOKEN); the systemd
credentials tencentcloud-secret-id and tencentcloud-secret-key in
$CREDENTIALS_DIRECTORY; ~/.tencentcloud/credentials (or
$TENCENTCLOUD_CREDENTIALS_FILE); ~/.tccli/default.credential. A fleet's
login password is read from the environment variable or file its
spec.login.passwordFrom names, only to send it; it is never printed.

--endpoint defaults to $LIGHTKEEPER_ENDPOINT and --site to $LIGHTKEEPER_SITE
when they are set.

--emulator FILE runs a Lighthouse emulator inside this process, its
instances kept in FILE, with generated credentials: the whole job on a
machine with no Tencent Cloud account. New instances there are RUNNING
after 2 s. It serves the China site (Tags taken), as the default endpoint
does, or the international site with --site intl.

--state-dir DIR keeps state.json (expectations, incarnations and the
instances lightkeeper created) between runs. It is optional: without it a
run derives what it needs from the cloud and is as safe, only slower after a
crash; but where the site takes no tags (intl), its records are what lets
scaleDown: isolate return a surplus instance, which it does only to
instances it knows it created.

--output json writes the plan (with --plan) or {"formatVersion": 1, "plan",
"result", "pending"} (apply) as one JSON object; --output markdown writes a
pull-request comment starting with <!-- lightkeeper-plan -->. docs/cli.md
documents every field.

Exit codes:
  --plan:  0 no changes, 2 changes pending, 1 error (a fleet in error
           included), 3 the plan exceeds a safety limit
  apply:   0 done (with --wait: every fleet RUNNING at its count), 1 something
           failed or --wait ran out, 3 over a limit (nothing was created)
  both:    64 bad flags or arguments; 1 also for invalid specs, which are
           listed as validate lists them, with nothing sent to the cloud

SIGINT or SIGTERM stops an apply: the creates in flight end, what is known is
recorded (--state-dir), and a rerun finishes the job with the same tokens.
A second signal ends the process at once (still safe: the next run replays
the same tokens).

Examples:
  lightkeeper reconcile --plan fleets/
  lightkeeper reconcile --plan --output markdown fleets/ > plan.md   # a PR comment
  lightkeeper reconcile --wait=5m --state-dir /var/lib/lightkeeper fleets/
  lightkeeper reconcile --emulator /tmp/lk-demo.json examples/fleets
`

// waitFlag is --wait[=DURATION]: a bool flag that also takes a duration.
// bare records that it was given alone, so that "--wait 5m", whose 5m is
// then a path, can be told apart and answered with what to write.
type waitFlag struct {
	d    time.Duration
	bare bool
}

func (w *waitFlag) String() string {
	if w == nil || w.d == 0 {
		return ""
	}
	return w.d.String()
}

func (w *waitFlag) Set(s string) error {
	w.bare = s == "true"
	switch s {
	case "true":
		w.d = defaultWait
	case "false":
		w.d = 0
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 5m, not %q", s)
		}
		w.d = d
	}
	return nil
}

func (w *waitFlag) IsBoolFlag() bool { return true }

// reconcileFlags are the parsed flags of reconcile.
type reconcileFlags struct {
	plan, allowOverLimit, apiDryRun bool
	endpoint, site, output          string
	wait                            waitFlag
	limits                          reconcile.Limits
	stateDir, emulatorFile          string
	excludes, regions               []string
	logLevel, logFormat             string
	maxTotalCount                   int
	rateLimits                      map[string]float64
}

func parseReconcileFlags(e *env, args []string) (*reconcileFlags, []string, error) {
	f := &reconcileFlags{}
	fs := newFlagSet(e, "reconcile", "reconcile [--plan] [--output text|json|markdown] [--wait[=DURATION]] [flags] [PATH...]", reconcileHelp)
	fs.BoolVar(&f.plan, "plan", false, "print the plan and change nothing")
	fs.StringVar(&f.endpoint, "endpoint", "", "API `URL` (default $"+envEndpoint+", else "+lighthouse.EndpointDefault+"; also "+lighthouse.EndpointIntl+", an emulator's http://127.0.0.1:PORT)")
	site := "auto"
	if v := e.getenv(envSite); v != "" {
		site = v
	}
	fs.StringVar(&f.site, "site", site, "auto, china (send Tags on create) or intl (no Tags); default $"+envSite+", else auto")
	fs.StringVar(&f.output, "output", "text", "output format: text, json or markdown")
	fs.Var(&f.wait, "wait", "after applying, wait until every fleet is RUNNING at its count (`DURATION`, default 10m when given alone: --wait or --wait=5m)")
	fs.IntVar(&f.limits.MaxCreates, "max-creates", reconcile.DefaultMaxCreates, "most instances one run may create; 0 none, -1 no limit")
	fs.Float64Var(&f.limits.MaxMonthlySpend, "max-monthly-spend", reconcile.NoLimit, "most one run may add to the monthly bill, in the price's currency; 0 nothing, -1 no limit")
	fs.IntVar(&f.limits.MaxIsolates, "max-isolates", 0, "most instances one run may isolate (scaleDown: isolate); 0 none (surplus is only reported), -1 no limit")
	fs.Float64Var(&f.limits.MaxRenewalSpend, "max-renewal-spend", reconcile.NoLimit, "most the renewals of one run may cost (charge.renewBefore), in the price's currency; 0 nothing, -1 no limit")
	fs.IntVar(&f.limits.MaxUpdates, "max-updates", 0, "most resets, bundle changes and replacements one run of a rollout may make (spec.update); 0 none (the rollout is only reported), -1 no limit; what is over it waits for the next run")
	fs.IntVar(&f.maxTotalCount, "max-total-count", spec.DefaultMaxTotalCount, "largest sum of count over all fleets (as validate checks it); -1 for no limit")
	fs.BoolVar(&f.allowOverLimit, "allow-over-limit", false, "apply a plan that exceeds a limit")
	fs.BoolVar(&f.apiDryRun, "api-dry-run", false, "send one DryRun create per creation shape, so the service's refusals show in the plan (needs CreateInstances permission; buys nothing)")
	fs.Func("rate-limit", "requests a second the client allows itself for an action, repeatable: `ACTION=N`, e.g. DescribeInstances=1000\nfor an account whose limits were raised (0: no limit; default the documented limits, as lighthouse.DefaultRateLimits)", func(v string) error {
		action, n, ok := strings.Cut(v, "=")
		r, err := strconv.ParseFloat(n, 64)
		if !ok || action == "" || err != nil || !(r >= 0) || math.IsInf(r, 0) { // !(r >= 0): NaN too
			return fmt.Errorf("want ACTION=N with N a number of requests a second (0: no limit), such as DescribeInstances=1000, not %q", v)
		}
		if f.rateLimits == nil {
			f.rateLimits = map[string]float64{}
		}
		f.rateLimits[action] = r
		return nil
	})
	fs.StringVar(&f.stateDir, "state-dir", "", "`DIR` to keep state.json in between runs (optional)")
	fs.StringVar(&f.emulatorFile, "emulator", "", "run an in-process emulator keeping its instances in `FILE`, instead of calling Tencent Cloud")
	fs.Var((*repeatedFlag)(&f.excludes), "exclude", "leave out files and directories matching `GLOB`, relative to each directory walked; ** matches any number of directories (repeatable)")
	fs.Var((*listFlag)(&f.regions), "region-allow", "accept `REGION` besides the Lighthouse regions this build knows (repeatable, or comma-separated)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level on stderr: debug, info (one line per create), warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	paths, err := fs.parse(args)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case f.output != "text" && f.output != "json" && f.output != "markdown":
		return nil, nil, usageError("--output must be text, json or markdown, not %q", f.output)
	case f.site != lighthouse.SiteAuto && f.site != lighthouse.SiteChina && f.site != lighthouse.SiteIntl:
		return nil, nil, usageError("--site (or $%s) must be auto, china or intl, not %q", envSite, f.site)
	case f.limits.MaxCreates < -1:
		return nil, nil, usageError("--max-creates must be 0 or more, or -1 for no limit, not %d", f.limits.MaxCreates)
	case f.limits.MaxIsolates < -1:
		return nil, nil, usageError("--max-isolates must be 0 or more, or -1 for no limit, not %d", f.limits.MaxIsolates)
	case f.limits.MaxUpdates < -1:
		return nil, nil, usageError("--max-updates must be 0 or more, or -1 for no limit, not %d", f.limits.MaxUpdates)
	case f.maxTotalCount == 0 || f.maxTotalCount < -1:
		return nil, nil, usageError("--max-total-count must be positive or -1, not %d", f.maxTotalCount)
	case !(f.limits.MaxMonthlySpend >= 0 || f.limits.MaxMonthlySpend == reconcile.NoLimit) || math.IsInf(f.limits.MaxMonthlySpend, 0):
		return nil, nil, usageError("--max-monthly-spend must be an amount of 0 or more, or -1 for no limit, not %v", f.limits.MaxMonthlySpend)
	case !(f.limits.MaxRenewalSpend >= 0 || f.limits.MaxRenewalSpend == reconcile.NoLimit) || math.IsInf(f.limits.MaxRenewalSpend, 0):
		return nil, nil, usageError("--max-renewal-spend must be an amount of 0 or more, or -1 for no limit, not %v", f.limits.MaxRenewalSpend)
	case f.plan && f.wait.d > 0:
		return nil, nil, usageError("--wait waits for an apply; it does nothing with --plan")
	case f.plan && f.allowOverLimit:
		return nil, nil, usageError("--allow-over-limit applies a plan over a limit; with --plan nothing is applied")
	case f.emulatorFile != "" && f.endpoint != "":
		return nil, nil, usageError("--emulator and --endpoint both say where the API is; give one")
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		return nil, nil, usageError("%v", err)
	}
	if d, ok := waitDurationAsPath(f.wait, paths); ok {
		return nil, nil, usageError("--wait takes its duration after an equals sign: write --wait=%s (%s was read as a path, and there is none)", d, d)
	}
	if f.endpoint == "" && f.emulatorFile == "" {
		f.endpoint = e.getenv(envEndpoint)
	}
	return f, paths, nil
}

// waitDurationAsPath finds "--wait 5m": --wait given alone and a path
// argument that is a duration and names nothing on disk.
func waitDurationAsPath(w waitFlag, paths []string) (string, bool) {
	if !w.bare {
		return "", false
	}
	for _, p := range paths {
		if d, err := time.ParseDuration(p); err != nil || d <= 0 {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, true
		}
	}
	return "", false
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// retryLogger is the client's Options.OnRetry for a command: one warning
// per retry, so that an endpoint that refuses connections or a service
// answering 5xx is not a silent half minute.
func retryLogger(logger *slog.Logger) func(lighthouse.Retry) {
	return func(r lighthouse.Retry) {
		attrs := []any{"action", r.Action, "region", r.Region, "attempt", r.Attempt + 1, "of", r.MaxAttempts, "in", r.Wait.Round(time.Millisecond)}
		if r.Err != nil {
			attrs = append(attrs, "code", r.Err.Code)
			if r.Err.Err != nil {
				attrs = append(attrs, "error", r.Err.Err.Error())
			} else {
				attrs = append(attrs, "error", r.Err.Message)
			}
		}
		logger.Warn("lighthouse call failed; retrying", attrs...)
	}
}

func runReconcile(ctx context.Context, e *env, args []string) error {
	f, paths, err := parseReconcileFlags(e, args)
	if err != nil {
		return err
	}
	ui := newTerminalUI(e)
	level, _ := parseLevel(f.logLevel)
	logger, logErr := newLogger(ui.logWriter(), f.logFormat, level)

	// With an endpoint, each region's sweep starts while the specs load
	// (prefetch.go); what could not be set up is said after the specs'
	// problems, as before. The in-process emulator starts once the specs
	// are valid (it writes its FILE as it starts).
	var pre *prefetchCloud
	var cloudErr error
	specOpts := spec.Options{MaxTotalCount: f.maxTotalCount, ExtraRegions: f.regions}
	if logErr == nil && f.emulatorFile == "" {
		var client *lighthouse.Client
		if client, cloudErr = endpointClient(e, f, logger); cloudErr == nil {
			pre = newPrefetchCloud(ctx, client)
			defer pre.stop()
			specOpts.Parsed = pre.parsed
		}
	}
	fleets, err := loadFleets(e, paths, f.excludes, specOpts)
	if errs, ok := specErrors(err); ok {
		for _, pe := range errs {
			fmt.Fprintln(e.stderr, escape.Text(pe.Error()))
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s in the fleet specs; nothing was changed in the cloud", plural(errs.Count(), "problem"))}
	} else if err != nil {
		return err
	}
	if logErr != nil {
		return usageError("%v", logErr)
	}
	if cloudErr != nil {
		return cloudErr
	}

	var cloud reconcile.Cloud
	if pre != nil {
		cloud = pre
	} else {
		emuLog := slog.New(slog.DiscardHandler) // its request lines only at debug
		if level <= slog.LevelDebug {
			emuLog = logger.With("component", "emulator")
		}
		if f.site == "auto" {
			// The in-process emulator stands in for the default endpoint,
			// which is the China site's: tags and every create parameter.
			f.site = "china"
		}
		emu, err := startEmbeddedEmulator(f.emulatorFile, f.site == "china", emuLog)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := emu.close(); cerr != nil {
				fmt.Fprintf(e.stderr, "lightkeeper reconcile: %v\n", cerr)
			}
		}()
		f.endpoint = emu.url
		if cloud, err = newClient(f, emu.cred, logger); err != nil {
			return err
		}
	}
	endpoint := f.endpoint

	statePath := ""
	var st *reconcile.State
	if f.stateDir != "" {
		if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
			return fmt.Errorf("--state-dir: %w", err)
		}
		statePath = filepath.Join(f.stateDir, "state.json")
		if st, err = reconcile.LoadState(statePath); err != nil {
			return err
		}
	}
	var persist func() error
	if statePath != "" {
		// The intent of a reset, bundle change or renewal is on disk
		// before the call goes out (docs/design.md section 11.3).
		persist = func() error { return st.Save(statePath) }
	}
	r := reconcile.New(cloud, st, reconcile.Options{
		Tags:      lighthouse.TakesTags(f.site, endpoint),
		APIDryRun: f.apiDryRun,
		Getenv:    e.getenv,
		Logger:    logger,
		Progress:  ui.progress,
		Persist:   persist,
	})
	saveState := func() error {
		if statePath == "" {
			return nil
		}
		if err := r.State().Save(statePath); err != nil {
			return fmt.Errorf("%w (the next run derives what it needs from the cloud)", err)
		}
		return nil
	}
	run := &reconcileRun{e: e, f: f, ui: ui, r: r, fleets: fleets, emulated: f.emulatorFile != ""}
	err = run.do(ctx)
	if serr := saveState(); serr != nil {
		if err != nil { // keep err's exit code, but say it
			fmt.Fprintf(e.stderr, "lightkeeper reconcile: %v\n", serr)
			return err
		}
		return serr
	}
	return err
}

// endpointClient is the client of --endpoint (or the default one) with
// the credentials found in the environment or the CLI's files.
func endpointClient(e *env, f *reconcileFlags, logger *slog.Logger) (*lighthouse.Client, error) {
	cred, err := lighthouse.FindCredential(e.getenv, e.getenv("HOME"))
	if err != nil {
		return nil, fmt.Errorf("%w\nhint: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or try it without an account: --emulator /tmp/lk-demo.json", err)
	}
	return newClient(f, cred, logger)
}

// newClient is the client of f.endpoint with cred.
func newClient(f *reconcileFlags, cred lighthouse.Credential, logger *slog.Logger) (*lighthouse.Client, error) {
	client, err := lighthouse.New(lighthouse.Options{Credential: cred, Endpoint: f.endpoint, Logger: logger, OnRetry: retryLogger(logger), RateLimits: f.rateLimits})
	if err != nil {
		return nil, usageError("--endpoint (or $%s): %v", envEndpoint, err)
	}
	return client, nil
}

// reconcileRun is one invocation of reconcile after its setup.
type reconcileRun struct {
	e        *env
	f        *reconcileFlags
	ui       *terminalUI
	r        *reconcile.Reconciler
	fleets   []*spec.Fleet
	emulated bool
}

func (run *reconcileRun) do(ctx context.Context) error {
	p, err := run.r.Plan(ctx, run.fleets)
	if err != nil {
		return interrupted(ctx, fmt.Errorf("plan: %w", err))
	}
	over := check(p, run.f.limits)
	if run.f.plan {
		if err := run.render(p, nil, nil); err != nil {
			return err
		}
		return planExit(p)
	}
	empty := &reconcile.Result{FormatVersion: reconcile.FormatVersion, Fleets: []*reconcile.FleetResult{}}
	if over && !run.f.allowOverLimit {
		res := empty
		if run.f.output == "text" {
			res = nil // the text says it under the plan
		}
		if err := run.render(p, res, nil); err != nil {
			return err
		}
		return &exitCodeError{code: exitOverLimit, err: overLimitError(p)}
	}
	if run.f.output == "text" {
		if err := reconcile.RenderText(run.e.stdout, p, nil, run.ui.color); err != nil {
			return err
		}
	}
	res := empty
	if p.Changes() {
		run.ui.start("applying")
		res, err = run.r.Apply(ctx, p, run.f.allowOverLimit)
		run.ui.stop()
		if err != nil {
			err = interrupted(ctx, err)
		}
	}
	var pending []string
	var werr error
	if err == nil && run.f.wait.d > 0 {
		pending, werr = run.waitRunning(ctx, p, res)
	}
	if rerr := run.renderResult(p, res, pending); rerr != nil {
		return errors.Join(err, rerr)
	}
	switch {
	case err != nil:
		return err
	case run.f.wait.d > 0:
		return werr // nil: every fleet RUNNING at its count, whatever it took
	case !p.Changes() && len(p.Errors()) > 0:
		return planExit(p)
	case !res.OK() || len(p.Failing()) > 0:
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s; rerun to retry (the same ClientTokens are sent, so nothing is bought twice)", applyFailures(p, res))}
	}
	return nil
}

// interrupted explains an error caused by SIGINT or SIGTERM.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("interrupted (%w); what is known is recorded: rerun to finish, with the same ClientTokens", err)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
