package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// focusFleets renders fleets name:count in ap-guangzhou, with extra YAML
// lines under the spec of the first.
func focusFleets(t testing.TB, extra string, counts ...any) []*spec.Fleet {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(counts); i += 2 {
		fmt.Fprintf(&b, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: ap-guangzhou\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n",
			counts[i], counts[i+1])
		if i == 0 && extra != "" {
			b.WriteString(extra)
		}
	}
	return loadSpec(t, b.String())
}

// idOf returns the ID of the instance named name.
func idOf(t testing.TB, srv *emulator.Server, name string) string {
	t.Helper()
	for _, in := range srv.Instances() {
		if in.InstanceName == name {
			return in.InstanceId
		}
	}
	t.Fatalf("no instance named %s", name)
	return ""
}

func slots(ins []reconcile.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, fmt.Sprintf("%s@%d", in.ID, in.Slot))
	}
	return out
}

// The filtered view of a fleet groups exactly what the full sweep groups
// into its slots below the count, under both name-match modes of the
// emulator, with fuzzily colliding fleet names (web, web2, myweb), an
// instance renamed but still tagged, one untagged but named, one tagged for
// web but named for myweb, and an expectation's instance renamed and
// untagged (found by its ID only); what groups into another fleet is
// dropped, and Seen holds every ID listed.
func TestObserveFleetsGroupsAsTheFullSweep(t *testing.T) {
	for _, match := range []emulator.NameMatch{emulator.NameExact, emulator.NameSubstring} {
		t.Run(string(match), func(t *testing.T) {
			h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), InstanceNameMatch: match})
			ctx := context.Background()
			r := reconcile.New(h.Client, nil, reconcile.Options{Tags: true, Now: h.Clock.Now})
			fleets := focusFleets(t, "", "web", 4, "web2", 2, "myweb", 3, "web-1", 1)
			apply(t, r, fleets)
			srv := h.Server
			// web-1 slot 1 renamed in the console; its tags stay.
			if err := srv.RenameInstance(idOf(t, srv, "web-1"), "renamed-by-hand"); err != nil {
				t.Fatal(err)
			}
			// web-2 untagged: its name still claims it.
			if err := srv.SetTags(idOf(t, srv, "web-2"), nil); err != nil {
				t.Fatal(err)
			}
			// myweb-1 tagged for web: its name claims it for myweb.
			if err := srv.SetTags(idOf(t, srv, "myweb-1"), []lighthouse.Tag{{Key: spec.TagFleet, Value: "web"}, {Key: spec.TagSlot, Value: "1"}}); err != nil {
				t.Fatal(err)
			}
			// web-3 is an expectation's instance: renamed and untagged, only
			// its ID finds it.
			exp := idOf(t, srv, "web-3")
			if err := srv.RenameInstance(exp, "gone-astray"); err != nil {
				t.Fatal(err)
			}
			if err := srv.SetTags(exp, nil); err != nil {
				t.Fatal(err)
			}
			full, err := reconcile.Observe(ctx, h.Client, "ap-guangzhou", fleets, h.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			focus := byName(t, fleets, "web")
			calls := srv.Calls(lighthouse.ActionDescribeInstances, "")
			o, err := reconcile.ObserveFleets(ctx, h.Client, "ap-guangzhou", fleets, focus, []string{exp}, true, h.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Calls(lighthouse.ActionDescribeInstances, "") - calls; n != 3 {
				t.Errorf("%d DescribeInstances calls, want 3 (names, tag, IDs)", n)
			}
			if !o.Partial || o.Total != 0 {
				t.Errorf("Partial %v, Total %d; want a partial observation without a total", o.Partial, o.Total)
			}
			if len(o.Fleets) != 1 {
				t.Errorf("fleets %v; want web alone (others dropped)", slices.Collect(maps.Keys(o.Fleets)))
			}
			var want []reconcile.Instance
			for _, in := range full.Fleets["web"] {
				if in.Slot >= 0 && in.Slot < 4 {
					want = append(want, in)
				}
			}
			if got := slots(o.Fleets["web"]); !slices.Equal(got, slots(want)) || len(got) != 3 {
				t.Errorf("web: filtered %v, full %v; want the same 3 (slots 0, 1 by tag, 2 by name)", got, slots(want))
			}
			if _, ok := o.Seen[exp]; !ok {
				t.Errorf("Seen lacks the expectation's instance %s", exp)
			}
			for id := range o.Seen {
				if _, ok := full.Seen[id]; !ok {
					t.Errorf("Seen holds %s, which the full sweep did not list", id)
				}
			}
			// Under substring matching the name filter also lists
			// myweb-0..2 and web-1-0; they are in Seen, not in a fleet.
			if match == emulator.NameSubstring {
				if _, ok := o.Seen[idOf(t, srv, "myweb-0")]; !ok {
					t.Errorf("substring match: Seen lacks myweb-0")
				}
			}
		})
	}
}

