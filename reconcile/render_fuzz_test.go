package reconcile

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// hostile puts a and b into every string of renderPlan that comes from a
// repository or the cloud: names, paths, zones, IDs, states, reasons,
// messages, the currency; and into the result's.
func hostile(t testing.TB, a, b string) (*Plan, *Result) {
	p := renderPlan(t)
	for i, fp := range p.Fleets {
		s := []string{a, b}[i%2]
		fp.Fleet, fp.Region, fp.File = fp.Fleet+s, fp.Region+b, fp.File+a
		fp.Money.Currency = b
		for j := range fp.Creates {
			c := &fp.Creates[j]
			c.Name, c.Zone, c.BundleID, c.BlueprintID, c.Reason = a, b, c.BundleID+a, b, c.Reason+a
		}
		for j := range fp.Surplus {
			sp := &fp.Surplus[j]
			sp.ID, sp.Name, sp.State, sp.Reason, sp.HeldBy = a, b, a, b, LimitIsolates
		}
		for j := range fp.Drift {
			d := &fp.Drift[j]
			d.InstanceID, d.Name, d.Field, d.Spec, d.Actual = b, a, b, a, b
		}
		for j := range fp.Waiting {
			fp.Waiting[j].InstanceID = a
		}
		fp.Warnings = append(fp.Warnings, a)
		fp.Notes = append(fp.Notes, b)
		if i == 2 {
			fp.Error = &FleetError{Code: a, Field: b, Message: a + b}
		}
	}
	for j := range p.Orphans {
		o := &p.Orphans[j]
		o.ID, o.Name, o.State, o.Fleet = a, b, a, b
	}
	p.Totals.Money.Currency = a
	for j := range p.Violations {
		p.Violations[j].Message = b
	}
	res := renderResult()
	for i, fr := range res.Fleets {
		fr.Fleet = []string{a, b}[i%2]
		for j := range fr.Failures {
			fr.Failures[j].Message, fr.Failures[j].Code, fr.Failures[j].InstanceID = a, b, a
		}
		for j := range fr.Created {
			fr.Created[j].InstanceID = b
		}
		fr.Isolated = append(fr.Isolated, a)
		fr.Error = &FleetError{Code: b, Message: a}
	}
	return p, res
}

var hostileSeeds = [][2]string{
	{"web", "ap-guangzhou"},
	{"a`b\n<!--", "x"},
	{"fleets/x`\n<!-- hide the rest\n### No changes: every fleet is at its count.\n", "|"},
	{"web-`|`-{slot}", "`` ` ``"},
	{"</details></summary><script>alert(1)</script>", "]]><![CDATA["},
	{"\r\x1b[2J\x1b]8;;http://evil\x07link\x1b]8;;\x07", "::warning::pwned"},
	{"x\n::error file=a::b", "##[error]y"},
	{"\u202egnp.exe", "\u2028\u2029\u0085"},
	{`\`, `\\|`},
	{"@everyone #1 $x$ ~~s~~ *e* _u_ [l](http://x) ![i](y) <http://z> &amp; &#60;", "www.example.com"},
	{"\xff\xfe", "\x00"},
	{"- [ ] task\n> quote\n| a | b |\n|---|---|", "    code"},
}

// allowedTags are the HTML the Markdown renderer writes itself; any other
// '<' in its output would be markup from the input.
var allowedTags = regexp.MustCompile(`^<(!-- lightkeeper-plan -->|/?details>|/?summary>|/?code>|/?sub>)`)

// checkMarkdown holds a Markdown rendering to what no input may break: one
// HTML comment (the marker, first), no HTML but the renderer's, no control
// character, code spans closed on their line, and every table row on one
// line with its table's number of cells.
func checkMarkdown(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, MarkdownMarker+"\n") || strings.Count(out, "<!--") != 1 {
		t.Fatalf("an HTML comment other than the marker:\n%s", out)
	}
	for i := strings.IndexByte(out, '<'); i >= 0; i = nextIndex(out, i, '<') {
		if !allowedTags.MatchString(out[i:]) {
			t.Fatalf("markup from the input at %q:\n%s", out[i:min(len(out), i+40)], out)
		}
	}
	for _, r := range out {
		if r != '\n' && !unicode.IsPrint(r) && r != ' ' {
			t.Fatalf("the character %U:\n%s", r, out)
		}
	}
	if strings.Contains(out, "##[") {
		t.Fatalf("a workflow command marker:\n%s", out)
	}
	cells := 0 // unescaped '|' of the current table's header; 0 outside tables
	for _, line := range strings.Split(out, "\n") {
		if n := unescaped(line, '`'); n%2 != 0 {
			t.Fatalf("%d unescaped backticks in %q:\n%s", n, line, out)
		}
		switch {
		case line == "":
			cells = 0
		case cells > 0:
			if !strings.HasPrefix(line, "|") || unescaped(line, '|') != cells {
				t.Fatalf("a table row broken: %q has %d cell borders, want %d:\n%s", line, unescaped(line, '|'), cells, out)
			}
		case strings.HasPrefix(line, "| "):
			cells = unescaped(line, '|')
		}
	}
}

