package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// checkDir is a directory with what a daemon needs to start: a local git
// repository, the API credentials and a webhook secret as systemd passes
// them (in $CREDENTIALS_DIRECTORY), and a configuration file using them.
type checkDir struct {
	dir, creds, cfg string
	vars            map[string]string
}

func newCheckDir(t *testing.T) *checkDir {
	t.Helper()
	r := newDaemonRig(t) // a git repository
	c := &checkDir{dir: t.TempDir()}
	c.creds = filepath.Join(c.dir, "creds")
	c.cfg = filepath.Join(c.dir, "config.yaml")
	c.vars = map[string]string{"CREDENTIALS_DIRECTORY": c.creds}
	if err := os.Mkdir(c.creds, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{lighthouse.SystemdSecretIDName: "AKIDtest", lighthouse.SystemdSecretKeyName: "key", "webhook-secret": "s3cret\n"} {
		c.write(t, filepath.Join("creds", name), v, 0o600)
	}
	if err := os.Rename(r.repo, filepath.Join(c.dir, "repo")); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *checkDir) write(t *testing.T, name, data string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// config writes the configuration: a good one with the replacements
// applied (old, new, old, new, ...).
func (c *checkDir) config(t *testing.T, replace ...string) {
	t.Helper()
	cfg := `repository:
  url: ` + filepath.Join(c.dir, "repo") + `
api:
  endpoint: http://127.0.0.1:1
listen: 127.0.0.1:0
stateDirectory: ` + filepath.Join(c.dir, "state") + `
webhook:
  secretFile: ${CREDENTIALS_DIRECTORY}/webhook-secret
`
	cfg = strings.NewReplacer(replace...).Replace(cfg)
	c.write(t, "config.yaml", cfg, 0o644)
}

// runDaemonFor runs `daemon ARGS` in-process for at most d: a daemon that
// starts runs until then and exits 0.
func runDaemonFor(vars map[string]string, d time.Duration, args ...string) (int, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"daemon"}, args...), &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }})
	return code, out.String(), errOut.String()
}

// TestDaemonCheckMeansItStarts: `daemon --check` refuses what the daemon
// cannot start with, and the daemon, started on the same file, refuses it
// with the same message.
func TestDaemonCheckMeansItStarts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, c *checkDir) // changes to the good directory
		replace []string
		want    []string // in stderr, with exit 1
	}{
		{name: "missing webhook secret", replace: []string{"/webhook-secret", "/no-such-secret"},
			want: []string{"config.yaml:8:15: webhook.secretFile:", "no-such-secret does not exist"}},
		{name: "empty webhook secret", setup: func(t *testing.T, c *checkDir) { c.write(t, "creds/webhook-secret", " \n", 0o600) },
			want: []string{"webhook.secretFile:", "webhook-secret is empty"}},
		{name: "state directory that cannot be created", setup: func(t *testing.T, c *checkDir) { c.write(t, "file", "", 0o644) },
			replace: []string{"stateDirectory: " + "DIR/state", "stateDirectory: DIR/file/state"},
			want:    []string{"config.yaml:6:17: stateDirectory:", "cannot be created", "not a directory"}},
		{name: "token as the URL's user name", replace: []string{"url: DIR/repo", "url: https://ghp_0123456789abcdef@github.com/ops/fleets.git"},
			want: []string{"config.yaml:2:8: repository.url:", "user name"}},
		{name: "plain http endpoint", replace: []string{"http://127.0.0.1:1", "http://10.1.2.3:9100"},
			want: []string{"config.yaml:4:13: api.endpoint:", "plain http is allowed only for a loopback address"}},
		{name: "open secret refused", setup: func(t *testing.T, c *checkDir) { c.write(t, "creds/webhook-secret", "s3cret\n", 0o644) },
			replace: []string{"webhook:", "secretFilePermissions: refuse\nwebhook:"},
			want:    []string{"webhook.secretFile:", "readable by group or others (mode 0644)", "chmod 600"}},
		{name: "memory limit not a size", replace: []string{"webhook:", "memoryLimit: 24MB\nwebhook:"},
			want: []string{"config.yaml:7:14: memoryLimit:", "must be a size such as 24MiB or 1GiB"}},
		{name: "no credentials", setup: func(t *testing.T, c *checkDir) {
			for _, n := range []string{lighthouse.SystemdSecretIDName, lighthouse.SystemdSecretKeyName} {
				if err := os.Remove(filepath.Join(c.creds, n)); err != nil {
					t.Fatal(err)
				}
			}
		}, want: []string{"credentials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckDir(t)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			replace := make([]string, len(tc.replace))
			for i, s := range tc.replace {
				replace[i] = strings.ReplaceAll(s, "DIR", c.dir)
			}
			c.config(t, replace...)
			for _, args := range [][]string{{"--config", c.cfg, "--check"}, {"--config", c.cfg}} {
				code, out, errOut := runDaemonFor(c.vars, 20*time.Second, args...)
				if code != exitError {
					t.Errorf("%q: exit %d, want %d; stdout %q, stderr %q", args, code, exitError, out, errOut)
					continue
				}
				for _, w := range tc.want {
					if !strings.Contains(errOut, strings.ReplaceAll(w, "config.yaml", c.cfg)) {
						t.Errorf("%q: stderr lacks %q:\n%s", args, w, errOut)
					}
				}
			}
		})
	}
}

