package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// TestHARigWithoutHA runs the HA rig with one daemon and no ha block (the
// daemon runs alone, as before issue 11): two fleets converge, a raised
// and a lowered count converge, /status has no "ha", and every API call
// came from that daemon.
func TestHARigWithoutHA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
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

	// The monitor can fail: a second live "web-0", bought by hand while
	// the daemon is stopped, is reported (and then forgiven).
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
