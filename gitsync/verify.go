package gitsync

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/lightkeeper/lightkeeper/schema"
)

// VerifyMode says which signature a Verifier requires.
type VerifyMode string

// The modes of VerifyOptions.Mode.
const (
	// VerifyHead requires the commit of the revision to be signed by a
	// trusted key (a signed merge commit suffices; its parents are not
	// checked).
	VerifyHead VerifyMode = "head"
	// VerifyTag requires the tag followed to be an annotated tag signed by
	// a trusted key; the commit it points at may be unsigned.
	VerifyTag VerifyMode = "tag"
	// VerifyTagAndHead requires both.
	VerifyTagAndHead VerifyMode = "tag-and-head"
)

// Sentinels wrapped by a VerifyError, for errors.Is.
var (
	// ErrNotSigned: the commit or tag carries no signature.
	ErrNotSigned = errors.New("not signed")
	// ErrUntrustedKey: the signature was made by a key that no key file
	// holds (the error names that key).
	ErrUntrustedKey = errors.New("signed by an unknown key")
	// ErrInvalidSignature: the signature does not match the object (it was
	// changed after signing), is malformed, or is of a kind lightkeeper
	// cannot check.
	ErrInvalidSignature = errors.New("bad signature")
	// ErrLightweightTag: the tag followed is lightweight (a bare ref to a
	// commit), so there is no tag object that could carry a signature.
	ErrLightweightTag = errors.New("lightweight tag")
)

// VerifyOptions configure a Verifier. At least one key file is required.
type VerifyOptions struct {
	// Mode is what must be signed; "" means VerifyHead.
	Mode VerifyMode
	// OpenPGPKeyFiles hold armored OpenPGP public keys (gpg --export
	// --armor KEYID); a file may hold several blocks and keys.
	OpenPGPKeyFiles []string
	// SSHKeyFiles hold SSH public keys, one authorized_keys or
	// allowed_signers line each (for commits signed with gpg.format ssh).
	SSHKeyFiles []string
}

// Verifier checks that the revisions a Source yields are signed by trusted
// keys (Options.Verify). It reads its key files once, in NewVerifier; make
// a new one to pick up changed files. It is safe for concurrent use.
type Verifier struct {
	mode VerifyMode
	pgp  openpgp.EntityList
	ring string // pgp, armored, for go-git's Verify
	ssh  []sshKey
}

// NewVerifier reads and parses the key files. A file that cannot be read
// or holds no usable public key is a *KeyFileError.
func NewVerifier(o VerifyOptions) (*Verifier, error) {
	v := &Verifier{mode: o.Mode}
	switch v.mode {
	case "":
		v.mode = VerifyHead
	case VerifyHead, VerifyTag, VerifyTagAndHead:
	default:
		return nil, fmt.Errorf("verify mode %q: want head, tag or tag-and-head", o.Mode)
	}
	if len(o.OpenPGPKeyFiles)+len(o.SSHKeyFiles) == 0 {
		return nil, errors.New("verify: no key file: list trusted keys in openpgpKeyFiles or sshKeyFiles")
	}
	for _, f := range o.OpenPGPKeyFiles {
		keys, err := readOpenPGPKeys(f)
		if err != nil {
			return nil, err
		}
		v.pgp = append(v.pgp, keys...)
	}
	for _, f := range o.SSHKeyFiles {
		keys, err := readSSHKeys(f)
		if err != nil {
			return nil, err
		}
		v.ssh = append(v.ssh, keys...)
	}
	if len(v.pgp) > 0 {
		var b bytes.Buffer
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			return nil, err
		}
		for _, e := range v.pgp {
			if err := e.Serialize(w); err != nil {
				return nil, fmt.Errorf("verify: OpenPGP key %s: %w", pgpFingerprint(e.PrimaryKey.Fingerprint), err)
			}
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		v.ring = b.String()
	}
	return v, nil
}

// Mode returns what the Verifier requires.
func (v *Verifier) Mode() VerifyMode { return v.mode }

// Keys returns how many OpenPGP and SSH keys are trusted.
func (v *Verifier) Keys() (openPGPKeys, sshKeys int) { return len(v.pgp), len(v.ssh) }

