package gitsync

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"golang.org/x/crypto/ssh"

	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
)

// TestVerifyWhatGitSigns checks that commits and tags signed by the git
// binary itself (gpg.format ssh with ssh-keygen, and gpg) verify: the
// payload gitsync checks is the one git signs. It skips the formats whose
// programs are not installed.
func TestVerifyWhatGitSigns(t *testing.T) {
	t.Run("ssh", func(t *testing.T) {
		if _, err := exec.LookPath("ssh-keygen"); err != nil {
			t.Skip("ssh-keygen is not installed")
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		k := &gitsynctest.Key{Name: "alice@example.com", SSH: signer}
		blk, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		r := newRepos(t)
		keyFile := writeFile(t, r.home, "id_ed25519", pem.EncodeToMemory(blk))
		r.git(r.work, "config", "gpg.format", "ssh")
		r.git(r.work, "config", "user.signingkey", keyFile)
		checkGitSigned(t, r, k)
	})
	t.Run("openpgp", func(t *testing.T) {
		if _, err := exec.LookPath("gpg"); err != nil {
			t.Skip("gpg is not installed")
		}
		k := gitsynctest.NewOpenPGPKey(t, "Alice", "alice@example.com")
		r := newRepos(t)
		gnupg := filepath.Join(r.home, "gnupg")
		if err := os.Mkdir(gnupg, 0o700); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w, _ := armor.Encode(&b, openpgp.PrivateKeyType, nil)
		if err := k.PGP.SerializePrivate(w, nil); err != nil {
			t.Fatal(err)
		}
		w.Close()
		gpg := func(args ...string) {
			t.Helper()
			cmd := exec.Command("gpg", append([]string{"--homedir", gnupg, "--batch"}, args...)...)
			cmd.Stdin = &b
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gpg %v: %v\n%s", args, err, out)
			}
		}
		gpg("--import")
		t.Cleanup(func() { _ = exec.Command("gpgconf", "--homedir", gnupg, "--kill", "gpg-agent").Run() })
		r.git(r.work, "config", "gpg.program", "gpg")
		r.git(r.work, "config", "user.signingkey", k.Fingerprint())
		t.Setenv("GNUPGHOME", gnupg)
		checkGitSigned(t, r, k)
	})
}

// checkGitSigned makes a signed commit and a signed tag with the git
// binary, configured to sign with k, and verifies both.
func checkGitSigned(t *testing.T, r *repos, k *gitsynctest.Key) {
	t.Helper()
	r.git(r.work, "config", "commit.gpgsign", "true")
	c := r.commit("signed by git", map[string]string{"web.yaml": "count: 1\n"})
	r.git(r.work, "tag", "-s", "-m", "release v1", "v1")
	for _, tc := range []struct {
		mode VerifyMode
		ref  Ref
		want string
	}{
		{VerifyHead, Ref{Branch: "main"}, k.SignedBy()},
		{VerifyTagAndHead, Ref{Tag: "v1"}, "tag " + k.SignedBy() + "; commit " + k.SignedBy()},
	} {
		l, err := NewLocal(Options{URL: r.work, Ref: tc.ref, Verify: trust(t, tc.mode, k)})
		if err != nil {
			t.Fatal(err)
		}
		rev, _, err := l.Sync(ctxT(t))
		if err != nil || rev.Commit != c || rev.SignedBy != tc.want {
			t.Errorf("mode %s: %s signed by %q, %v; want %s signed by %q", tc.mode, rev.Commit, rev.SignedBy, err, c, tc.want)
		}
	}
}
