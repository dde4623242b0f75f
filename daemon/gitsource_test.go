package daemon_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/gitsync"
)

// gitRepo is a work tree in a temporary directory, driven by the git
// binary with the user's and the machine's configuration shut out.
type gitRepo struct {
	t   *testing.T
	dir string
	env []string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("the git binary is not installed")
	}
	home := t.TempDir()
	r := &gitRepo{t: t, dir: filepath.Join(home, "repo"), env: append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"), "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com")}
	r.git(home, "init", "-q", "-b", "main", r.dir)
	return r
}

func (r *gitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (name under fleets/ -> content; "" deletes) and
// commits them, returning the commit hash.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, "fleets", name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.dir, "add", "-A")
	r.git(r.dir, "commit", "-q", "-m", msg)
	return r.git(r.dir, "rev-parse", "HEAD")
}

// poll waits until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitFor, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGitSourceFollowsCommits(t *testing.T) {
	repo := newGitRepo(t)
	first := repo.commit("web: 1", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	src, err := gitsync.New(gitsync.Options{URL: repo.dir, Ref: gitsync.Ref{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	gs := daemon.GitSource(src)
	if _, ok := gs.(daemon.Watcher); !ok {
		t.Fatal("a local repository's source does not watch")
	}
	e := newEnv(t, nil)
	opts := e.options()
	opts.Source = gs
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastGood == nil || s.LastGood.ID != first || s.LastGood.Subject != "web: 1" || e.live("web-") != 1 {
		t.Fatalf("first revision: %+v, %d instances", s.LastGood, e.live("web-"))
	}

	// A commit is seen through the watch on the refs: no trigger here.
	second := repo.commit("web: 3", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 3)})
	poll(t, "the second commit to be applied", func() bool {
		s := e.d.Status()
		return s.LastGood != nil && s.LastGood.ID == second && e.live("web-") == 3
	})

	bad := repo.commit("web: broken", map[string]string{"web.yaml": "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec: {count: 9}\n"})
	poll(t, "the broken commit to be reported", func() bool {
		s := e.d.Status()
		return s.Invalid != nil && s.Invalid.ID == bad
	})
	if s := e.d.Status(); s.LastGood.ID != second || e.live("web-") != 3 {
		t.Fatalf("after a broken commit: last good %s, %d instances", s.LastGood.ID, e.live("web-"))
	}
}

// noWatch hides a source's Watch.
type noWatch struct{ daemon.Source }

func TestGitWebhookTriggers(t *testing.T) {
	repo := newGitRepo(t)
	repo.commit("web: 1", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	src, err := gitsync.New(gitsync.Options{URL: repo.dir, Ref: gitsync.Ref{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	opts := e.options()
	opts.Source = noWatch{daemon.GitSource(src)}
	var d *daemon.Daemon
	hook, err := gitsync.NewWebhookHandler(gitsync.WebhookOptions{Secret: []byte("s3cret"), Ref: gitsync.Ref{Branch: "main"},
		OnPush:  func(gitsync.Push) { d.Trigger() },
		Observe: func(result, reason string) { d.ObserveWebhook(result, reason) }})
	if err != nil {
		t.Fatal(err)
	}
	opts.Webhook = hook
	e.start(opts)
	d = e.d
	e.waitRuns(1)
	head := repo.commit("web: 2", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	srv := httptest.NewServer(e.d.Handler())
	defer srv.Close()
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/git", strings.NewReader(`{"ref":"refs/heads/main","after":"`+head+`"}`))
		req.Header.Set("X-Gitlab-Event", "Push Hook")
		req.Header.Set("X-Gitlab-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusForbidden {
		t.Fatalf("a wrong token answered %d", code)
	}
	if code := post("s3cret"); code != http.StatusAccepted {
		t.Fatalf("a good push answered %d", code)
	}
	s := e.waitRuns(2)
	if s.LastGood.ID != head || e.live("web-") != 2 {
		t.Fatalf("after the webhook: %s, %d instances", s.LastGood.ID, e.live("web-"))
	}
	if v := e.metric("lightkeeper_webhook_requests_total", "result", gitsync.WebhookRefused); v != 1 {
		t.Errorf("webhook_requests_total{refused} = %v", v)
	}
	if v := e.metric("lightkeeper_webhook_requests_total", "result", gitsync.WebhookAccepted); v != 1 {
		t.Errorf("webhook_requests_total{accepted} = %v", v)
	}
}
