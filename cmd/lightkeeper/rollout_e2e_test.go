package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// Rollouts end to end: the built binary against `lightkeeper emulator`,
// both as processes, the fleet web of 4 rolled to a new blueprint by
// replacement (maxSurge 1, maxUnavailable 0) and then in place
// (maxUnavailable 1), the apply (or the daemon) SIGKILLed in the middle and
// the rollout finished by a rerun (or a restart), while an observer reads
// every instance of the emulator every 100 ms and holds them to the
// issue's invariants 1-3.

const (
	rolloutOldBlueprint = "lhbp-g0tn7djh"
	rolloutNewBlueprint = "lhbp-a7oxy2bx"
	rolloutInPlaceTo    = "lhbp-d8pgvqz2"
	replaceUpdate       = "{strategy: replace, maxSurge: 1, maxUnavailable: 0}"
	inPlaceUpdate       = "{strategy: inPlace, maxUnavailable: 1}"
)

// rolloutFleet is the fleet web of 4 on blueprint with the update block.
func rolloutFleet(blueprint, update string) string {
	return fmt.Sprintf("apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  region: ap-guangzhou\n  count: 4\n  bundleId: bundle_gen_01\n  blueprintId: %s\n  zones: [ap-guangzhou-3]\n  charge: {period: 1}\n  update: %s\n", blueprint, update)
}

// rolloutObserver reads the emulator's instances named web-* every 100 ms
// and records every breach of the invariants:
//
//  1. no double action: no instance shows two ResetInstance operations
//     (two LatestOperationRequestIds) for one change in git;
//  2. bounded disruption: once the fleet served all its slots, at least
//     count - maxUnavailable slots are served by a RUNNING instance with no
//     operation running, and never more than count + maxSurge instances
//     are live;
//  3. (checked at the end by the test) live = count, all of the spec's
//     shape, the replaced ones isolated.
type rolloutObserver struct {
	t    *testing.T
	url  string
	stop chan struct{}
	done chan struct{}

	mu                       sync.Mutex
	count, maxSurge, maxUnav int
	change                   int                    // the git change under way, for the reset record
	resets                   map[[2]string][]string // (change, instance) -> RequestIds of its resets
	reached                  bool
	samples, maxLive         int
	minServed                int
	breaches                 []string
}

func observeRollout(t *testing.T, url string) *rolloutObserver {
	o := &rolloutObserver{t: t, url: url, stop: make(chan struct{}), done: make(chan struct{}), count: 4, maxSurge: 1, resets: map[[2]string][]string{}, minServed: 4}
	go func() {
		defer close(o.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-tick.C:
				o.sample()
			}
		}
	}()
	t.Cleanup(o.end)
	return o
}

// bounds sets the bounds of the change now in git (change numbers it).
func (o *rolloutObserver) bounds(change, maxSurge, maxUnavailable int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.change, o.maxSurge, o.maxUnav = change, maxSurge, maxUnavailable
}