func nextIndex(s string, i int, c byte) int {
	j := strings.IndexByte(s[i+1:], c)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// unescaped counts c in line where no odd run of backslashes precedes it.
func unescaped(line string, c byte) (n int) {
	for i := 0; i < len(line); i++ {
		if line[i] != c {
			continue
		}
		bs := 0
		for j := i - 1; j >= 0 && line[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			n++
		}
	}
	return n
}

// FuzzRenderMarkdown: no text from a repository or the cloud, anywhere in
// a plan or a result, can open an HTML comment, add markup, or break a
// table row or a code span of the pull-request comment.
func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		p, res := hostile(t, a, b)
		for _, r := range []*Result{nil, res} {
			var out bytes.Buffer
			if err := RenderMarkdown(&out, p, r); err != nil {
				t.Fatal(err)
			}
			checkMarkdown(t, out.String())
		}
	})
}

// ansiCodes are the colours the text renderer writes itself.
var ansiCodes = strings.NewReplacer(ansiReset, "", ansiBold, "", ansiRed, "", ansiGreen, "", ansiYellow, "", ansiCyan, "")

// FuzzRenderText: no text from a repository or the cloud reaches the
// terminal or a CI log as a control character (only the renderer's own
// colours and line ends remain), and none starts a GitHub Actions workflow
// command ("::" at the start of a line, "##[" anywhere).
func FuzzRenderText(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		p, res := hostile(t, a, b)
		for _, color := range []bool{false, true} {
			var out bytes.Buffer
			if err := RenderText(&out, p, res, color); err != nil {
				t.Fatal(err)
			}
			if err := RenderTextResult(&out, res, color); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			if color {
				text = ansiCodes.Replace(text)
			}
			for _, r := range text {
				if r != '\n' && r != ' ' && !unicode.IsPrint(r) {
					t.Fatalf("colour %v: the character %U reaches the output:\n%q", color, r, out.String())
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.Contains(line, "##[") {
					t.Fatalf("colour %v: a workflow command: %q", color, line)
				}
			}
		}
	})
}

// The text plan escapes what reached terminals and CI logs raw: escape
// sequences, carriage returns and workflow commands in file names,
// instance names and orphans.
func TestRenderTextEscapes(t *testing.T) {
	p := renderPlan(t)
	p.Fleets[0].File = "fleets/\x1b[2Jweb\r.yaml"
	p.Orphans[0].Name = "old-0\n::warning::pwned"
	got := render(t, "txt", p, nil)
	for _, want := range []string{`fleets/\x1b[2Jweb\r.yaml:1`, `old-0\n:\x3awarning:\x3apwned`} {
		if !strings.Contains(got, want) {
			t.Errorf("the text does not show %q:\n%s", want, got)
		}
	}
	if strings.ContainsAny(got, "\x1b\r") {
		t.Errorf("control characters reach the output:\n%q", got)
	}
}

// The Markdown comment keeps a hostile file name and instance name in
// their code spans: the comment's rest stays visible and the table whole.
func TestRenderMarkdownEscapesNames(t *testing.T) {
	p := renderPlan(t)
	p.Fleets[0].File = "fleets/x`\n<!--\n### No changes: every fleet is at its count.\n"
	p.Fleets[0].Creates[0].Name = "web-`|`-1"
	got := render(t, "md", p, nil)
	checkMarkdown(t, got)
	for _, want := range []string{
		"Spec: <code>fleets/x\\`\\\\n&lt;!--\\\\n### No changes: every fleet is at its count.\\\\n:1</code>",
		"| 1 | <code>web-\\`\\|\\`-1</code> |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the comment does not hold %q:\n%s", want, got)
		}
	}
}
