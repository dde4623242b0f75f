package daemon_test

import (
	"encoding/json"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/prom"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
)

// signedRemote is a bare repository served over file:// and a work tree
// that pushes to it, whose commits gitsynctest signs.
type signedRemote struct {
	*gitRepo
	bare string
}

func newSignedRemote(t *testing.T) *signedRemote {
	t.Helper()
	r := &signedRemote{gitRepo: newGitRepo(t)}
	r.bare = filepath.Join(filepath.Dir(r.dir), "remote.git")
	r.git(filepath.Dir(r.dir), "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(r.dir, "remote", "add", "origin", r.bare)
	return r
}

// commit commits fleets (name under fleets/ -> content) signed by k (nil:
// unsigned) and force-pushes main.
func (r *signedRemote) commit(msg string, fleets map[string]string, k *gitsynctest.Key) string {
	r.t.Helper()
	files := map[string]string{}
	for name, c := range fleets {
		files["fleets/"+name] = c
	}
	h := gitsynctest.Commit(r.t, r.dir, msg, files, k)
	r.git(r.dir, "push", "-q", "-f", "origin", "main")
	return h
}

// amend rewrites the head with the git binary (unsigned: no signing key is
// configured), web.yaml set to web, and force-pushes it.
func (r *signedRemote) amend(msg, web string) string {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "fleets", "web.yaml"), []byte(web), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(r.dir, "add", "-A")
	r.git(r.dir, "commit", "-q", "--amend", "-m", msg)
	r.git(r.dir, "push", "-q", "-f", "origin", "main")
	return r.git(r.dir, "rev-parse", "HEAD")
}

// TestOnlySignedRevisionsAreApplied follows a remote with repository.verify:
// a force-push that replaces the signed head with an unsigned one is
// refused like an invalid revision, and the signed one keeps being
// reconciled; so is a commit signed by an unknown key, until a commit
// signed by a trusted key takes over.
func TestOnlySignedRevisionsAreApplied(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	bob := gitsynctest.NewSSHKey(t, "bob@example.com")
	mallory := gitsynctest.NewOpenPGPKey(t, "Mallory", "mallory@example.com")
	keys := t.TempDir()
	v, err := gitsync.NewVerifier(gitsync.VerifyOptions{
		OpenPGPKeyFiles: []string{gitsynctest.WriteKeyFile(t, keys, "trusted.asc", alice)},
		SSHKeyFiles:     []string{gitsynctest.WriteKeyFile(t, keys, "allowed_signers", bob)},
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := newSignedRemote(t)
	signed := repo.commit("web: 1", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)}, alice)
	src, err := gitsync.New(gitsync.Options{URL: "file://" + repo.bare, CacheDir: t.TempDir(), Verify: v})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	opts := e.options()
	opts.Source = daemon.GitSource(src)
	opts.StateDir = t.TempDir()
	opts.RequireSigned = true
	e.start(opts)
	s := e.waitRuns(1)
	if s.LastGood == nil || s.LastGood.ID != signed || s.LastGood.SignedBy != alice.SignedBy() || e.live("web-") != 1 {
		t.Fatalf("signed head: last good %+v, %d instances", s.LastGood, e.live("web-"))
	}
	_, body := e.get("/status")
	var js struct {
		LastGood struct {
			SignedBy string `json:"signedBy"`
		} `json:"lastGood"`
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil || js.LastGood.SignedBy != alice.SignedBy() {
		t.Errorf("/status lastGood.signedBy = %q (%v)", js.LastGood.SignedBy, err)
	}
	if _, page := e.get("/"); !strings.Contains(page, "signed by "+html.EscapeString(alice.SignedBy())) {
		t.Errorf("the status page does not say who signed the revision:\n%s", page)
	}

	// A force-push replaces the signed head with an unsigned one that asks
	// for three instances.
	unsigned := repo.amend("web: 3", fleet("web", "bundle_gen_01", 3))
	if parents := repo.git(repo.dir, "rev-list", "--parents", "-n1", unsigned); parents != unsigned {
		t.Fatalf("the rewrite has parents: %s", parents)
	}
	s = e.cycle()
	if s.Invalid == nil || s.Invalid.ID != unsigned || len(s.Invalid.Errors) != 1 {
		t.Fatalf("the unsigned head is not reported invalid: %+v", s.Invalid)
	}
	want := "commit " + unsigned[:12] + ": not signed (sign the commit with a trusted key (git commit -S --amend, or a new signed commit) and push it)"
	if got := s.Invalid.Errors[0].Error(); got != want {
		t.Errorf("problem:\n got %s\nwant %s", got, want)
	}
	if s.LastGood.ID != signed || e.live("web-") != 1 {
		t.Fatalf("after the unsigned force-push: last good %s, %d instances (want %s, 1)", s.LastGood.ID, e.live("web-"), signed)
	}
	if !strings.Contains(s.LastError, "revision "+unsigned[:12]+" is invalid") || !strings.Contains(s.LastError, "still reconciling the last good revision "+signed[:12]) {
		t.Errorf("last error %q", s.LastError)
	}
	if v := e.metric("lightkeeper_invalid_revision"); v != 1 {
		t.Errorf("invalid_revision = %v", v)
	}
	if v := e.metric("lightkeeper_revision_loads_total", "result", "invalid"); v != 1 {
		t.Errorf("revision_loads_total{invalid} = %v", v)
	}
	if v := e.metric("lightkeeper_revision_info", "revision", unsigned, "last_good", "false"); v != 1 {
		t.Errorf("revision_info{%s, last_good=false} = %v", unsigned[:12], v)
	}
	checkSavedCopy(t, opts.StateDir, signed, alice.SignedBy())

	// The signed revision is still reconciled: an instance deleted by hand
	// comes back, and the refusal stays reported.
	if err := e.emu.DeleteInstance(e.emu.Instances()[0].InstanceId); err != nil {
		t.Fatal(err)
	}
	s = e.cycleUntilReplaced()
	if e.live("web-") != 1 || s.Invalid == nil || s.Invalid.ID != unsigned {
		t.Fatalf("after a deletion under an unsigned head: %d instances, invalid %+v", e.live("web-"), s.Invalid)
	}

	// Signed, but by a key nobody trusts.
	forged := repo.commit("web: 4", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 4)}, mallory)
	s = e.cycle()
	if s.Invalid == nil || s.Invalid.ID != forged || !strings.Contains(s.Invalid.Errors[0].Error(), "signed by an unknown key: OpenPGP key "+mallory.Fingerprint()) {
		t.Fatalf("a commit by an unknown key: invalid %+v", s.Invalid)
	}
	if s.LastGood.ID != signed || e.live("web-") != 1 {
		t.Fatalf("after a commit by an unknown key: last good %s, %d instances", s.LastGood.ID, e.live("web-"))
	}

	// A commit signed by a trusted SSH key takes over.
	good := repo.commit("web: 2", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)}, bob)
	s = e.cycle()
	if s.Invalid != nil || s.LastGood.ID != good || s.LastGood.SignedBy != bob.SignedBy() || e.live("web-") != 2 {
		t.Fatalf("the signed commit did not take over: invalid %+v, last good %+v, %d instances", s.Invalid, s.LastGood, e.live("web-"))
	}
	if v := e.metric("lightkeeper_invalid_revision"); v != 0 {
		t.Errorf("invalid_revision = %v after a signed commit", v)
	}
	checkSavedCopy(t, opts.StateDir, good, bob.SignedBy())
	e.lint()
}

