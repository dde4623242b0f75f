package reconcile_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
)

// The SIGKILL chaos: the built lightkeeper binary runs `reconcile` against
// the emulator (over HTTP, on the emulator's manual clock; the binary keeps
// wall time) and is killed with SIGKILL at random moments, sometimes two
// processes at once, with and without --state-dir, while creates are lost or
// held back. After every round no slot may hold two live instances; once
// the faults stop, reruns must fill every fleet.
//
//	go test ./reconcile/ -run ChaosKill -chaos.kill 50
var chaosKill = flag.Int("chaos.kill", 3, "number of SIGKILL chaos scenarios (0: none)")

// The binary is built once per test process, at the first scenario that
// needs it, and removed when the process ends (TestMain): every run of a
// -count=N uses it, so no test's cleanup may remove it.
var (
	killBinOnce sync.Once
	killBinDir  string
	killBin     string
	killBinErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if killBinDir != "" {
		os.RemoveAll(killBinDir)
	}
	os.Exit(code)
}

func lightkeeperBinary(t *testing.T) string {
	t.Helper()
	killBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lightkeeper-chaos-")
		if err != nil {
			killBinErr = err
			return
		}
		killBinDir, killBin = dir, filepath.Join(dir, "lightkeeper")
		if out, err := exec.Command("go", "build", "-o", killBin, "../cmd/lightkeeper").CombinedOutput(); err != nil {
			killBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if killBinErr != nil {
		t.Fatal(killBinErr)
	}
	return killBin
}

func TestChaosKill(t *testing.T) {
	if testing.Short() || *chaosKill <= 0 {
		t.Skip("SIGKILL chaos off (-short or -chaos.kill 0)")
	}
	bin := lightkeeperBinary(t)
	seeds := chaosSeeds(*chaosKill, nil)
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			killScenario(t, bin, seed)
		})
	}
}

func killScenario(t *testing.T, bin string, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))
	site, siteFlag := emulator.SiteChina, "china"
	if rng.IntN(2) == 0 {
		site, siteFlag = emulator.SiteIntl, "intl"
	}
	cfg := emulator.Config{
		Seed: seed, Site: site, RateLimits: emulator.NoRateLimits(),
		TokenMismatch: policies[rng.IntN(3)], TokenGone: policies[rng.IntN(3)],
		Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
	}
	if rng.IntN(3) == 0 {
		cfg.LaunchFailureProbability = 0.2
	}
	emu := reconciletest.StartEmulator(t, cfg, lighthouse.Options{})
	srv, clock := emu.Server, emu.Clock
	names := 0
	defs := randomFleets(rng, &names)
	defs = defs[:min(len(defs), 1+rng.IntN(2))]
	for i := range defs {
		defs[i].count = rng.IntN(5)
	}
	s := &scenario{t: t, seed: seed, p: &plan{}, emu: emu, defs: defs, beyond: map[string]int{}}
	s.reload()
	dir := t.TempDir()
	var b strings.Builder
	for _, d := range defs {
		b.WriteString(d.yaml())
	}
	if err := os.WriteFile(filepath.Join(dir, "fleets.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := ""
	if rng.IntN(3) != 0 {
		stateDir = t.TempDir()
	}
	s.logf("site %s, state dir %v, launch failures %.1f, mismatch %s, gone %s", site, stateDir != "", cfg.LaunchFailureProbability, cfg.TokenMismatch, cfg.TokenGone)
	run := func(withState bool, killAfter time.Duration) string {
		args := []string{"reconcile", "--endpoint", emu.URL, "--site", siteFlag, "--max-creates", "-1", "--log-level", "error", "--output", "json"}
		if withState && stateDir != "" {
			args = append(args, "--state-dir", stateDir)
		}
		stderr, err := runKilled(t, bin, append(args, dir), killAfter)
		if err != nil && killAfter < 0 {
			s.fatalf("lightkeeper exited %v: %s", err, stderr)
		}
		return fmt.Sprintf("state %v kill %v: %v", withState && stateDir != "", killAfter, err)
	}
	for round := range 3 + rng.IntN(4) {
		srv.ClearFaults()
		if rng.IntN(2) == 0 {
			srv.InjectFault(emulator.Fault{Kind: emulator.FaultDropResponse, Action: lighthouse.ActionCreateInstances, Probability: 0.3})
		}
		if rng.IntN(2) == 0 {
			srv.InjectFault(emulator.Fault{Kind: emulator.FaultDelay, Action: lighthouse.ActionCreateInstances, Probability: 0.5, Delay: time.Duration(20+rng.IntN(200)) * time.Millisecond})
		}
		before := s.truth()
		logs, runners := killRound(rng, run, true)
		s.logf("round %d: %s | %s; %d instances", round, logs[0], logs[1], len(srv.Instances()))
		s.check(fmt.Sprintf("round %d", round), before, runners)
		clock.Advance(time.Duration(rng.IntN(30)) * time.Second)
	}
	srv.ClearFaults()
	bound := 6
	for i := 0; !s.filled(); i++ {
		if i >= bound {
			s.fatalf("invariant 2: not converged after %d runs of the binary: %s", i, s.missing())
		}
		failed := countState(srv.Instances(), lighthouse.StateLaunchFailed)
		clock.Advance(emulator.DefaultLaunchDelay + time.Second)
		before := s.truth()
		s.logf("converge: %s", run(true, -1))
		s.check(fmt.Sprintf("convergence run %d", i), before, 1)
		clock.Advance(emulator.DefaultLaunchDelay + time.Second)
		bound += countState(srv.Instances(), lighthouse.StateLaunchFailed) - failed
	}
	s.logTrace()
}

// runKilled runs the lightkeeper binary with args against the emulator and
// kills it with SIGKILL after killAfter (never, when negative). It returns
// its standard error and the error of its end: nil for exit status 0, and
// for 1 (the run reported failures) when it was not to be killed.
func runKilled(t *testing.T, bin string, args []string, killAfter time.Duration) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID=AKIDtest", "TENCENTCLOUD_SECRET_KEY=secret", "HOME="+t.TempDir(), "NO_COLOR=1", "LIGHTKEEPER_ENDPOINT=", "LIGHTKEEPER_SITE=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if killAfter >= 0 {
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	err := cmd.Wait()
	if killAfter < 0 && cmd.ProcessState.ExitCode() == 1 {
		return stderr.String(), nil
	}
	return stderr.String(), err
}

// killRound is one round of a SIGKILL chaos: run (withState or not) is
// killed after a random time up to 400 ms, and one time in three a second
// run without state goes beside it, killed too. It returns the runs' lines
// and how many ran.
func killRound(rng *rand.Rand, run func(withState bool, killAfter time.Duration) string, withState bool) ([2]string, int) {
	two := rng.IntN(3) == 0
	kills := []time.Duration{time.Duration(rng.IntN(400)) * time.Millisecond, time.Duration(rng.IntN(400)) * time.Millisecond}
	var wg sync.WaitGroup
	var logs [2]string
	wg.Go(func() { logs[0] = run(withState, kills[0]) })
	if two {
		wg.Go(func() { logs[1] = run(false, kills[1]) })
	}
	wg.Wait()
	return logs, 1 + btoi(two)
}
