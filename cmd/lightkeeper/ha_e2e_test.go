//go:build full

package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// The HA process tests: real etcd (in the test process), `lightkeeper
// emulator` and three `lightkeeper daemon` processes (haRig). Each asserts
// what it is about, and the rig's monitor fails any of them on a fleet over
// its count or a name held twice, at any moment.
//
// They are the full suite, with the HA chaos (ha_chaos_test.go) and the HA
// measurements (ha_measure_test.go): the files of the rig and its tests
// build only with the tag full, so that `go test ./...` stays under two
// minutes on two cores. .ci/run runs them all:
//
//	go test -tags full ./...
//	go test -tags full ./cmd/lightkeeper/ -run TestHA -v

// TestHAElection: of three daemons, reaching etcd over TLS with a client
// certificate, exactly one leads and the others name it; /readyz and
// lightkeeper_leader say the same; only the leader calls the API, the
// others' cycles end as "follower" and show the revision the leader
// reconciles; a raised count converges; an invalid commit shows on every
// daemon and changes nothing.
func TestHAElection(t *testing.T) {
	r := newHARig(t, haOptions{tls: true, fleets: map[string]int{"web": 2, "api": 1}})
	leader := r.waitLeader("start")
	if ls, _ := r.leaders(); len(ls) != 1 {
		t.Fatalf("%d leaders", len(ls))
	}
	if code, _ := leader.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz of the leader %s: %d", leader.id, code)
	}
	if v := leader.metric("lightkeeper_leader"); v != "1" {
		t.Errorf("lightkeeper_leader of the leader: %q", v)
	}
	for _, f := range r.followers(leader) {
		code, body := f.get("/readyz")
		if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not leader") || !strings.Contains(body, leader.id) {
			t.Errorf("/readyz of the follower %s: %d %q", f.id, code, body)
		}
		if v := f.metric("lightkeeper_leader"); v != "0" {
			t.Errorf("lightkeeper_leader of the follower %s: %q", f.id, v)
		}
		if ha := f.ha(); ha["leaderURL"] != "http://"+leader.addr {
			t.Errorf("%s: leaderURL %v, want the leader's advertiseURL", f.id, ha["leaderURL"])
		}
	}
	r.setCounts(map[string]int{"web": 4})
	r.waitConverged("web raised")
	r.waitSynced("web raised")
	if n := r.calls.byDaemon(time.Time{}); len(n) != 1 || n[leader.id] == 0 {
		t.Errorf("API calls by daemon %v; want only the leader's (%s)", n, leader.id)
	}
	if keys := r.leaderKeys(); len(keys) != 3 {
		t.Errorf("election keys in etcd: %q, want one per daemon", keys)
	}
	head := r.git.head()
	for _, f := range r.followers(leader) {
		waitUntil(t, f.id+" to show the leader's revision", func() bool { return f.ha()["leaderRevision"] == head })
		if run, _ := f.status()["lastRun"].(map[string]any); run["result"] != "follower" {
			t.Errorf("%s: last cycle %v, want result follower", f.id, run)
		}
	}

	broken := strings.Replace(haFleetDoc("web", 9), "count: 9", "count: -1", 1)
	r.push(map[string]string{"web": broken}, "web: broken")
	for _, d := range r.daemons {
		waitUntil(t, d.id+" to report the invalid revision", func() bool {
			inv, _ := d.status()["invalid"].(map[string]any)
			return inv != nil && inv["subject"] == "web: broken" && d.metric("lightkeeper_invalid_revision") == "1"
		})
	}
	r.setCounts(map[string]int{"web": 3})
	r.waitConverged("web lowered after the invalid revision")
	if n := r.calls.byDaemon(time.Time{}); len(n) != 1 {
		t.Errorf("API calls by daemon %v; want only the leader's (%s)", n, leader.id)
	}
}

// TestHAKillLeader: SIGKILL of the leader; another daemon takes over after
// the lease, calls the API first, and the fleets converge on a new commit;
// the killed daemon, restarted, follows and calls nothing.
func TestHAKillLeader(t *testing.T) {
	r := newHARig(t, haOptions{})
	old := r.waitLeader("start")
	killed := old.kill()
	leader := r.waitLeader("after SIGKILL of " + old.id)
	if leader == old {
		t.Fatal("the killed daemon leads")
	}
	r.checkFailover("SIGKILL", killed, old, leader)
	r.setCounts(map[string]int{"web": 5})
	r.waitConverged("web raised after the failover")

	old.start()
	restarted := time.Now()
	if l := r.waitLeader("the killed daemon back"); l != leader {
		t.Errorf("%s leads after %s came back; want %s to keep leading", l.id, old.id, leader.id)
	}
	r.setCounts(map[string]int{"web": 6})
	r.waitConverged("web raised with the old leader back")
	r.waitSynced("web raised with the old leader back")
	if n := r.calls.byDaemon(restarted); n[old.id] != 0 {
		t.Errorf("the restarted follower %s made %d API calls", old.id, n[old.id])
	}
}

