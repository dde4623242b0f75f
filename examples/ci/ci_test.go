// Package ci holds CI examples that post `lightkeeper reconcile --plan` on
// pull requests (GitHub Actions) and merge requests (GitLab CI). Its test
// parses both files, checks their structure, and runs their plan scripts,
// command line as written, against the emulator.
package ci

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

const (
	secretID  = "AKIDcitest"
	secretKey = "ci-test-secret-key"
	planCmd   = "lightkeeper reconcile --plan --output markdown fleets/"
)

// setup builds lightkeeper into a bin directory, serves an emulator, and
// makes a work directory holding a copy of examples/fleets as fleets/.
func setup(t *testing.T) (bin, url, work string) {
	t.Helper()
	bin, url, work, _ = setupServer(t)
	return bin, url, work
}

// setupServer is setup that also returns the emulator.
func setupServer(t *testing.T) (bin, url, work string, srv *emulator.Server) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin = t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "lightkeeper"), "../../cmd/lightkeeper").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv, err := emulator.New(emulator.Config{Credentials: map[string]string{secretID: secretKey}, LaunchDelay: -1, RateLimits: emulator.NoRateLimits(),
		Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	work = t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "fleets"), os.DirFS("../fleets")); err != nil {
		t.Fatal(err)
	}
	return bin, hs.URL, work, srv
}

