package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// credentialsDir writes the files a daemon's configurations name in
// ${CREDENTIALS_DIRECTORY} (those systemd's LoadCredential= would pass) and
// the API credentials into dir, private.
func credentialsDir(t *testing.T, dir string) {
	t.Helper()
	for name, v := range map[string]string{
		lighthouse.SystemdSecretIDName: "AKIDtest", lighthouse.SystemdSecretKeyName: "key",
		"webhook-secret": "s3cret\n", "git-ssh-key": "-----BEGIN OPENSSH PRIVATE KEY-----\n(a key)\n-----END OPENSSH PRIVATE KEY-----\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// copyConfig copies a configuration file into dir with a known_hosts
// beside it, as it would be installed in /etc/lightkeeper.
func copyConfig(t *testing.T, file, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(dst, []byte(mustRead(t, file)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestDaemonCheck(t *testing.T) {
	// The example as installed: /etc/lightkeeper/config.yaml with
	// known_hosts beside it, the secrets in $CREDENTIALS_DIRECTORY and a
	// state directory that systemd creates.
	creds, etc := t.TempDir(), t.TempDir()
	credentialsDir(t, creds)
	file := copyConfig(t, "../../examples/daemon/config.yaml", etc)
	vars := map[string]string{"CREDENTIALS_DIRECTORY": creds, "STATE_DIRECTORY": filepath.Join(etc, "state")}
	code, out, errOut := runCmdEnv(t, vars, "daemon", "--config", file, "--check")
	if code != exitOK || out != file+": ok\n" || errOut != "" {
		t.Errorf("--check of the example: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	bad := "../../daemon/testdata/config/invalid/values.yaml"
	want, err := os.ReadFile(strings.TrimSuffix(bad, ".yaml") + ".err")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmdEnv(t, vars, "daemon", "--config", bad, "--check")
	wantErr := strings.ReplaceAll(string(want), "FILE", bad)
	if code != exitError || out != "" || !strings.HasPrefix(errOut, wantErr) || !strings.Contains(errOut, "problems in "+bad) {
		t.Errorf("--check of an invalid file: exit %d, stdout %q, stderr\n%s\nwant it to start with\n%s", code, out, errOut, wantErr)
	}
}

func TestDaemonUsage(t *testing.T) {
	for _, args := range [][]string{{"daemon"}, {"daemon", "--config"}, {"daemon", "--config", "x.yaml", "extra"}} {
		if code, _, _ := runCmd(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := runCmd(t, "daemon", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitError || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("a missing config: exit %d, stderr %q", code, errOut)
	}
}

// daemonRig is a local git repository, an emulator on httptest and a
// configuration file that points the daemon at both.
type daemonRig struct {
	t        testing.TB
	repo     string
	cfgFile  string
	stateDir string
	emu      *emulator.Server
	endpoint string
	gitEnv   []string
}

func newDaemonRig(t testing.TB) *daemonRig {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("the git binary is not installed")
	}
	emu, err := emulator.New(emulator.Config{Credentials: map[string]string{"AKIDtest": "key"}, RateLimits: emulator.NoRateLimits()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	root := t.TempDir()
	r := &daemonRig{t: t, repo: filepath.Join(root, "repo"), cfgFile: filepath.Join(root, "config.yaml"), stateDir: filepath.Join(root, "state"),
		emu: emu, endpoint: hs.URL}
	r.gitEnv = append(os.Environ(), "HOME="+root, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(root, ".gitconfig"),
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com")
	r.git(root, "init", "-q", "-b", "main", r.repo)
	if err := os.WriteFile(filepath.Join(root, "hook-secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *daemonRig) git(dir string, args ...string) {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, r.gitEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// webFleet is the fleet "web" with count instances.
func webFleet(count int) string {
	return fmt.Sprintf("apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: web}\nspec:\n  region: ap-guangzhou\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n", count)
}

// commit writes fleets/web.yaml with count and commits it.
func (r *daemonRig) commit(count int) {
	r.t.Helper()
	r.commitDoc(webFleet(count), fmt.Sprintf("web: %d", count))
}

// commitDoc writes doc to fleets/web.yaml and commits it with subject.
func (r *daemonRig) commitDoc(doc, subject string) {
	r.t.Helper()
	p := filepath.Join(r.repo, "fleets", "web.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(r.repo, "add", "-A")
	r.git(r.repo, "commit", "-q", "-m", subject)
}

// writeConfig writes the configuration; extra is appended verbatim.
func (r *daemonRig) writeConfig(extra string) {
	r.t.Helper()
	cfg := fmt.Sprintf(`repository:
  url: %s
  path: fleets
  interval: 1h
api:
  endpoint: %s
limits:
  maxCreatesPerRun: 10
stateDirectory: %s
webhook:
  secretFile: %s
%s`, r.repo, r.endpoint, r.stateDir, filepath.Join(filepath.Dir(r.cfgFile), "hook-secret"), extra)
	if err := os.WriteFile(r.cfgFile, []byte(cfg), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// editConfig replaces, in the configuration written, the first occurrence
// of each old string of the pairs old, new given; each old must be there.
func (r *daemonRig) editConfig(t testing.TB, pairs ...string) {
	t.Helper()
	cfg := mustRead(t, r.cfgFile)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(cfg, pairs[i]) {
			t.Fatalf("the configuration has no %q to replace:\n%s", pairs[i], cfg)
		}
		cfg = strings.Replace(cfg, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(r.cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// head returns the hash of the repository's HEAD.
func (r *daemonRig) head() string {
	r.t.Helper()
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir, cmd.Env = r.repo, r.gitEnv
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func (r *daemonRig) live() int {
	n := 0
	for _, in := range r.emu.Instances() {
		if strings.HasPrefix(in.InstanceName, "web-") {
			n++
		}
	}
	return n
}

// notes records what the service tells systemd.
type notes struct {
	mu   sync.Mutex
	list []string
}

func (n *notes) add(s string) { n.mu.Lock(); n.list = append(n.list, s); n.mu.Unlock() }
func (n *notes) get() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.list)
}

// waitLimit is how long a test waits for the service to get somewhere;
// tests never pass or fail on timing, only time out.
var waitLimit = time.Minute

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDaemonServiceReloadAndStop(t *testing.T) {
	r := newDaemonRig(t)
	r.commit(2)
	r.writeConfig("")
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	cfg, err := loadDaemonConfig(e, r.cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var logs syncbuf.Buffer
	var told notes
	s := &service{e: e, log: slog.New(slog.NewTextHandler(&logs, nil)), cred: lighthouse.NewCredential("AKIDtest", "key", "", "test"),
		file: r.cfgFile, notify: told.add, ln: ln}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, cfg, hup) }()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil(t, "/readyz", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	waitUntil(t, "READY=1", func() bool { return slices.Contains(told.get(), "READY=1") })
	if r.live() != 2 {
		t.Fatalf("%d instances, want 2", r.live())
	}

	// A webhook push is accepted (the local repository's watch may have
	// seen the commit first; either way it is applied).
	push := func() {
		t.Helper()
		postHook(t, base, r.head())
	}
	r.commit(3)
	push()
	waitUntil(t, "the pushed commit to be applied", func() bool { return r.live() == 3 })

	// A broken configuration on SIGHUP is logged; the daemon keeps running
	// on the old one.
	if err := os.WriteFile(r.cfgFile, []byte("repository: {url: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitUntil(t, "the failed reload to be logged", func() bool { return strings.Contains(logs.String(), "reload failed") })
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz after a bad reload: %d", code)
	}

	// A good configuration with a tighter limit takes over: a commit over
	// it is held.
	r.writeConfig("")
	if err := os.WriteFile(r.cfgFile, []byte(strings.Replace(mustRead(t, r.cfgFile), "maxCreatesPerRun: 10", "maxCreatesPerRun: 1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitUntil(t, "the reload", func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	waitUntil(t, "/readyz after the reload", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	r.commit(6)
	push()
	waitUntil(t, "the plan over the new limit to be held", func() bool {
		_, body := get("/status")
		var st daemon.Status
		return json.Unmarshal([]byte(body), &st) == nil && len(st.Held) > 0
	})
	if r.live() != 3 {
		t.Fatalf("%d instances after a held plan, want 3", r.live())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the service did not stop")
	}
	if n := told.get(); !slices.Contains(n, "STOPPING=1") || !slices.Contains(n, "RELOADING=1") {
		t.Errorf("told systemd %q", n)
	}
	if _, err := os.Stat(filepath.Join(r.stateDir, daemon.StateFile)); err != nil {
		t.Errorf("no state saved: %v", err)
	}
}

func mustRead(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
