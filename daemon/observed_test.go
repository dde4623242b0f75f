package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// TestObservedInstancesKeepsEveryField: what the daemon keeps of a plan's
// instances between cycles gives back each fleet's instances as the plan
// listed them, every field, in a fifth of the records' size or less (about
// 50 bytes an instance); a fleet without instances, or not in the plan, has none.
func TestObservedInstancesKeepsEveryField(t *testing.T) {
	ctx := context.Background()
	files := fstest.MapFS{}
	for i := range 4 { // the Fake sells 50 instances at most
		name := fmt.Sprintf("fleet-%02d", i)
		files[name+".yaml"] = &fstest.MapFile{Data: fmt.Appendf(nil, "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: ap-guangzhou\n  count: 10\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n", name)}
	}
	files["empty.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: empty}\nspec:\n  region: ap-guangzhou\n  count: 0\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n")}
	fleets, err := spec.LoadInputs([]spec.Input{{FS: files}}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := emulator.NewManualClock(reconciletest.Epoch)
	r := reconcile.New(reconciletest.NewFake(clock), nil, reconcile.Options{Now: clock.Now})
	var p *reconcile.Plan
	for range 20 { // the creates of a run are bounded: run until all are made
		var err error
		if p, err = r.Plan(ctx, fleets); err != nil {
			t.Fatal(err)
		}
		if p.Totals.Creates == 0 {
			break
		}
		if _, err := r.Apply(ctx, p, true); err != nil {
			t.Fatal(err)
		}
		clock.Advance(reconcile.DefaultExpectWindow * 2)
	}
	kept, err := packInstances(p)
	if err != nil {
		t.Fatal(err)
	}
	records, compressed := 0, 0
	for _, f := range fleets {
		want := p.Instances(f.Name())
		got, err := kept.instances(f.Name())
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		// The same JSON: what /status/fleets/NAME serves.
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if n := map[bool]int{true: 0, false: 10}[f.Name() == "empty"]; len(want) != n || string(wj) != string(gj) {
			t.Errorf("%s: kept %s\nwant %s", f.Name(), gj, wj)
		}
		records += len(want) * 376
		compressed += len(kept.fleets[f.Name()])
	}
	if got, err := kept.instances("nope"); got != nil || err != nil {
		t.Errorf("a fleet not in the plan: %v, %v", got, err)
	}
	t.Logf("%d bytes kept for %d bytes of records", compressed, records)
	if compressed*5 > records {
		t.Errorf("%d bytes kept for 40 instances (%d bytes of records): not compact", compressed, records)
	}
}
