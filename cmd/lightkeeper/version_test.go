package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	tail := " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-02T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"release", "1.2.0", "3f2c1e9b", "2026-11-30T09:12:44Z", vcs, "lightkeeper 1.2.0 (commit 3f2c1e9b, 2026-11-30T09:12:44Z)"},
		{"nothing known", "", "", "", nil, "lightkeeper (devel)"},
		{"no vcs", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "lightkeeper (devel)"},
		{"go install", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "lightkeeper v1.3.0"},
		{"clone, changed", "", "", "", vcs, "lightkeeper (devel) (commit 0123abcd+dirty, 2026-11-02T10:00:00Z)"},
		{"version only", "1.2.0", "", "", nil, "lightkeeper 1.2.0"},
		{"commit only", "", "3f2c1e9b", "", nil, "lightkeeper (devel) (commit 3f2c1e9b)"},
		{"date only", "1.2.0", "", "2026-11-30T09:12:44Z", nil, "lightkeeper 1.2.0 (2026-11-30T09:12:44Z)"},
	} {
		if got := versionLine(tc.version, tc.commit, tc.date, tc.bi); got != tc.want+tail {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want+tail)
		}
	}
}

// The stamped variables are what version prints, on one line.
func TestVersionStamped(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "9.8.7", "fedcba98", "2026-12-01T00:00:00Z"
	code, out, errOut := runCmd(t, "version")
	want := "lightkeeper 9.8.7 (commit fedcba98, 2026-12-01T00:00:00Z) " + runtime.Version()
	if code != exitOK || errOut != "" || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 1 {
		t.Errorf("version: exit %d, stdout %q, stderr %q; want one line starting %q", code, out, errOut, want)
	}
}
