package reconcile_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file is what the rollout chaos suite (chaos_rollout_test.go) holds
// the cloud to after each step: the ground truth by fleet and slot, the
// bounds on disruption and surge, no overshoot, no double action.

// slotView is what the emulator holds of a fleet, by slot, live only.
type slotView map[int][]lighthouse.Instance

// view is the ground truth once every request sent has been handled.
func (s *rolloutScenario) view() map[string]slotView {
	s.quiesce()
	return groundTruthOf(s.fleets, s.emu.Server.Instances(), s.fleetOf)
}

// groundTruthOf groups the emulator's live instances by fleet key and slot
// (by name), and records every instance's fleet in fleetOf.
func groundTruthOf(fleets []*spec.Fleet, all []lighthouse.Instance, fleetOf map[string]string) map[string]slotView {
	out := map[string]slotView{}
	for _, region := range chaosRegions {
		var of []*spec.Fleet
		for _, f := range fleets {
			if f.Spec.Region == region {
				of = append(of, f)
				out[region+"/"+f.Name()] = slotView{}
			}
		}
		ix := spec.NewNameIndex(of)
		for _, in := range all {
			if regionOf(in.Zone) != region {
				continue
			}
			f, slot, ok := ix.Lookup(in.InstanceName)
			if !ok {
				continue
			}
			key := region + "/" + f.Name()
			fleetOf[in.InstanceId] = key
			if liveState(in.InstanceState) {
				out[key][slot] = append(out[key][slot], in)
			}
		}
	}
	return out
}

// serving counts the slots below count served by a RUNNING instance with
// no operation running, and the live instances in those slots.
func serving(v slotView, count int) (served, live int) {
	for slot, ins := range v {
		if slot >= count {
			continue
		}
		for _, in := range ins {
			// An instance whose isolation was sent is leaving: it no
			// longer counts against count + maxSurge (chaos seed 416: a
			// replacement paired under maxSurge 1, isolated in the run
			// that refilled the slots emptied under maxSurge 0).
			if in.LatestOperation != lighthouse.ActionIsolateInstances {
				live++
			}
		}
		if slices.ContainsFunc(ins, func(in lighthouse.Instance) bool {
			return in.InstanceState == lighthouse.StateRunning && in.LatestOperationState != lighthouse.OperationOperating
		}) {
			served++
		}
	}
	return served, live
}

// shapeOf is what a replacement changes of an instance.
func shapeOf(in lighthouse.Instance) string {
	return strings.Join([]string{in.Zone, in.BundleId, in.BlueprintId, strings.Join(in.LoginSettings.KeyIds, ",")}, "|")
}

// check holds the state after a step to the invariants.
func (s *rolloutScenario) check(where string, before map[string]slotView, runners int) {
	after := s.view()
	s.checkOnce(where)
	for _, d := range s.defs {
		v, b := after[d.key()], before[d.key()]
		served, live := serving(v, d.count)
		servedBefore, liveBefore := serving(b, d.count)
		if served == d.count && d.count > 0 {
			s.reached[d.key()] = true
		}
		if runners == 0 {
			continue
		}
		// Runners acting in the same moment each take the budget from what
		// they saw (docs/design.md 11.4; seed 6541).
		floor := d.count - runners*d.maxUnavailable
		if d.strategy == spec.UpdateReport {
			floor = servedBefore
		}
		if s.reached[d.key()] && served < min(servedBefore, floor) {
			s.fatalf("bounded disruption after %s: fleet %s serves %d slots (before: %d), floor %d (count %d, maxUnavailable %d)\n%s",
				where, d.name, served, servedBefore, floor, d.count, d.maxUnavailable, describeView(v))
		}
		ceiling := d.count + runners*d.maxSurge
		if !s.reached[d.key()] {
			// The bound holds once the fleet has reached its count: a count
			// raised beside replacements made under the old bounds fills its
			// new slots first (seed 6864).
			ceiling = max(ceiling, liveBefore+d.count)
		}
		if len(s.p.outside) > 0 {
			ceiling += runners * d.count // a create outside the guarantee may buy one per slot per runner (5.7)
		}
		if live > max(liveBefore, ceiling) {
			s.fatalf("bounded disruption after %s: fleet %s has %d live instances in its slots (before: %d), count %d + maxSurge %d\n%s",
				where, d.name, live, liveBefore, d.count, d.maxSurge, describeView(v))
		}
		for slot, ins := range v {
			if slot >= d.count || len(ins) <= 1 || len(ins) <= len(b[slot]) {
				continue
			}
			if len(s.p.outside) > 0 && len(ins) <= max(1, len(b[slot]))+runners {
				continue
			}
			if len(ins) > 2 || shapeOf(ins[0]) == shapeOf(ins[1]) {
				s.fatalf("no overshoot after %s: fleet %s slot %d holds %d live instances that are no replacement in progress:\n%s", where, d.name, slot, len(ins), describeView(v))
			}
		}
	}
}

// checkOnce holds the emulator's record of operations to one per instance
// and target each time git asked for it.
func (s *rolloutScenario) checkOnce(where string) {
	got := map[[3]string]int{}
	for _, op := range s.emu.Operations() {
		got[[3]string{op.InstanceID, op.Action, op.Target}]++
	}
	for k, n := range got {
		key := s.fleetOf[k[0]]
		allowed := s.wanted[key][k[1]][k[2]]
		if n > allowed {
			var ops []string
			for _, op := range s.emu.Operations() {
				if op.InstanceID == k[0] {
					ops = append(ops, fmt.Sprintf("%s %s %s at %s", op.Action, op.Target, op.RequestID, op.At.Sub(reconciletest.Epoch)))
				}
			}
			s.fatalf("no double action after %s: instance %s (fleet %s) got %d %s to %s, git asked for it %d times:\n  %s", where, k[0], key, n, k[1], k[2], allowed, strings.Join(ops, "\n  "))
		}
	}
}

// describeView lists a fleet's live instances by slot, for a failure.
func describeView(v slotView) string {
	var b strings.Builder
	for _, slot := range slices.Sorted(maps.Keys(v)) {
		for _, in := range v[slot] {
			fmt.Fprintf(&b, "  slot %d: %s %s %s %s %s %s %s %s\n", slot, in.InstanceId, in.InstanceName, in.Zone, in.InstanceState, in.LatestOperation, in.LatestOperationState, in.BundleId, in.BlueprintId)
		}
	}
	return b.String()
}