// checkFailover waits for the first API call after old got signal at at
// from another daemon, fails unless it came from leader, and logs the time
// between the two.
func (r *haRig) checkFailover(signal string, at time.Time, old, leader *haDaemon) {
	r.t.Helper()
	first := r.firstCallAfter(at, old)
	if first.daemon != leader.id {
		r.t.Errorf("the first API call after %s of %s came from %s, not the new leader %s", signal, old.id, first.daemon, leader.id)
	}
	r.t.Logf("failover: %v from %s of %s to the first API call (%s) of %s (lease TTL %v)", first.at.Sub(at), signal, old.id, first.action, leader.id, r.o.leaseTTL)
}

// TestHATermLeader: SIGTERM of the leader exits 0 and hands over at once:
// its election key is gone from etcd when it has exited (no waiting for the
// lease), another daemon leads, and a commit converges.
func TestHATermLeader(t *testing.T) {
	r := newHARig(t, haOptions{leaseTTL: 10 * time.Second})
	old := r.waitLeader("start")
	termed := old.term()
	if keys := r.leaderKeys(); len(keys) != 2 {
		t.Errorf("election keys right after the leader exited: %q; want the other two only", keys)
	}
	leader := r.waitLeader("after SIGTERM of " + old.id)
	r.checkFailover("SIGTERM", termed, old, leader)
	r.setCounts(map[string]int{"web": 4})
	r.waitConverged("web raised after the handover")
}

// TestHAWebhookToFollower: with only triggers (interval 1h), a webhook
// sent to a follower makes the leader run a cycle: an instance deleted by
// hand is replaced, and the follower calls nothing.
func TestHAWebhookToFollower(t *testing.T) {
	r := newHARig(t, haOptions{interval: time.Hour, fleets: map[string]int{"web": 3}, emuArgs: []string{"--token-gone", "create-new"}})
	leader := r.waitLeader("start")
	f := r.followers(leader)[0]
	// A cycle that lists all three first: an instance that was never
	// listed holds its slot for the expectation window after it is gone.
	leader.proc().trigger(t)
	waitUntil(t, "the leader to list the three instances", func() bool { return leader.observed("web", 3) })
	listed := emulatorInstances(t, r.emu.url)
	r.emu.deleteInstance(t, listed[0].InstanceId)
	waitUntil(t, "the deletion", func() bool { return r.mon.live()["web"] == 2 })
	sent := time.Now()
	postHook(t, f.proc().base, "0000000000000000000000000000000000000000")
	r.waitConverged("the deleted instance replaced")
	if v := leader.metric(`lightkeeper_triggers_total{source="forwarded"}`); v == "" || v == "0" {
		t.Errorf(`the leader's lightkeeper_triggers_total{source="forwarded"} = %q`, v)
	}
	if c, ok := r.calls.first(sent, "CreateInstances"); !ok || c.daemon != leader.id {
		t.Errorf("the replacement's CreateInstances: %+v (found %v), want one from %s", c, ok, leader.id)
	}
	if n := r.calls.byDaemon(time.Time{}); n[f.id] != 0 {
		t.Errorf("the follower %s made %d API calls", f.id, n[f.id])
	}
}

// TestHAEtcdDown: with etcd stopped nobody leads, and a raised count
// buys nothing until etcd is back; then the fleets converge.
func TestHAEtcdDown(t *testing.T) {
	r := newHARig(t, haOptions{})
	r.waitLeader("start")
	stopped := time.Now()
	r.etcd.Stop()
	t.Logf("etcd stopped in %v", time.Since(stopped))
	r.setCounts(map[string]int{"web": 5})
	r.waitSynced("the raise, etcd down")
	t.Logf("every daemon at the raise %v after etcd stopped", time.Since(stopped))
	waitUntil(t, "no daemon leading", func() bool {
		for _, d := range r.daemons {
			if ha := d.ha(); ha == nil || ha["leader"] != false {
				return false
			}
		}
		return true
	})
	t.Logf("no daemon leading %v after etcd stopped", time.Since(stopped))
	// Two more cycles on each daemon, each of which would have bought
	// the new instances had it led.
	base := map[*haDaemon]int{}
	for _, d := range r.daemons {
		base[d] = d.runs()
	}
	waitUntil(t, "two more cycles on every daemon", func() bool {
		for _, d := range r.daemons {
			if d.runs() < base[d]+2 {
				return false
			}
		}
		return true
	})
	if c, ok := r.calls.first(stopped, "CreateInstances", "IsolateInstances"); ok {
		t.Fatalf("%s sent %s while etcd was down", c.daemon, c.action)
	}
	if n := r.mon.live()["web"]; n != 2 {
		t.Fatalf("%d instances while etcd was down, want 2", n)
	}
	t.Logf("etcd down for %v; restarting it", time.Since(stopped))
	r.etcd.Restart()
	restarted := time.Now()
	r.waitLeader("etcd back")
	t.Logf("a leader %v after etcd came back", time.Since(restarted))
	r.waitConverged("etcd back")
}

