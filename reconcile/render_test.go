package reconcile

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const renderFleets = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: web
spec:
  region: ap-guangzhou
  count: 3
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  zones: [ap-guangzhou-3, ap-guangzhou-4]
  instanceName: "web-{slot}"
  charge: {period: 1, renewFlag: NOTIFY_AND_AUTO_RENEW}
  login: {keyIds: [lhkp-web00001]}
---
apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: api
spec:
  region: ap-shanghai
  count: 2
  bundleId: bundle_gen_04
  blueprintId: lhbp-dk3r8c2a
  charge: {period: 12}
  login: {keyIds: [lhkp-api00001]}
  scaleDown: isolate
---
apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: batch
spec:
  region: ap-shanghai
  count: 1
  bundleId: bundle_gen_02
  blueprintId: lhbp-w1n2022a
  charge: {period: 3}
  login:
    passwordFrom: {env: BATCH_PASSWORD}
`

// loadYAML loads fleets from one YAML file.
func loadYAML(t testing.TB, yaml string) []*spec.Fleet {
	t.Helper()
	fleets, err := spec.Load(fstest.MapFS{"fleets/all.yaml": {Data: []byte(yaml)}}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fleets
}

func inst(id, name, state, fleet string, slot int) Instance {
	return Instance{ID: id, Name: name, State: state, Fleet: fleet, Slot: slot, TagSlot: -1}
}

// renderPlan is a plan with one of everything: a create for an empty slot
// and one for a LAUNCH_FAILED slot, drift, a surplus reported and one
// isolated, a slot waiting for its instance, an expiry warning, an orphan,
// money and a guard exceeded.
func renderPlan(t testing.TB) *Plan {
	fleets := loadYAML(t, renderFleets)
	web0 := inst("lhins-web00000", "web-0", "RUNNING", "web", 0)
	web0.Zone, web0.BundleID, web0.BlueprintID, web0.RenewFlag = "ap-guangzhou-3", "bundle_gen_02", "lhbp-g0tn7djh", "NOTIFY_AND_AUTO_RENEW"
	web1 := inst("lhins-web00001", "web-1", "LAUNCH_FAILED", "web", 1)
	web7 := inst("lhins-web00007", "web-7", "RUNNING", "web", 7)
	orphan := inst("lhins-old00000", "old-0", "RUNNING", "old", 0)
	orphan.TagFleet, orphan.TagSlot = "old", 0
	api0 := inst("lhins-api00000", "api-0", "RUNNING", "api", 0)
	api0.RenewFlag, api0.Expires = "NOTIFY_AND_MANUAL_RENEW", t0.Add(72*time.Hour)
	api3 := inst("lhins-api00003", "api-3", "RUNNING", "api", 3)
	api3.TagFleet, api3.TagSlot = "api", 3
	obs := map[string]*Observation{
		"ap-guangzhou": {Region: "ap-guangzhou", At: t0, Total: 5,
			Fleets: map[string][]Instance{"web": {web0, web1, web7}, "old": {orphan}},
			Seen:   map[string]string{web0.ID: web0.State, web1.ID: web1.State, web7.ID: web7.State, orphan.ID: orphan.State}},
		"ap-shanghai": {Region: "ap-shanghai", At: t0, Total: 2,
			Fleets: map[string][]Instance{"api": {api0, api3}},
			Seen:   map[string]string{api0.ID: api0.State, api3.ID: api3.State}},
	}
	st := NewState()
	st.expect(Expectation{SlotKey: SlotKey{"ap-shanghai", "api", 1}, Token: Token("ap-shanghai", "api", 1, 0), InstanceID: "lhins-api00001", Since: t0.Add(-time.Minute)})
	p := Diff(fleets, obs, st, t0, DiffOptions{})
	for _, fp := range p.Fleets {
		switch fp.Fleet {
		case "web":
			fp.Money = Money{Currency: "CNY", Monthly: 2 * 70, Commitment: 2 * 70}
		case "batch":
			fp.Money = Money{Currency: "CNY", Monthly: 90, Commitment: 270}
		}
	}
	p.total()
	p.Check(Limits{MaxCreates: 2, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit})
	p.Word(cliWords)
	return p
}

// cliWords are the command line's names of the limits (cmd/lightkeeper),
// which the golden files show.
var cliWords = Words{MaxCreates: "--max-creates", MaxMonthlySpend: "--max-monthly-spend", MaxIsolates: "--max-isolates", MaxUpdates: "--max-updates", AllowOverLimit: "--allow-over-limit"}

func renderResult() *Result {
	return &Result{FormatVersion: FormatVersion, Created: 2, Failed: 1, Isolated: 1, Fleets: []*FleetResult{
		{Fleet: "api", Region: "ap-shanghai", Isolated: []string{"lhins-api00003"}},
		{Fleet: "batch", Region: "ap-shanghai", Failures: []Failure{{Slot: 0, Code: "ResourcesSoldOut", Class: "permanent",
			Message: "spec.zones: the bundle is sold out there; choose other spec.zones (ResourcesSoldOut: sold out)"}}},
		{Fleet: "web", Region: "ap-guangzhou", Created: []Created{
			{Slot: 1, InstanceID: "lhins-new00001", Incarnation: 1, ClientToken: Token("ap-guangzhou", "web", 1, 1)},
			{Slot: 2, InstanceID: "lhins-new00002", ClientToken: Token("ap-guangzhou", "web", 2, 0)}}},
	}}
}

// noChangePlan is a fleet at its count.
func noChangePlan(t testing.TB) *Plan {
	fleets := loadYAML(t, strings.SplitN(renderFleets, "---\n", 2)[0])
	var ins []Instance
	seen := map[string]string{}
	for slot := range 3 {
		in := inst(fmt.Sprintf("lhins-web0000%d", slot), fmt.Sprintf("web-%d", slot), "RUNNING", "web", slot)
		ins = append(ins, in)
		seen[in.ID] = in.State
	}
	obs := map[string]*Observation{"ap-guangzhou": {Region: "ap-guangzhou", At: t0, Total: 3, Fleets: map[string][]Instance{"web": ins}, Seen: seen}}
	p := Diff(fleets, obs, nil, t0, DiffOptions{})
	p.Check(Limits{MaxCreates: DefaultMaxCreates, MaxMonthlySpend: NoLimit})
	p.Word(cliWords)
	return p
}

// errorPlan is renderPlan with a fleet the service refused in a DryRun.
func errorPlan(t testing.TB) *Plan {
	p := renderPlan(t)
	for _, fp := range p.Fleets {
		if fp.Fleet == "batch" {
			fp.Error = &FleetError{Code: "ResourceNotFound.KeyPairNotFound", Field: "spec.login.keyIds",
				Message: "spec.login.keyIds: no such key pair in this region; create it or fix the ID (key pairs are per region) (ResourceNotFound.KeyPairNotFound: lhkp-nope)"}
		}
	}
	p.total()
	p.Check(Limits{MaxCreates: 2, MaxMonthlySpend: NoLimit, MaxIsolates: NoLimit})
	p.Word(cliWords)
	return p
}

func render(t *testing.T, format string, p *Plan, res *Result) string {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "txt":
		err = RenderText(&b, p, res, false)
	case "color.txt":
		err = RenderText(&b, p, res, true)
	case "md":
		err = RenderMarkdown(&b, p, res)
	case "json":
		err = RenderJSON(&b, p, res)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reconcile -run Golden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is meant):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name string
		plan func(testing.TB) *Plan
		res  *Result
	}{
		{"plan", renderPlan, nil},
		{"nochange", noChangePlan, nil},
		{"apply", renderPlan, renderResult()},
		{"fleeterror", errorPlan, nil},
		{"lifecycle", lifecyclePlan, lifecycleResult()},
	}
	for _, tc := range cases {
		for _, format := range []string{"txt", "color.txt", "md", "json"} {
			t.Run(tc.name+"."+format, func(t *testing.T) {
				got := render(t, format, tc.plan(t), tc.res)
				golden(t, tc.name+"."+format, got)
				if format != "color.txt" && strings.Contains(got, "\x1b[") {
					t.Errorf("colour codes without colour")
				}
			})
		}
	}
}

// The same inputs give the same bytes: nothing depends on map order or time.
func TestRenderDeterministic(t *testing.T) {
	for _, format := range []string{"txt", "md", "json"} {
		first := render(t, format, renderPlan(t), renderResult())
		for range 20 {
			if got := render(t, format, renderPlan(t), renderResult()); got != first {
				t.Fatalf("%s differs between two renders of the same plan", format)
			}
		}
	}
}

func TestRenderJSONVersion(t *testing.T) {
	var plan struct {
		FormatVersion int               `json:"formatVersion"`
		Fleets        []json.RawMessage `json:"fleets"`
	}
	if err := json.Unmarshal([]byte(render(t, "json", renderPlan(t), nil)), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.FormatVersion != 1 || len(plan.Fleets) != 3 {
		t.Errorf("plan JSON: formatVersion %d, %d fleets", plan.FormatVersion, len(plan.Fleets))
	}
	var rep Report
	if err := json.Unmarshal([]byte(render(t, "json", renderPlan(t), renderResult())), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FormatVersion != 1 || rep.Plan == nil || rep.Result == nil || rep.Result.Created != 2 {
		t.Errorf("report JSON: %+v", rep)
	}
	var empty bytes.Buffer
	if err := RenderJSON(&empty, &Plan{FormatVersion: FormatVersion}, nil); err != nil || !strings.Contains(empty.String(), `"fleets": []`) {
		t.Errorf("an empty plan: %v %s", err, empty.String())
	}
}

// A plan too long for a comment keeps its table, drops details from the
// end, says so, and stays within MaxMarkdown.
func TestRenderMarkdownTruncates(t *testing.T) {
	var yaml strings.Builder
	for i := range 400 {
		fmt.Fprintf(&yaml, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata:\n  name: f%03d\nspec:\n  region: ap-guangzhou\n  count: 2\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n", i)
	}
	fleets := loadYAML(t, yaml.String())
	p := Diff(fleets, map[string]*Observation{"ap-guangzhou": {Region: "ap-guangzhou", At: t0, Fleets: map[string][]Instance{}, Seen: map[string]string{}}}, nil, t0, DiffOptions{})
	got := render(t, "md", p, nil)
	if n := len(got); n > MaxMarkdown {
		t.Errorf("%d characters, over %d", n, MaxMarkdown)
	}
	if !strings.Contains(got, "Truncated") || !strings.HasPrefix(got, MarkdownMarker) {
		t.Errorf("no truncation note or marker:\n%s", got[len(got)-500:])
	}
	if strings.Count(got, "<details>") != strings.Count(got, "</details>") {
		t.Errorf("an unclosed <details>")
	}
	if !strings.Contains(got, "| `f399` |") {
		t.Errorf("the summary table lost a fleet")
	}
}

// Markup in messages cannot break out of the comment.
func TestRenderMarkdownEscapes(t *testing.T) {
	p := renderPlan(t)
	p.Fleets[0].Warnings = append(p.Fleets[0].Warnings, "<script>alert(1)</script> | </details>")
	got := render(t, "md", p, nil)
	if strings.Contains(got, "<script>") || strings.Count(got, "</details>") != strings.Count(got, "<details>") {
		t.Errorf("markup passed through:\n%s", got)
	}
}

// Every field of the JSON form is documented in the tables of
// docs/cli.md's json section.
func TestJSONFieldsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys[k] = true
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, name := range []string{"apply", "fleeterror"} {
		p := renderPlan(t)
		p.Fleets[0].Money.Unknown = true
		p.Fleets[0].Notes = []string{"n"}
		p.Fleets[0].Creates[0].Resend = true
		res := renderResult()
		res.Fleets[1].Error = &FleetError{Code: "c", Field: "f", Message: "m"}
		res.Fleets[1].Failures[0].InstanceID = "lhins-x"
		p.Fleets[1].Surplus[0].HeldBy = LimitIsolates
		p.Violations = append(p.Violations, Violation{Limit: LimitMonthlySpend, Planned: 1, Max: 0, Currency: "CNY", PricesUnknown: true, Message: "m"})
		var b bytes.Buffer
		if err := RenderReportJSON(&b, p, res, []string{"web 1/3 RUNNING"}); err != nil {
			t.Fatal(name, err)
		}
		var v any
		if err := json.Unmarshal(b.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	for _, pr := range []struct {
		p   *Plan
		res *Result
	}{{lifecyclePlan(t), lifecycleResult()}, {rolloutRenderPlan(t), rolloutRenderResult()}} {
		var b bytes.Buffer
		if err := RenderReportJSON(&b, pr.p, pr.res, nil); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys seen: %v", len(keys), keys)
	}
	_, text, ok := strings.Cut(string(readme), "\n#### json\n")
	if !ok {
		t.Fatal(`docs/cli.md has no "#### json" section, the JSON output of reconcile`)
	}
	text, _, _ = strings.Cut(text, "\n## ")
	for k := range keys {
		if !strings.Contains(text, "`"+k+"`") && !strings.Contains(text, "."+k+"`") && !strings.Contains(text, "`"+k+"[]`") && !strings.Contains(text, "."+k+"[]`") && !strings.Contains(text, "`"+k+"\":") && !strings.Contains(text, "\""+k+"\"") {
			t.Errorf("JSON field %q is not in the tables of docs/cli.md's json section (reconcile's outputs); add it to the row of its object", k)
		}
	}
}
