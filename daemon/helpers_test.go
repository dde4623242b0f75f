package daemon_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// waitFor is how long a test waits for the loop to get somewhere. It is
// generous: tests never pass or fail on timing, only time out.
const waitFor = 60 * time.Second

// fleet renders a fleet document.
func fleet(name, bundle string, count int) string {
	return fmt.Sprintf(`apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: %s
spec:
  region: ap-guangzhou
  count: %d
  bundleId: %s
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
`, name, count, bundle)
}

// env is a daemon over a fleet directory and an emulator on httptest with
// a manual clock.
type env struct {
	t      *testing.T
	dir    string // the repository; fleets live in dir/fleets
	emu    *emulator.Server
	client *lighthouse.Client
	clock  *emulator.ManualClock
	cloud  reconcile.Cloud // what the daemon is given (client, maybe wrapped)
	reg    *prom.Registry
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan error
}

// newEnv makes an emulator, a client and a fleet directory; files maps a
// name under fleets/ to its content.
func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	return newEnvConfig(t, files, nil)
}

// newEnvConfig is newEnv with the emulator's configuration changed by
// configure (nil: as newEnv).
func newEnvConfig(t *testing.T, files map[string]string, configure func(*emulator.Config)) *env {
	t.Helper()
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := emulator.Config{Credentials: map[string]string{"AKIDx": "k"}, Clock: clock,
		RateLimits: emulator.NoRateLimits(), MaxClockSkew: -1}
	if configure != nil {
		configure(&cfg)
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	c, err := lighthouse.New(lighthouse.Options{Credential: lighthouse.NewCredential("AKIDx", "k", "", "t"), Endpoint: hs.URL,
		RateLimits: map[string]float64{lighthouse.ActionCreateInstances: 0, lighthouse.ActionDescribeInstances: 0}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: t.TempDir(), emu: emu, client: c, clock: clock, cloud: c}
	for name, content := range files {
		e.write(name, content)
	}
	return e
}

// write puts a file under fleets/.
func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, "fleets", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	// The file's time is the clock's, as a commit's would be: the pages
	// then say "committed 5 min ago", not "in 336 days".
	if err := os.Chtimes(p, e.clock.Now(), e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// remove deletes a file under fleets/.
func (e *env) remove(name string) {
	e.t.Helper()
	if err := os.Remove(filepath.Join(e.dir, "fleets", name)); err != nil {
		e.t.Fatal(err)
	}
}

// options are the daemon options of a test: no interval cycles (only the
// first one and triggers), no jitter, the emulator's clock.
func (e *env) options() daemon.Options {
	return daemon.Options{
		Source:   daemon.DirSource{Dir: e.dir},
		Cloud:    e.cloud,
		Path:     "fleets",
		Interval: time.Hour,
		Jitter:   -1,
		// Each trigger of a test starts its cycle at once;
		// TestTriggerGap checks the gap.
		TriggerGap: -1,
		Reconcile:  reconcile.Options{Now: e.clock.Now},
		Limits:     reconcile.Limits{MaxCreates: reconcile.NoLimit, MaxMonthlySpend: reconcile.NoLimit},
		Registry:   prom.NewRegistry(),
	}
}

// start makes the daemon from opts and runs it until the test ends.
func (e *env) start(opts daemon.Options) {
	e.t.Helper()
	d := e.build(opts)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- d.Run(ctx) }()
	e.t.Cleanup(func() { e.stop() })
}

// build makes the daemon of opts, not running yet.
func (e *env) build(opts daemon.Options) *daemon.Daemon {
	e.t.Helper()
	d, err := daemon.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.d, e.reg = d, opts.Registry
	return d
}

// serve starts the daemon of opts, waits for its first cycle and returns
// the address of its pages, served until the test ends.
func (e *env) serve(opts daemon.Options) string {
	e.t.Helper()
	e.start(opts)
	e.waitRuns(1)
	srv := httptest.NewServer(e.d.Handler())
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// stop cancels Run and returns its error.
func (e *env) stop() error {
	e.t.Helper()
	if e.cancel == nil {
		return nil
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		return err
	case <-time.After(waitFor):
		e.t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// waitRuns waits until n cycles have ended and returns the status.
func (e *env) waitRuns(n int) daemon.Status {
	e.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := e.d.Status()
		if s.Runs >= n {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waited %v for cycle %d; status: runs %d, last error %q", waitFor, n, s.Runs, s.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cycle triggers one cycle and waits for it. The loop must be idle.
func (e *env) cycle() daemon.Status {
	e.t.Helper()
	n := e.d.Status().Runs
	e.d.Trigger()
	return e.waitRuns(n + 1)
}

// cycleUntilReplaced runs the cycles that replace an instance deleted by
// hand: the first one replays the slot's token, which the emulator answers
// with the deleted instance's ID, so the slot waits out the expectation
// window; the clock then passes it, and the second cycle creates anew.
func (e *env) cycleUntilReplaced() daemon.Status {
	e.t.Helper()
	e.cycle()
	e.clock.Advance(reconcile.DefaultExpectWindow + time.Minute)
	return e.cycle()
}

// live counts the emulator's instances per name prefix ("web-").
func (e *env) live(prefix string) int {
	n := 0
	for _, in := range e.emu.Instances() {
		if strings.HasPrefix(in.InstanceName, prefix) && reconcile.Live(in.InstanceState) {
			n++
		}
	}
	return n
}

// metric reads one series of a family from the registry's exposition.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	v, ok := promtest.Value(e.t, e.reg, name, labels...)
	if !ok {
		e.t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// get fetches a path of the daemon's handler.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// lint checks the registry's metrics against Prometheus conventions.
func (e *env) lint() {
	e.t.Helper()
	for _, p := range promtest.Lint(e.t, e.reg) {
		e.t.Errorf("metric %s", p)
	}
}

// newTextLogger logs to w as the daemon's command does by default.
func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
