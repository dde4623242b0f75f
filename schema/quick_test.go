package schema

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
)

// agree fails t when the quick check decides v otherwise than the
// validator; it returns the quick verdict.
func agree(t testing.TB, s *Schema, v any, what string) verdict {
	t.Helper()
	q := s.quick.check(v)
	compiled, err := s.compile()
	if err != nil {
		t.Fatal(err)
	}
	err = compiled.Validate(v)
	switch {
	case q == valid && err != nil:
		t.Fatalf("%s: quick check passes what the validator refuses: %v\n%#v", what, err, v)
	case q == invalid && err == nil:
		t.Fatalf("%s: quick check refuses what the validator passes\n%#v", what, v)
	}
	return q
}

// plainFleet is fleetgen.Doc(i) as ReadPlain reads it.
func plainFleet(t testing.TB, i int) map[string]any {
	t.Helper()
	docs, ok := ReadPlain([]byte(fleetgen.Doc(i)))
	if !ok || len(docs) != 1 {
		t.Fatalf("ReadPlain refused fleetgen.Doc(%d)", i)
	}
	return docs[0].Value
}

// TestQuickDecidesGeneratedFleets: the quick check decides the fleets the
// benchmarks use by itself, so the validator is not run for them.
func TestQuickDecidesGeneratedFleets(t *testing.T) {
	s, err := Fleet()
	if err != nil {
		t.Fatal(err)
	}
	if s.quick == nil {
		t.Fatal("the fleet schema has no quick check")
	}
	for i := range 12 {
		if q := agree(t, s, plainFleet(t, i), fmt.Sprintf("fleetgen.Doc(%d)", i)); q != valid {
			t.Errorf("fleetgen.Doc(%d): quick verdict %d, want valid", i, q)
		}
	}
}

// replacements are the values put in place of each value of a fleet.
var replacements = []any{
	nil, true, false, int64(-1), int64(0), int64(1), int64(12), int64(13), int64(24), int64(1000), int64(1001), int64(65536),
	"", "x", "web", "Web", "web-", "ap-guangzhou", "ap-guangzhou-3", "ap-shanghai-2", "bundle_gen_01", "lhbp-g0tn7djh",
	"lhkp-00000000", "lhkp-1", "{fleet}-{slot}", "{slot}{slot}", "no-slot", "report", "isolate", "always", "nginx:1.27",
	"NOTIFY_AND_AUTO_RENEW", "0.0.0.0", "::", "300.1.1.1", "tcp", "udp", "/data", "data", "A=B", "qcloud-x", "lightkeeper-x",
	"a b", "é", strings.Repeat("a", 41), strings.Repeat("a", 300),
	[]any{}, []any{"ap-guangzhou-3"}, []any{"ap-guangzhou-3", "ap-guangzhou-3"}, []any{int64(1)},
	map[string]any{}, map[string]any{"k": "v"}, map[string]any{"env": "FOO"},
}

// mutations calls f with every value of doc replaced by each replacement,
// every key removed and an unknown key added to every mapping.
func mutations(doc map[string]any, f func(what string, mutated map[string]any)) {
	var walk func(path string, v any, set func(any) any)
	walk = func(path string, v any, set func(any) any) {
		for _, r := range replacements {
			f(fmt.Sprintf("%s = %#v", path, r), set(r).(map[string]any))
		}
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				without := maps.Clone(v)
				delete(without, k)
				f(path+" without "+k, set(without).(map[string]any))
				walk(path+"."+k, e, func(n any) any {
					c := maps.Clone(v)
					c[k] = n
					return set(c)
				})
			}
			extra := maps.Clone(v)
			extra["unknownKey"] = "x"
			f(path+" with an unknown key", set(extra).(map[string]any))
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e, func(n any) any {
					c := append([]any(nil), v...)
					c[i] = n
					return set(c)
				})
			}
			f(path+" doubled", set(append(append([]any(nil), v...), v...)).(map[string]any))
		}
	}
	walk("$", doc, func(n any) any {
		if m, ok := n.(map[string]any); ok {
			return m
		}
		return map[string]any{"root": n}
	})
}

// TestQuickAgreesWithValidator puts the quick check and the validator side
// by side on tens of thousands of fleets one change away from valid ones.
func TestQuickAgreesWithValidator(t *testing.T) {
	s, err := Fleet()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[verdict]int{}
	for _, i := range []int{0, 1, 2, 3} {
		mutations(plainFleet(t, i), func(what string, m map[string]any) {
			counts[agree(t, s, m, what)]++
		})
	}
	t.Logf("verdicts: %d valid, %d invalid, %d left to the validator", counts[valid], counts[invalid], counts[unknown])
	if counts[valid] < 100 || counts[invalid] < 1000 {
		t.Errorf("the mutations decided too little: %v", counts)
	}
}

// FuzzQuick holds the quick check to the validator on what ReadPlain
// reads.
func FuzzQuick(f *testing.F) {
	for i := range 6 {
		f.Add([]byte(fleetgen.Doc(i)))
	}
	s, err := Fleet()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, ok := ReadPlain(data)
		if !ok {
			return
		}
		for _, d := range docs {
			agree(t, s, d.Value, "document")
		}
	})
}
