package gitsync

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"golang.org/x/crypto/ssh"
)

// KeyFileError is a key file that could not be read or holds something
// that is not a usable public key. NewVerifier returns one.
type KeyFileError struct {
	// File is the key file as configured.
	File string
	// Line is the line of an SSH key file with the problem (1-based); 0
	// when the problem is the file as a whole.
	Line int
	// Err is the problem.
	Err error
}

// Error implements error: "FILE:LINE: problem".
func (e *KeyFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the problem.
func (e *KeyFileError) Unwrap() error { return e.Err }

// sshKey is one trusted SSH public key.
type sshKey struct {
	key ssh.PublicKey
	fp  string // ssh.FingerprintSHA256
	// name is who the key belongs to: the principals of an allowed_signers
	// line, else the key's comment; may be empty.
	name string
	// notGit is set when the line restricts the key to namespaces that do
	// not include "git".
	notGit bool
}

// readOpenPGPKeys reads the armored public key blocks of file; a file may
// hold several blocks, each with several keys.
func readOpenPGPKeys(file string) (openpgp.EntityList, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &KeyFileError{File: file, Err: unwrapPath(err)}
	}
	// armor.Decode reads one block: cut the file before each block.
	begin := []byte("-----BEGIN PGP ")
	var keys openpgp.EntityList
	for _, chunk := range bytes.Split(b, begin)[1:] {
		blk, err := armor.Decode(io.MultiReader(bytes.NewReader(begin), bytes.NewReader(chunk)))
		if err != nil {
			return nil, &KeyFileError{File: file, Err: fmt.Errorf("a broken armored block: %w", err)}
		}
		if blk.Type != openpgp.PublicKeyType {
			hint := ""
			if blk.Type == openpgp.PrivateKeyType {
				hint = ": it must hold public keys only, never a private key (gpg --export --armor KEYID)"
			}
			return nil, &KeyFileError{File: file, Err: fmt.Errorf("holds a %q block, not %q%s", blk.Type, openpgp.PublicKeyType, hint)}
		}
		el, err := openpgp.ReadKeyRing(blk.Body)
		if err != nil {
			return nil, &KeyFileError{File: file, Err: fmt.Errorf("not an OpenPGP public key: %w", err)}
		}
		keys = append(keys, el...)
	}
	if len(keys) == 0 {
		return nil, &KeyFileError{File: file, Err: errors.New("holds no armored OpenPGP public key: export one with gpg --export --armor KEYID")}
	}
	return keys, nil
}

// readSSHKeys reads an authorized_keys or allowed_signers file. Blank lines
// and lines starting with # are skipped. A line is
//
//	[options] keytype base64 [comment]              (authorized_keys)
//	principals [options] keytype base64 [comment]   (allowed_signers)
//
// The namespaces="…" option is honoured (a key not allowed the "git"
// namespace is refused at verification); cert-authority, valid-after and
// valid-before are refused here, since lightkeeper does not check them;
// other (login) options of authorized_keys are ignored.
func readSSHKeys(file string) ([]sshKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &KeyFileError{File: file, Err: unwrapPath(err)}
	}
	var keys []sshKey
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseSSHKeyLine(line)
		if err != nil {
			return nil, &KeyFileError{File: file, Line: i + 1, Err: err}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, &KeyFileError{File: file, Err: errors.New("holds no SSH public key: write one authorized_keys or allowed_signers line per key")}
	}
	return keys, nil
}

// parseSSHKeyLine parses one non-blank line of an SSH key file.
func parseSSHKeyLine(line string) (sshKey, error) {
	fields := splitOptions(line, " \t")
	at := slices.IndexFunc(fields, isSSHKeyType)
	if at < 0 {
		return sshKey{}, errors.New("no SSH public key on the line: want `[principals] [options] ssh-ed25519 AAAA… [comment]`")
	}
	if at+1 >= len(fields) {
		return sshKey{}, fmt.Errorf("no key after %s", fields[at])
	}
	raw, err := base64.StdEncoding.DecodeString(fields[at+1])
	if err != nil {
		return sshKey{}, fmt.Errorf("the key after %s is not valid base64", fields[at])
	}
	pub, err := ssh.ParsePublicKey(raw)
	if err != nil {
		return sshKey{}, fmt.Errorf("not an SSH public key: %w", err)
	}
	if pub.Type() != fields[at] {
		return sshKey{}, fmt.Errorf("the line says %s but the key is %s", fields[at], pub.Type())
	}
	k := sshKey{key: pub, fp: ssh.FingerprintSHA256(pub), name: strings.Join(fields[at+2:], " ")}
	var opts string
	switch prefix := fields[:at]; len(prefix) {
	case 0:
	case 1:
		if looksLikeOptions(prefix[0]) {
			opts = prefix[0]
		} else {
			k.name = prefix[0]
		}
	case 2:
		k.name, opts = prefix[0], prefix[1]
	default:
		return sshKey{}, errors.New("too many fields before the key: want `principals [options] keytype base64 [comment]`")
	}
	for _, o := range splitOptions(opts, ",") {
		name, val, _ := strings.Cut(o, "=")
		switch strings.ToLower(name) {
		case "namespaces":
			k.notGit = !slices.Contains(strings.Split(strings.Trim(val, `"`), ","), "git")
		case "cert-authority", "valid-after", "valid-before":
			return sshKey{}, fmt.Errorf("option %s is not supported: list each signer's own key, without it", name)
		}
	}
	return k, nil
}

// isSSHKeyType reports whether s names an SSH public key algorithm.
func isSSHKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") || strings.HasPrefix(s, "sk-")
}

// looksLikeOptions tells an authorized_keys options field from the
// principals of an allowed_signers line.
func looksLikeOptions(s string) bool {
	if strings.Contains(s, "=") {
		return true
	}
	for _, o := range strings.Split(s, ",") {
		switch strings.ToLower(o) {
		case "cert-authority", "no-agent-forwarding", "no-port-forwarding", "no-pty", "no-user-rc",
			"no-x11-forwarding", "restrict", "agent-forwarding", "port-forwarding", "pty", "user-rc",
			"x11-forwarding", "no-touch-required", "verify-required":
			return true
		}
	}
	return false
}

// splitOptions splits s at any of seps outside double quotes, dropping
// empty parts.
func splitOptions(s, seps string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case !quoted && strings.ContainsRune(seps, r):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// unwrapPath drops the *fs.PathError around err, whose path KeyFileError
// already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// pgpFingerprint formats an OpenPGP fingerprint as gpg prints it.
func pgpFingerprint(fp []byte) string { return strings.ToUpper(hex.EncodeToString(fp)) }
