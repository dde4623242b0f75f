package gitsync

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
)

// gitEnv isolates the git binary from the machine's and user's config.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// repos is a bare "remote" and a work tree that pushes to it.
type repos struct {
	t      testing.TB
	home   string
	bare   string
	work   string
	branch string
}

func newRepos(t testing.TB) *repos {
	t.Helper()
	root := t.TempDir()
	r := &repos{t: t, home: root, bare: filepath.Join(root, "remote.git"), work: filepath.Join(root, "work"), branch: "main"}
	r.git(root, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(root, "init", "-q", "-b", "main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

func (r *repos) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(r.home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path -> content; "" deletes) in the work tree,
// commits them and returns the commit hash.
func (r *repos) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.work, p)
		if c == "" {
			r.git(r.work, "rm", "-q", "-r", "--ignore-unmatch", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git(r.work, "rev-parse", "HEAD")
}

func (r *repos) push(args ...string) {
	r.t.Helper()
	r.git(r.work, append([]string{"push", "-q", "origin"}, args...)...)
}

// logBuf is a slog handler target that tests can search.
type logBuf struct{ syncbuf.Buffer }

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newLogger(t *testing.T) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustSync(t *testing.T, s Source) (Revision, bool) {
	t.Helper()
	rev, changed, err := s.Sync(ctxT(t))
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rev, changed
}

func readFile(t *testing.T, rev Revision, name string) string {
	t.Helper()
	b, err := fsReadFile(rev, name)
	if err != nil {
		t.Fatalf("read %s at %s: %v", name, rev.Short(), err)
	}
	return string(b)
}

func fsReadFile(rev Revision, name string) ([]byte, error) {
	return rev.FS.(interface{ ReadFile(string) ([]byte, error) }).ReadFile(name)
}
