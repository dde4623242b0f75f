package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// TestDaemonCheckVerifyKeyFiles: --check reads the key files of
// repository.verify, and a bad one is a configuration error naming the
// file and its line.
func TestDaemonCheckVerifyKeyFiles(t *testing.T) {
	dir := t.TempDir()
	keys := gitsynctest.WriteKeyFile(t, dir, "allowed_signers", gitsynctest.NewSSHKey(t, "alice@example.com"))
	cfg := filepath.Join(dir, "config.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	credentialsDir(t, dir)
	vars := map[string]string{"CREDENTIALS_DIRECTORY": dir, "STATE_DIRECTORY": dir}
	write("repository:\n  url: https://git.example.com/ops/fleets.git\n  verify:\n    sshKeyFiles: [\"${CREDENTIALS_DIRECTORY}/allowed_signers\"]\n")
	if code, out, errOut := runCmdEnv(t, vars, "daemon", "--config", cfg, "--check"); code != exitOK || errOut != "" {
		t.Errorf("--check with good keys: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if err := os.WriteFile(keys, []byte("# trusted\nalice@example.com ssh-ed25519\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmdEnv(t, vars, "daemon", "--config", cfg, "--check")
	want := cfg + ":4:19: repository.verify.sshKeyFiles[0]: " + keys + ":2: no key after ssh-ed25519 (one `principals ssh-ed25519 AAAA…` allowed_signers line, or authorized_keys line, per key)\n"
	if code != exitError || out != "" || !strings.HasPrefix(errOut, want) {
		t.Errorf("--check with a bad key file: exit %d, stdout %q, stderr\n%s\nwant it to start with\n%s", code, out, errOut, want)
	}
}

// TestDaemonServiceVerify runs the service on a configuration with
// repository.verify: an unsigned commit is refused and shown in /status,
// a commit signed by the trusted SSH key is applied.
func TestDaemonServiceVerify(t *testing.T) {
	r := newDaemonRig(t)
	bob := gitsynctest.NewSSHKey(t, "bob@example.com")
	keys := gitsynctest.WriteKeyFile(t, t.TempDir(), "allowed_signers", bob)
	signed := gitsynctest.Commit(t, r.repo, "web: 1", map[string]string{"fleets/web.yaml": webFleet(1)}, bob)
	r.writeConfig("")
	// verify goes under repository, which writeConfig writes first.
	cfgText := strings.Replace(mustRead(t, r.cfgFile), "  interval: 1h\n", "  interval: 1h\n  verify:\n    sshKeyFiles: ["+keys+"]\n", 1)
	if err := os.WriteFile(r.cfgFile, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	cfg, err := loadDaemonConfig(e, r.cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	s := &service{e: e, log: slog.New(slog.NewTextHandler(&logs, nil)), cred: lighthouse.NewCredential("AKIDtest", "key", "", "test"),
		file: r.cfgFile, notify: func(string) {}}
	d, err := daemon.FromConfig(cfg, s.deps(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="only signed revisions are applied" verify=head openpgp_keys=0 ssh_keys=1`) {
		t.Fatalf("log:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	status := func() daemon.Status {
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		var st daemon.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitUntil(t, "the signed commit to be applied", func() bool {
		st := status()
		return st.LastGood != nil && st.LastGood.ID == signed && r.live() == 1
	})
	if st := status(); st.LastGood.SignedBy != bob.SignedBy() {
		t.Errorf("signedBy %q, want %q", st.LastGood.SignedBy, bob.SignedBy())
	}
	r.commit(3) // the git binary, unsigned
	unsigned := r.head()
	waitUntil(t, "the unsigned commit to be refused", func() bool {
		st := status()
		return st.Invalid != nil && st.Invalid.ID == unsigned
	})
	st := status()
	if len(st.Invalid.Errors) != 1 || !strings.HasPrefix(st.Invalid.Errors[0].Error(), "commit "+unsigned[:12]+": not signed (") ||
		st.LastGood.ID != signed || r.live() != 1 {
		t.Fatalf("after an unsigned commit: invalid %+v, last good %s, %d instances", st.Invalid, st.LastGood.ID, r.live())
	}
}
