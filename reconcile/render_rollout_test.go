package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// rolloutRenderPlan is a plan with two rollouts: web in place (a bundle
// change planned with its money, a reset later and one held, one running,
// a renew flag), api replaced (a replacement create planned, one ending).
func rolloutRenderPlan(t testing.TB) *Plan {
	fleets := loadYAML(t, `apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: web}
spec:
  region: ap-guangzhou
  count: 4
  bundleId: bundle_gen_02
  blueprintId: lhbp-a7oxy2bx
  zones: [ap-guangzhou-3]
  charge: {period: 1, renewFlag: NOTIFY_AND_AUTO_RENEW}
  update: {strategy: inPlace, maxUnavailable: 2, minReady: 30s}
---
apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: api}
spec:
  region: ap-guangzhou
  count: 2
  bundleId: bundle_gen_02
  blueprintId: lhbp-a7oxy2bx
  zones: [ap-guangzhou-3]
  charge: {period: 1}
  update: {strategy: replace, maxUnavailable: 0, maxSurge: 1}
`)
	var ins []Instance
	for slot := range 4 {
		in := old(slot)
		in.RenewFlag = lighthouse.RenewNotifyAuto
		if slot == 0 {
			in.BlueprintID = "lhbp-a7oxy2bx" // bundle only
			in.RenewFlag = lighthouse.RenewNotifyManual
		}
		if slot == 3 {
			in.LatestOperation, in.LatestOperationState, in.Operating = lighthouse.ActionResetInstance, lighthouse.OperationOperating, true
			in.BundleID = "bundle_gen_02"
		}
		ins = append(ins, in)
	}
	for slot := range 2 {
		in := old(slot)
		in.ID, in.Name, in.Fleet = strings.Replace(in.ID, "web", "api", 1), strings.Replace(in.Name, "web", "api", 1), "api"
		ins = append(ins, in)
	}
	repl := newest(1)
	repl.ID, repl.Name, repl.Fleet, repl.Created = "lhins-apinew01", "api-1", "api", t0.Add(-time.Hour)
	ins = append(ins, repl)
	st := NewState()
	for _, in := range ins {
		st.s.ReadySince[in.ID] = ReadyRecord{Region: "ap-guangzhou", Since: t0.Add(-time.Hour)}
	}
	p := Diff(fleets, obsOf(ins, allowAll(ins...)), st, t0, DiffOptions{Tags: true})
	for _, fp := range p.Fleets {
		if fp.Rollout == nil {
			continue
		}
		for i := range fp.Rollout.Updates {
			u := &fp.Rollout.Updates[i]
			if u.Status == StatusPlanned && u.Action == UpdateModifyBundle {
				u.Money.Monthly = 20
				fp.Money = Money{Currency: "CNY", Monthly: 20, Commitment: 20.67}
			}
			if u.Status == StatusPlanned && u.Action == UpdateReplace {
				u.Money = &Money{Currency: "CNY", Monthly: 80, Commitment: 80}
				fp.Money = Money{Currency: "CNY", Monthly: 80, Commitment: 80}
			}
		}
	}
	p.total()
	p.Check(Limits{MaxCreates: NoLimit, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit, MaxUpdates: 2})
	p.Word(cliWords)
	return p
}

// rolloutRenderResult is what an apply of rolloutRenderPlan did.
func rolloutRenderResult() *Result {
	return &Result{FormatVersion: FormatVersion, Created: 1, Updated: 2, Fleets: []*FleetResult{
		{Fleet: "api", Region: "ap-guangzhou", Created: []Created{{Slot: 0, InstanceID: "lhins-apinew00", ClientToken: ReplacementToken("ap-guangzhou", "api", 0, "x", 0)}},
			Updates: []UpdateResult{{Slot: 1, InstanceID: "lhins-api00001", Action: UpdateIsolateReplaced, Outcome: "sent"}}},
		{Fleet: "web", Region: "ap-guangzhou", Updates: []UpdateResult{
			{Slot: 0, InstanceID: "lhins-web00000", Action: UpdateModifyBundle, Outcome: "sent", RequestID: "r-1"},
			{Slot: 1, InstanceID: "lhins-web00001", Action: UpdateRenewFlag, Outcome: "unknown", Reason: "request failed"}},
			Failures: []Failure{{Slot: 1, InstanceID: "lhins-web00001", Action: UpdateRenewFlag, Code: lighthouse.CodeNetworkError, Class: "ambiguous", Message: "request failed"}}},
	}}
}

func TestRenderRolloutGolden(t *testing.T) {
	for _, format := range []string{"txt", "color.txt", "md", "json"} {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, rolloutRenderPlan(t), rolloutRenderResult())
			golden(t, "rollout."+format, got)
			if format == "txt" && !strings.Contains(got, "resets wipe the system disk") {
				t.Errorf("the plan does not say a reset wipes the disk:\n%s", got)
			}
		})
	}
}