// VerifyError is a revision refused because its signature does not verify.
// Sync returns it inside an *Error with Op "verify", and no Revision: the
// files of a refused revision are never handed out.
type VerifyError struct {
	// Commit, Subject and Time describe the refused commit.
	Commit  string
	Subject string
	Time    time.Time
	// Object names what failed: "commit 0123456789ab" or `tag "v1"`.
	Object string
	// Err wraps ErrNotSigned, ErrUntrustedKey, ErrInvalidSignature or
	// ErrLightweightTag.
	Err error
	// Hint says what to do.
	Hint string
}

// Error implements error: `commit 0123456789ab: not signed (hint)`.
func (e *VerifyError) Error() string {
	s := e.Object + ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// check verifies what v's mode requires of rev, the commit c, whose ref
// points at h (a tag object or c itself). It returns who signed, or a
// *VerifyError.
func (v *Verifier) check(s storer.EncodedObjectStorer, h plumbing.Hash, c *object.Commit, rev Revision) (string, error) {
	fail := func(object string, err error, hint string) error {
		return &VerifyError{Commit: rev.Commit, Subject: rev.Subject, Time: rev.Time, Object: object, Err: err, Hint: hint}
	}
	var signers []string
	if v.mode == VerifyTag || v.mode == VerifyTagAndHead {
		tag := strings.TrimPrefix(rev.Ref, "refs/tags/")
		name := fmt.Sprintf("tag %q", tag)
		sign := fmt.Sprintf("git tag -s -f %s %s", tag, rev.Short())
		if h == c.Hash {
			return "", fail(name, fmt.Errorf("%w: only an annotated tag can carry a signature", ErrLightweightTag),
				fmt.Sprintf("replace it with a signed tag: %s, then git push -f origin %s", sign, tag))
		}
		t, err := object.GetTag(s, h)
		if err != nil {
			return "", fail(name, fmt.Errorf("%w: read the tag object %s: %w", ErrInvalidSignature, h, err), "")
		}
		who, err := v.verify(t.PGPSignature, t.Verify, t.EncodeWithoutSignature)
		if err != nil {
			return "", fail(name, err, hintFor(err, "tag", sign))
		}
		// A signed tag object carries its own name: one moved under
		// another name (an old release replayed as the new one) is refused.
		if t.Name != tag {
			return "", fail(name, fmt.Errorf("%w: the signed tag object is named %q, not %q (a tag moved to another name)", ErrInvalidSignature, schema.Short(t.Name), tag),
				fmt.Sprintf("do not apply it; sign the release under its own name: %s, then git push -f origin %s", sign, tag))
		}
		signers = append(signers, who)
	}
	if v.mode == VerifyHead || v.mode == VerifyTagAndHead {
		who, err := v.verify(c.PGPSignature, c.Verify, c.EncodeWithoutSignature)
		if err != nil {
			return "", fail("commit "+rev.Short(), err, hintFor(err, "commit", "git commit -S --amend, or a new signed commit"))
		}
		signers = append(signers, who)
	}
	if v.mode == VerifyTagAndHead {
		return fmt.Sprintf("tag %s; commit %s", signers[0], signers[1]), nil
	}
	return signers[0], nil
}

// hintFor says what to do about a failed verification of a commit or tag;
// sign is the git command that signs it.
func hintFor(err error, what, sign string) string {
	switch {
	case errors.Is(err, ErrNotSigned):
		return fmt.Sprintf("sign the %s with a trusted key (%s) and push it", what, sign)
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrKeyRevoked), errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Sprintf("the key or the signature has expired or was revoked: if the key is still trusted, extend its expiry (gpg --quick-set-expire) and export it again; else sign the %s with a current key (%s)", what, sign)
	case errors.Is(err, ErrUntrustedKey):
		return "if that key is trusted, add it to repository.verify's key files and reload; else sign with a trusted key (" + sign + ")"
	}
	return fmt.Sprintf("the %s was changed after it was signed, or its signature is broken: do not apply it; sign it again (%s) once its content is checked", what, sign)
}

// verify checks one signature: pgpVerify is go-git's Verify of the object,
// encode its EncodeWithoutSignature (what was signed). It returns who
// signed: "OpenPGP key FINGERPRINT (user id)" or "SSH key SHA256:… (name)".
func (v *Verifier) verify(sig string, pgpVerify func(string) (*openpgp.Entity, error), encode func(plumbing.EncodedObject) error) (string, error) {
	trimmed := strings.TrimSpace(sig)
	switch {
	case trimmed == "":
		return "", ErrNotSigned
	case strings.HasPrefix(trimmed, "-----BEGIN SSH SIGNATURE-----"):
		return v.verifySSH(trimmed, encode)
	case strings.HasPrefix(trimmed, "-----BEGIN PGP SIGNATURE-----"):
		return v.verifyPGP(sig, pgpVerify)
	}
	return "", fmt.Errorf("%w: a kind of signature lightkeeper cannot check (X.509?): sign with OpenPGP or SSH", ErrInvalidSignature)
}