func (o *rolloutObserver) sample() {
	ins, err := listInstances(o.url)
	if err != nil {
		return // the emulator is stopping
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.samples++
	live, served := 0, map[string]bool{}
	for _, in := range ins {
		if !strings.HasPrefix(in.InstanceName, "web-") {
			continue
		}
		if reconcile.Live(in.InstanceState) {
			live++
		}
		if in.InstanceState == lighthouse.StateRunning && in.LatestOperationState != lighthouse.OperationOperating {
			served[in.InstanceName] = true
		}
		if in.LatestOperation == lighthouse.ActionResetInstance {
			k := [2]string{fmt.Sprint(o.change), in.InstanceId}
			if rids := o.resets[k]; len(rids) == 0 || rids[len(rids)-1] != in.LatestOperationRequestId {
				o.resets[k] = append(rids, in.LatestOperationRequestId)
				if len(o.resets[k]) > 1 {
					o.breaches = append(o.breaches, fmt.Sprintf("%s reset twice for change %d: %v", in.InstanceId, o.change, o.resets[k]))
				}
			}
		}
	}
	o.maxLive = max(o.maxLive, live)
	if len(served) == o.count {
		o.reached = true
	}
	if o.reached {
		o.minServed = min(o.minServed, len(served))
	}
	if live > o.count+o.maxSurge {
		o.breaches = append(o.breaches, fmt.Sprintf("%d live instances, count %d + maxSurge %d", live, o.count, o.maxSurge))
	}
	if o.reached && len(served) < o.count-o.maxUnav {
		o.breaches = append(o.breaches, fmt.Sprintf("%d slots served, count %d - maxUnavailable %d", len(served), o.count, o.maxUnav))
	}
}

// end stops the observer and fails the test for every breach.
func (o *rolloutObserver) end() {
	select {
	case <-o.stop:
		return
	default:
	}
	close(o.stop)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	o.t.Logf("observer: %d samples every 100 ms, at most %d live, at least %d slots served once all were", o.samples, o.maxLive, o.minServed)
	for _, b := range o.breaches {
		o.t.Errorf("invariant: %s", b)
	}
}

// waitFor polls cond every 100 ms until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkRolledOut holds the end to invariant 3: exactly 4 live web
// instances, one a name, all on blueprint, and every other web instance
// isolated (not live).
func checkRolledOut(t *testing.T, url, blueprint string) {
	t.Helper()
	names := map[string]int{}
	for _, in := range emulatorInstances(t, url) {
		if !strings.HasPrefix(in.InstanceName, "web-") || !reconcile.Live(in.InstanceState) {
			continue
		}
		names[in.InstanceName]++
		if in.BlueprintId != blueprint || in.InstanceState != lighthouse.StateRunning {
			t.Errorf("%s %s is %s on %s, want RUNNING on %s", in.InstanceId, in.InstanceName, in.InstanceState, in.BlueprintId, blueprint)
		}
	}
	if len(names) != 4 {
		t.Errorf("live names %v, want web-0..web-3", names)
	}
	for name, n := range names {
		if n != 1 {
			t.Errorf("%s: %d live instances", name, n)
		}
	}
}

// rolledOut reports whether the fleet is done on blueprint: 4 live, all on
// it and RUNNING with no operation running.
func rolledOut(url, blueprint string) bool {
	ins, err := listInstances(url)
	if err != nil {
		return false
	}
	live := 0
	for _, in := range ins {
		if !strings.HasPrefix(in.InstanceName, "web-") || !reconcile.Live(in.InstanceState) {
			continue
		}
		live++
		if in.BlueprintId != blueprint || in.InstanceState != lighthouse.StateRunning || in.LatestOperationState == lighthouse.OperationOperating {
			return false
		}
	}
	return live == 4
}

// resetsDone counts the ResetInstance calls the emulator answered OK.
func resetsDone(t *testing.T, url string) int {
	return emulatorCalls(t, url)[lighthouse.ActionResetInstance]["OK"]
}

// TestRolloutEndToEnd: reconcile, a process, rolls the fleet by
// replacement and then in place, SIGKILLed in the middle of each, a rerun
// finishing each; the observer holds every 100 ms to invariants 1-3.
func TestRolloutEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s", "--operation-delay", "2s", "--no-rate-limits")
	dir := t.TempDir()
	stateDir := t.TempDir()
	write := func(blueprint, update string) {
		if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(rolloutFleet(blueprint, update)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apply := []string{"reconcile", "--endpoint", emu.url, "--max-creates", "-1", "--max-updates", "-1", "--state-dir", stateDir}
	write(rolloutOldBlueprint, replaceUpdate)
	if code, out, errOut := runBin(t, bin, nil, append(apply, "--wait=1m", dir)...); code != exitOK {
		t.Fatalf("create the fleet: exit %d\n%s\n%s", code, out, errOut)
	}
	waitFor(t, "the fleet to run", time.Minute, func() bool { return rolledOut(emu.url, rolloutOldBlueprint) })
	obs := observeRollout(t, emu.url)
	obs.bounds(1, 1, 0)

	// 1. replace, maxSurge 1, maxUnavailable 0: killed once the first
	// replacement is bought, finished by a rerun with the same state.
	write(rolloutNewBlueprint, replaceUpdate)
	var stderr strings.Builder
	cmd, exited := startApplyInFlight(t, bin, emu.url, &stderr, append(apply, "--wait=2m", dir)...)
	waitFor(t, "a replacement", time.Minute, func() bool { return len(emulatorInstances(t, emu.url)) > 4 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v (the apply had ended)", err)
	}
	<-exited
	t.Logf("replace: killed with %d instances", len(emulatorInstances(t, emu.url)))
	if code, out, errOut := runBin(t, bin, nil, append(apply, "--wait=2m", dir)...); code != exitOK {
		t.Fatalf("replace rerun: exit %d\n%s\n%s", code, out, errOut)
	}
	waitFor(t, "the replaced instances to be isolated", time.Minute, func() bool { return rolledOut(emu.url, rolloutNewBlueprint) })
	checkRolledOut(t, emu.url, rolloutNewBlueprint)
	if n := resetsDone(t, emu.url); n != 0 {
		t.Errorf("%d resets under strategy replace", n)
	}
	if all := len(emulatorInstances(t, emu.url)); all != 8 {
		t.Errorf("%d instances bought in all, want 4 + 4 replacements", all)
	}

	// 2. inPlace, maxUnavailable 1: killed once the first reset runs.
	obs.bounds(2, 0, 1)
	write(rolloutInPlaceTo, inPlaceUpdate)
	stderr.Reset()
	cmd, exited = startApplyInFlight(t, bin, emu.url, &stderr, append(apply, "--wait=2m", dir)...)
	waitFor(t, "a reset", time.Minute, func() bool { return resetsDone(t, emu.url) > 0 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v (the apply had ended)", err)
	}
	<-exited
	t.Logf("inPlace: killed after %d resets", resetsDone(t, emu.url))
	if code, out, errOut := runBin(t, bin, nil, append(apply, "--wait=2m", dir)...); code != exitOK {
		t.Fatalf("inPlace rerun: exit %d\n%s\n%s", code, out, errOut)
	}
	checkRolledOut(t, emu.url, rolloutInPlaceTo)
	if n := resetsDone(t, emu.url); n != 4 {
		t.Errorf("%d resets, want 4: one an instance", n)
	}
	if code, out, _ := runBin(t, bin, nil, append(apply, "--plan", dir)...); code != exitOK {
		t.Errorf("plan after the rollout: exit %d\n%s", code, out)
	}
	obs.end()
}

// TestRolloutDaemonEndToEnd: the same through `lightkeeper daemon`, a
// process following a local git repository: each change is a commit (a
// push), the daemon is SIGKILLed in the middle of each rollout and
// restarted on its state directory.
func TestRolloutDaemonEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s", "--operation-delay", "2s", "--no-rate-limits")
	r := newDaemonRig(t)
	r.endpoint = emu.url
	addr := etcdtest.FreeAddr(t)
	r.writeConfig(fmt.Sprintf("listen: %q\n", addr))
	r.editConfig(t, "interval: 1h", "interval: 1s", "maxCreatesPerRun: 10", "maxCreatesPerRun: 10\n  maxUpdatesPerRun: -1")
	r.commitDoc(rolloutFleet(rolloutOldBlueprint, replaceUpdate), "web: 4")
	d := startDaemonProcess(t, bin, r.cfgFile, addr)
	waitUntil(t, "/readyz", func() bool { return d.get("/readyz") == http.StatusOK })
	waitFor(t, "the fleet to run", time.Minute, func() bool { return rolledOut(emu.url, rolloutOldBlueprint) })
	obs := observeRollout(t, emu.url)
	obs.bounds(1, 1, 0)

	restart := func(what string, started func() bool, done func() bool) {
		t.Helper()
		waitFor(t, what+" to start", time.Minute, started)
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
		d.cmd.Wait()
		t.Logf("%s: daemon killed with %d instances, %d resets", what, len(emulatorInstances(t, emu.url)), resetsDone(t, emu.url))
		d = startDaemonProcess(t, bin, r.cfgFile, addr)
		waitFor(t, what+" to end", 2*time.Minute, done)
	}
	r.commitDoc(rolloutFleet(rolloutNewBlueprint, replaceUpdate), "web: centos, replaced")
	restart("replace", func() bool { return len(emulatorInstances(t, emu.url)) > 4 }, func() bool { return rolledOut(emu.url, rolloutNewBlueprint) })
	checkRolledOut(t, emu.url, rolloutNewBlueprint)
	if all := len(emulatorInstances(t, emu.url)); all != 8 {
		t.Errorf("%d instances bought in all, want 4 + 4 replacements", all)
	}

	obs.bounds(2, 0, 1)
	r.commitDoc(rolloutFleet(rolloutInPlaceTo, inPlaceUpdate), "web: reset in place")
	restart("inPlace", func() bool { return resetsDone(t, emu.url) > 0 }, func() bool { return rolledOut(emu.url, rolloutInPlaceTo) })
	checkRolledOut(t, emu.url, rolloutInPlaceTo)
	// A few more cycles: nothing is sent again once done.
	time.Sleep(3 * time.Second)
	if n := resetsDone(t, emu.url); n != 4 {
		t.Errorf("%d resets, want 4: one an instance", n)
	}
	if code := d.term(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	obs.end()
}
