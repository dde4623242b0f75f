package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"testing"
	"unsafe"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// listing is a Cloud whose Instances yields instances decoded from JSON,
// as the client's are: every string its own copy.
type listing struct {
	Cloud
	body []byte
}

func (l listing) Instances(context.Context, string, *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		var all []lighthouse.Instance
		if err := json.Unmarshal(l.body, &all); err != nil {
			yield(lighthouse.Instance{}, err)
			return
		}
		for _, in := range all {
			if !yield(in, nil) {
				return
			}
		}
	}
}

// TestObserveKeepsOneCopy: an observation holds one copy of the strings
// its instances repeat (zone, bundle, blueprint, state, renew flag,
// operation, key, tag fleet) and each fleet's instances as a part of one
// array whose capacity is its length, sorted by slot; instances no fleet
// claims are counted and not kept.
func TestObserveKeepsOneCopy(t *testing.T) {
	fleets := loadFleets(t, "web:3", "api:3")
	var all []lighthouse.Instance
	// Listed out of order, as the service lists them (newest first).
	for i, name := range []string{"api-2", "web-1", "stray", "web-0", "api-0", "gone-4", "web-2", "api-1"} {
		in := lighthouse.Instance{InstanceId: fmt.Sprintf("lhins-%08d", i), InstanceName: name, InstanceState: lighthouse.StateRunning,
			Zone: "ap-guangzhou-3", BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh", RenewFlag: lighthouse.RenewNotifyManual,
			LatestOperation: "CreateInstances", LatestOperationState: lighthouse.OperationSuccess, InstanceRestrictState: "NORMAL",
			LoginSettings: lighthouse.LoginSettings{KeyIds: []string{"lhkp-00000001"}}}
		if name == "gone-4" {
			in.Tags = []lighthouse.Tag{{Key: spec.TagFleet, Value: "gone"}, {Key: spec.TagSlot, Value: "4"}}
		}
		all = append(all, in)
	}
	body, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := Observe(context.Background(), listing{body: body}, "ap-guangzhou", fleets, t0)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Total != 8 || len(obs.Seen) != 8 || len(obs.Fleets) != 3 {
		t.Fatalf("total %d, seen %d, fleets %d; want 8, 8, 3 (web, api, gone)", obs.Total, len(obs.Seen), len(obs.Fleets))
	}
	var kept []Instance
	for _, f := range []string{"web", "api", "gone"} {
		ins := obs.Fleets[f]
		if cap(ins) != len(ins) {
			t.Errorf("%s: %d instances in a capacity of %d: an append would write over the next fleet's", f, len(ins), cap(ins))
		}
		for i, in := range ins {
			if in.Fleet != f || (f != "gone" && in.Slot != i) {
				t.Errorf("%s[%d] = %s slot %d", f, i, in.Name, in.Slot)
			}
		}
		kept = append(kept, ins...)
	}
	same := func(what string, get func(*Instance) string) {
		first := unsafe.StringData(get(&kept[0]))
		for i := range kept {
			if unsafe.StringData(get(&kept[i])) != first {
				t.Errorf("%s of %s is a copy of its own", what, kept[i].Name)
				return
			}
		}
	}
	same("zone", func(in *Instance) string { return in.Zone })
	same("bundle", func(in *Instance) string { return in.BundleID })
	same("blueprint", func(in *Instance) string { return in.BlueprintID })
	same("state", func(in *Instance) string { return in.State })
	same("renew flag", func(in *Instance) string { return in.RenewFlag })
	same("operation", func(in *Instance) string { return in.LatestOperation })
	same("operation state", func(in *Instance) string { return in.LatestOperationState })
	same("restrict state", func(in *Instance) string { return in.RestrictState })
	same("key", func(in *Instance) string { return in.KeyIDs[0] })
	if obs.Fleets["web"][0].Name == obs.Fleets["web"][1].Name {
		t.Errorf("names merged: %+v", obs.Fleets["web"])
	}
}

// TestPlanTrim: a trimmed plan lets go of the observations it was made
// from (Instances returns nil), leaves them alone for whoever else holds
// them, and is refused by Apply.
func TestPlanTrim(t *testing.T) {
	fleets := loadFleets(t, "web:2")
	obs := observe(fleets, "web-0=RUNNING", "web-1=RUNNING", "stray=RUNNING")
	p := &Plan{Fleets: []*FleetPlan{{Fleet: "web", Region: "ap-guangzhou"}}, obs: obs}
	if got := p.Instances("web"); len(got) != 2 {
		t.Fatalf("before Trim: Instances(web) = %+v", got)
	}
	p.Trim()
	if got := p.Instances("web"); got != nil || p.obs != nil {
		t.Errorf("trimmed: Instances(web) = %+v, observations %v", got, p.obs)
	}
	if o := obs["ap-guangzhou"]; len(o.Seen) != 3 || len(o.Fleets["web"]) != 2 {
		t.Errorf("Trim changed the observation the plan was made from: %+v", o)
	}
	r := New(nil, nil, Options{})
	if _, err := r.Apply(context.Background(), p, true); !errors.Is(err, ErrTrimmed) {
		t.Errorf("Apply(trimmed) = %v, want ErrTrimmed", err)
	}
	var none *Plan
	none.Trim() // a cycle without a plan trims nil
}
