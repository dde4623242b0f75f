package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/schema"
)

// runCmd runs lightkeeper in-process and returns exit code, stdout, stderr.
func runCmd(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	return code, out.String(), errOut.String()
}

// badFleets writes a directory with two broken fleet files and returns it.
func badFleets(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.yaml", `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: web
spec:
  region: ap-guangzhou
  count: -1
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  zones: [ap-shanghai-2]
  charge: {period: 1}
  login: {password: hunter2}
`)
	write("db.yml", `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: db
spec:
  region: ap-beijing
  count: 1
  bundleId: bundle_gen_02
  blueprintId: lhbp-d8pgvqz2
  charge: {period: 1}
  scaledown: isolate
`)
	return dir
}

func badFleetsWant(dir string) []string {
	return []string{
		filepath.ToSlash(dir) + `/db.yml:11:3: fleet "db": spec: unknown key "scaledown"; did you mean "scaleDown"?`,
		filepath.ToSlash(dir) + `/web.yaml:7:10: fleet "web": spec.count: must be >= 0`,
		filepath.ToSlash(dir) + `/web.yaml:12:11: fleet "web": spec.login: unknown key "password": a plain password must not be in git; use passwordFrom: {env: NAME} or passwordFrom: {file: PATH}`,
	}
}

func TestValidateExamples(t *testing.T) {
	code, out, errOut := runCmd(t, "validate", "../../examples/fleets")
	if code != exitOK || out != "4 fleets valid (8 instances in all)\n" || errOut != "" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateDefaultsToCurrentDirectory(t *testing.T) {
	t.Chdir("../../examples/fleets")
	code, out, _ := runCmd(t, "validate")
	if code != exitOK || !strings.HasPrefix(out, "4 fleets valid") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
}

func TestValidateListsEveryError(t *testing.T) {
	dir := badFleets(t)
	code, out, errOut := runCmd(t, "validate", dir)
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	want := strings.Join(badFleetsWant(dir), "\n") + "\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "lightkeeper validate: 3 problems found\n" {
		t.Errorf("stderr %q", errOut)
	}
}

func TestValidateSeveralPaths(t *testing.T) {
	dir := badFleets(t)
	// A file path, a directory and a missing path: names are unique across
	// all of them, and every problem is listed.
	code, out, _ := runCmd(t, "validate", "../../examples/fleets/web.yaml", filepath.Join(dir, "db.yml"), filepath.Join(dir, "nope.yaml"))
	if code != exitError {
		t.Errorf("exit code %d", code)
	}
	want := []string{
		filepath.ToSlash(dir) + `/db.yml:11:3: fleet "db": spec: unknown key "scaledown"; did you mean "scaleDown"?`,
		filepath.ToSlash(dir) + `/nope.yaml: no such file or directory`,
	}
	if out != strings.Join(want, "\n")+"\n" {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestValidateJSON(t *testing.T) {
	dir := badFleets(t)
	code, out, errOut := runCmd(t, "validate", "--output", "json", dir)
	if code != exitError || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var rep struct {
		Valid  bool
		Fleets []any
		Errors []struct {
			File, Fleet, Field, Message string
			Line, Column                int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if rep.Valid || len(rep.Fleets) != 0 || len(rep.Errors) != 3 {
		t.Fatalf("report = %+v", rep)
	}
	e := rep.Errors[1]
	if e.File != filepath.ToSlash(dir)+"/web.yaml" || e.Line != 7 || e.Column != 10 || e.Fleet != "web" || e.Field != "spec.count" || e.Message != "must be >= 0" {
		t.Errorf("error[1] = %+v", e)
	}

	code, out, _ = runCmd(t, "validate", "--output=json", "../../examples/fleets")
	var ok struct {
		Valid  bool
		Fleets []struct {
			Name, File, Region string
			Line, Count        int
		}
		Errors []any
	}
	if err := json.Unmarshal([]byte(out), &ok); err != nil || code != exitOK {
		t.Fatalf("code %d, %v\n%s", code, err, out)
	}
	if !ok.Valid || len(ok.Fleets) != 4 || ok.Errors == nil || len(ok.Errors) != 0 {
		t.Fatalf("report = %+v", ok)
	}
	if f := ok.Fleets[3]; f.Name != "web" || f.File != "../../examples/fleets/web.yaml" || f.Region != "ap-guangzhou" || f.Count != 3 || f.Line != 5 {
		t.Errorf("fleet = %+v", f)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--output", "yaml"},
		{"validate", "--no-such-flag"},
		{"validate", "--max-total-count", "0"},
		{"schema", "extra"},
	} {
		if code, _, errOut := runCmd(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, code, errOut, exitUsage)
		}
	}
	code, out, errOut := runCmd(t, "validate", "--help")
	if code != exitOK || !strings.Contains(out, "Exit codes: 0 all specs valid, 1 problems found") || errOut != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q; want the help on stdout only", code, out, errOut)
	}
	// A flag error prints the problem, the usage line and where the help is
	// to stderr (not the whole help), nothing to stdout.
	code, out, errOut = runCmd(t, "validate", "--no-such-flag")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "no-such-flag") ||
		!strings.Contains(errOut, "\nusage: lightkeeper validate [--output text|json]") ||
		!strings.Contains(errOut, "Run 'lightkeeper validate --help'") || strings.Contains(errOut, "Exit codes") {
		t.Errorf("bad flag: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateMaxTotalCount(t *testing.T) {
	code, out, _ := runCmd(t, "validate", "--max-total-count", "5", "../../examples/fleets")
	if code != exitError || !strings.Contains(out, `above the repository-wide limit of 5`) {
		t.Errorf("code %d, %q", code, out)
	}
	if code, _, _ := runCmd(t, "validate", "--max-total-count", "-1", "../../examples/fleets"); code != exitOK {
		t.Errorf("no limit: code %d", code)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, _ := runCmd(t, "schema")
	if code != exitOK || out != string(schema.JSON()) {
		t.Fatalf("code %d, output differs from the embedded schema", code)
	}
	if !strings.Contains(out, `"$id": "`+schema.ID+`"`) {
		t.Errorf("schema output lacks its $id")
	}
}

func TestValidateBinary(t *testing.T) {
	bin := reconcileBinary(t)
	dir := badFleets(t)
	cmd := exec.Command(bin, "validate", dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("exit: %v, stderr %s", err, errOut.String())
	}
	if want := strings.Join(badFleetsWant(dir), "\n") + "\n"; out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}

	cmd = exec.Command(bin, "validate", "../../examples/fleets")
	if b, err := cmd.Output(); err != nil || string(b) != "4 fleets valid (8 instances in all)\n" {
		t.Errorf("examples: %v %q", err, b)
	}
	err = exec.Command(bin, "validate", "--output", "xml").Run()
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Errorf("usage: %v", err)
	}
}

func TestValidateFlagsAfterPaths(t *testing.T) {
	code, stdout, stderr := runCmd(t, "validate", "../../examples/fleets", "--output", "json")
	if code != exitOK || !strings.HasPrefix(strings.TrimSpace(stdout), "{") {
		t.Fatalf("flags after the path: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// After "--" everything is a path, even what looks like a flag.
	code, stdout, _ = runCmd(t, "validate", "--", "--output")
	if code != exitError || !strings.Contains(stdout, "--output") {
		t.Errorf(`"--output" after "--": exit %d, stdout %q; want it read as a missing path`, code, stdout)
	}
}

// validFleet is a fleet document that passes every check.
const validFleet = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: solo
spec:
  region: ap-guangzhou
  count: 1
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  charge: {period: 1}
`

// A symbolic link in the walked tree that leads outside it is refused: the
// file it reads is not part of the repository, and a daemon reading a
// checkout must not read arbitrary files of its host through one.
func TestValidateSymlinkOutOfTree(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "elsewhere.yaml")
	if err := os.WriteFile(outside, []byte(validFleet), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside the tree is fine.
	if err := os.MkdirAll(filepath.Join(dir, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	inside := strings.Replace(validFleet, "name: solo", "name: inner", 1)
	if err := os.WriteFile(filepath.Join(dir, "shared", "inner.txt"), []byte(inside), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("shared/inner.txt", filepath.Join(dir, "inner.yaml")); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "validate", dir)
	want := filepath.ToSlash(dir) + "/linked.yaml: symbolic link leads outside the directory being read; " +
		"keep fleet files inside it, or name the file itself\n"
	if code != exitError || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, out, want)
	}
	// Named on the command line, the link is the user's choice and is read.
	if code, out, _ := runCmd(t, "validate", filepath.Join(dir, "linked.yaml")); code != exitOK {
		t.Errorf("link named explicitly: exit %d, %s", code, out)
	}
}

// "-" reads one fleet file from standard input.
func TestValidateStdin(t *testing.T) {
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(validFleet), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	if code := run(context.Background(), []string{"validate", "-"}, e); code != exitOK || out.String() != "1 fleet valid (1 instance in all)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	bad := strings.Replace(validFleet, "count: 1", "count: -1", 1)
	e.stdin = strings.NewReader(bad)
	if code := run(context.Background(), []string{"validate", "-"}, e); code != exitError ||
		out.String() != "<stdin>:7:10: fleet \"solo\": spec.count: must be >= 0\n" {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
	// JSON output does not escape <, > and &.
	out.Reset()
	e.stdin = strings.NewReader(bad)
	if code := run(context.Background(), []string{"validate", "--output", "json", "-"}, e); code != exitError ||
		!strings.Contains(out.String(), `"file": "<stdin>"`) {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
}

// Every command's --help teaches: a synopsis, its exit codes and an example;
// a flags section only when the command has flags.
func TestEveryHelpTeaches(t *testing.T) {
	for name := range commands {
		code, help, _ := runCmd(t, name, "--help")
		if code != exitOK {
			t.Errorf("%s --help: exit %d", name, code)
		}
		for _, want := range []string{"Usage:\n  lightkeeper " + name, "Exit codes:", "Example"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q:\n%s", name, want, help)
			}
		}
		if strings.Contains(help, "Flags:\n\n") || strings.Contains(help, "\n\n\n") {
			t.Errorf("%s --help has an empty Flags section or a double blank line:\n%s", name, help)
		}
	}
}

// An empty PATH (an unset variable, `validate "$FLEETS"`) is a usage
// error, not a silent walk of the current directory.
func TestValidateEmptyPath(t *testing.T) {
	t.Chdir("../../examples/fleets")
	code, out, errOut := runCmd(t, "validate", "")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "empty PATH") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// One directory named relatively and absolutely is one directory, not two
// copies of every fleet.
func TestValidateSameDirectoryTwoWays(t *testing.T) {
	abs, err := filepath.Abs("../../examples/fleets")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "validate", "../../examples/fleets", abs, abs+"/web.yaml")
	if code != exitOK || !strings.HasPrefix(out, "4 fleets valid") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateRegionAllow(t *testing.T) {
	dir := t.TempDir()
	doc := `apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: web}
spec: {region: ap-newcity, count: 1, bundleId: bundle_gen_01, blueprintId: lhbp-g0tn7djh, charge: {period: 1}, zones: [ap-newcity-1]}
`
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "validate", dir)
	if code != exitError || !strings.Contains(out, `unknown Lighthouse region "ap-newcity"`) {
		t.Errorf("unknown region: code %d, %q", code, out)
	}
	code, out, errOut := runCmd(t, "validate", "--region-allow", "ap-other,ap-newcity", dir)
	if code != exitOK {
		t.Errorf("--region-allow: code %d, %q %q", code, out, errOut)
	}
}

// A symbolic link to a directory outside the tree is refused as a link to a
// file is: its fleets would otherwise go unchecked in silence.
func TestValidateSymlinkDirOutOfTree(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "web.yaml"), []byte(validFleet), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "solo.yaml"), []byte(strings.Replace(validFleet, "name: solo", "name: other", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "shared")); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "validate", dir)
	want := filepath.ToSlash(dir) + "/shared: symbolic link leads outside the directory being read; " +
		"keep fleet files inside it, or name the file itself\n"
	if code != exitError || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, out, want)
	}
	// Excluded, it is not looked at.
	if code, out, _ := runCmd(t, "validate", "--exclude", "shared", dir); code != exitOK {
		t.Errorf("--exclude shared: exit %d, %s", code, out)
	}
}

