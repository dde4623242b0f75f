package reconcile_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// The renewal SIGKILL chaos: the built binary runs `reconcile` on fleets
// with charge.renewBefore (and one without, sometimes) while instances are
// brought within their window or past their expiry, RenewInstances answers
// are lost or held back, and the process is killed with SIGKILL at random
// moments, sometimes beside a second one without state. The emulator's
// manual clock starts at wall time (the binary judges expiries on wall
// time) and moves only by the operations' delay. After every round: no
// instance renewed twice from one ExpiredTime, none renewed while its
// expiry was outside its fleet's window, none of a fleet without
// renewBefore, no slot with two live instances. Once faults stop, runs of
// the binary without state renew everything within its window (a run with
// the state waits out, on wall time, the window of an intent whose send a
// kill may have cut short: correct, and too slow for a test).
//
//	go test ./reconcile/ -run ChaosRenewKill -chaos.renewkill 20
var chaosRenewKill = flag.Int("chaos.renewkill", 2, "number of renewal SIGKILL chaos scenarios (0: none)")

func TestChaosRenewKill(t *testing.T) {
	if testing.Short() || *chaosRenewKill <= 0 {
		t.Skip("renewal SIGKILL chaos off (-short or -chaos.renewkill 0)")
	}
	bin := lightkeeperBinary(t)
	for _, seed := range chaosSeeds(*chaosRenewKill, nil) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			renewKillScenario(t, bin, seed)
		})
	}
}

