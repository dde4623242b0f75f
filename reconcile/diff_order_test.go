package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// orderedInstances are n instances over slots 0..n/2 (two in some), each
// with its own creation time, in the order Observe gives.
func orderedInstances(n int) []Instance {
	var ins []Instance
	for i := range n {
		ins = append(ins, Instance{ID: fmt.Sprintf("lhins-%08d", i), Slot: i / 2, State: lighthouse.StateRunning, Created: t0.Add(time.Duration(i) * time.Second)})
	}
	return ins
}

// sortInstances gives Observe's order whatever it is given: in order,
// newest first (as DescribeInstances lists a fleet created slot by slot),
// or shuffled.
func TestSortInstances(t *testing.T) {
	want := orderedInstances(9)
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	shuffled := slices.Clone(want)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	sameTime := slices.Clone(want)
	for i := range sameTime {
		sameTime[i].Created = t0 // ties broken by ID
	}
	slices.Reverse(sameTime)
	for name, ins := range map[string][]Instance{"ordered": slices.Clone(want), "newest first": reversed, "shuffled": shuffled, "same time, reversed": sameTime} {
		sortInstances(ins)
		if fmt.Sprint(runIDs(ins)) != fmt.Sprint(runIDs(want)) {
			t.Errorf("%s: %v, want %v", name, runIDs(ins), runIDs(want))
		}
	}
}

// slotRuns takes each slot's instances out of a fleet's without copying
// them when they come in Observe's order, and caps each run so that an
// append to one cannot overwrite the next; out of order, it gives the same
// runs, each in the order given.
func TestSlotRuns(t *testing.T) {
	ins := orderedInstances(7) // slots 0,0,1,1,2,2,3
	ins = append(ins, Instance{ID: "lhins-beyond01", Slot: 5}, Instance{ID: "lhins-noslot01", Slot: -1})
	sortInstances(ins) // -1 first, then 0..3, then 5
	bySlot, beyond := slotRuns(ins, 4)
	if len(bySlot) != 4 || len(bySlot[0]) != 2 || len(bySlot[3]) != 1 || len(beyond) != 2 {
		t.Fatalf("runs %d (slot 0: %d, slot 3: %d), beyond %d", len(bySlot), len(bySlot[0]), len(bySlot[3]), len(beyond))
	}
	if &bySlot[1][0] != &ins[3] {
		t.Errorf("slot 1's run is a copy, not ins[3:5]")
	}
	next := bySlot[2][0].ID
	_ = append(bySlot[1], Instance{ID: "lhins-appended"})
	if bySlot[2][0].ID != next {
		t.Errorf("an append to slot 1's run overwrote slot 2's first instance")
	}

	shuffled := slices.Clone(ins)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	got, gotBeyond := slotRuns(shuffled, 4)
	for slot := range 4 {
		a, b := runIDs(got[slot]), runIDs(bySlot[slot])
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("shuffled, slot %d: %v, want %v", slot, a, b)
		}
	}
	if len(gotBeyond) != 2 {
		t.Errorf("shuffled: %d beyond, want 2", len(gotBeyond))
	}
	if shuffled[0].ID == "" || !slices.IsSortedFunc(got[0], func(a, b Instance) int {
		return cmp.Compare(slices.Index(runIDs(shuffled), a.ID), slices.Index(runIDs(shuffled), b.ID))
	}) {
		t.Errorf("shuffled: slot 0's run is not in the order given")
	}
}

func runIDs(ins []Instance) []string {
	var s []string
	for _, in := range ins {
		s = append(s, in.ID)
	}
	return s
}

// liveAndDead hands back a slot's instances as they are when all fill it,
// and splits them, in order, otherwise.
func TestLiveAndDead(t *testing.T) {
	ins := orderedInstances(3)
	live, dead := liveAndDead(ins)
	if &live[0] != &ins[0] || len(live) != 3 || dead != nil {
		t.Errorf("all live: a copy, or %d dead", len(dead))
	}
	ins[1].State = lighthouse.StateLaunchFailed
	live, dead = liveAndDead(ins)
	if fmt.Sprint(runIDs(live), runIDs(dead)) != fmt.Sprint([]string{ins[0].ID, ins[2].ID}, []string{ins[1].ID}) {
		t.Errorf("live %v, dead %v", runIDs(live), runIDs(dead))
	}
}

// groupFleets gives each fleet its instances in Observe's order, as a
// sort of the whole listing by fleet would, whatever order they were
// listed in, and each fleet's part capped at its length.
func TestGroupFleets(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 50 {
		var all []Instance
		for i := range rng.IntN(300) {
			all = append(all, Instance{ID: fmt.Sprintf("lhins-%08d", i), Fleet: fmt.Sprintf("f%d", rng.IntN(12)),
				Slot: rng.IntN(6) - 1, Created: t0.Add(time.Duration(rng.IntN(4)) * time.Second)})
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b Instance) int {
			return cmp.Or(cmp.Compare(a.Fleet, b.Fleet), cmp.Compare(a.Slot, b.Slot), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
		})
		got := groupFleets(all)
		n := 0
		for _, f := range slices.Sorted(maps.Keys(got)) {
			part := got[f]
			if cap(part) != len(part) {
				t.Fatalf("round %d: fleet %s's part has room beyond it (cap %d, len %d)", round, f, cap(part), len(part))
			}
			for i := range part {
				if part[i].ID != want[n+i].ID {
					t.Fatalf("round %d: fleet %s, %d: %s, want %s", round, f, i, part[i].ID, want[n+i].ID)
				}
			}
			n += len(part)
		}
		if n != len(want) {
			t.Fatalf("round %d: %d instances grouped, want %d", round, n, len(want))
		}
	}
}