// TestHAPausedLeader: the leader is paused (SIGSTOP) in the middle of a
// batch of creates, past its lease; another daemon takes over and
// completes the fleet; the paused one, resumed (SIGCONT), follows. The
// fleet never exceeds its count and every name is bought once.
func TestHAPausedLeader(t *testing.T) {
	r := newHARig(t, haOptions{createRate: 2})
	old := r.waitLeader("start")
	raised := time.Now()
	r.setCounts(map[string]int{"web": 12})
	waitUntil(t, "the leader inside the batch of creates", func() bool {
		n := 0
		for _, c := range r.calls.since(raised) {
			if c.action == "CreateInstances" {
				n++
			}
		}
		return n >= 3
	})
	old.stop()
	leader := r.waitLeader("the leader paused")
	r.waitConverged("the batch completed by " + leader.id)
	resumed := time.Now()
	old.cont()
	waitUntil(t, old.id+" following after SIGCONT", func() bool {
		ha := old.ha()
		return ha != nil && ha["leader"] == false && ha["leaderId"] == leader.id
	})
	r.waitConverged("after SIGCONT")
	n := 0
	for _, c := range r.calls.since(resumed) {
		if c.daemon == old.id && c.action == "CreateInstances" {
			n++
		}
	}
	t.Logf("%s sent %d CreateInstances after SIGCONT (a call that passed its fence before the pause may)", old.id, n)
	names := webInstances(t, r.emu.client(t))
	if len(names) != 12 {
		t.Errorf("%d web instances in all, want 12: %v", len(names), names)
	}
	for name, k := range names {
		if k != 1 {
			t.Errorf("%s bought %d times", name, k)
		}
	}
}

// TestHARigWithoutHA runs the HA rig with one daemon and no ha block (the
// daemon runs alone, as before issue 11): two fleets converge, a raised
// and a lowered count converge, /status has no "ha", and every API call
// came from that daemon.
func TestHARigWithoutHA(t *testing.T) {
	start := time.Now()
	r := newHARig(t, haOptions{daemons: 1, noHA: true, fleets: map[string]int{"web": 2, "api": 1}})
	d := r.daemons[0]
	if ha := d.ha(); ha != nil {
		t.Errorf("/status has ha %v without an ha block", ha)
	}
	r.setCounts(map[string]int{"web": 4})
	r.waitConverged("web raised")
	r.setCounts(map[string]int{"web": 1, "api": 2})
	r.waitConverged("web lowered, api raised")
	if n := r.calls.byDaemon(start); len(n) != 1 || n[d.id] == 0 {
		t.Errorf("calls by daemon: %v", n)
	}

	// The monitor can fail: once the daemon has settled on the lowered
	// count, a second live "web-0", bought by hand while the daemon is
	// stopped, is reported (and then forgiven).
	waitUntil(t, "the monitor's ceiling of web down to 1", func() bool { return r.mon.ceilingOf("web") == 1 })
	d.term()
	req := &lighthouse.CreateInstancesRequest{BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}, InstanceName: "web-0"}
	if _, err := r.emu.client(t).CreateInstances(context.Background(), "ap-guangzhou", req); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the monitor to see the duplicate", func() bool {
		r.mon.mu.Lock()
		defer r.mon.mu.Unlock()
		if len(r.mon.bad) == 2 && strings.Contains(r.mon.bad[0], "web-0 is held by two") && strings.Contains(r.mon.bad[1], "over its ceiling 1") {
			r.mon.bad = nil
			return true
		}
		return false
	})
}

// TestHATermWithEtcdDown: a daemon stopped with SIGTERM while etcd is
// unreachable exits 0 (the leader, which cannot resign, and a follower,
// whose campaign cannot be withdrawn); found by TestHAChaos seed 5.
func TestHATermWithEtcdDown(t *testing.T) {
	r := newHARig(t, haOptions{})
	leader := r.waitLeader("start")
	follower := r.followers(leader)[0]
	r.etcd.Stop()
	follower.term()
	leader.term()
	r.etcd.Restart()
	r.waitLeader("etcd back, one daemon left")
	r.setCounts(map[string]int{"web": 3})
	r.waitConverged("web raised")
}