// runScript runs a CI shell script as the runners do (bash, errexit) in
// work, with the emulator as the cloud; it returns the exit code and the
// combined output.
func runScript(t *testing.T, script, bin, work string, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = append([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + work, "NO_COLOR=1"}, env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// applyAll buys every example fleet, so the next plan has nothing to do.
func applyAll(t *testing.T, bin, url, work string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "lightkeeper"), "reconcile", "--endpoint", url, "--site", "china", "fleets/")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TENCENTCLOUD_SECRET_ID="+secretID, "TENCENTCLOUD_SECRET_KEY="+secretKey, "BATCH_PASSWORD=Demo-Passw0rd-2026!")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type githubWorkflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Steps []struct {
			ID   string            `yaml:"id"`
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			If   string            `yaml:"if"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
	Permissions map[string]string `yaml:"permissions"`
}

func TestGitHubActions(t *testing.T) {
	var wf githubWorkflow
	if err := yaml.Unmarshal([]byte(readFile(t, "github-actions.yml")), &wf); err != nil {
		t.Fatal(err)
	}
	if _, ok := wf.On["pull_request"]; !ok || len(wf.On) != 1 {
		t.Errorf("on: %v, want pull_request only (never pull_request_target: it would hand secrets to forks)", wf.On)
	}
	if wf.Permissions["pull-requests"] != "write" {
		t.Errorf("permissions: %v", wf.Permissions)
	}
	job, ok := wf.Jobs["plan"]
	if !ok {
		t.Fatalf("no plan job: %v", wf.Jobs)
	}
	var planRun, script, failIf string
	for _, s := range job.Steps {
		switch {
		case s.ID == "plan":
			planRun = s.Run
			if s.Env["TENCENTCLOUD_SECRET_KEY"] != "${{ secrets.TENCENTCLOUD_SECRET_KEY }}" {
				t.Errorf("the plan step does not take the key from secrets: %v", s.Env)
			}
		case strings.HasPrefix(s.Uses, "actions/github-script@"):
			script = s.With["script"]
		case strings.Contains(s.If, "steps.plan.outputs.exit-code"):
			failIf = s.If
		}
	}
	if !strings.Contains(planRun, planCmd) {
		t.Fatalf("the plan step does not run %q:\n%s", planCmd, planRun)
	}
	for _, want := range []string{reconcile.MarkdownMarker, "listComments", "updateComment", "createComment"} {
		if !strings.Contains(script, want) {
			t.Errorf("the comment script lacks %q", want)
		}
	}
	if failIf != "steps.plan.outputs.exit-code != '0' && steps.plan.outputs.exit-code != '2'" {
		t.Errorf("the failing step's condition is %q; exit 2 (changes pending) must pass", failIf)
	}

	bin, url, work := setup(t)
	output := filepath.Join(work, "github_output")
	env := []string{"TENCENTCLOUD_SECRET_ID=" + secretID, "TENCENTCLOUD_SECRET_KEY=" + secretKey, "LIGHTKEEPER_ENDPOINT=" + url, "LIGHTKEEPER_SITE=china", "GITHUB_OUTPUT=" + output}
	step := func(wantCode string, env []string) string {
		t.Helper()
		os.Remove(output)
		if code, out := runScript(t, planRun, bin, work, env...); code != 0 {
			t.Fatalf("the plan step failed (exit %d); it must record the plan's code and pass:\n%s", code, out)
		}
		if got := readFile(t, output); got != "exit-code="+wantCode+"\n" {
			t.Fatalf("GITHUB_OUTPUT = %q, want exit-code=%s", got, wantCode)
		}
		comment := readFile(t, filepath.Join(work, "comment.md"))
		if !strings.HasPrefix(comment, reconcile.MarkdownMarker) {
			t.Errorf("comment.md does not start with the marker:\n%s", comment)
		}
		return comment
	}
	if c := step("2", env); !strings.Contains(c, "Plan: 8 to create") {
		t.Errorf("the first plan:\n%s", c)
	}
	applyAll(t, bin, url, work)
	if c := step("0", env); !strings.Contains(c, "No changes") {
		t.Errorf("the plan after apply:\n%s", c)
	}
	bad := append(env[:1:1], "TENCENTCLOUD_SECRET_KEY=wrong", "LIGHTKEEPER_ENDPOINT="+url, "LIGHTKEEPER_SITE=china", "GITHUB_OUTPUT="+output)
	if c := step("1", bad); !strings.Contains(c, "exit 1") || !strings.Contains(c, "AuthFailure") {
		t.Errorf("a plan that fails still comments, with the error:\n%s", c)
	}
}

type gitlabJob struct {
	Image        string            `yaml:"image"`
	Rules        []map[string]any  `yaml:"rules"`
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	Variables    map[string]string `yaml:"variables"`
}

// fakeGitLab serves the merge-request notes API.
type fakeGitLab struct {
	mu    sync.Mutex
	notes []map[string]any
	calls []string
}

func (g *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("PRIVATE-TOKEN") != "glpat-test" {
		http.Error(w, "401", http.StatusUnauthorized)
		return
	}
	const base = "/api/v4/projects/42/merge_requests/7/notes"
	var body struct {
		Body string `json:"body"`
	}
	if r.Method != http.MethodGet {
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base:
		json.NewEncoder(w).Encode(append([]map[string]any{{"id": 1, "body": "LGTM"}}, g.notes...))
	case r.Method == http.MethodPost && r.URL.Path == base:
		n := map[string]any{"id": 100 + len(g.notes), "body": body.Body}
		g.notes = append(g.notes, n)
		json.NewEncoder(w).Encode(n)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, base+"/"):
		for _, n := range g.notes {
			if base+"/"+jsonNumber(n["id"]) == r.URL.Path {
				n["body"] = body.Body
				json.NewEncoder(w).Encode(n)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestGitLabCI(t *testing.T) {
	var jobs map[string]gitlabJob
	if err := yaml.Unmarshal([]byte(readFile(t, "gitlab-ci.yml")), &jobs); err != nil {
		t.Fatal(err)
	}
	job, ok := jobs["lightkeeper-plan"]
	if !ok || len(job.Script) != 1 {
		t.Fatalf("no lightkeeper-plan job with one script block: %+v", jobs)
	}
	if len(job.Rules) == 0 || !strings.Contains(job.Rules[0]["if"].(string), `$CI_PIPELINE_SOURCE == "merge_request_event"`) {
		t.Errorf("rules: %v, want merge request pipelines", job.Rules)
	}
	script := job.Script[0]
	for _, want := range []string{planCmd, reconcile.MarkdownMarker, `-ne 2`, "PUT", "POST"} {
		if !strings.Contains(script, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("no jq to run the script with")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl to run the script with")
	}

	bin, url, work := setup(t)
	gl := &fakeGitLab{}
	gs := httptest.NewServer(gl)
	defer gs.Close()
	env := []string{"TENCENTCLOUD_SECRET_ID=" + secretID, "TENCENTCLOUD_SECRET_KEY=" + secretKey, "LIGHTKEEPER_ENDPOINT=" + url, "LIGHTKEEPER_SITE=china",
		"CI_API_V4_URL=" + gs.URL + "/api/v4", "CI_PROJECT_ID=42", "CI_MERGE_REQUEST_IID=7", "GITLAB_TOKEN=glpat-test"}
	note := func(wantExit int, env []string) string {
		t.Helper()
		code, out := runScript(t, script, bin, work, env...)
		if code != wantExit {
			t.Fatalf("script exit %d, want %d:\n%s", code, wantExit, out)
		}
		gl.mu.Lock()
		defer gl.mu.Unlock()
		if len(gl.notes) != 1 {
			t.Fatalf("%d notes of lightkeeper, want exactly 1; calls %v", len(gl.notes), gl.calls)
		}
		return gl.notes[0]["body"].(string)
	}
	if b := note(0, env); !strings.HasPrefix(b, reconcile.MarkdownMarker) || !strings.Contains(b, "Plan: 8 to create") {
		t.Errorf("the first note:\n%s", b)
	}
	applyAll(t, bin, url, work)
	if b := note(0, env); !strings.Contains(b, "No changes") {
		t.Errorf("the note after apply (updated, not added):\n%s", b)
	}
	bad := append(env[:1:1], append([]string{"TENCENTCLOUD_SECRET_KEY=wrong"}, env[2:]...)...)
	if b := note(1, bad); !strings.Contains(b, "exit 1") || !strings.Contains(b, "AuthFailure") {
		t.Errorf("a failed plan still updates the note:\n%s", b)
	}
	if !strings.Contains(strings.Join(gl.calls, ","), "PUT /api/v4/projects/42/merge_requests/7/notes/100") {
		t.Errorf("calls: %v", gl.calls)
	}
}

// applyDir is where the apply examples keep the state directory, which the
// CI cache carries from one apply job to the next.
const applyDir = ".lightkeeper-state"

type githubSteps struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			If   string            `yaml:"if"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// The apply workflow restores the state directory from a cache keyed by
// branch before the apply and saves it after, whatever the apply's exit.
func TestGitHubActionsApplyKeepsTheState(t *testing.T) {
	var wf githubSteps
	if err := yaml.Unmarshal([]byte(readFile(t, "github-actions-apply.yml")), &wf); err != nil {
		t.Fatal(err)
	}
	if _, ok := wf.On["push"]; !ok {
		t.Errorf("on: %v, want push", wf.On)
	}
	for _, never := range []string{"pull_request", "pull_request_target"} {
		if _, ok := wf.On[never]; ok {
			t.Errorf("on: %v: an apply must never run for a pull request", wf.On)
		}
	}
	var restore, save map[string]string
	var saveIf, run string
	for i, s := range wf.Jobs["apply"].Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/cache/restore@"):
			restore = s.With
			if run != "" {
				t.Errorf("step %d: the state is restored after the apply", i)
			}
		case strings.HasPrefix(s.Uses, "actions/cache/save@"):
			save, saveIf = s.With, s.If
			if run == "" {
				t.Errorf("step %d: the state is saved before the apply", i)
			}
		case strings.Contains(s.Run, "lightkeeper reconcile "):
			run = s.Run
		}
	}
	if restore == nil || save == nil || run == "" {
		t.Fatalf("want a cache restore, an apply and a cache save: %+v", wf.Jobs["apply"].Steps)
	}
	if restore["path"] != applyDir || save["path"] != applyDir || !strings.Contains(run, "--state-dir "+applyDir) {
		t.Errorf("the cached path (%q, %q) is not the apply's --state-dir: %s", restore["path"], save["path"], run)
	}
	prefix := restore["restore-keys"]
	if !strings.Contains(prefix, "${{ github.ref_name }}") || !strings.HasPrefix(restore["key"], prefix) || save["key"] != restore["key"] {
		t.Errorf("cache keys: restore %q (prefix %q), save %q; want one per job, restored by a prefix of the branch", restore["key"], prefix, save["key"])
	}
	if saveIf != "always()" {
		t.Errorf("the save step runs if %q; it must save after a failed apply too", saveIf)
	}
	applyConverges(t, run)
}

