package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// The release stamps these at build time (.goreleaser.yaml):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<full hash> -X main.date=<RFC 3339 commit time>"
//
// Each one left empty falls back to what the go tool recorded in the binary:
// the module version for `go install ...@v1.2.3`, the VCS revision and
// time for a build in a clone (unless -buildvcs=false).
var (
	version = ""
	commit  = ""
	date    = ""
)

func init() {
	register(command{name: "version", summary: "print the version and build information", run: runVersion})
}

const versionHelp = `Prints, on one line, the lightkeeper version, the commit it was built from
and that commit's date, then the Go version and the platform:

  lightkeeper 1.2.0 (commit 3f2c1e9b..., 2026-11-30T09:12:44Z) go1.26.8 linux/amd64

Release builds have all three stamped. A build from a clone shows the commit
the go tool recorded (with "+dirty" when the tree had changes), and
"(devel)" for the version; go install ...@VERSION shows that version.

Exit codes: 0 printed, 64 bad flags or arguments.

Example:
  lightkeeper version`

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "version", versionHelp)
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("version takes no arguments")
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(version, commit, date, bi))
	return nil
}

// versionLine is what `lightkeeper version` prints: the stamped values, or
// where one is empty, what the build info recorded (bi may be nil).
func versionLine(version, commit, date string, bi *debug.BuildInfo) string {
	if bi != nil {
		if version == "" && bi.Main.Version != "" {
			version = bi.Main.Version
		}
		var revision, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				if date == "" {
					date = s.Value
				}
			case "vcs.modified":
				modified = s.Value
			}
		}
		if commit == "" && revision != "" {
			commit = revision
			if modified == "true" {
				commit += "+dirty"
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	var b strings.Builder
	b.WriteString("lightkeeper " + version)
	switch {
	case commit != "" && date != "":
		fmt.Fprintf(&b, " (commit %s, %s)", commit, date)
	case commit != "":
		fmt.Fprintf(&b, " (commit %s)", commit)
	case date != "":
		fmt.Fprintf(&b, " (%s)", date)
	}
	fmt.Fprintf(&b, " %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
