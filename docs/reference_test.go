package docs_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// lightkeeper returns the lightkeeper binary built from this tree, once per
// test process; TestMain removes it.
func lightkeeper(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lightkeeper-docs-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lightkeeper")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/lightkeeper").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/lightkeeper: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// help runs lightkeeper with args (ending in --help) and returns stdout.
func help(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(lightkeeper(t), args...).Output()
	if err != nil {
		t.Fatalf("lightkeeper %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

var (
	commandRE  = regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)\s{2,}\S`)
	flagRE     = regexp.MustCompile(`(?m)^  --([a-z][a-z0-9-]*)`)
	exitCodeRE = regexp.MustCompile(`(?:^|[^\w./=-])(\d{1,3}) [a-z]`)
)

// TestCLIDocumented: every command of `lightkeeper --help` has a section
// "## `lightkeeper NAME`" in docs/cli.md, and that section names every flag
// of the command's --help (as `--flag`) and has a table row for every exit
// code its help lists.
func TestCLIDocumented(t *testing.T) {
	cli, err := readMD("docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	top := help(t, "--help")
	_, list, _ := strings.Cut(top, "Commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	var commands []string
	for _, m := range commandRE.FindAllStringSubmatch(list, -1) {
		commands = append(commands, m[1])
	}
	if len(commands) < 6 {
		t.Fatalf("lightkeeper --help lists %d commands (%v); has its format changed?\n%s", len(commands), commands, top)
	}
	flags := 0
	for _, name := range commands {
		heading := "`lightkeeper " + name + "`"
		sec, line, ok := cli.section(heading)
		if !ok {
			t.Errorf("docs/cli.md has no section for the command %s: add \"## %s\" with its usage, a flag table and an exit code table", name, heading)
			continue
		}
		h := help(t, name, "--help")
		for _, m := range flagRE.FindAllStringSubmatch(h, -1) {
			flags++
			flag := m[1]
			if !regexp.MustCompile("`--" + regexp.QuoteMeta(flag) + `([^a-z0-9-]|$)`).MatchString(sec) {
				t.Errorf("docs/cli.md:%d: the section %s does not document the flag --%s; add a row to its flag table: | `--%s …` | default | meaning |",
					line, heading, flag, flag)
			}
		}
		_, codes, ok := strings.Cut(h, "Exit codes:")
		if !ok {
			t.Errorf("lightkeeper %s --help has no \"Exit codes:\" paragraph", name)
			continue
		}
		codes, _, _ = strings.Cut(codes, "\n\n")
		seen := map[string]bool{}
		for _, m := range exitCodeRE.FindAllStringSubmatch(codes, -1) {
			code := m[1]
			if seen[code] {
				continue
			}
			seen[code] = true
			if !regexp.MustCompile(`(?m)^\|\s*` + code + `\s*\|`).MatchString(sec) {
				t.Errorf("docs/cli.md:%d: the section %s has no exit code %s, which its --help lists; add a row to its exit code table: | %s | meaning |",
					line, heading, code, code)
			}
		}
		if !seen["0"] || !seen["64"] {
			t.Errorf("lightkeeper %s --help: exit codes %v read from %q; want 0 and 64 among them (has the paragraph's format changed?)", name, slices.Sorted(maps.Keys(seen)), codes)
		}
	}
	if flags < 40 {
		t.Errorf("only %d flags found in the commands' --help; has its format changed?", flags)
	}
}

// TestDaemonConfigDocumented: every key of the daemon's configuration
// schema is in the Configuration section of docs/daemon.md, by its full
// dotted path.
func TestDaemonConfigDocumented(t *testing.T) {
	sec, line := mustSection(t, "docs/daemon.md", "Configuration")
	b, err := os.ReadFile("../daemon/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	keys := 0
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			key := prefix + name
			sub, _ := p.(map[string]any)
			if _, parent := sub["properties"]; parent {
				walk(key+".", sub)
				continue
			}
			keys++
			if !strings.Contains(sec, "`"+key+"`") {
				t.Errorf("docs/daemon.md:%d: the Configuration table does not document the key %s of daemon/config.schema.json; add a row: | `%s` | default | meaning |",
					line, key, key)
			}
		}
	}
	walk("", doc)
	if keys < 30 {
		t.Errorf("only %d keys found in daemon/config.schema.json", keys)
	}
}

var metricNameRE = regexp.MustCompile(`(?:prom\.New[A-Za-z]+\(\s*|Name\s*=\s*)"(lightkeeper_[a-z_]+)"`)

// TestDaemonMetricsDocumented: every metric the daemon registers (a
// prom.NewCounterVec("lightkeeper_…", …) or the like, or a constant
// …Name = "lightkeeper_…", in daemon's Go files) is in the Metrics section of
// docs/daemon.md.
func TestDaemonMetricsDocumented(t *testing.T) {
	sec, line := mustSection(t, "docs/daemon.md", "Metrics")
	files, err := filepath.Glob("../daemon/*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricNameRE.FindAllStringSubmatch(string(b), -1) {
			n++
			if !strings.Contains(sec, "`"+m[1]+"`") {
				t.Errorf("docs/daemon.md:%d: the Metrics table does not document %s (registered in %s); add a row: | `%s` | labels | meaning |",
					line, m[1], filepath.ToSlash(f), m[1])
			}
		}
	}
	if n < 15 {
		t.Errorf("only %d metrics found in daemon/*.go; has the registration changed?", n)
	}
}