func TestGitLabCIApplyKeepsTheState(t *testing.T) {
	var jobs map[string]struct {
		Rules []map[string]any `yaml:"rules"`
		Cache struct {
			Key   string   `yaml:"key"`
			Paths []string `yaml:"paths"`
			When  string   `yaml:"when"`
		} `yaml:"cache"`
		ResourceGroup string   `yaml:"resource_group"`
		Script        []string `yaml:"script"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "gitlab-ci.yml")), &jobs); err != nil {
		t.Fatal(err)
	}
	job, ok := jobs["lightkeeper-apply"]
	if !ok || len(job.Script) != 1 {
		t.Fatalf("no lightkeeper-apply job with one script line: %+v", jobs)
	}
	if len(job.Rules) == 0 || !strings.Contains(job.Rules[0]["if"].(string), "$CI_DEFAULT_BRANCH") {
		t.Errorf("rules %v: the apply runs for the default branch only", job.Rules)
	}
	if !strings.Contains(job.Cache.Key, "$CI_COMMIT_REF_SLUG") || len(job.Cache.Paths) != 1 || strings.TrimSuffix(job.Cache.Paths[0], "/") != applyDir || job.Cache.When != "always" {
		t.Errorf("cache %+v: want the state directory, keyed by branch, saved always", job.Cache)
	}
	if !strings.Contains(job.ResourceGroup, "$CI_COMMIT_REF_SLUG") {
		t.Errorf("resource_group %q: two applies of a branch must not run at once", job.ResourceGroup)
	}
	if !strings.Contains(job.Script[0], "--state-dir "+applyDir) {
		t.Errorf("the apply does not use the cached state directory: %s", job.Script[0])
	}
	applyConverges(t, job.Script[0])
}

// applyConverges runs an apply script as two pushes would, with the state
// directory kept between them as the cache keeps it, and shows why it is
// kept: an instance deleted by hand is replaced only by a job that has the
// state, once its slot has waited one expectation window. The windows are
// simulated by moving the state's clock back, and --wait is shortened
// for the jobs that must end waiting.
func applyConverges(t *testing.T, script string) {
	t.Helper()
	bin, url, work, srv := setupServer(t)
	env := []string{"TENCENTCLOUD_SECRET_ID=" + secretID, "TENCENTCLOUD_SECRET_KEY=" + secretKey, "LIGHTKEEPER_ENDPOINT=" + url, "LIGHTKEEPER_SITE=china",
		"BATCH_PASSWORD=Demo-Passw0rd-2026!"}
	short := strings.Replace(script, "--wait=10m", "--wait=2s", 1)
	if short == script {
		t.Fatalf("the apply has no --wait=10m to shorten: %s", script)
	}
	if code, out := runScript(t, script, bin, work, env...); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, out)
	}
	var deleted string
	for _, in := range srv.Instances() {
		if strings.HasPrefix(in.InstanceName, "web-") {
			deleted = in.InstanceId
			break
		}
	}
	if err := srv.DeleteInstance(deleted); err != nil {
		t.Fatal(err)
	}
	// The next push: the slot's token returns the deleted instance, so the
	// job waits for it and says so, and buys nothing.
	code, out := runScript(t, short, bin, work, env...)
	if code != 1 || !strings.Contains(out, "which is not listed; a new server is bought at") || strings.Contains(out, "1 created") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}
	// Another push, after the window: with the state, the new server is
	// bought; without it, the job would only wait again.
	backdate(t, filepath.Join(work, applyDir, "state.json"), 6*time.Minute)
	noState := t.TempDir()
	if err := os.CopyFS(filepath.Join(noState, "fleets"), os.DirFS(filepath.Join(work, "fleets"))); err != nil {
		t.Fatal(err)
	}
	if code, out := runScript(t, short, bin, noState, env...); code != 1 || !strings.Contains(out, "which is not listed") {
		t.Fatalf("an apply without the state: exit %d\n%s", code, out)
	}
	if code, out := runScript(t, script, bin, work, env...); code != 0 || !strings.Contains(out, "1 created") {
		t.Fatalf("third apply, with the state: exit %d\n%s", code, out)
	}
}

// backdate moves every time in a state file back by d, as if the next job
// ran d later.
func backdate(t *testing.T, path string, d time.Duration) {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &st); err != nil {
		t.Fatal(err)
	}
	exps, _ := st["expectations"].(map[string]any)
	if len(exps) == 0 {
		t.Fatalf("the state holds no expectation: %v", st)
	}
	for _, e := range exps {
		e := e.(map[string]any)
		since, err := time.Parse(time.RFC3339Nano, e["since"].(string))
		if err != nil {
			t.Fatal(err)
		}
		e["since"] = since.Add(-d).Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
