package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// Golden plans of the rollout planner: each scenario is fleets, an
// observation (with the service's answers) and a State; the plan's fleets
// are compared with testdata/rollout/NAME.json (go test ./reconcile -run
// RolloutGolden -update writes them).

// rolloutFleet is fleet web of count 4 in ap-guangzhou on the new shape
// (bundle_gen_02, CentOS), with extra spec lines ("key: value"), each
// replacing the line of the same key.
func rolloutFleet(t *testing.T, extra ...string) []*spec.Fleet {
	t.Helper()
	lines := []string{"region: ap-guangzhou", "count: 4", "bundleId: bundle_gen_02", "blueprintId: lhbp-a7oxy2bx", "zones: [ap-guangzhou-3]", "charge: {period: 1}"}
	for _, l := range extra {
		key, _, _ := strings.Cut(l, ":")
		if i := slices.IndexFunc(lines, func(x string) bool { return strings.HasPrefix(x, key+":") }); i >= 0 {
			lines[i] = l
		} else {
			lines = append(lines, l)
		}
	}
	return loadYAML(t, "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  "+strings.Join(lines, "\n  ")+"\n")
}

// live is a RUNNING instance of web's slot, ready since long ago, of the
// shape given (bundle, blueprint).
func live(slot int, bundle, blueprint string) Instance {
	return Instance{ID: fmt.Sprintf("lhins-web%05d", slot), Name: fmt.Sprintf("web-%d", slot), State: lighthouse.StateRunning, Fleet: "web", Slot: slot, TagSlot: -1,
		Zone: "ap-guangzhou-3", BundleID: bundle, BlueprintID: blueprint, RenewFlag: lighthouse.RenewNotifyManual, Created: t0.Add(-48 * time.Hour),
		LatestOperation: lighthouse.ActionCreateInstances, LatestOperationState: lighthouse.OperationSuccess, LatestOperationRequestID: fmt.Sprintf("r-create-%d", slot),
		LatestOperationStarted: t0.Add(-48 * time.Hour)}
}

func old(slot int) Instance    { return live(slot, "bundle_gen_01", "lhbp-g0tn7djh") }
func newest(slot int) Instance { return live(slot, "bundle_gen_02", "lhbp-a7oxy2bx") }

func obsOf(ins []Instance, lk *Lookups) map[string]*Observation {
	o := &Observation{Region: "ap-guangzhou", At: t0, Fleets: map[string][]Instance{}, Seen: map[string]string{}, Lookups: lk}
	for _, in := range ins {
		o.Total++
		o.Seen[in.ID] = in.State
		o.Fleets[in.Fleet] = append(o.Fleets[in.Fleet], in)
	}
	return map[string]*Observation{"ap-guangzhou": o}
}

// allowAll answers every lookup of ins: resettable, bundle_gen_02 an
// available upgrade for 20.67 CNY.
func allowAll(ins ...Instance) *Lookups {
	lk := &Lookups{Bundles: map[string]BundleOption{}, Blueprints: map[string]BlueprintOption{}, Denied: map[string][]lighthouse.DeniedAction{}}
	for _, in := range ins {
		lk.Bundles[in.ID] = BundleOption{Bundle: "bundle_gen_02", State: lighthouse.ModifyBundleAvailable, Price: lighthouse.InstancePrice{DiscountPrice: 20.67, Currency: "CNY"}}
		lk.Blueprints[in.ID] = BlueprintOption{Blueprint: "lhbp-a7oxy2bx", Resettable: true}
	}
	return lk
}