// TestDaemonCheckGoodAndWarnings: a good file checks ok without creating
// its state directory; a secret file others may read is a warning.
func TestDaemonCheckGoodAndWarnings(t *testing.T) {
	c := newCheckDir(t)
	c.config(t)
	code, out, errOut := runDaemonFor(c.vars, 20*time.Second, "--config", c.cfg, "--check")
	if code != exitOK || out != c.cfg+": ok\n" || errOut != "" {
		t.Fatalf("good file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "state")); !os.IsNotExist(err) {
		t.Errorf("--check created the state directory (%v)", err)
	}
	c.write(t, "creds/webhook-secret", "s3cret\n", 0o640)
	code, out, errOut = runDaemonFor(c.vars, 20*time.Second, "--config", c.cfg, "--check")
	want := c.cfg + ":8:15: webhook.secretFile: warning: " + filepath.Join(c.creds, "webhook-secret") + " is readable by group or others (mode 0640)"
	if code != exitOK || out != c.cfg+": ok\n" || !strings.HasPrefix(errOut, want) {
		t.Errorf("open secret: exit %d, stdout %q, stderr %q; want it to start with %q", code, out, errOut, want)
	}
}

// TestDaemonLogFlags: the daemon takes --log-level and --log-format like
// reconcile.
func TestDaemonLogFlags(t *testing.T) {
	c := newCheckDir(t)
	c.config(t)
	if code, _, errOut := runDaemonFor(c.vars, time.Minute, "--config", c.cfg, "--log-level", "loud"); code != exitUsage || !strings.Contains(errOut, "--log-level must be debug, info, warn or error") {
		t.Errorf("--log-level loud: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runDaemonFor(c.vars, time.Minute, "--config", c.cfg, "--log-format", "xml"); code != exitUsage {
		t.Errorf("--log-format xml: exit %d, stderr %q", code, errOut)
	}
	// Debug lines, as JSON; the daemon runs until its context ends.
	code, _, errOut := runDaemonFor(c.vars, 3*time.Second, "--config", c.cfg, "--log-level", "debug", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	debug := 0
	for line := range strings.SplitSeq(strings.TrimSpace(errOut), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["level"] == "DEBUG" {
			debug++
		}
	}
	if debug == 0 {
		t.Errorf("no DEBUG line at --log-level debug:\n%s", errOut)
	}
	// At warn, the INFO lines of a good start are gone.
	if _, _, errOut := runDaemonFor(c.vars, 2*time.Second, "--config", c.cfg, "--log-level", "warn"); strings.Contains(errOut, "level=INFO") {
		t.Errorf("INFO lines at --log-level warn:\n%s", errOut)
	}
}

// TestDaemonHelpAndExample: --help points at nothing in the source tree;
// --example-config prints the commented example, which checks.
func TestDaemonHelpAndExample(t *testing.T) {
	code, out, _ := runCmd(t, "daemon", "--help")
	if code != exitOK || strings.Contains(out, "examples/") || !strings.Contains(out, "--example-config") || !strings.Contains(out, "--log-level") {
		t.Errorf("daemon --help: exit %d\n%s", code, out)
	}
	code, out, errOut := runCmd(t, "daemon", "--example-config")
	if code != exitOK || errOut != "" || out != mustRead(t, "../../examples/daemon/config.yaml") {
		t.Fatalf("--example-config: exit %d, stderr %q, %d bytes", code, errOut, len(out))
	}
}
