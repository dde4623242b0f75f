// Package gitsynctest makes signing keys, key files and signed commits and
// tags for the tests of code that follows a repository with signature
// verification (gitsync.Options.Verify). Everything is pure Go: no gpg, no
// ssh-keygen, no git binary needed.
package gitsynctest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Key is a signing key made for one test: OpenPGP (PGP set) or SSH (SSH
// set).
type Key struct {
	// Name is "Name <email>" for OpenPGP, the principal for SSH.
	Name string
	// PGP is the OpenPGP entity, with its private key.
	PGP *openpgp.Entity
	// SSH signs with the SSH key.
	SSH ssh.Signer
	// SignTime, when set, is when OpenPGP signatures say they were made
	// (to sign with a key that has expired since); zero means now.
	SignTime time.Time
}

// NewOpenPGPKey makes an Ed25519 OpenPGP key for name and email.
func NewOpenPGPKey(t testing.TB, name, email string) *Key {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Name: fmt.Sprintf("%s <%s>", name, email), PGP: e}
}

// NewSSHKey makes an Ed25519 SSH key for principal (an e-mail address, as
// in an allowed_signers file).
func NewSSHKey(t testing.TB, principal string) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Name: principal, SSH: s}
}

// Fingerprint is the key's fingerprint as gitsync names it: 40 upper-case
// hex digits for OpenPGP, SHA256:… for SSH.
func (k *Key) Fingerprint() string {
	if k.PGP != nil {
		return strings.ToUpper(fmt.Sprintf("%x", k.PGP.PrimaryKey.Fingerprint))
	}
	return ssh.FingerprintSHA256(k.SSH.PublicKey())
}

// SignedBy is what gitsync.Revision.SignedBy says for a revision this key
// signed (in mode head or tag).
func (k *Key) SignedBy() string {
	if k.PGP != nil {
		return fmt.Sprintf("OpenPGP key %s (%s)", k.Fingerprint(), k.Name)
	}
	return fmt.Sprintf("SSH key %s (%s)", k.Fingerprint(), k.Name)
}

// PublicKey is the public key as a trust file holds it: an armored OpenPGP
// public key block, or an allowed_signers line ("principal keytype base64").
func (k *Key) PublicKey(t testing.TB) string {
	t.Helper()
	if k.PGP == nil {
		return k.Name + " " + string(ssh.MarshalAuthorizedKey(k.SSH.PublicKey()))
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PGP.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}

// WriteKeyFile writes the public keys of keys to a new file in dir and
// returns its path.
func WriteKeyFile(t testing.TB, dir, name string, keys ...*Key) string {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.PublicKey(t))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sign signs message as git does for a commit or tag: a detached armored
// OpenPGP signature, or an armored SSH signature in namespace "git".
func (k *Key) Sign(message io.Reader) ([]byte, error) {
	if k.PGP != nil {
		var cfg *packet.Config
		if !k.SignTime.IsZero() {
			cfg = &packet.Config{Time: func() time.Time { return k.SignTime }}
		}
		var b bytes.Buffer
		err := openpgp.ArmoredDetachSign(&b, k.PGP, message, cfg)
		return b.Bytes(), err
	}
	sig, err := sshsig.Sign(message, k.SSH, sshsig.HashSHA512, "git")
	if err != nil {
		return nil, err
	}
	return sshsig.Armor(sig), nil
}

var when = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Commit writes files (path in the work tree -> content; "" deletes) in
// the work tree dir, commits them all with go-git, signed by k (unsigned
// when k is nil; an OpenPGP key signs through CommitOptions.SignKey, an
// SSH key, or one with a SignTime, through CommitOptions.Signer), and
// returns the commit hash.
func Commit(t testing.TB, dir, msg string, files map[string]string, k *Key) string {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if c == "" {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "T", Email: "t@example.com", When: when}
	opts := &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true}
	switch {
	case k == nil:
	case k.PGP != nil && k.SignTime.IsZero():
		opts.SignKey = k.PGP
	default:
		opts.Signer = k
	}
	h, err := wt.Commit(msg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// Tag makes refs/tags/NAME in the repository at dir point at a new
// annotated tag of commit target, signed by k (unsigned when nil). It
// returns the hash of the tag object.
func Tag(t testing.TB, dir, name, target string, k *Key) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	tag := &object.Tag{Name: name, Tagger: object.Signature{Name: "T", Email: "t@example.com", When: when},
		Message: "release " + name + "\n", TargetType: plumbing.CommitObject, Target: plumbing.NewHash(target)}
	if k != nil {
		payload := &plumbing.MemoryObject{}
		if err := tag.EncodeWithoutSignature(payload); err != nil {
			t.Fatal(err)
		}
		rd, err := payload.Reader()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := k.Sign(rd)
		if err != nil {
			t.Fatal(err)
		}
		tag.PGPSignature = string(sig)
	}
	return store(t, repo, tag, "refs/tags/"+name)
}

// Tamper makes a commit that carries the signature of commit signed but
// the tree of commit other, points branch at it and returns its hash: the
// forgery of someone who copies a trusted signature onto other files.
func Tamper(t testing.TB, dir, branch, signed, other string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(signed))
	if err != nil {
		t.Fatal(err)
	}
	o, err := repo.CommitObject(plumbing.NewHash(other))
	if err != nil {
		t.Fatal(err)
	}
	forged := &object.Commit{Author: c.Author, Committer: c.Committer, PGPSignature: c.PGPSignature,
		Message: c.Message, TreeHash: o.TreeHash, ParentHashes: c.ParentHashes}
	return store(t, repo, forged, "refs/heads/"+branch)
}

// store writes obj to repo and points ref at it.
func store(t testing.TB, repo *git.Repository, obj interface {
	Encode(plumbing.EncodedObject) error
}, ref string) string {
	t.Helper()
	eo := repo.Storer.NewEncodedObject()
	if err := obj.Encode(eo); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(eo)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), h)); err != nil {
		t.Fatal(err)
	}
	return h.String()
}