func TestRolloutGolden(t *testing.T) {
	outdatedAll := []Instance{old(0), old(1), old(2), old(3)}
	operating := old(0)
	operating.LatestOperation, operating.LatestOperationState, operating.LatestOperationRequestID, operating.Operating = lighthouse.ActionModifyInstancesBundle, lighthouse.OperationOperating, "r-ours", true
	failed := old(0)
	failed.LatestOperation, failed.LatestOperationState, failed.LatestOperationRequestID = lighthouse.ActionModifyInstancesBundle, lighthouse.OperationFailed, "r-ours"
	newPending := newest(0)
	newPending.ID, newPending.State, newPending.Created = "lhins-new00000", lighthouse.StatePending, t0.Add(-time.Second)
	newPending.LatestOperationState, newPending.Operating = lighthouse.OperationOperating, true
	newReady := newest(0)
	newReady.ID, newReady.Created = "lhins-new00000", t0.Add(-time.Hour)
	flagOnly := []Instance{newest(0), newest(1), newest(2), newest(3)}
	for i := range flagOnly {
		flagOnly[i].RenewFlag = lighthouse.RenewNotifyAuto
	}
	withState := func(f func(st *State)) *State { st := NewState(); f(st); return st }
	for _, tc := range []struct {
		name   string
		extra  []string
		ins    []Instance
		lk     *Lookups
		st     *State
		tags   bool // the China site
		checks func(t *testing.T, p *Plan)
	}{
		{name: "inplace-first-batch", extra: []string{"update: {strategy: inPlace}"}, ins: outdatedAll, lk: allowAll(outdatedAll...), tags: true,
			checks: func(t *testing.T, p *Plan) {
				if p.Totals.Updates != 1 || len(p.Fleets[0].needs) != 0 {
					t.Errorf("updates %d, needs %v", p.Totals.Updates, p.Fleets[0].needs)
				}
			}},
		{name: "inplace-needs-lookups", extra: []string{"update: {strategy: inPlace}"}, ins: outdatedAll, tags: true,
			checks: func(t *testing.T, p *Plan) {
				// Denied, bundle and blueprint for each: the reset behind a
				// bundle change is asked too, as the service may refuse the
				// bundle change (chaos seed 115).
				if n := len(p.Fleets[0].needs); n != 12 {
					t.Errorf("%d lookups needed, want 12 (denied, bundle and blueprint for each)", n)
				}
			}},
		{name: "inplace-two-at-once", extra: []string{"update: {strategy: inPlace, maxUnavailable: \"50%\"}"}, ins: outdatedAll, lk: allowAll(outdatedAll...), tags: true},
		{name: "inplace-running-holds-the-batch", extra: []string{"update: {strategy: inPlace}"}, ins: []Instance{operating, old(1), old(2), old(3)}, lk: allowAll(outdatedAll...), tags: true},
		{name: "inplace-failed-pauses", extra: []string{"update: {strategy: inPlace, maxUnavailable: 2}"}, ins: []Instance{failed, old(1), old(2), old(3)}, lk: allowAll(outdatedAll...), tags: true,
			st: withState(func(st *State) {
				st.setIntent(OpIntent{SlotKey: SlotKey{"ap-guangzhou", "web", 0}, InstanceID: failed.ID, Action: lighthouse.ActionModifyInstancesBundle, Target: "bundle_gen_02",
					From: "bundle_gen_01", Shows: "bundle_gen_02", Since: t0.Add(-time.Hour), PrevRequestID: "r-create-0", RequestID: "r-ours"})
			})},
		{name: "inplace-refusals", extra: []string{"update: {strategy: inPlace, maxUnavailable: 4}", "zones: [ap-guangzhou-4]"}, ins: outdatedAll, tags: true,
			lk: func() *Lookups {
				lk := allowAll(outdatedAll...)
				lk.Bundles[old(1).ID] = BundleOption{Bundle: "bundle_gen_02", State: lighthouse.ModifyBundleSoldOut, Message: "bundle bundle_gen_02 is sold out in zone ap-guangzhou-3"}
				lk.Denied[old(2).ID] = []lighthouse.DeniedAction{{Action: lighthouse.ActionModifyInstancesBundle, Code: "OperationDenied.BundleNotSupportModify", Message: "no upgrade"}}
				lk.Denied[old(3).ID] = []lighthouse.DeniedAction{{Action: lighthouse.ActionModifyInstancesBundle, Code: "UnsupportedOperation.LatestOperationUnfinished", Message: "busy"}}
				return lk
			}()},
		{name: "inplace-min-ready", extra: []string{"update: {strategy: inPlace, maxUnavailable: 2, minReady: 60s}"}, ins: outdatedAll, lk: allowAll(outdatedAll...), tags: true,
			st: withState(func(st *State) {
				// slots 0 and 1 ready for 2 minutes, slot 2 for 30 s, slot 3 never seen ready.
				st.s.ReadySince[old(0).ID] = ReadyRecord{Region: "ap-guangzhou", Since: t0.Add(-2 * time.Minute)}
				st.s.ReadySince[old(1).ID] = ReadyRecord{Region: "ap-guangzhou", Since: t0.Add(-2 * time.Minute)}
				st.s.ReadySince[old(2).ID] = ReadyRecord{Region: "ap-guangzhou", Since: t0.Add(-30 * time.Second)}
			})},
		{name: "inplace-intl-login", extra: []string{"update: {strategy: inPlace}", "login: {keyIds: [lhkp-web00001]}"}, ins: outdatedAll, lk: allowAll(outdatedAll...)},
		{name: "renew-flag-only", extra: []string{"update: {strategy: inPlace}", "charge: {period: 1, renewFlag: NOTIFY_AND_MANUAL_RENEW}"}, ins: flagOnly, tags: true,
			checks: func(t *testing.T, p *Plan) {
				if p.Totals.Updates != 0 || len(p.Fleets[0].needs) != 0 || !p.Changes() {
					t.Errorf("renew flags are not counted and need no lookup: updates %d, needs %v, changes %v", p.Totals.Updates, p.Fleets[0].needs, p.Changes())
				}
			}},
		{name: "steady", extra: []string{"update: {strategy: replace, maxSurge: 1}"}, ins: []Instance{newest(0), newest(1), newest(2), newest(3)}, tags: true,
			checks: func(t *testing.T, p *Plan) {
				if p.Changes() || len(p.Fleets[0].needs) != 0 || p.Fleets[0].Rollout.Updated != 4 {
					t.Errorf("a fleet in its shape: changes %v, needs %v, %+v", p.Changes(), p.Fleets[0].needs, p.Fleets[0].Rollout)
				}
			}},
		{name: "replace-surge", extra: []string{"update: {strategy: replace, maxSurge: 1, maxUnavailable: 0}"}, ins: outdatedAll, tags: true,
			checks: func(t *testing.T, p *Plan) {
				u := p.Fleets[0].Rollout.Updates[0]
				if u.create == nil || u.ClientToken != ReplacementToken("ap-guangzhou", "web", 0, ShapeHash(p.Fleets[0].fleet(t), 0), 0) || u.create.Request.InstanceName != "web-0" {
					t.Errorf("replacement create %+v", u)
				}
			}},
		{name: "replace-new-pending", extra: []string{"update: {strategy: replace, maxSurge: 1, maxUnavailable: 0}"}, ins: []Instance{old(0), newPending, old(1), old(2), old(3)}, tags: true,
			checks: func(t *testing.T, p *Plan) {
				if len(p.Fleets[0].Surplus) != 0 {
					t.Errorf("a replacement in progress is no duplicate: %+v", p.Fleets[0].Surplus)
				}
			}},
		{name: "replace-new-ready", extra: []string{"update: {strategy: replace, maxSurge: 1, maxUnavailable: 0}"}, ins: []Instance{old(0), newReady, old(1), old(2), old(3)}, tags: true},
		{name: "replace-no-surge", extra: []string{"update: {strategy: replace}"}, ins: outdatedAll, tags: true},
		{name: "replace-duplicate-same-shape", extra: []string{"update: {strategy: replace, maxSurge: 1}"}, ins: []Instance{old(0), func() Instance { in := old(0); in.ID = "lhins-dup00000"; return in }(), old(1), old(2), old(3)}, tags: true,
			checks: func(t *testing.T, p *Plan) {
				if len(p.Fleets[0].Surplus) != 1 || p.Fleets[0].Surplus[0].ID != "lhins-dup00000" {
					t.Errorf("two of one shape are a duplicate: %+v", p.Fleets[0].Surplus)
				}
			}},
		{name: "hidden-change-recorded", extra: []string{"update: {strategy: inPlace}", "bundleId: bundle_gen_01", "blueprintId: lhbp-dk3r8c2a", "containers: [{containerImage: \"nginx:1.27\"}]"},
			ins: func() []Instance {
				var out []Instance
				for slot := range 4 {
					out = append(out, live(slot, "bundle_gen_01", "lhbp-dk3r8c2a"))
				}
				return out
			}(), tags: true,
			st: withState(func(st *State) {
				st.recordShape(live(0, "", "").ID, "ap-guangzhou", "an-older-hidden-hash", "r-create-0", t0.Add(-48*time.Hour))
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fleets := rolloutFleet(t, tc.extra...)
			st := tc.st
			if st == nil {
				st = NewState()
			}
			p := Diff(fleets, obsOf(tc.ins, tc.lk), st, t0, DiffOptions{Tags: tc.tags})
			if tc.checks != nil {
				tc.checks(t, p)
			}
			got := rolloutJSON(t, p)
			if strings.Contains(got, statusCandidate) {
				t.Errorf("a candidate left unplanned:\n%s", got)
			}
			golden(t, "rollout/"+tc.name+".json", got)
		})
	}
}

func (fp *FleetPlan) fleet(t *testing.T) *spec.Fleet {
	t.Helper()
	return rolloutFleet(t, "update: {strategy: replace, maxSurge: 1, maxUnavailable: 0}")[0]
}

// rolloutJSON is what the golden files hold of a plan: each fleet's
// counts, creates, surplus, notes and rollout, and the totals.
func rolloutJSON(t *testing.T, p *Plan) string {
	t.Helper()
	type fleet struct {
		Fleet    string    `json:"fleet"`
		Live     int       `json:"live"`
		Outdated int       `json:"outdated"`
		Creates  []Create  `json:"creates,omitempty"`
		Surplus  []Surplus `json:"surplus,omitempty"`
		Notes    []string  `json:"notes,omitempty"`
		Rollout  *Rollout  `json:"rollout"`
	}
	var out struct {
		Fleets []fleet `json:"fleets"`
		Totals Totals  `json:"totals"`
	}
	for _, fp := range p.Fleets {
		out.Fleets = append(out.Fleets, fleet{fp.Fleet, fp.Live, fp.Outdated, fp.Creates, fp.Surplus, fp.Notes, fp.Rollout})
	}
	out.Totals = p.Totals
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}
