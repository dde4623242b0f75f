package daemon

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/lightkeeper/lightkeeper/spec"
)

// Bounds of secret files: far above any real secret or key, far below
// what would hurt to read.
const (
	maxSecretFile     = 64 << 10
	maxKnownHostsFile = 4 << 20
)

// checkSecretFiles checks that the credential files of cfg exist, are
// regular files and are not empty, and that group and others cannot read
// the secret ones: a warning, or a problem with secretFilePermissions
// refuse. It returns the warnings.
func checkSecretFiles(cfg *Config, p *configParser) spec.Errors {
	type file struct {
		path   string
		key    []string
		secret bool
		max    int64
	}
	a := cfg.Repository.Auth
	files := []file{
		{a.TokenFile, []string{"repository", "auth", "tokenFile"}, true, maxSecretFile},
		{a.SSHKeyFile, []string{"repository", "auth", "sshKeyFile"}, true, maxSecretFile},
		{a.KnownHostsFile, []string{"repository", "auth", "knownHostsFile"}, false, maxKnownHostsFile},
	}
	if cfg.Webhook != nil {
		files = append(files, file{cfg.Webhook.SecretFile, []string{"webhook", "secretFile"}, true, maxSecretFile})
	}
	for i, n := range cfg.Notify {
		at := []string{"notify", fmt.Sprint(i)}
		files = append(files, file{n.URLFile, append(at[:2:2], "urlFile"), true, maxSecretFile},
			file{n.SecretFile, append(at[:2:2], "secretFile"), true, maxSecretFile})
	}
	for i, a := range cfg.Approvers {
		files = append(files, file{a.TokenFile, []string{"approvers", fmt.Sprint(i), "tokenFile"}, true, maxSecretFile})
	}
	if cfg.HA != nil {
		files = append(files, file{cfg.HA.Etcd.PasswordFile, []string{"ha", "etcd", "passwordFile"}, true, maxSecretFile})
		if cfg.HA.Etcd.TLS != nil {
			// Read (and so checked to exist) when the configuration loaded.
			files = append(files, file{cfg.HA.Etcd.TLS.KeyFile, []string{"ha", "etcd", "tls", "keyFile"}, true, 0})
		}
	}
	warn := &configParser{file: p.file, root: p.root} // its errors are the warnings
	for _, f := range files {
		if f.path == "" {
			continue
		}
		fi, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.at(f.path+" does not exist", f.key...)
			continue
		case err != nil:
			p.at(err.Error(), f.key...)
			continue
		case !fi.Mode().IsRegular():
			p.at(f.path+" is not a regular file", f.key...)
			continue
		case f.max > 0 && fi.Size() > f.max:
			p.at(fmt.Sprintf("%s holds %d bytes, more than any such file should (%d): is it the right file?", f.path, fi.Size(), f.max), f.key...)
			continue
		}
		if f.max > 0 {
			b, err := os.ReadFile(f.path)
			if err != nil {
				p.at(err.Error(), f.key...)
				continue
			}
			if len(strings.TrimSpace(string(b))) == 0 {
				p.at(f.path+" is empty", f.key...)
				continue
			}
		}
		if msg := openSecret(f.path); f.secret && msg != "" {
			if cfg.SecretFilePermissions == SecretFilesRefuse {
				p.at(msg+" (secretFilePermissions: refuse)", f.key...)
				continue
			}
			warn.at("warning: "+msg, f.key...)
		}
	}
	return warn.errs
}

// readSecretFile reads a secret file of at most maxSecretFile bytes, less
// the white space around it.
func readSecretFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s holds more than %d bytes: is it the right file?", name, maxSecretFile)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// openSecret says why a secret file is open to group or others ("" when
// only its owner may read it, or it cannot be read at all: its reader
// reports that).
func openSecret(name string) string {
	fi, err := os.Stat(name)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s is readable by group or others (mode %04o): chmod 600 it, or pass it with systemd's LoadCredential=", name, fi.Mode().Perm())
}

// passwordFileWarnings are the login password files of fleets
// (spec.login.passwordFrom.file) that group or others may read, by the
// fleet that names them.
func passwordFileWarnings(fleets []*spec.Fleet) []string {
	var out []string
	for _, f := range fleets {
		if l := f.Spec.Login; l != nil && l.PasswordFrom != nil && l.PasswordFrom.File != "" {
			if msg := openSecret(l.PasswordFrom.File); msg != "" {
				out = append(out, fmt.Sprintf("fleet %q: spec.login.passwordFrom.file: %s", f.Name(), msg))
			}
		}
	}
	return out
}
