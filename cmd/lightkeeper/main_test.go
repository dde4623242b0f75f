package main

import (
	"regexp"
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

// Every command's help spells its flags --name, as the usage lines and the
// docs write them, and its usage line names only flags it has.
func TestHelpSpellsFlagsWithTwoDashes(t *testing.T) {
	singleDash := regexp.MustCompile(`(?m)^  -[a-z]`)
	synopsisFlag := regexp.MustCompile(`--([a-z0-9-]+)`)
	docs, err := commandDocs()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(commands) {
		t.Fatalf("%d commands described, %d registered", len(docs), len(commands))
	}
	for _, c := range docs {
		code, out, _ := runCmd(t, c.name, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d", c.name, code)
		}
		if m := singleDash.FindString(out); m != "" {
			t.Errorf("%s --help prints a flag with one dash (%q):\n%s", c.name, m, out)
		}
		names := map[string]bool{"help": true}
		for _, f := range c.flags {
			names[f.name] = true
			if !strings.Contains(out, "\n  "+f.spelling()+"\n") {
				t.Errorf("%s --help does not list %s", c.name, f.spelling())
			}
		}
		for _, m := range synopsisFlag.FindAllStringSubmatch(c.synopsis, -1) {
			if !names[m[1]] {
				t.Errorf("the usage line of %s names --%s, which it does not have", c.name, m[1])
			}
		}
	}
	// The format of one flag of each kind, defaults as the flag package prints them.
	_, out, _ := runCmd(t, "reconcile", "--help")
	for _, want := range []string{
		"\n  --plan\n    \tprint the plan and change nothing\n",
		"\n  --max-creates int\n    \tmost instances one run may create; 0 none, -1 no limit (default 20)\n",
		"\n  --output string\n    \toutput format: text, json or markdown (default \"text\")\n",
		"\n  --wait[=DURATION]\n",
		"\n  --state-dir DIR\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reconcile --help lacks %q:\n%s", want, out)
		}
	}
}
