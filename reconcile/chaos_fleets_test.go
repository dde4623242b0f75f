package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file holds the fleets of a chaos scenario: what git says, and what
// the emulator holds of each fleet (the ground truth the invariants are
// checked against).

var chaosRegions = []string{"ap-guangzhou", "ap-shanghai"}

// fleetDef is one fleet of a scenario's git tree.
type fleetDef struct {
	name, region, bundle string
	count                int
	isolate              bool
	// renewBefore is charge.renewBefore ("" none); suspend spec.suspend.
	renewBefore string
	suspend     bool
}

// key names a fleet across spec changes that keep its name and region.
func (d fleetDef) key() string { return d.region + "/" + d.name }

func (d fleetDef) yaml() string {
	var b strings.Builder
	charge := "{period: 1}"
	if d.renewBefore != "" {
		charge = "{period: 1, renewBefore: " + d.renewBefore + "}"
	}
	fmt.Fprintf(&b, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: %s\n  count: %d\n  bundleId: %s\n  blueprintId: lhbp-g0tn7djh\n  charge: %s\n",
		d.name, d.region, d.count, d.bundle, charge)
	if d.isolate {
		b.WriteString("  scaleDown: isolate\n")
	}
	if d.suspend {
		b.WriteString("  suspend: true\n")
	}
	return b.String()
}

// load parses the definitions as a git tree of one file.
func load(defs []fleetDef) ([]*spec.Fleet, error) {
	var b strings.Builder
	for _, d := range defs {
		b.WriteString(d.yaml())
	}
	return spec.Load(fstest.MapFS{"fleets.yaml": {Data: []byte(b.String())}}, spec.Options{})
}

// randomFleets draws 1-4 fleets with counts 0-8 over 1-2 regions.
func randomFleets(rng *rand.Rand, names *int) []fleetDef {
	regions := chaosRegions[:1+rng.IntN(2)]
	n := 1 + rng.IntN(4)
	defs := make([]fleetDef, n)
	for i := range defs {
		defs[i] = fleetDef{name: nextName(names), region: regions[rng.IntN(len(regions))],
			bundle: "bundle_gen_01", count: rng.IntN(9), isolate: rng.IntN(3) == 0}
	}
	return defs
}

func nextName(names *int) string {
	*names++
	return fmt.Sprintf("f%d", *names)
}

// truth is what the emulator holds of one fleet: its live instances by slot
// (by name, as the NameIndex maps them), every state included.
type truth struct {
	bySlot map[int][]lighthouse.Instance // live only
	all    int                           // every instance carrying one of its names
}

// live counts the live instances in slots below count and beyond it.
func (tr truth) live(count int) (in, beyond int) {
	for slot, ins := range tr.bySlot {
		if slot < count {
			in += len(ins)
		} else {
			beyond += len(ins)
		}
	}
	return in, beyond
}

// groundTruth groups every instance the emulator holds by the fleet slot its
// name claims, per fleet key.
func groundTruth(fleets []*spec.Fleet, all []lighthouse.Instance) map[string]truth {
	out := map[string]truth{}
	for _, region := range chaosRegions {
		var of []*spec.Fleet
		for _, f := range fleets {
			if f.Spec.Region == region {
				of = append(of, f)
				out[region+"/"+f.Name()] = truth{bySlot: map[int][]lighthouse.Instance{}}
			}
		}
		ix := spec.NewNameIndex(of)
		for _, in := range all {
			if regionOf(in.Zone) != region {
				continue
			}
			f, slot, ok := ix.Lookup(in.InstanceName)
			if !ok {
				// Renamed by hand: its tags claim it, as they do for the
				// reconciler (observe.go), if they name a fleet here.
				if f, slot, ok = taggedSlot(of, in.Tags); !ok {
					continue
				}
			}
			tr := out[region+"/"+f.Name()]
			tr.all++
			if liveState(in.InstanceState) {
				tr.bySlot[slot] = append(tr.bySlot[slot], in)
			}
			out[region+"/"+f.Name()] = tr
		}
	}
	return out
}

// taggedSlot is the fleet of fleets and the slot that lightkeeper's tags
// name; ok is false without both tags or for another fleet.
func taggedSlot(fleets []*spec.Fleet, tags []lighthouse.Tag) (*spec.Fleet, int, bool) {
	var name string
	slot := -1
	for _, t := range tags {
		switch t.Key {
		case spec.TagFleet:
			name = t.Value
		case spec.TagSlot:
			if n, err := strconv.Atoi(t.Value); err == nil && n >= 0 {
				slot = n
			}
		}
	}
	for _, f := range fleets {
		if f.Name() == name && slot >= 0 {
			return f, slot, true
		}
	}
	return nil, 0, false
}

func liveState(s string) bool {
	return !slices.Contains([]string{lighthouse.StateLaunchFailed, lighthouse.StateShutdown, lighthouse.StateTerminating, lighthouse.StateDeleting}, s)
}

// regionOf is the region of a zone such as ap-guangzhou-3.
func regionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// snapshot is the emulator's instances as comparable text.
func snapshot(all []lighthouse.Instance) string {
	var b strings.Builder
	for _, in := range all {
		fmt.Fprintf(&b, "%s %s %s %s\n", in.InstanceId, in.InstanceName, in.InstanceState, in.LatestOperationState)
	}
	return b.String()
}
