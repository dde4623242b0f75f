package spec

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestUpdateDecodeAndDefaults(t *testing.T) {
	const base = "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  region: ap-guangzhou\n  count: 8\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n"
	for _, tc := range []struct {
		update string
		want   Update
	}{
		{"", Update{Strategy: UpdateReport, MaxUnavailable: Amount{N: 1}}},
		{"  update: {strategy: inPlace}\n", Update{Strategy: UpdateInPlace, MaxUnavailable: Amount{N: 1}}},
		{"  update: {strategy: replace, maxUnavailable: 0, maxSurge: \"25%\", minReady: 1m30s}\n",
			Update{Strategy: UpdateReplace, MaxSurge: Amount{N: 25, Percent: true}, MinReady: 90 * time.Second, surgeSet: true}},
		{"  update: {maxUnavailable: \"50%\"}\n", Update{Strategy: UpdateReport, MaxUnavailable: Amount{N: 50, Percent: true}}},
	} {
		fleets, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(base + tc.update)}}, Options{})
		if err != nil {
			t.Fatalf("%q: %v", tc.update, err)
		}
		if got := fleets[0].Spec.Update; got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.update, got, tc.want)
		}
		if h := fleets[0].CreationHash(); strings.Contains(tc.update, "strategy") && h != mustHash(t, base) {
			t.Errorf("%q changes the creation hash", tc.update)
		}
	}
}

func mustHash(t *testing.T, doc string) string {
	t.Helper()
	fleets, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(doc)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fleets[0].CreationHash()
}

func TestUpdateBounds(t *testing.T) {
	pct := func(n int) Amount { return Amount{N: n, Percent: true} }
	for _, tc := range []struct {
		u                  Update
		count              int
		unavailable, surge int
	}{
		{Update{Strategy: UpdateInPlace, MaxUnavailable: Amount{N: 1}}, 4, 1, 0},
		{Update{Strategy: UpdateInPlace, MaxUnavailable: Amount{N: 10}}, 100, 10, 0},
		{Update{Strategy: UpdateInPlace, MaxUnavailable: pct(25)}, 10, 2, 0}, // 2.5 rounds down
		{Update{Strategy: UpdateInPlace, MaxUnavailable: pct(25)}, 3, 1, 0},  // 0.75 rounds down to 0, at least 1
		{Update{Strategy: UpdateReplace, MaxUnavailable: Amount{N: 0}, MaxSurge: Amount{N: 1}}, 4, 0, 1},
		{Update{Strategy: UpdateReplace, MaxUnavailable: pct(10), MaxSurge: pct(10)}, 3, 0, 1}, // surge 0.3 rounds up
		{Update{Strategy: UpdateReplace, MaxUnavailable: Amount{N: 2}, MaxSurge: pct(50)}, 5, 2, 3},
		{Update{Strategy: UpdateReport, MaxUnavailable: Amount{N: 1}, MaxSurge: Amount{N: 3}}, 4, 1, 0}, // surge only with replace
	} {
		u, s := tc.u.Bounds(tc.count)
		if u != tc.unavailable || s != tc.surge {
			t.Errorf("%+v of %d: maxUnavailable %d, maxSurge %d; want %d, %d", tc.u, tc.count, u, s, tc.unavailable, tc.surge)
		}
	}
	if got := pct(25).String() + " " + (Amount{N: 3}).String(); got != "25% 3" {
		t.Errorf("String: %s", got)
	}
}

// TestPlainFilesTakeEveryCheck: a fleet file plain enough for the fast
// reader (schema.ReadPlain) has no node tree when it is checked, so a check
// that looked for its key in the tree passed it by (maxSurge with inPlace
// was accepted). Each check reads the decoded values instead.
func TestPlainFilesTakeEveryCheck(t *testing.T) {
	const base = "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata:\n  name: web\nspec:\n  region: ap-guangzhou\n  count: 3\n  bundleId: bundle_gen_03\n  blueprintId: lhbp-g0tn7djh\n"
	for _, tc := range []struct{ tail, want string }{
		{"  charge:\n    period: 1\n  update:\n    strategy: inPlace\n    maxSurge: 1\n", "spec.update.maxSurge: applies to strategy replace only"},
		{"  charge:\n    period: 1\n    renewBefore: 30d\n", "spec.charge.renewBefore: 30d is not shorter than spec.charge.period"},
		{"  charge:\n    period: 48\n    renewBefore: 7d\n", "spec.charge.renewBefore: renewals are sold for"},
	} {
		_, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(base + tc.tail)}}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.tail, err, tc.want)
		}
	}
}