func TestValidateExclude(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"fleets/solo.yaml":        validFleet,
		"ci/workflow.yml":         "name: ci\non: [push]\njobs: {}\n",
		"deep/a/testdata/x.yaml":  "count: nope\n",
		"deep/b/testdata/y.yaml":  "kind: Deployment\n",
		"fleets/testdata/z.yaml":  "[broken\n",
		"fleets/old.compose.yaml": "services: {}\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCmd(t, "validate", "--exclude", "ci/**", "--exclude", "**/testdata", "--exclude", "**/*.compose.yaml", dir)
	if code != exitOK || out != "1 fleet valid (1 instance in all)\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "validate", dir)
	if code != exitError || !strings.Contains(out, "ci/workflow.yml:1:1: not a lightkeeper fleet (no apiVersion or kind; keys name, on, jobs)") {
		t.Errorf("without --exclude: exit %d, stdout %q", code, out)
	}
	if code, _, errOut := runCmd(t, "validate", "--exclude", "/abs", dir); code != exitUsage || !strings.Contains(errOut, "relative to the directory walked") {
		t.Errorf("absolute pattern: exit %d, %q", code, errOut)
	}
}

// A file name from the repository reaches the terminal and the CI log
// escaped, from validate and from reconcile --plan: no escape sequence, no
// carriage return, no workflow command.
func TestFileNamesAreEscaped(t *testing.T) {
	name := "w\x1b[31mb\r::warning::x.yaml"
	bad := writeFleets(t, map[string]string{name: "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec: {region: ap-guangzhou, count: -1}\n"})
	good := writeFleets(t, map[string]string{name: fleetDoc("web", "ap-guangzhou", 1)})
	emu := filepath.Join(t.TempDir(), "emu.json")
	for _, args := range [][]string{
		{"validate", bad},
		{"reconcile", "--plan", "--emulator", emu, bad},
		{"reconcile", "--plan", "--emulator", emu, good},
	} {
		_, out, errOut := runCmd(t, args...)
		all := out + errOut
		if !strings.Contains(all, `w\x1b[31mb\r:\x3awarning:\x3ax.yaml`) || strings.ContainsAny(all, "\x1b\r") {
			t.Errorf("%q: the file name is not escaped:\n%q", args[:2], all)
		}
		for _, line := range strings.Split(all, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::") {
				t.Errorf("%q: a workflow command: %q", args[:2], line)
			}
		}
	}
}

// TestValidateCapsProblems: a repository with thousands of problems lists
// the first 20 of each file and 100 in all, then says how many more there
// are; the count on standard error is every problem found.
func TestValidateCapsProblems(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(validFleet)
	for i := range 300 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.yaml", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCmd(t, "validate", dir)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != exitError || len(lines) != 101 || lines[100] != "and 2900 more problems not listed (the list stops at 20 per file and 100 in all); fix these and look again" ||
		errOut != "lightkeeper validate: 3000 problems found\n" {
		t.Fatalf("exit %d, %d lines, last %q, stderr %q", code, len(lines), lines[len(lines)-1], errOut)
	}
	code, out, _ = runCmd(t, "validate", "--output", "json", dir)
	var rep struct {
		Errors []struct {
			File    string `json:"file"`
			Message string `json:"message"`
			More    int    `json:"more"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitError || len(rep.Errors) != 101 || rep.Errors[100].More != 2900 || rep.Errors[99].File == "" {
		t.Fatalf("json: exit %d, %v, %d errors", code, err, len(rep.Errors))
	}
}
