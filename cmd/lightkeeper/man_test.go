package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestManPage(t *testing.T) {
	code, page, errOut := runCmd(t, "man")
	if code != exitOK || errOut != "" {
		t.Fatalf("man: exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(page, ".TH LIGHTKEEPER 1 ") {
		t.Errorf("the page does not start with .TH LIGHTKEEPER 1:\n%.200s", page)
	}
	for _, sh := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"} {
		if !strings.Contains(page, "\n.SH "+sh+"\n") {
			t.Errorf("no section %s", sh)
		}
	}
	// Every line that starts with a control character is a request of the
	// man macros (text lines starting with . or ' are escaped with \&).
	request := regexp.MustCompile(`^[.'](TH|SH|SS|PP|TP|RS|RE|nf|fi|B|I|BR|UR|UE|nh|ad)( |$)`)
	for i, line := range strings.Split(page, "\n") {
		if (strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'")) && !request.MatchString(line) {
			t.Errorf("line %d is not a request of the man macros: %q", i+1, line)
		}
	}
	docs, err := commandDocs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range docs {
		if !strings.Contains(page, "\n.SS \""+c.name+"\"\n") {
			t.Errorf("no subsection for the command %s", c.name)
		}
		for _, f := range c.flags {
			if !strings.Contains(page, "\n.B "+roffEscape(f.spelling())+"\n") {
				t.Errorf("%s: no entry for %s", c.name, f.spelling())
			}
		}
	}

	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed (apt-get install groff-base; .ci/run does): the page was checked as text, not rendered")
	}
	file := filepath.Join(t.TempDir(), "lightkeeper.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	// -ww: every warning; -z: only the warnings, no output.
	if out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", file).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff warns: %v\n%s", err, out)
	}
	out, err := exec.Command(groff, "-man", "-Tutf8", "-P", "-cbou", file).CombinedOutput()
	if err != nil {
		t.Fatalf("groff: %v\n%s", err, out)
	}
	text := string(out)
	// As typed: hyphen-minus, not a Unicode hyphen or minus.
	for _, want := range []string{
		"lightkeeper - keeps Tencent Cloud Lighthouse fleets",
		"lightkeeper reconcile [--plan] [--output text|json|markdown]",
		"--wait[=DURATION]",
		"--max-creates int",
		"lightkeeper validate --exclude 'ci/**' --exclude '**/testdata' .",
		`"errors": [{"file","line","column","fleet","field","message"}]}`,
		"/usr/lib/systemd/system/lightkeeper.service",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}
