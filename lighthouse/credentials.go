package lighthouse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Credential is a Tencent Cloud API key: a SecretId, its SecretKey and, for
// temporary keys, a session token. It never prints its secrets: String,
// GoString, Format, LogValue and MarshalJSON show the SecretId's last four
// characters and the source only.
type Credential struct {
	secretID  string
	secretKey string
	token     string
	source    string
}

// NewCredential returns a credential from its parts; source says where it
// came from (for messages), e.g. "flags".
func NewCredential(secretID, secretKey, token, source string) Credential {
	return Credential{secretID: secretID, secretKey: secretKey, token: token, source: source}
}

// SecretID returns the SecretId (not a secret: it names the key).
func (c Credential) SecretID() string { return c.secretID }

// SecretKey returns the SecretKey. Pass it only to code that signs.
func (c Credential) SecretKey() string { return c.secretKey }

// Token returns the session token of a temporary key, or "".
func (c Credential) Token() string { return c.token }

// Source says where the credential was found, e.g. "environment".
func (c Credential) Source() string { return c.source }

// IsZero reports whether c holds no key.
func (c Credential) IsZero() bool { return c.secretID == "" && c.secretKey == "" }

// String shows the credential with its secrets redacted.
func (c Credential) String() string {
	id := "(none)"
	if n := len(c.secretID); n > 4 {
		id = "..." + c.secretID[n-4:]
	} else if n > 0 {
		id = "..."
	}
	s := "lighthouse.Credential{SecretId: " + id + ", SecretKey: REDACTED"
	if c.token != "" {
		s += ", Token: REDACTED"
	}
	if c.source != "" {
		s += ", Source: " + c.source
	}
	return s + "}"
}

// GoString is String, so %#v redacts too.
func (c Credential) GoString() string { return c.String() }

// Format makes every fmt verb print the redacted form.
func (c Credential) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	f.Write([]byte(c.String()))
}

