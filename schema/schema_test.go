package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// compiled is s's validator.
func compiled(t *testing.T, s *Schema) *jsonschema.Schema {
	t.Helper()
	c, err := s.compile()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEmbeddedSchemaCompiles(t *testing.T) {
	s, err := Fleet()
	if err != nil {
		t.Fatal(err)
	}
	compiled(t, s)
	disk, err := os.ReadFile("fleet.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(JSON(), disk) {
		t.Fatal("JSON() differs from fleet.schema.json")
	}
	var doc map[string]any
	if err := json.Unmarshal(disk, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$id"] != ID {
		t.Errorf("$id = %v, want %s", doc["$id"], ID)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", doc["$schema"])
	}
}

// TestEveryPropertyDescribed keeps editor help complete: every property,
// item and additionalProperties schema carries a description.
func TestEveryPropertyDescribed(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		n++
		if d, _ := s["description"].(string); strings.TrimSpace(d) == "" {
			t.Errorf("%s has no description", path)
		}
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				walk(path+".properties."+name, p.(map[string]any))
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+".items", items)
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			walk(path+".additionalProperties", ap)
		}
	}
	walk("$", doc)
	if n < 40 {
		t.Errorf("walked %d schemas, expected the whole fleet schema", n)
	}
}

func parse(t *testing.T, src string) (any, *yaml.Node) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v, n.Content[0]
}

func TestValidatePlacesEveryViolation(t *testing.T) {
	v, node := parse(t, `apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: web}
spec:
  region: ap-guangzhou
  count: -1
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
  zone: [ap-guangzhou-3]
  login: {password: x}
`)
	got, err := mustFleet(t).Validate(v, node)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, vi := range got {
		lines = append(lines, vi.Field()+"@"+itoa(vi.Line)+":"+itoa(vi.Column)+": "+vi.Message)
	}
	want := map[string]bool{
		`spec.count@6:10: must be >= 0`:                        true,
		`spec@10:3: unknown key "zone"; did you mean "zones"?`: true,
		`spec.login@11:11: unknown key "password": a plain password must not be in git; use passwordFrom: {env: NAME} or passwordFrom: {file: PATH}`: true,
	}
	if len(lines) != len(want) {
		t.Fatalf("violations:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !want[l] {
			t.Errorf("unexpected violation %s", l)
		}
	}
}

