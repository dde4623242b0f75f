package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it falls back to the module version recorded by the go tool.
var version = ""

func init() {
	register(command{name: "version", summary: "print the version and build information", run: runVersion})
}

const versionHelp = `Prints the lightkeeper version, the VCS revision it was built from and the Go
version, on one line.

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
	v, rev := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(e.stdout, "lightkeeper %s", v)
	if rev != "" {
		fmt.Fprintf(e.stdout, " (%s)", rev)
	}
	fmt.Fprintf(e.stdout, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
