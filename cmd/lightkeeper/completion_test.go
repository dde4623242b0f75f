package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// completionScript writes `lightkeeper completion SHELL` to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := runCmd(t, "completion", shell)
	if code != exitOK || errOut != "" || out == "" {
		t.Fatalf("completion %s: exit %d, stderr %q", shell, code, errOut)
	}
	path := filepath.Join(t.TempDir(), "lightkeeper."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needShell returns the path of shell, or skips saying how to install it
// (.ci/run installs all three).
func needShell(t *testing.T, shell string) string {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install %s; .ci/run does): its completion script was not checked", shell, shell)
	}
	return path
}

// completionCase is a command line typed before TAB and the words that
// completion must offer.
type completionCase struct {
	line string
	want []string
}

// sameWords reports whether got and want hold the same words, in any order.
func sameWords(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// parseScript runs shell with its no-execute flag on script.
func parseScript(t *testing.T, shell, noExec, script string) {
	t.Helper()
	if out, err := exec.Command(shell, noExec, script).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(shell), noExec, err, out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// completionFixture makes a directory holding a directory "data" and a file
// "data.txt", to tell file from directory completion.
func completionFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBashCompletion(t *testing.T) {
	bash := needShell(t, "bash")
	script := completionScript(t, "bash")
	dir := completionFixture(t)
	docs, err := commandDocs()
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		words []string // as bash splits the line (COMP_WORDBREAKS splits at "="); the last is the word completed
		want  []string
	}
	cases := []tc{
		{[]string{"lightkeeper", "rec"}, []string{"reconcile"}},
		{[]string{"lightkeeper", "reconcile", "--pl"}, []string{"--plan"}},
		{[]string{"lightkeeper", "--ver"}, []string{"--version"}},
		{[]string{"lightkeeper", "reconcile", "--output", ""}, []string{"text", "json", "markdown"}},
		{[]string{"lightkeeper", "reconcile", "--output", "=", "j"}, []string{"json"}},
		{[]string{"lightkeeper", "validate", "--output", ""}, []string{"text", "json"}},
		{[]string{"lightkeeper", "completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"lightkeeper", "help", "v"}, []string{"validate", "version"}},
		{[]string{"lightkeeper", "validate", "--max-total-count", ""}, nil},
		{[]string{"lightkeeper", "reconcile", "--state-dir", dir + "/da"}, []string{dir + "/data"}},
		{[]string{"lightkeeper", "reconcile", "--emulator", dir + "/da"}, []string{dir + "/data", dir + "/data.txt"}},
		{[]string{"lightkeeper", "validate", "--exclude", "x", dir + "/da"}, []string{dir + "/data", dir + "/data.txt"}},
		{[]string{"lightkeeper", "version", ""}, nil},
		{[]string{"lightkeeper", "frobnicate", "--"}, nil},
	}
	// Every flag of every command completes from "--".
	for _, c := range docs {
		want := []string{"--help"}
		for _, f := range c.flags {
			want = append(want, "--"+f.name)
		}
		cases = append(cases, tc{[]string{"lightkeeper", c.name, "--"}, want})
	}
	var drv strings.Builder
	fmt.Fprintf(&drv, "source %s\ncomplete -p lightkeeper\n", shellQuote(script))
	for _, c := range cases {
		quoted := make([]string, len(c.words))
		for i, w := range c.words {
			quoted[i] = shellQuote(w)
		}
		fmt.Fprintf(&drv, "COMP_WORDS=(%s); COMP_CWORD=%d; _lightkeeper; printf '%%s\\n' \"=>${COMPREPLY[*]}\"\n", strings.Join(quoted, " "), len(c.words)-1)
	}
	out, err := exec.Command(bash, "--norc", "--noprofile", "-c", drv.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases)+1 {
		t.Fatalf("bash printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	if lines[0] != "complete -F _lightkeeper lightkeeper" {
		t.Errorf("complete -p lightkeeper = %q", lines[0])
	}
	for i, c := range cases {
		if got := strings.Fields(strings.TrimPrefix(lines[i+1], "=>")); !sameWords(got, c.want) {
			t.Errorf("completing %q: got %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
}

func TestFishCompletion(t *testing.T) {
	fish := needShell(t, "fish")
	script := completionScript(t, "fish")
	dir := completionFixture(t)
	parseScript(t, fish, "--no-execute", script)
	cases := []completionCase{
		{"lightkeeper rec", []string{"reconcile"}},
		{"lightkeeper reconcile --pl", []string{"--plan"}},
		{"lightkeeper reconcile --output ", []string{"json", "markdown", "text"}},
		{"lightkeeper completion ", []string{"bash", "fish", "zsh"}},
		{"lightkeeper validate --max-total-count ", nil},
		{"lightkeeper validate " + dir + "/da", []string{dir + "/data/", dir + "/data.txt"}},
		{"lightkeeper reconcile --state-dir " + dir + "/da", []string{dir + "/data/"}},
		{"lightkeeper reconcile --emulator " + dir + "/da", []string{dir + "/data/", dir + "/data.txt"}},
	}
	var drv strings.Builder
	fmt.Fprintf(&drv, "source %s\n", shellQuote(script))
	for _, c := range cases {
		fmt.Fprintf(&drv, "echo '=>'(complete -C %s | string replace -r '\\t.*' '' | string join ' ')\n", shellQuote(c.line))
	}
	out, err := exec.Command(fish, "--no-config", "-c", drv.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("fish: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("fish printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		if got := strings.Fields(strings.TrimPrefix(lines[i], "=>")); !sameWords(got, c.want) {
			t.Errorf("completing %q: got %q, want %q", c.line, got, c.want)
		}
	}
}

// zshCapture drives an interactive zsh in a pseudo-terminal (zsh/zpty) with
// the completion script $1 loaded. For each line in $3..., it types the line
// and TAB; completion records every match it adds, one a line, and when it
// has finished (comppostfuncs) moves the record to $2/N, N counting the lines
// from 0. The driver waits for that file (at most 10 s) before the next line.
const zshCapture = `zmodload zsh/zpty || exit 2
script=$1 out=$2; shift 2
zpty z zsh -f -i
zpty -w z "PROMPT=''; autoload -U compinit; compinit -u -D; source ${(q)script}"
zpty -w z '_cap() { compadd() { local -a hits; builtin compadd -O hits "$@"; print -rl -- $hits >>$CAP; builtin compadd "$@" } }'
zpty -w z '_capdone() { unfunction compadd; mv $CAP $DONE }'
zpty -w z "bindkey '^I' complete-word"
n=0
for line in "$@"; do
	zpty -w z "CAP=${(q)out}/part DONE=${(q)out}/$n; : >\$CAP; compprefuncs=(_cap); comppostfuncs=(_capdone)"
	zpty -n -w z "$line"$'\t'
	for i in {1..200}; do [[ -e $out/$n ]] && break; sleep 0.05; done
	[[ -e $out/$n ]] || { print -u2 "no completion of $line"; zpty -d z; exit 1 }
	zpty -n -w z $'\C-u'
	(( n++ ))
done
zpty -d z
`

func TestZshCompletion(t *testing.T) {
	zsh := needShell(t, "zsh")
	script := completionScript(t, "zsh")
	parseScript(t, zsh, "-n", script)
	tmp := t.TempDir()
	driver := filepath.Join(tmp, "capture.zsh")
	if err := os.WriteFile(driver, []byte(zshCapture), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []completionCase{
		{"lightkeeper rec", []string{"reconcile"}},
		{"lightkeeper reconcile --pl", []string{"--plan"}},
		{"lightkeeper reconcile --output=", []string{"json", "markdown", "text"}},
		{"lightkeeper completion ", []string{"bash", "fish", "zsh"}},
		{"lightkeeper validate --ex", []string{"--exclude"}},
	}
	args := []string{"-f", driver, script, tmp}
	for _, c := range cases {
		args = append(args, c.line)
	}
	if out, err := exec.Command(zsh, args...).CombinedOutput(); err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	for i, c := range cases {
		data, err := os.ReadFile(filepath.Join(tmp, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && !slices.Contains(got, l) {
				got = append(got, l)
			}
		}
		if !sameWords(got, c.want) {
			t.Errorf("completing %q: got %q, want %q", c.line, got, c.want)
		}
	}
}

func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		code, out, errOut := runCmd(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "bash, zsh or fish") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and the shells named", args, code, out, errOut, exitUsage)
		}
	}
}
