package main

import (
	"strings"
	"testing"
)

func TestTopLevelHelp(t *testing.T) {
	code, out, errOut := runCmd(t, "--help")
	if code != exitOK || errOut != "" || !strings.Contains(out, "Commands:") {
		t.Errorf("--help: exit %d, stdout %q, stderr %q; want the command list on stdout", code, out, errOut)
	}
	for name := range commands {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("--help does not list %q:\n%s", name, out)
		}
	}
	code, out, errOut = runCmd(t)
	if code != exitUsage || out != "" || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q; want the list on stderr and %d", code, out, errOut, exitUsage)
	}
	code, _, errOut = runCmd(t, "frobnicate")
	if code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runCmd(t, "help", "version")
	if code != exitOK || !strings.Contains(out, "Usage:\n  lightkeeper version") {
		t.Errorf("help version: exit %d, stdout %q", code, out)
	}
}

// After "--", "-h" is an argument, not a request for help.
func TestHelpFlagAfterDoubleDash(t *testing.T) {
	code, out, _ := runCmd(t, "validate", "--", "-h")
	if code != exitError || strings.Contains(out, "Usage:") || !strings.Contains(out, "-h") {
		t.Errorf(`validate -- -h: exit %d, stdout %q; want "-h" read as a missing path`, code, out)
	}
}

// --version is an alias of the version command.
func TestVersionFlag(t *testing.T) {
	code, out, errOut := runCmd(t, "--version")
	if code != exitOK || errOut != "" || !strings.HasPrefix(out, "lightkeeper ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, want, _ := runCmd(t, "version")
	if out != want {
		t.Errorf("--version printed %q, version %q", out, want)
	}
}