// LogValue makes slog print the redacted form.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the redacted form, so a credential inside a struct
// dumped as JSON stays secret.
func (c Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Environment variables and file names the credential lookup reads.
const (
	EnvSecretID     = "TENCENTCLOUD_SECRET_ID"
	EnvSecretKey    = "TENCENTCLOUD_SECRET_KEY"
	EnvSessionToken = "TENCENTCLOUD_SESSION_TOKEN"
	// EnvSecurityToken is the name Terraform's provider
	// (tencentcloudstack/terraform-provider-tencentcloud
	// tencentcloud/provider.go: security_token defaults to it) and other
	// tools export the session token of a temporary key under; it is read
	// when EnvSessionToken is not set.
	EnvSecurityToken   = "TENCENTCLOUD_SECURITY_TOKEN"
	EnvCredentialsFile = "TENCENTCLOUD_CREDENTIALS_FILE"
	EnvTCCLIProfile    = "TCCLI_PROFILE"
	// EnvCredentialsDirectory is set by systemd for LoadCredential=.
	EnvCredentialsDirectory = "CREDENTIALS_DIRECTORY"

	// Names of the files read from $CREDENTIALS_DIRECTORY, i.e. the IDs to
	// give LoadCredential= (or LoadCredentialEncrypted=) in the unit.
	SystemdSecretIDName     = "tencentcloud-secret-id"
	SystemdSecretKeyName    = "tencentcloud-secret-key"
	SystemdSessionTokenName = "tencentcloud-session-token"
)

// ErrNoCredentials is wrapped by FindCredential's error when no place held
// a credential.
var ErrNoCredentials = errors.New("no Tencent Cloud credentials found")

// FindCredential looks for a credential in the usual places, in order, and
// returns the first found:
//
//  1. the environment: TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY,
//     with TENCENTCLOUD_SESSION_TOKEN (or TENCENTCLOUD_SECURITY_TOKEN, the
//     name Terraform uses) for a temporary key; both set to different
//     values is an error;
//  2. systemd credentials: the files tencentcloud-secret-id,
//     tencentcloud-secret-key and (optional) tencentcloud-session-token in
//     $CREDENTIALS_DIRECTORY;
//  3. the SDK credentials file: $TENCENTCLOUD_CREDENTIALS_FILE, else
//     <home>/.tencentcloud/credentials, an INI file whose [default] section
//     has secret_id and secret_key (token optional);
//  4. the tccli profile: <home>/.tccli/<$TCCLI_PROFILE or default>.credential,
//     then <home>/.tencentcloud/default.credential, JSON with secretId,
//     secretKey and token.
//
// getenv and home stand for the process environment and home directory, so
// that callers (and tests) decide what is visible; home "" skips the files
// under it. A place that is present but broken (only one of the two
// variables, an unreadable or malformed file) is an error at once rather
// than a silent fall-through to the next place. When nothing is found the
// error wraps ErrNoCredentials and names every place looked in.
func FindCredential(getenv func(string) string, home string) (Credential, error) {
	var looked []string

	id, key := getenv(EnvSecretID), getenv(EnvSecretKey)
	switch {
	case id != "" && key != "":
		token, sec := getenv(EnvSessionToken), getenv(EnvSecurityToken)
		if token != "" && sec != "" && token != sec {
			return Credential{}, fmt.Errorf("credentials: %s and %s are both set, to different tokens; unset one", EnvSessionToken, EnvSecurityToken)
		}
		if token == "" {
			token = sec
		}
		return NewCredential(id, key, token, "environment"), nil
	case id != "" || key != "":
		return Credential{}, fmt.Errorf("credentials: only one of %s and %s is set; set both or neither", EnvSecretID, EnvSecretKey)
	}
	looked = append(looked, "environment ("+EnvSecretID+", "+EnvSecretKey+": not set)")

	if dir := getenv(EnvCredentialsDirectory); dir != "" {
		c, found, err := systemdCredential(dir)
		if err != nil || found {
			return c, err
		}
		looked = append(looked, "$"+EnvCredentialsDirectory+" "+dir+" (no "+SystemdSecretIDName+"/"+SystemdSecretKeyName+")")
	} else {
		looked = append(looked, "$"+EnvCredentialsDirectory+" (not set)")
	}

	if path := getenv(EnvCredentialsFile); path != "" {
		c, found, err := iniCredential(path)
		if err != nil {
			return c, err
		}
		if !found {
			return Credential{}, fmt.Errorf("credentials: %s=%s: file does not exist", EnvCredentialsFile, path)
		}
		return c, nil
	}
	if home != "" {
		path := filepath.Join(home, ".tencentcloud", "credentials")
		c, found, err := iniCredential(path)
		if err != nil || found {
			return c, err
		}
		looked = append(looked, path+" (not found)")
	} else {
		looked = append(looked, "~/.tencentcloud/credentials (no home directory)")
	}

	profile := getenv(EnvTCCLIProfile)
	if profile == "" {
		profile = "default"
	}
	if home != "" {
		for _, path := range []string{
			filepath.Join(home, ".tccli", profile+".credential"),
			filepath.Join(home, ".tencentcloud", "default.credential"),
		} {
			c, found, err := tccliCredential(path)
			if err != nil || found {
				return c, err
			}
			looked = append(looked, path+" (not found)")
		}
	} else {
		looked = append(looked, "tccli profile (no home directory)")
	}
	return Credential{}, fmt.Errorf("%w; looked in: %s; set %s and %s, or see Credentials in docs/cli.md",
		ErrNoCredentials, strings.Join(looked, "; "), EnvSecretID, EnvSecretKey)
}

// systemdCredential reads the credential files under dir.
func systemdCredential(dir string) (Credential, bool, error) {
	read := func(name string) (string, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("credentials: %w", err)
		}
		return strings.TrimSpace(string(b)), true, nil
	}
	id, idOK, err := read(SystemdSecretIDName)
	if err != nil {
		return Credential{}, false, err
	}
	key, keyOK, err := read(SystemdSecretKeyName)
	if err != nil {
		return Credential{}, false, err
	}
	if !idOK && !keyOK {
		return Credential{}, false, nil
	}
	if id == "" || key == "" {
		return Credential{}, false, fmt.Errorf("credentials: %s: need both %s and %s, non-empty", dir, SystemdSecretIDName, SystemdSecretKeyName)
	}
	token, _, err := read(SystemdSessionTokenName)
	if err != nil {
		return Credential{}, false, err
	}
	return NewCredential(id, key, token, "systemd credentials "+dir), true, nil
}

// iniCredential reads the [default] section of the SDK credentials file.
func iniCredential(path string) (Credential, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, false, nil
	}
	if err != nil {
		return Credential{}, false, fmt.Errorf("credentials: %w", err)
	}
	section := ""
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || s[0] == '#' || s[0] == ';':
			continue
		case s[0] == '[':
			if !strings.HasSuffix(s, "]") {
				return Credential{}, false, fmt.Errorf("credentials: %s:%d: malformed section header", path, line)
			}
			section = strings.TrimSpace(s[1 : len(s)-1])
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return Credential{}, false, fmt.Errorf("credentials: %s:%d: want key = value", path, line)
		}
		if section == "default" {
			vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return Credential{}, false, fmt.Errorf("credentials: %s: %w", path, err)
	}
	if vals["secret_id"] == "" || vals["secret_key"] == "" {
		return Credential{}, false, fmt.Errorf("credentials: %s: section [default] needs secret_id and secret_key", path)
	}
	return NewCredential(vals["secret_id"], vals["secret_key"], vals["token"], path), true, nil
}

// tccliCredential reads a tccli profile file.
func tccliCredential(path string) (Credential, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, false, nil
	}
	if err != nil {
		return Credential{}, false, fmt.Errorf("credentials: %w", err)
	}
	var p struct {
		SecretID  string `json:"secretId"`
		SecretKey string `json:"secretKey"`
		Token     string `json:"token"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		// The JSON error may quote part of the file; name the file only.
		return Credential{}, false, fmt.Errorf("credentials: %s: not a tccli profile (JSON with secretId and secretKey)", path)
	}
	if p.SecretID == "" || p.SecretKey == "" {
		return Credential{}, false, fmt.Errorf("credentials: %s: needs secretId and secretKey", path)
	}
	return NewCredential(p.SecretID, p.SecretKey, p.Token, path), true, nil
}
