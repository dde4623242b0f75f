package gitsync

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
)

// trust is a Verifier of mode over keys, each written to its kind's file.
func trust(t *testing.T, mode VerifyMode, keys ...*gitsynctest.Key) *Verifier {
	t.Helper()
	var o VerifyOptions
	o.Mode = mode
	dir := t.TempDir()
	for i, k := range keys {
		if k.PGP != nil {
			o.OpenPGPKeyFiles = append(o.OpenPGPKeyFiles, gitsynctest.WriteKeyFile(t, dir, "pgp"+string(rune('a'+i))+".asc", k))
		} else {
			o.SSHKeyFiles = append(o.SSHKeyFiles, gitsynctest.WriteKeyFile(t, dir, "allowed_signers"+string(rune('a'+i)), k))
		}
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifySignedCommitIsApplied(t *testing.T) {
	pgp := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	sshKey := gitsynctest.NewSSHKey(t, "bob@example.com")
	other := gitsynctest.NewSSHKey(t, "carol@example.com")
	for _, k := range []*gitsynctest.Key{pgp, sshKey} {
		t.Run(strings.Fields(k.SignedBy())[0], func(t *testing.T) {
			r := newRepos(t)
			c := gitsynctest.Commit(t, r.work, "web: 1", map[string]string{"fleets/web.yaml": "count: 1\n"}, k)
			l, err := NewLocal(Options{URL: r.work, Path: "fleets", Verify: trust(t, VerifyHead, other, k)})
			if err != nil {
				t.Fatal(err)
			}
			rev, changed := mustSync(t, l)
			if !changed || rev.Commit != c || rev.SignedBy != k.SignedBy() || readFile(t, rev, "web.yaml") != "count: 1\n" {
				t.Fatalf("rev %+v, want commit %s signed by %q", rev, c, k.SignedBy())
			}
		})
	}
}

// TestVerifyRefusals checks the exact message of each refusal, and that
// the refused revision's files are not handed out.
func TestVerifyRefusals(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	mallory := gitsynctest.NewOpenPGPKey(t, "Mallory", "mallory@example.com")
	bob := gitsynctest.NewSSHKey(t, "bob@example.com")
	eve := gitsynctest.NewSSHKey(t, "eve@example.com")
	const (
		commitHint = "sign the commit with a trusted key (git commit -S --amend, or a new signed commit) and push it"
		unknown    = "if that key is trusted, add it to repository.verify's key files and reload; else sign with a trusted key (git commit -S --amend, or a new signed commit)"
		tampered   = "the commit was changed after it was signed, or its signature is broken: do not apply it; sign it again (git commit -S --amend, or a new signed commit) once its content is checked"
	)
	files := map[string]string{"web.yaml": "count: 1\n"}
	cases := []struct {
		name string
		mode VerifyMode
		// make commits (and tags) in r's work tree and returns the commit
		// refused.
		make     func(t *testing.T, r *repos) string
		trusted  []*gitsynctest.Key
		sentinel error
		want     string // with {C} for the commit's short hash
	}{
		{"unsigned", VerifyHead, func(t *testing.T, r *repos) string {
			return gitsynctest.Commit(t, r.work, "unsigned", files, nil)
		}, []*gitsynctest.Key{alice, bob}, ErrNotSigned, "commit {C}: not signed (" + commitHint + ")"},
		{"unknown OpenPGP key", VerifyHead, func(t *testing.T, r *repos) string {
			return gitsynctest.Commit(t, r.work, "by mallory", files, mallory)
		}, []*gitsynctest.Key{alice, bob}, ErrUntrustedKey,
			"commit {C}: signed by an unknown key: OpenPGP key " + mallory.Fingerprint() + " (" + unknown + ")"},
		{"OpenPGP key but only SSH keys trusted", VerifyHead, func(t *testing.T, r *repos) string {
			return gitsynctest.Commit(t, r.work, "by alice", files, alice)
		}, []*gitsynctest.Key{bob}, ErrUntrustedKey,
			"commit {C}: signed by an unknown key: OpenPGP key " + alice.Fingerprint() + " (no OpenPGP key is trusted: openpgpKeyFiles is empty) (" + unknown + ")"},
		{"unknown SSH key", VerifyHead, func(t *testing.T, r *repos) string {
			return gitsynctest.Commit(t, r.work, "by eve", files, eve)
		}, []*gitsynctest.Key{alice, bob}, ErrUntrustedKey,
			"commit {C}: signed by an unknown key: SSH key " + eve.Fingerprint() + " (" + unknown + ")"},
		{"tampered OpenPGP", VerifyHead, func(t *testing.T, r *repos) string {
			good := gitsynctest.Commit(t, r.work, "by alice", files, alice)
			other := gitsynctest.Commit(t, r.work, "more", map[string]string{"web.yaml": "count: 99\n"}, nil)
			return gitsynctest.Tamper(t, r.work, "main", good, other)
		}, []*gitsynctest.Key{alice}, ErrInvalidSignature,
			"commit {C}: bad signature by OpenPGP key " + alice.Fingerprint() + ": openpgp: invalid signature: EdDSA verification failure (" + tampered + ")"},
		{"tampered SSH", VerifyHead, func(t *testing.T, r *repos) string {
			good := gitsynctest.Commit(t, r.work, "by bob", files, bob)
			other := gitsynctest.Commit(t, r.work, "more", map[string]string{"web.yaml": "count: 99\n"}, nil)
			return gitsynctest.Tamper(t, r.work, "main", good, other)
		}, []*gitsynctest.Key{bob}, ErrInvalidSignature,
			"commit {C}: bad signature by SSH key " + bob.Fingerprint() + ": ssh: signature did not verify (" + tampered + ")"},
		{"lightweight tag", VerifyTag, func(t *testing.T, r *repos) string {
			c := gitsynctest.Commit(t, r.work, "by alice", files, alice)
			r.git(r.work, "tag", "v1")
			return c
		}, []*gitsynctest.Key{alice}, ErrLightweightTag,
			`tag "v1": lightweight tag: only an annotated tag can carry a signature (replace it with a signed tag: git tag -s -f v1 {C}, then git push -f origin v1)`},
		{"unsigned annotated tag", VerifyTag, func(t *testing.T, r *repos) string {
			c := gitsynctest.Commit(t, r.work, "by alice", files, alice)
			gitsynctest.Tag(t, r.work, "v1", c, nil)
			return c
		}, []*gitsynctest.Key{alice}, ErrNotSigned,
			`tag "v1": not signed (sign the tag with a trusted key (git tag -s -f v1 {C}) and push it)`},
		{"tag by an unknown key", VerifyTag, func(t *testing.T, r *repos) string {
			c := gitsynctest.Commit(t, r.work, "x", files, nil)
			gitsynctest.Tag(t, r.work, "v1", c, eve)
			return c
		}, []*gitsynctest.Key{alice, bob}, ErrUntrustedKey,
			`tag "v1": signed by an unknown key: SSH key ` + eve.Fingerprint() + ` (if that key is trusted, add it to repository.verify's key files and reload; else sign with a trusted key (git tag -s -f v1 {C}))`},
		{"signed tag moved to another name", VerifyTag, func(t *testing.T, r *repos) string {
			c := gitsynctest.Commit(t, r.work, "old release", files, nil)
			old := gitsynctest.Tag(t, r.work, "v0.9", c, alice)
			r.git(r.work, "update-ref", "refs/tags/v1", old)
			return c
		}, []*gitsynctest.Key{alice}, ErrInvalidSignature,
			`tag "v1": bad signature: the signed tag object is named "v0.9", not "v1" (a tag moved to another name) (do not apply it; sign the release under its own name: git tag -s -f v1 {C}, then git push -f origin v1)`},
		{"signed tag, unsigned commit, tag-and-head", VerifyTagAndHead, func(t *testing.T, r *repos) string {
			c := gitsynctest.Commit(t, r.work, "x", files, nil)
			gitsynctest.Tag(t, r.work, "v1", c, alice)
			return c
		}, []*gitsynctest.Key{alice}, ErrNotSigned, "commit {C}: not signed (" + commitHint + ")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepos(t)
			c := tc.make(t, r)
			ref := Ref{Branch: "main"}
			if tc.mode != VerifyHead {
				ref = Ref{Tag: "v1"}
			}
			log, logs := newLogger(t)
			l, err := NewLocal(Options{URL: r.work, Ref: ref, Verify: trust(t, tc.mode, tc.trusted...), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				rev, _, err := l.Sync(ctxT(t))
				var ge *Error
				var ve *VerifyError
				if !errors.As(err, &ge) || ge.Op != "verify" || !errors.As(err, &ve) || !errors.Is(err, tc.sentinel) {
					t.Fatalf("Sync = %+v, %v; want a verify *Error wrapping %v", rev, err, tc.sentinel)
				}
				if rev.FS != nil || rev.Commit != "" {
					t.Fatalf("a refused revision was handed out: %+v", rev)
				}
				if want := strings.ReplaceAll(tc.want, "{C}", c[:12]); ve.Error() != want {
					t.Errorf("message:\n got %s\nwant %s", ve.Error(), want)
				}
				if ve.Commit != c || ve.Subject == "" {
					t.Errorf("VerifyError names commit %s %q, want %s", ve.Commit, ve.Subject, c)
				}
				if !strings.HasPrefix(ge.Error(), "gitsync: verify "+r.work+": ") {
					t.Errorf("Error() = %s", ge.Error())
				}
			}
			if n := logs.count("revision refused"); n != 1 {
				t.Errorf("%d refusals logged for two Syncs of one revision, want 1 (the refusal is remembered)", n)
			}
		})
	}
}

func TestVerifyTagModes(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	bob := gitsynctest.NewSSHKey(t, "bob@example.com")
	r := newRepos(t)
	c := gitsynctest.Commit(t, r.work, "by bob", map[string]string{"web.yaml": "1"}, bob)
	gitsynctest.Tag(t, r.work, "v1", c, alice)
	for mode, want := range map[VerifyMode]string{
		VerifyTag:        alice.SignedBy(),
		VerifyTagAndHead: "tag " + alice.SignedBy() + "; commit " + bob.SignedBy(),
	} {
		l, err := NewLocal(Options{URL: r.work, Ref: Ref{Tag: "v1"}, Verify: trust(t, mode, alice, bob)})
		if err != nil {
			t.Fatal(err)
		}
		rev, _ := mustSync(t, l)
		if rev.Commit != c || rev.SignedBy != want {
			t.Errorf("mode %s: %s signed by %q, want %s by %q", mode, rev.Commit, rev.SignedBy, c, want)
		}
	}
	// A tag mode needs a tag to follow.
	_, err := NewLocal(Options{URL: r.work, Ref: Ref{Branch: "main"}, Verify: trust(t, VerifyTag, alice)})
	if err == nil || !strings.Contains(err.Error(), "verify mode tag checks the tag followed: follow a tag") {
		t.Errorf("mode tag on a branch: %v", err)
	}
}

// TestVerifyForcePushRemote follows a remote over file:// whose signed head
// is replaced by an unsigned one with a force-push, then restored.
func TestVerifyForcePushRemote(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	r := newRepos(t)
	signed := gitsynctest.Commit(t, r.work, "signed", map[string]string{"a.yaml": "1"}, alice)
	r.push("main")
	rm, err := NewRemote(Options{URL: "file://" + r.bare, CacheDir: t.TempDir(), Verify: trust(t, VerifyHead, alice)})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := mustSync(t, rm)
	if rev.Commit != signed || rev.SignedBy != alice.SignedBy() {
		t.Fatalf("signed head: %+v", rev)
	}
	r.git(r.work, "reset", "-q", "--hard", "HEAD~0")
	r.git(r.work, "commit", "-q", "--amend", "-m", "rewritten, unsigned")
	unsigned := r.git(r.work, "rev-parse", "HEAD")
	r.push("-f", "main")
	_, _, err = rm.Sync(ctxT(t))
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Commit != unsigned || !errors.Is(err, ErrNotSigned) {
		t.Fatalf("unsigned head after a force-push: %v", err)
	}
	r.git(r.work, "reset", "-q", "--hard", signed)
	r.push("-f", "main")
	rev, changed := mustSync(t, rm)
	if rev.Commit != signed || changed {
		t.Fatalf("signed head restored: %+v changed=%v (the last revision Sync returned was this one)", rev, changed)
	}
}

// BenchmarkVerify measures the signature check of one commit (what a Sync
// of a new revision adds with Options.Verify), per kind of key.
func BenchmarkVerify(b *testing.B) {
	rsa := &gitsynctest.Key{Name: "R <r@example.com>"}
	var err error
	if rsa.PGP, err = openpgp.NewEntity("R", "", "r@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 4096}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		k    *gitsynctest.Key
	}{
		{"OpenPGP-Ed25519", gitsynctest.NewOpenPGPKey(b, "A", "a@example.com")},
		{"OpenPGP-RSA4096", rsa},
		{"SSH-Ed25519", gitsynctest.NewSSHKey(b, "b@example.com")},
	} {
		k := tc.k
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			repo, err := git.PlainInit(dir, false)
			if err != nil {
				b.Fatal(err)
			}
			h := plumbing.NewHash(gitsynctest.Commit(b, dir, "x", map[string]string{"a": "1"}, k))
			var opts VerifyOptions
			if k.PGP != nil {
				opts.OpenPGPKeyFiles = []string{gitsynctest.WriteKeyFile(b, dir, "k.asc", k)}
			} else {
				opts.SSHKeyFiles = []string{gitsynctest.WriteKeyFile(b, dir, "k", k)}
			}
			v, err := NewVerifier(opts)
			if err != nil {
				b.Fatal(err)
			}
			c, err := object.GetCommit(repo.Storer, h)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := v.check(repo.Storer, h, c, Revision{Commit: h.String(), Ref: "refs/heads/main"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifyTagRemote follows a signed annotated tag over file:// (fetched
// shallow), then the same tag replaced by a lightweight one.
func TestVerifyTagRemote(t *testing.T) {
	alice := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
	r := newRepos(t)
	c := gitsynctest.Commit(t, r.work, "release", map[string]string{"a.yaml": "1"}, nil)
	gitsynctest.Tag(t, r.work, "v1", c, alice)
	r.push("main", "refs/tags/v1")
	rm, err := NewRemote(Options{URL: "file://" + r.bare, Ref: Ref{Tag: "v1"}, CacheDir: t.TempDir(), Verify: trust(t, VerifyTag, alice)})
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := mustSync(t, rm); rev.Commit != c || rev.SignedBy != alice.SignedBy() {
		t.Fatalf("signed tag: %+v", rev)
	}
	r.git(r.work, "tag", "-f", "v1", c) // now lightweight
	r.push("-f", "refs/tags/v1")
	if _, _, err := rm.Sync(ctxT(t)); !errors.Is(err, ErrLightweightTag) {
		t.Fatalf("lightweight tag: %v", err)
	}
}

// TestVerifyExpiredKey: a commit signed by an OpenPGP key that has since
// expired is refused, with a hint about the expiry.
func TestVerifyExpiredKey(t *testing.T) {
	e, err := openpgp.NewEntity("A", "", "a@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 1,
		Time: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	k := &gitsynctest.Key{Name: "A <a@example.com>", PGP: e, SignTime: time.Now().Add(-time.Hour)}
	r := newRepos(t)
	c := gitsynctest.Commit(t, r.work, "x", map[string]string{"a": "1"}, k)
	l, err := NewLocal(Options{URL: r.work, Verify: trust(t, VerifyHead, k)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Sync(ctxT(t))
	var ve *VerifyError
	want := "commit " + c[:12] + ": bad signature by OpenPGP key " + k.Fingerprint() + ": openpgp: key expired (the key or the signature has expired or was revoked: if the key is still trusted, extend its expiry (gpg --quick-set-expire) and export it again; else sign the commit with a current key (git commit -S --amend, or a new signed commit))"
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidSignature) || ve.Error() != want {
		t.Fatalf("expired key:\n got %v\nwant %s", err, want)
	}
}
