// This file holds repository.verify, the signature check of revisions, of
// the configuration in config.go: the keys, their checks and the reading
// of the key files at load (so that --check finds a bad key file).

package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/lightkeeper/lightkeeper/gitsync"
)

// Verify requires the revisions applied to be signed by trusted keys
// (repository.verify); see gitsync.VerifyOptions. The loader reads and
// parses the key files, so a bad one is a configuration error; SIGHUP
// reads them again.
type Verify struct {
	// Mode is head (default), tag or tag-and-head; tag modes need
	// repository.tag.
	Mode string `yaml:"mode"`
	// OpenPGPKeyFiles hold armored OpenPGP public keys.
	OpenPGPKeyFiles []string `yaml:"openpgpKeyFiles"`
	// SSHKeyFiles hold authorized_keys or allowed_signers lines.
	SSHKeyFiles []string `yaml:"sshKeyFiles"`

	verifier *gitsync.Verifier // built by the loader
}

// Verifier returns the verifier the loader built from the key files (nil
// for a Verify not made by LoadConfig or ParseConfig).
func (v *Verify) Verifier() *gitsync.Verifier { return v.verifier }

// checkVerify checks repository.verify, expands the variables of its key
// file paths, reads every key file and builds the verifier.
func (p *configParser) checkVerify(c *Config, getenv func(string) string) {
	v := c.Repository.Verify
	if v == nil {
		return
	}
	at := []string{"repository", "verify"}
	if v.Mode == "" {
		v.Mode = string(gitsync.VerifyHead)
	}
	if v.Mode != string(gitsync.VerifyHead) && c.Repository.Tag == "" {
		p.at(fmt.Sprintf("mode %s checks the tag followed: set repository.tag (a branch or a commit has no tag to verify), or use mode head", v.Mode),
			append(at, "mode")...)
	}
	if len(v.OpenPGPKeyFiles)+len(v.SSHKeyFiles) == 0 {
		p.at("list the trusted keys: set openpgpKeyFiles or sshKeyFiles (or both)", at...)
		return
	}
	for _, list := range []struct {
		key   string
		files []string
	}{{"openpgpKeyFiles", v.OpenPGPKeyFiles}, {"sshKeyFiles", v.SSHKeyFiles}} {
		for i := range list.files {
			path := append(at[:2:2], list.key, strconv.Itoa(i))
			f, bad := expandFileVars(list.files[i], getenv)
			f = c.resolve(f)
			list.files[i] = f
			if bad != "" {
				p.at(bad, path...)
				continue
			}
			// Each file alone, so that each bad one is reported at its key.
			o := gitsync.VerifyOptions{Mode: gitsync.VerifyMode(v.Mode)}
			if list.key == "sshKeyFiles" {
				o.SSHKeyFiles = []string{f}
			} else {
				o.OpenPGPKeyFiles = []string{f}
			}
			if _, err := gitsync.NewVerifier(o); err != nil {
				p.at(keyFileMessage(err, list.key), path...)
			}
		}
	}
	if len(p.errs) > 0 { // a bad key file above, or any other error: no verifier
		return
	}
	var err error
	v.verifier, err = gitsync.NewVerifier(gitsync.VerifyOptions{Mode: gitsync.VerifyMode(v.Mode),
		OpenPGPKeyFiles: v.OpenPGPKeyFiles, SSHKeyFiles: v.SSHKeyFiles})
	if err != nil { // a file changed since it was read just now
		p.at(err.Error(), at...)
	}
}

// keyFileMessage is the configuration error of a key file that NewVerifier
// refused, with a hint at what the file must hold.
func keyFileMessage(err error, key string) string {
	msg := err.Error()
	var kfe *gitsync.KeyFileError
	if errors.As(err, &kfe) && errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("%s does not exist: write the trusted public keys to it", kfe.File)
	}
	if strings.Contains(msg, "gpg --export") {
		return msg
	}
	if key == "sshKeyFiles" {
		return msg + " (one `principals ssh-ed25519 AAAA…` allowed_signers line, or authorized_keys line, per key)"
	}
	return msg + " (export the public keys with gpg --export --armor KEYID)"
}

// expandFileVars expands ${CREDENTIALS_DIRECTORY} and ${STATE_DIRECTORY} in
// a file path as the other *File keys do; bad says what is wrong, if
// anything.
func expandFileVars(v string, getenv func(string) string) (s, bad string) {
	s = os.Expand(v, func(name string) string {
		switch name {
		case "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY":
			val, _, _ := strings.Cut(getenv(name), ":")
			if val == "" && bad == "" {
				bad = fmt.Sprintf("$%s is empty here (systemd sets it with LoadCredential= or StateDirectory=)", name)
			}
			return val
		}
		if bad == "" {
			bad = fmt.Sprintf("only ${CREDENTIALS_DIRECTORY} and ${STATE_DIRECTORY} are expanded, not $%s", name)
		}
		return ""
	})
	return s, bad
}
