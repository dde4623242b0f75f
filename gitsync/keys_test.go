package gitsync

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
)

func TestSSHKeyFileForms(t *testing.T) {
	a := gitsynctest.NewSSHKey(t, "alice@example.com")
	b := gitsynctest.NewSSHKey(t, "bob@example.com")
	c := gitsynctest.NewSSHKey(t, "carol@example.com")
	d := gitsynctest.NewSSHKey(t, "dave@example.com")
	pub := func(k *gitsynctest.Key) string {
		return strings.TrimPrefix(strings.TrimSpace(k.PublicKey(t)), k.Name+" ")
	}
	file := writeFile(t, t.TempDir(), "keys", []byte(strings.Join([]string{
		"# allowed_signers and authorized_keys lines mixed",
		"",
		"alice@example.com,alice@corp.example " + pub(a),           // allowed_signers
		`bob@example.com namespaces="git,file" ` + pub(b) + " bob", // with options
		`no-pty,command="/bin/false" ` + pub(c) + " carol@laptop",  // authorized_keys with options
		"   " + pub(d), // bare key, no comment
		`eve@example.com namespaces="file" ` + pub(gitsynctest.NewSSHKey(t, "eve")),
	}, "\n")))
	keys, err := readSSHKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		fp, name string
		notGit   bool
	}{
		{a.Fingerprint(), "alice@example.com,alice@corp.example", false},
		{b.Fingerprint(), "bob@example.com", false},
		{c.Fingerprint(), "carol@laptop", false},
		{d.Fingerprint(), "", false},
		{"", "eve@example.com", true},
	}
	if len(keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(keys), len(want))
	}
	for i, w := range want {
		if (w.fp != "" && keys[i].fp != w.fp) || keys[i].name != w.name || keys[i].notGit != w.notGit {
			t.Errorf("key %d = %s %q notGit=%v, want %s %q %v", i, keys[i].fp, keys[i].name, keys[i].notGit, w.fp, w.name, w.notGit)
		}
	}
}

// TestKeyFileErrors checks the exact message of each unusable key file.
func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	k := gitsynctest.NewSSHKey(t, "alice@example.com")
	priv := "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n"
	pgp := gitsynctest.NewOpenPGPKey(t, "A", "a@example.com").PublicKey(t)
	cases := []struct {
		name, content string
		ssh           bool
		want          string
	}{
		{"comments only", "# nothing\n\n", true, "FILE: holds no SSH public key: write one authorized_keys or allowed_signers line per key"},
		{"garbage line", "# ok\n" + k.PublicKey(t) + "hello world\n", true,
			"FILE:3: no SSH public key on the line: want `[principals] [options] ssh-ed25519 AAAA… [comment]`"},
		{"broken base64", "a@example.com ssh-ed25519 AAAA!!!!\n", true, "FILE:1: the key after ssh-ed25519 is not valid base64"},
		{"cert-authority", "*@example.com cert-authority " + strings.TrimPrefix(k.PublicKey(t), k.Name+" "), true,
			"FILE:1: option cert-authority is not supported: list each signer's own key, without it"},
		{"too many fields", "a b c " + strings.TrimPrefix(k.PublicKey(t), k.Name+" "), true,
			"FILE:1: too many fields before the key: want `principals [options] keytype base64 [comment]`"},
		{"not armored", "mQINBF...\n", false, "FILE: holds no armored OpenPGP public key: export one with gpg --export --armor KEYID"},
		{"private key", priv, false,
			`FILE: holds a "PGP PRIVATE KEY BLOCK" block, not "PGP PUBLIC KEY BLOCK": it must hold public keys only, never a private key (gpg --export --armor KEYID)`},
		{"broken block", strings.Replace(pgp, "\n\n", "\n\n!!", 1), false, "FILE: not an OpenPGP public key: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-"), []byte(tc.content))
			var err error
			if tc.ssh {
				_, err = readSSHKeys(f)
			} else {
				_, err = readOpenPGPKeys(f)
			}
			var kfe *KeyFileError
			if !errors.As(err, &kfe) || kfe.File != f {
				t.Fatalf("error %T %v, want a *KeyFileError naming %s", err, err, f)
			}
			want := strings.ReplaceAll(tc.want, "FILE", f)
			if got := err.Error(); got != want && !(strings.HasSuffix(want, ": ") && strings.HasPrefix(got, want)) {
				t.Errorf("message:\n got %s\nwant %s", got, want)
			}
		})
	}
	if _, err := NewVerifier(VerifyOptions{}); err == nil || err.Error() != "verify: no key file: list trusted keys in openpgpKeyFiles or sshKeyFiles" {
		t.Errorf("no key file: %v", err)
	}
	if _, err := NewVerifier(VerifyOptions{Mode: "all", SSHKeyFiles: []string{"x"}}); err == nil || err.Error() != `verify mode "all": want head, tag or tag-and-head` {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := NewVerifier(VerifyOptions{SSHKeyFiles: []string{filepath.Join(dir, "missing")}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestOpenPGPKeyFileWithSeveralBlocks trusts every key of a file that is
// two exports concatenated, one of them with two keys.
func TestOpenPGPKeyFileWithSeveralBlocks(t *testing.T) {
	a := gitsynctest.NewOpenPGPKey(t, "A", "a@example.com")
	b := gitsynctest.NewOpenPGPKey(t, "B", "b@example.com")
	c := gitsynctest.NewOpenPGPKey(t, "C", "c@example.com")
	dir := t.TempDir()
	two := gitsynctest.WriteKeyFile(t, dir, "two.asc", a)
	content, _ := os.ReadFile(two)
	f := writeFile(t, dir, "all.asc", []byte("comment line\n"+string(content)+"\n"+b.PublicKey(t)+c.PublicKey(t)))
	v, err := NewVerifier(VerifyOptions{OpenPGPKeyFiles: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := v.Keys(); n != 3 {
		t.Fatalf("%d OpenPGP keys, want 3", n)
	}
	r := newRepos(t)
	for _, k := range []*gitsynctest.Key{a, b, c} {
		gitsynctest.Commit(t, r.work, "x", map[string]string{"a": k.Name}, k)
		l, err := NewLocal(Options{URL: r.work, Verify: v})
		if err != nil {
			t.Fatal(err)
		}
		if rev, _ := mustSync(t, l); rev.SignedBy != k.SignedBy() {
			t.Errorf("signed by %q, want %q", rev.SignedBy, k.SignedBy())
		}
	}
}