func renewKillScenario(t *testing.T, bin string, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x726b696c))
	const opDelay = 30 * time.Second
	clock := emulator.NewManualClock(time.Now().UTC().Truncate(time.Second))
	cfg := emulator.Config{Seed: seed, Clock: clock, OperationDelay: opDelay, Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}}
	emu := reconciletest.StartEmulator(t, cfg, lighthouse.Options{})
	srv := emu.Server
	names := 0
	var defs []fleetDef
	for i := range 1 + rng.IntN(2) {
		d := fleetDef{name: nextName(&names), region: chaosRegions[rng.IntN(2)], bundle: "bundle_gen_01", count: 1 + rng.IntN(3)}
		if i == 0 || rng.IntN(3) != 0 {
			d.renewBefore = []string{"3d", "7d"}[rng.IntN(2)]
		}
		defs = append(defs, d)
	}
	before := map[string]time.Duration{}
	for _, d := range defs {
		before[d.name], _ = spec.ParseRenewBefore(d.renewBefore)
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
	stateDir := t.TempDir()
	s.logf("fleets %+v", defs)
	run := func(withState bool, killAfter time.Duration) string {
		args := []string{"reconcile", "--endpoint", emu.URL, "--max-creates", "-1", "--log-level", "error", "--output", "json"}
		if withState {
			args = append(args, "--state-dir", stateDir)
		}
		stderr, err := runKilled(t, bin, append(args, dir), killAfter)
		if err != nil && killAfter < 0 {
			s.fatalf("lightkeeper exited %v: %s", err, stderr)
		}
		return fmt.Sprintf("state %v kill %v: %v", withState, killAfter, err)
	}
	fleetOf := func(in lighthouse.Instance) (fleetDef, bool) {
		for _, d := range defs {
			if d.region == regionOf(in.Zone) && strings.HasPrefix(in.InstanceName, d.name+"-") {
				return d, true
			}
		}
		return fleetDef{}, false
	}
	seen, checked := map[string]bool{}, 0
	checkRenewals := func(where string) {
		byID := map[string]lighthouse.Instance{}
		for _, in := range srv.Instances() {
			byID[in.InstanceId] = in
		}
		log := srv.RenewalLog()
		for _, rn := range log[checked:] {
			k := rn.InstanceId + "@" + rn.From.Format(time.RFC3339)
			if seen[k] {
				s.fatalf("after %s: %s renewed twice from %s", where, rn.InstanceId, rn.From)
			}
			seen[k] = true
			d, ok := fleetOf(byID[rn.InstanceId])
			switch {
			case !ok:
			case before[d.name] == 0:
				s.fatalf("after %s: %s of fleet %s, which has no renewBefore, was renewed: %+v", where, rn.InstanceId, d.name, rn)
			case rn.From.Sub(rn.Started) > before[d.name]:
				s.fatalf("after %s: %s renewed at %s from %s, outside renewBefore %s: a second renewal for one expiry", where, rn.InstanceId, rn.Started, rn.From, before[d.name])
			}
		}
		checked = len(log)
	}
	s.logf("create: %s", run(true, -1))
	clock.Advance(emulator.DefaultLaunchDelay + time.Second)

	for round := range 4 + rng.IntN(4) {
		// Bring one or two instances within their window, or past it.
		var ids []string
		for _, in := range srv.Instances() {
			if reconcile.Live(in.InstanceState) && in.InstanceState != lighthouse.StatePending && !in.OperationInProgress() && !renewedLately(in, clock.Now()) {
				ids = append(ids, in.InstanceId)
			}
		}
		slices.Sort(ids)
		for range min(len(ids), 1+rng.IntN(2)) {
			id := ids[rng.IntN(len(ids))]
			d := time.Duration(1+rng.IntN(6*24)) * time.Hour
			if rng.IntN(4) == 0 {
				d = -time.Minute
			}
			if err := srv.SetExpiredTime(id, time.Now().Add(d)); err != nil {
				t.Fatal(err)
			}
			for k := range seen {
				if strings.HasPrefix(k, id+"@") {
					delete(seen, k) // the scenario may give it an expiry it had
				}
			}
			s.logf("%s expires in %s", id, d)
		}
		srv.ClearFaults()
		if rng.IntN(2) == 0 {
			srv.InjectFault(emulator.Fault{Kind: emulator.FaultDropResponse, Action: lighthouse.ActionRenewInstances, Probability: 0.4})
		}
		if rng.IntN(2) == 0 {
			srv.InjectFault(emulator.Fault{Kind: emulator.FaultDelay, Action: lighthouse.ActionRenewInstances, Probability: 0.6, Delay: time.Duration(20+rng.IntN(200)) * time.Millisecond})
		}
		truth := s.truth()
		logs, runners := killRound(rng, run, rng.IntN(4) != 0)
		s.logf("round %d: %s | %s; %d renewals", round, logs[0], logs[1], len(srv.RenewalLog()))
		s.check(fmt.Sprintf("round %d", round), truth, runners)
		checkRenewals(fmt.Sprintf("round %d", round))
		clock.Advance(opDelay + time.Second)
		checkRenewals(fmt.Sprintf("round %d, its operations ended", round))
	}
	srv.ClearFaults()
	for i := 0; ; i++ {
		var left []string
		for _, in := range srv.Instances() {
			d, ok := fleetOf(in)
			if !ok || before[d.name] == 0 || !reconcile.Live(in.InstanceState) && !in.ShutDownByExpiry() {
				continue
			}
			if exp, _ := time.Parse(lighthouse.TimeLayout, *in.ExpiredTime); time.Until(exp) <= before[d.name] {
				left = append(left, fmt.Sprintf("%s %s expires %s", in.InstanceId, in.InstanceState, exp))
			}
		}
		if len(left) == 0 && s.filled() {
			break
		}
		if i >= 4 {
			s.fatalf("not converged after %d runs without state: %v %s; renewals %+v", i, left, s.missing(), srv.RenewalLog())
		}
		truth := s.truth()
		s.logf("converge: %s", run(false, -1))
		s.check(fmt.Sprintf("convergence run %d", i), truth, 1)
		clock.Advance(opDelay + emulator.DefaultLaunchDelay + time.Second)
		checkRenewals(fmt.Sprintf("convergence run %d", i))
	}
	s.logTrace()
}

// renewedLately reports whether in's latest operation is a RenewInstances
// that a runner without state still takes as recent (the window on wall
// time; the manual clock runs ahead of it by the operations' delays): an
// expiry moved back now would be one that renewal may already have
// renewed, and such a runner waits out the window before renewing it, as
// it must.
func renewedLately(in lighthouse.Instance, now time.Time) bool {
	if in.LatestOperation != lighthouse.ActionRenewInstances || in.LatestOperationStartedTime == nil {
		return false
	}
	started, err := time.Parse(lighthouse.TimeLayout, *in.LatestOperationStartedTime)
	return err == nil && now.Sub(started) < reconcile.DefaultExpectWindow+time.Until(now)+time.Minute
}