func TestValidateValid(t *testing.T) {
	v, node := parse(t, `{apiVersion: lightkeeper/v1, kind: Fleet, metadata: {name: a}, spec: {region: ap-beijing, count: 0, bundleId: bundle_gen_01, blueprintId: lhbp-a7oxy2bx, charge: {period: 60}}}`)
	got, err := mustFleet(t).Validate(v, node)
	if err != nil || got != nil {
		t.Fatalf("Validate = %v, %v", got, err)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"count", "region", "zones", "bundleId", "blueprintId", "instanceName"}
	for word, want := range map[string]string{
		"cuont":        "count",
		"Count":        "count",
		"bundleID":     "bundleId",
		"blueprint":    "blueprintId",
		"instancename": "instanceName",
		"zone":         "zones",
		"color":        "",
		"x":            "",
	} {
		if got := Suggest(word, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestFieldName(t *testing.T) {
	if got := FieldName([]string{"spec", "containers", "0", "envs", "12", "key"}); got != "spec.containers[0].envs[12].key" {
		t.Errorf("FieldName = %s", got)
	}
	if got := FieldName(nil); got != "" {
		t.Errorf("FieldName(nil) = %q", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustFleet(t *testing.T) *Schema {
	t.Helper()
	s, err := Fleet()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPeriods checks the charge period rule (1-12, 24, 36, 48, 60 months)
// over a range of values.
func TestPeriods(t *testing.T) {
	valid := map[int]bool{24: true, 36: true, 48: true, 60: true}
	for p := 1; p <= 12; p++ {
		valid[p] = true
	}
	for p := -1; p <= 75; p++ {
		v, node := parse(t, `{apiVersion: lightkeeper/v1, kind: Fleet, metadata: {name: a}, spec: {region: ap-beijing, count: 0, bundleId: bundle_gen_01, blueprintId: lhbp-a7oxy2bx, charge: {period: `+strconv.Itoa(p)+`}}}`)
		got, err := mustFleet(t).Validate(v, node)
		if err != nil {
			t.Fatal(err)
		}
		if valid[p] != (len(got) == 0) {
			t.Errorf("period %d: violations %v, valid should be %t", p, got, valid[p])
		}
		if len(got) > 1 || (len(got) == 1 && got[0].Message != "must be 1 to 12, 24, 36, 48 or 60 (months)") {
			t.Errorf("period %d: %v", p, got)
		}
	}
}

// TestFleetSpecDocumentsEveryField keeps the spec reference,
// docs/fleet-spec.md, in step with the schema: every property of the schema
// is named, in backquotes, in its "Fields" section.
func TestFleetSpecDocumentsEveryField(t *testing.T) {
	ref, err := os.ReadFile("../docs/fleet-spec.md")
	if err != nil {
		t.Fatal(err)
	}
	_, fields, ok := strings.Cut(string(ref), "\n## Fields\n")
	if !ok {
		t.Fatal(`docs/fleet-spec.md has no "## Fields" section`)
	}
	fields, _, _ = strings.Cut(fields, "\n## ")
	var doc map[string]any
	if err := json.Unmarshal(JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			full := strings.TrimPrefix(path+"."+name, ".")
			// A field is named whole (`spec.count`), by its last part
			// (`…containerImage`) or inside a {…} list of a parent's row.
			sub := p.(map[string]any)
			if _, parent := sub["properties"]; parent {
				walk(full, sub) // documented through its fields
				continue
			}
			if !strings.Contains(fields, "`"+full+"`") && !strings.Contains(fields, "`"+full+"[]`") &&
				!strings.Contains(fields, "`…"+name+"`") && !strings.Contains(fields, "`…"+name+"[]`") &&
				!strings.Contains(fields, name+",") && !strings.Contains(fields, ", "+name+"}") {
				t.Errorf("docs/fleet-spec.md: the Fields table does not document %s; add a row: | `%s` | type | required | meaning |", full, full)
			}
			walk(full, sub)
		}
	}
	walk("", doc)
}

// The schema that editors use carries the tag rules that package spec
// checks with more precise messages, so an editor is not green where
// validate is red; Validate leaves those rules to spec (x-checked-by).
func TestTagRulesForEditors(t *testing.T) {
	c := mustFleet(t)
	doc := func(tags map[string]any) map[string]any {
		return map[string]any{"apiVersion": "lightkeeper/v1", "kind": "Fleet", "metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"region": "ap-guangzhou", "count": int64(1), "bundleId": "bundle_gen_01",
				"blueprintId": "lhbp-g0tn7djh", "charge": map[string]any{"period": int64(1)}, "tags": tags}}
	}
	nine := map[string]any{}
	for i := range 9 {
		nine["k"+strconv.Itoa(i)] = "v"
	}
	for name, tags := range map[string]map[string]any{
		"nine tags":        nine,
		"lightkeeper-":     {"lightkeeper-fleet": "x"},
		"Project":          {"Project": "x"},
		"qcloud":           {"qcloud:app": "x"},
		"bad key char":     {"a#b": "x"},
		"bad value char":   {"owner": "a,b"},
		"empty key":        {"": "x"},
		"long key":         {strings.Repeat("k", 128): "x"},
		"long value":       {"k": strings.Repeat("v", 256)},
		"value not string": {"k": int64(1)},
	} {
		if compiled(t, c).Validate(doc(tags)) == nil {
			t.Errorf("%s: the schema accepts %v", name, tags)
		}
	}
	if err := compiled(t, c).Validate(doc(map[string]any{"team": "storefront", "env": "prod", "网": "a b+-=._:/@"})); err != nil {
		t.Errorf("valid tags refused: %v", err)
	}
	// Left to spec: no violation from Validate for these.
	for _, tags := range []map[string]any{nine, {"lightkeeper-fleet": "x"}, {"a#b": "x"}, {"owner": "a,b"}} {
		if v, err := c.Validate(doc(tags), nil); err != nil || len(v) != 0 {
			t.Errorf("Validate(%v) = %v, %v; want the rule left to spec", tags, v, err)
		}
	}
}