func (v *Verifier) verifyPGP(sig string, pgpVerify func(string) (*openpgp.Entity, error)) (string, error) {
	if len(v.pgp) == 0 {
		return "", fmt.Errorf("%w: %s (no OpenPGP key is trusted: openpgpKeyFiles is empty)", ErrUntrustedKey, pgpIssuer(sig))
	}
	e, err := pgpVerify(v.ring)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", fmt.Errorf("%w: %s", ErrUntrustedKey, pgpIssuer(sig))
	case err != nil:
		return "", fmt.Errorf("%w by %s: %w", ErrInvalidSignature, pgpIssuer(sig), err)
	}
	who := "OpenPGP key " + pgpFingerprint(e.PrimaryKey.Fingerprint)
	if id := e.PrimaryIdentity(); id != nil && id.Name != "" {
		who += " (" + id.Name + ")"
	}
	return who, nil
}

// pgpIssuer names the key an armored OpenPGP signature says it was made
// with: its fingerprint when the signature carries it, else its key ID.
func pgpIssuer(sig string) string {
	blk, err := armor.Decode(strings.NewReader(sig))
	if err != nil {
		return "an OpenPGP key (the signature is unreadable)"
	}
	p, err := packet.Read(blk.Body)
	if err != nil {
		return "an OpenPGP key (the signature is unreadable)"
	}
	switch s, _ := p.(*packet.Signature); {
	case s == nil:
		return "an OpenPGP key (the signature is unreadable)"
	case len(s.IssuerFingerprint) > 0:
		return "OpenPGP key " + pgpFingerprint(s.IssuerFingerprint)
	case s.IssuerKeyId != nil:
		return fmt.Sprintf("OpenPGP key ID %016X", *s.IssuerKeyId)
	}
	return "an OpenPGP key that the signature does not name"
}

func (v *Verifier) verifySSH(sig string, encode func(plumbing.EncodedObject) error) (string, error) {
	s, err := sshsig.Unarmor([]byte(sig))
	if err != nil {
		return "", fmt.Errorf("%w: unreadable SSH signature: %w", ErrInvalidSignature, err)
	}
	signer := sshFingerprint(s)
	fp := "SSH key " + signer
	i := slices.IndexFunc(v.ssh, func(k sshKey) bool { return k.fp == signer })
	if i < 0 {
		why := ""
		if len(v.ssh) == 0 {
			why = " (no SSH key is trusted: sshKeyFiles is empty)"
		}
		return "", fmt.Errorf("%w: %s%s", ErrUntrustedKey, fp, why)
	}
	k := v.ssh[i]
	if k.notGit {
		return "", fmt.Errorf("%w: %s, whose namespaces= option does not allow git", ErrUntrustedKey, fp)
	}
	obj := &plumbing.MemoryObject{}
	if err := encode(obj); err != nil {
		return "", fmt.Errorf("%w: encode the signed object: %w", ErrInvalidSignature, err)
	}
	rd, err := obj.Reader()
	if err != nil {
		return "", fmt.Errorf("%w: encode the signed object: %w", ErrInvalidSignature, err)
	}
	defer rd.Close()
	if err := sshsig.Verify(rd, s, k.key, s.HashAlgorithm, "git"); err != nil {
		if errors.Is(err, sshsig.ErrNamespaceMismatch) {
			err = fmt.Errorf("signed for namespace %q, not git", schema.Short(s.Namespace))
		}
		return "", fmt.Errorf("%w by %s: %w", ErrInvalidSignature, fp, err)
	}
	if k.name != "" {
		fp += " (" + k.name + ")"
	}
	return fp, nil
}

// sshFingerprint is the SHA256 fingerprint of the key that made s.
func sshFingerprint(s *sshsig.Signature) string {
	if s.PublicKey == nil {
		return "(none)"
	}
	return ssh.FingerprintSHA256(s.PublicKey)
}