// byName returns the fleets named names, in that order.
func byName(t testing.TB, fleets []*spec.Fleet, names ...string) []*spec.Fleet {
	t.Helper()
	var out []*spec.Fleet
	for _, n := range names {
		i := slices.IndexFunc(fleets, func(f *spec.Fleet) bool { return f.Name() == n })
		if i < 0 {
			t.Fatalf("no fleet %s", n)
		}
		out = append(out, fleets[i])
	}
	return out
}

// apply plans and applies fleets once and fails the test on any error.
func apply(t testing.TB, r *reconcile.Reconciler, fleets []*spec.Fleet) *reconcile.Result {
	t.Helper()
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(context.Background(), p, false)
	if err != nil || !res.OK() {
		t.Fatalf("apply: %v %+v", err, res)
	}
	return res
}

// FocusQueries names every slot below the count exactly, at most 100 a
// call, with the tag filter and the IDs beside.
func TestFocusQueries(t *testing.T) {
	fleets := focusFleets(t, "", "a", 150, "b", 30)
	ids := make([]string, 101)
	for i := range ids {
		ids[i] = fmt.Sprintf("lhins-%08d", i)
	}
	qs := reconcile.FocusQueries(fleets, ids, true)
	if len(qs) != 2+1+2 {
		t.Fatalf("%d queries, want 5", len(qs))
	}
	if v := qs[0].Filters[0].Values; len(v) != 100 || v[0] != "a-0" || v[99] != "a-99" {
		t.Errorf("first names %d: %v..", len(v), v[:2])
	}
	if v := qs[1].Filters[0].Values; len(v) != 80 || v[50] != "b-0" {
		t.Errorf("second names %d", len(v))
	}
	if f := qs[2].Filters[0]; f.Name != "tag:"+spec.TagFleet || !slices.Equal(f.Values, []string{"a", "b"}) {
		t.Errorf("tag filter %+v", f)
	}
	if len(qs[3].InstanceIds) != 100 || len(qs[4].InstanceIds) != 1 {
		t.Errorf("IDs %d+%d", len(qs[3].InstanceIds), len(qs[4].InstanceIds))
	}
	if n := len(reconcile.FocusQueries(fleets, nil, false)); n != 2 {
		t.Errorf("without tags or IDs: %d queries, want 2", n)
	}
}

// A failed filtered call fails the observation: it is never guessed at.
func TestObserveFleetsFailsOnAnyError(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()})
	fleets := focusFleets(t, "", "web", 2)
	h.Server.InjectFault(emulator.Fault{Kind: emulator.FaultInternalError, Action: lighthouse.ActionDescribeInstances, Count: 100})
	_, err := reconcile.ObserveFleets(context.Background(), h.Client, "ap-guangzhou", fleets, fleets, nil, true, h.Clock.Now())
	var le *lighthouse.Error
	if !errors.As(err, &le) {
		t.Fatalf("err %v; want the API's error", err)
	}
}