// checkSavedCopy checks the copy of the last good revision in the state
// directory: its revision and signer.
func checkSavedCopy(t *testing.T, stateDir, id, signedBy string) {
	t.Helper()
	b, err := fs.ReadFile(savedCopy(t, stateDir), ".revision.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ ID, SignedBy string }
	if err := json.Unmarshal(b, &m); err != nil || m.ID != id || m.SignedBy != signedBy {
		t.Fatalf("saved copy %s (%v), want %s signed by %q", b, err, id, signedBy)
	}
}

// TestRequireSignedIgnoresAnUnsignedSavedCopy: a copy of the last good
// revision saved before repository.verify was set is not reconciled at
// start once it is.
func TestRequireSignedIgnoresAnUnsignedSavedCopy(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	opts.StateDir = t.TempDir()
	e.start(opts)
	saved := e.waitRuns(1).LastGood
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	for _, require := range []bool{false, true} {
		opts.Registry = prom.NewRegistry()
		opts.RequireSigned = require
		d, err := daemon.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		lg := d.Status().LastGood
		if used := lg != nil && lg.ID == saved.ID; used == require {
			t.Errorf("RequireSigned %v: saved copy used %v (%+v)", require, used, lg)
		}
	}
}

// TestTagReplacedByALightweightOne: mode tag refuses the followed tag once
// it is replaced by a lightweight tag of the same commit (the revision's
// ID does not change, its refusal does), and accepts it signed again.
func TestTagReplacedByALightweightOne(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	v, err := gitsync.NewVerifier(gitsync.VerifyOptions{Mode: gitsync.VerifyTag,
		OpenPGPKeyFiles: []string{gitsynctest.WriteKeyFile(t, t.TempDir(), "trusted.asc", alice)}})
	if err != nil {
		t.Fatal(err)
	}
	repo := newGitRepo(t)
	c := gitsynctest.Commit(t, repo.dir, "web: 1", map[string]string{"fleets/web.yaml": fleet("web", "bundle_gen_01", 1)}, nil)
	gitsynctest.Tag(t, repo.dir, "v1", c, alice)
	src, err := gitsync.New(gitsync.Options{URL: repo.dir, Ref: gitsync.Ref{Tag: "v1"}, Verify: v})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	opts := e.options()
	opts.Source = noWatch{daemon.GitSource(src)}
	e.start(opts)
	if s := e.waitRuns(1); s.LastGood == nil || s.LastGood.ID != c || s.Invalid != nil || s.LastGood.SignedBy != alice.SignedBy() {
		t.Fatalf("signed tag: last good %+v, invalid %+v", s.LastGood, s.Invalid)
	}
	repo.git(repo.dir, "tag", "-f", "v1", c)
	s := e.cycle()
	if s.Invalid == nil || s.Invalid.ID != c || !strings.HasPrefix(s.Invalid.Errors[0].Error(), `tag "v1": lightweight tag`) {
		t.Fatalf("lightweight tag: invalid %+v", s.Invalid)
	}
	if v := e.metric("lightkeeper_invalid_revision"); v != 1 {
		t.Errorf("invalid_revision = %v", v)
	}
	gitsynctest.Tag(t, repo.dir, "v1", c, alice)
	if s := e.cycle(); s.Invalid != nil || s.LastGood.ID != c || e.live("web-") != 1 {
		t.Fatalf("signed again: invalid %+v, last good %+v", s.Invalid, s.LastGood)
	}
}
