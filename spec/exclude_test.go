package spec

import "testing"

func TestExcluded(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"ci", "ci", true},
		{"ci", "a/ci", false},
		{"ci/**", "ci", true},
		{"ci/**", "ci/x/y.yaml", true},
		{"**/testdata", "spec/testdata", true},
		{"**/testdata", "testdata", true},
		{"**/testdata/**", "spec/testdata/invalid/a.yaml", true},
		{"*.yml", "a.yml", true},
		{"*.yml", "d/a.yml", false},
		{"**/*.yml", "d/e/a.yml", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"fleets/old-?.yaml", "fleets/old-1.yaml", true},
		{"[ab].yaml", "c.yaml", false},
	} {
		if err := CheckExclude(tc.pattern); err != nil {
			t.Errorf("CheckExclude(%q) = %v", tc.pattern, err)
		}
		if got := Excluded([]string{tc.pattern}, tc.path); got != tc.want {
			t.Errorf("Excluded(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"", "/abs/**", "a**", "[", "x/[a"} {
		if CheckExclude(bad) == nil {
			t.Errorf("CheckExclude(%q) accepted", bad)
		}
	}
}
