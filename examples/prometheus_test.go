package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/internal/prom/promtest"
)

// TestPrometheusRules runs promtool (Debian's prometheus package) on
// prometheus/alerts.yml: the rules are valid, and alerts_test.yml proves
// that each fires when it should and stays quiet when it should not.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus; .ci/run does): the rules of examples/prometheus were not checked")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusNamesExist: every metric the rules and the dashboard read
// is one the daemon registers (or the process collector's), every rule is
// tested, and the dashboard is JSON whose panels each query something.
func TestPrometheusNamesExist(t *testing.T) {
	known := daemonMetrics(t)
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	for name := range promtest.Gather(t, reg) {
		known[name] = true
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("prometheus/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			exprs = append(exprs, r.Expr)
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("alert %s has no test in alerts_test.yml", r.Alert)
			}
		}
	}
	if n < 6 {
		t.Errorf("alerts.yml has %d rules", n)
	}

	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err = os.ReadFile("prometheus/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok {
			exprs = append(exprs, q)
		}
	}
	name := regexp.MustCompile(`\b((?:lightkeeper|process)_[a-z_]+)\b`)
	seen := 0
	for _, e := range exprs {
		for _, m := range name.FindAllString(e, -1) {
			seen++
			if !known[m] {
				t.Errorf("%q reads %s, which no collector registers (daemon/*.go, the process collector)", e, m)
			}
		}
	}
	if seen < 15 {
		t.Errorf("only %d metric names read in the rules and the dashboard", seen)
	}
}

// daemonMetrics are the names the daemon registers: each Name:
// "lightkeeper_…" of daemon/*.go.
func daemonMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../daemon/*.go")
	if err != nil {
		t.Fatal(err)
	}
	// prom.NewCounterVec("...", ...) and the like, and the constants
	// fleetInstancesName = "..." (daemon/metrics_fleets.go).
	re := regexp.MustCompile(`(?:prom\.New[A-Za-z]+\(\s*|Name\s*=\s*)"(lightkeeper_[a-z_]+)"`)
	out := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	if len(out) < 15 || !out["lightkeeper_plan_held"] {
		t.Fatalf("only %d metrics found in daemon/*.go", len(out))
	}
	return out
}
