package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lightkeeper/lightkeeper"

// forbidden maps a package (or, ending in "/...", a tree) to the packages it
// must not depend on, directly or through others. The flow is
// gitsync -> spec -> reconcile -> lighthouse, with the emulator beside the
// client and cmd on top of everything.
var forbidden = map[string][]string{
	"spec/...":                {"lighthouse/...", "reconcile/...", "gitsync/...", "daemon/...", "election/..."},
	"schema":                  {"spec/...", "lighthouse/...", "reconcile/...", "gitsync/...", "daemon/...", "election/..."},
	"lighthouse":              {"spec/...", "schema", "reconcile/...", "gitsync/...", "daemon/...", "lighthouse/emulator/...", "election/..."},
	"lighthouse/emulator":     {"spec/...", "schema", "reconcile/...", "gitsync/...", "daemon/...", "election/..."},
	"reconcile":               {"gitsync/...", "daemon/...", "lighthouse/emulator/...", "election/..."},
	"reconcile/reconciletest": {"gitsync/...", "daemon/...", "election/..."},
	"gitsync/...":             {"reconcile/...", "lighthouse/...", "daemon/...", "election/..."},
	// The daemon defines the Leadership it needs; the etcd client is
	// wired in by cmd, and the election knows nothing of what it guards.
	"daemon/...":   {"lighthouse/emulator/...", "election/..."},
	"election/...": {"spec/...", "schema", "lighthouse/...", "reconcile/...", "gitsync/...", "daemon/...", "notify/..."},
	// Notifications know events, not what they are about: the daemon
	// turns what a cycle did into events.
	"notify/...": {"spec/...", "schema", "lighthouse/...", "reconcile/...", "gitsync/...", "daemon/...", "election/..."},
	// The embedded etcd server and the Alertmanager process are for tests
	// only.
	"...": {"cmd/...", "internal/etcdtest", "internal/amtest"},
}

// importers maps a package (or tree) to the only packages that may depend
// on it, besides itself.
var importers = map[string][]string{
	// The daemon sends notifications; the command wires them in.
	"notify/...": {"daemon/...", "cmd/..."},
}

func TestDependenciesFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := strings.TrimPrefix(fields[0], module+"/"), fields[1:]
		pkgs++
		for _, dep := range deps {
			rel, ok := strings.CutPrefix(dep, module+"/")
			if !ok {
				continue
			}
			for of, who := range importers {
				if !match(of, rel) || match(of, pkg) {
					continue
				}
				if !slices.ContainsFunc(who, func(w string) bool { return match(w, pkg) }) {
					t.Errorf("%s depends on %s, which only %s may", pkg, rel, strings.Join(who, ", "))
				}
			}
		}
		for from, bans := range forbidden {
			if !match(from, pkg) {
				continue
			}
			for _, dep := range deps {
				rel, ok := strings.CutPrefix(dep, module+"/")
				if !ok {
					continue
				}
				for _, ban := range bans {
					if match(ban, rel) && !match(ban, pkg) {
						t.Errorf("%s depends on %s, which %q must not (docs/design.md section 2)", pkg, rel, from)
					}
				}
			}
		}
	}
	if pkgs < 5 {
		t.Fatalf("go list found %d packages; is the module path %s?", pkgs, module)
	}
}

// match reports whether pkg is pattern, or inside it for a pattern ending in
// "/..."; "..." matches everything.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == tree || strings.HasPrefix(pkg, tree+"/")
	}
	return pkg == pattern
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"spec/...", "spec", true},
		{"spec/...", "spec/internal/x", true},
		{"spec/...", "specs", false},
		{"lighthouse", "lighthouse/emulator", false},
		{"...", "cmd/lightkeeper", true},
	} {
		if got := match(tc.pattern, tc.pkg); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.pattern, tc.pkg, got)
		}
	}
}

// heavy are module trees the daemon's binary must not link: their init
// touches megabytes of pages in every daemon, `ha` or not (docs/benchmarks.md,
// "The binary's pages"). The election speaks etcd's JSON gateway instead,
// and internal/prom writes the metrics without client_golang and its
// protocol buffers; the tests may use them (the embedded etcd, etcd's own
// client, client_golang as the oracle of the exposition).
var heavy = []string{"google.golang.org/grpc", "go.etcd.io/", "go.uber.org/zap",
	"github.com/prometheus/", "google.golang.org/protobuf/"}

func TestBinaryLinksNoHeavyTrees(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/lightkeeper").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"/election") {
		t.Fatalf("go list -deps of the command lists no election among %d packages", len(deps))
	}
	for _, dep := range deps {
		for _, h := range heavy {
			if strings.HasPrefix(dep, h) {
				t.Errorf("the lightkeeper binary links %s (%s...)", dep, h)
			}
		}
	}
}
