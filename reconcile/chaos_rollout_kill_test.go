package reconcile_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The rollout SIGKILL chaos: the built binary runs `reconcile` with
// --max-updates -1 against the emulator (over HTTP, on the emulator's
// manual clock) while fleets roll to another blueprint or bundle, and is
// killed with SIGKILL at random moments, sometimes two processes at once,
// with and without --state-dir, while answers of the new actions and of
// creates are lost. After every round the rollout chaos's checks hold (no
// reset or bundle change twice per change, from the emulator's own record;
// the bounds); once the faults stop, reruns end every rollout.
//
//	go test ./reconcile/ -run ChaosRolloutKill -chaos.rolloutkill 30
var chaosRolloutKill = flag.Int("chaos.rolloutkill", 2, "number of rollout SIGKILL chaos scenarios (0: none)")

func TestChaosRolloutKill(t *testing.T) {
	if testing.Short() || *chaosRolloutKill <= 0 {
		t.Skip("rollout SIGKILL chaos off (-short or -chaos.rolloutkill 0)")
	}
	bin := lightkeeperBinary(t)
	seeds := chaosSeeds(*chaosRolloutKill, nil)
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rolloutKillScenario(t, bin, seed)
		})
	}
}

func rolloutKillScenario(t *testing.T, bin string, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b726f6c))
	cfg := emulator.Config{
		Seed: seed, RateLimits: emulator.NoRateLimits(), LaunchDelay: 10 * time.Second, OperationDelay: 20 * time.Second,
		TokenMismatch: emulator.TokenReturnOriginal, TokenGone: emulator.TokenReject,
		Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
	}
	if rng.IntN(2) == 0 {
		cfg.BusyAsOperationDenied = true
	}
	emu := reconciletest.StartEmulator(t, cfg, lighthouse.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := &rolloutPlan{cfg: cfg, opDelay: cfg.OperationDelay, tags: true}
	for i := range 1 + rng.IntN(2) {
		d := rolloutDef{name: fmt.Sprintf("k%d", i+1), region: "ap-guangzhou", count: 1 + rng.IntN(4), bundle: rolloutBundles[0],
			blueprint: rolloutBlueprints[0], zone: "ap-guangzhou-3", renewFlag: rolloutFlags[0],
			strategy: []string{spec.UpdateInPlace, spec.UpdateReplace}[rng.IntN(2)], maxUnavailable: rng.IntN(3), maxSurge: rng.IntN(3)}
		d.fix()
		p.defs = append(p.defs, d)
	}
	s := &rolloutScenario{t: t, seed: seed, p: p, ctx: ctx, emu: emu, defs: p.defs,
		wanted: map[string]map[string]map[string]int{}, fleetOf: map[string]string{}, reached: map[string]bool{}}
	s.opts = reconcile.Options{Tags: true, Now: emu.Clock.Now}
	s.limits = reconcile.NoLimits()
	s.daemon = reconcile.New(emu.Client, nil, s.opts)
	s.reload()
	for _, d := range s.defs {
		s.want(d, nil)
	}
	dir, stateDir := t.TempDir(), ""
	if rng.IntN(3) != 0 {
		stateDir = t.TempDir()
	}
	write := func() {
		var b strings.Builder
		for _, d := range s.defs {
			b.WriteString(d.yaml())
		}
		if err := os.WriteFile(filepath.Join(dir, "fleets.yaml"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	s.logf("state dir %v, busy as denied %v, fleets %+v", stateDir != "", cfg.BusyAsOperationDenied, s.defs)
	run := func(withState bool, killAfter time.Duration) string {
		args := []string{"reconcile", "--endpoint", emu.URL, "--max-creates", "-1", "--max-updates", "-1", "--max-isolates", "-1", "--log-level", "error", "--output", "json"}
		if withState && stateDir != "" {
			args = append(args, "--state-dir", stateDir)
		}
		stderr, err := runKilled(t, bin, append(args, dir), killAfter)
		if err != nil && killAfter < 0 {
			s.fatalf("lightkeeper exited %v: %s", err, stderr)
		}
		return fmt.Sprintf("state %v kill %v: %v", withState && stateDir != "", killAfter, err)
	}
	// Build the fleets, then change their shape.
	if !s.settleWith("build", 8, func() { s.logf("build: %s", run(true, -1)) }) {
		s.fatalf("the fleets were not built")
	}
	for i := range s.defs {
		old := s.defs[i]
		if rng.IntN(2) == 0 {
			s.defs[i].blueprint = rolloutBlueprints[1]
		} else {
			s.defs[i].bundle = rolloutBundles[1]
		}
		s.want(s.defs[i], &old)
	}
	s.reload()
	write()
	s.logf("spec: %+v", s.defs)
	for round := range 3 + rng.IntN(4) {
		emu.Server.ClearFaults()
		for _, a := range []string{lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle, lighthouse.ActionCreateInstances} {
			if rng.IntN(2) == 0 {
				emu.Server.InjectFault(emulator.Fault{Kind: emulator.FaultDropResponse, Action: a, Probability: 0.4})
			}
		}
		before := s.view()
		two := rng.IntN(3) == 0
		kills := []time.Duration{time.Duration(rng.IntN(400)) * time.Millisecond, time.Duration(rng.IntN(400)) * time.Millisecond}
		var wg sync.WaitGroup
		var logs [2]string
		wg.Go(func() { logs[0] = run(true, kills[0]) })
		if two {
			wg.Go(func() { logs[1] = run(false, kills[1]) })
		}
		wg.Wait()
		s.logf("round %d: %s | %s", round, logs[0], logs[1])
		s.check(fmt.Sprintf("round %d", round), before, 1+btoi(two))
		emu.Clock.Advance(time.Duration(rng.IntN(40)) * time.Second)
	}
	emu.Server.ClearFaults()
	emu.Clock.Advance(cfg.OperationDelay + time.Second)
	if !s.settleWith("converge", 12+4*len(s.defs), func() { s.logf("converge: %s", run(true, -1)) }) {
		p, _ := reconcile.New(emu.Client, nil, s.opts).Plan(s.ctx, s.fleets)
		s.fatalf("the rollouts did not end once the kills stopped: %s\n%s", rolloutSummary(p), s.describeAll())
	}
	if *chaosTrace {
		t.Logf("seed %d:\n  %s", seed, strings.Join(s.trace, "\n  "))
	}
}

// settleWith runs apply (a run of the binary) until every rollout is done,
// at most bound times, checking after each and moving the clock past the
// operations between them.
func (s *rolloutScenario) settleWith(who string, bound int, apply func()) bool {
	for run := range bound {
		before := s.view()
		apply()
		s.check(fmt.Sprintf("%s run %d", who, run), before, 1)
		if s.done() {
			return true
		}
		s.emu.Clock.Advance(max(s.p.opDelay, s.p.cfg.LaunchDelay) + time.Second)
	}
	return false
}
