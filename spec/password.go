package spec

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Where lightkeeper reads its own Tencent Cloud API credentials (see package
// lighthouse): a fleet's passwordFrom must point at none of them, or the API
// secret would become the login password of every server of the fleet.
var (
	// credentialEnvPrefix starts the variables of the Tencent Cloud SDKs
	// (TENCENTCLOUD_SECRET_ID, _SECRET_KEY, _SESSION_TOKEN, …).
	credentialEnvPrefix = "TENCENTCLOUD_"
	// credentialEnvs are other variables of lightkeeper's credential lookup.
	credentialEnvs = []string{"CREDENTIALS_DIRECTORY"}
	// credentialFiles are the systemd credential names lightkeeper reads from
	// $CREDENTIALS_DIRECTORY, wherever that directory is.
	credentialFiles = []string{"tencentcloud-secret-id", "tencentcloud-secret-key", "tencentcloud-session-token"}
	// credentialDirs hold the SDK credentials file and the tccli profiles
	// (~/.tencentcloud/credentials, ~/.tccli/default.credential).
	credentialDirs = []string{".tencentcloud", ".tccli"}
)

// specialDirs hold devices and kernel files, never a password file: a
// passwordFrom.file under one (/dev/zero, /dev/stdin, /proc/self/fd/0)
// would never end or would wait for input. ReadPasswordFile refuses any
// file that is not a regular one when it reads it; this says so at
// validate time, on any machine.
var specialDirs = []string{"/dev", "/proc", "/sys"}

// passwordSourceProblem explains a passwordFrom that points at lightkeeper's
// own credential sources, or at a device or kernel file, or "".
func passwordSourceProblem(p *PasswordFrom) (field, msg string) {
	const never = "the API secret must never become a server password"
	switch {
	case p == nil:
		return "", ""
	case p.Env != "":
		up := strings.ToUpper(p.Env)
		for _, e := range credentialEnvs {
			if up == e {
				return "spec.login.passwordFrom.env", fmt.Sprintf("%s is where lightkeeper finds its own Tencent Cloud credentials; %s: use a variable of its own, such as WEB_PASSWORD", p.Env, never)
			}
		}
		if strings.HasPrefix(up, credentialEnvPrefix) {
			return "spec.login.passwordFrom.env", fmt.Sprintf("%s is a Tencent Cloud SDK variable (%s*), where lightkeeper reads its own API credentials; %s: use a variable of its own, such as WEB_PASSWORD", p.Env, credentialEnvPrefix, never)
		}
	case p.File != "":
		clean := path.Clean(p.File)
		for _, name := range credentialFiles {
			if path.Base(clean) == name {
				return "spec.login.passwordFrom.file", fmt.Sprintf("%s is the systemd credential %s, which holds lightkeeper's own API credentials; %s: give the password a credential of its own, such as web-password", visible(p.File), name, never)
			}
		}
		for _, dir := range credentialDirs {
			if strings.Contains(clean+"/", "/"+dir+"/") {
				return "spec.login.passwordFrom.file", fmt.Sprintf("%s is in %s/, where the Tencent Cloud SDK and tccli keep API credentials; %s: keep the password in a file of its own", visible(p.File), dir, never)
			}
		}
		for _, dir := range specialDirs {
			if strings.HasPrefix(clean+"/", dir+"/") {
				return "spec.login.passwordFrom.file", fmt.Sprintf("%s is under %s/, where devices and kernel files are: it is never read as a password file (it may never end, or wait for input); keep the password in a regular file, such as /run/credentials/lightkeeper.service/web-password", visible(p.File), dir)
			}
		}
	}
	return "", ""
}

// MaxPasswordFileBytes is the most of a password file that is read. The
// API takes passwords of 8 to 30 characters (at most 120 bytes of UTF-8); a
// file holding more than this is refused, and the rest of it is never read.
const MaxPasswordFileBytes = 256

// Resolve reads the password: from the environment variable p.Env (with
// getenv, os.Getenv in the daemon), or from the file p.File with
// ReadPasswordFile under ctx. A trailing newline of a file is dropped. A
// password the API would refuse (length, spaces, a leading '/', fewer than
// three kinds of characters) is an error, so nothing is bought with it.
// Errors name the variable or file, never the value.
func (p *PasswordFrom) Resolve(ctx context.Context, getenv func(string) string) (string, error) {
	switch {
	case p == nil:
		return "", fmt.Errorf("spec: no passwordFrom")
	case p.Env != "":
		v := getenv(p.Env)
		if v == "" {
			return "", fmt.Errorf("spec: passwordFrom: environment variable %s is unset or empty", p.Env)
		}
		if problem := passwordProblem(v); problem != "" {
			return "", fmt.Errorf("spec: passwordFrom: the password in environment variable %s %s", p.Env, problem)
		}
		return v, nil
	case p.File != "":
		b, err := ReadPasswordFile(ctx, p.File)
		if err != nil {
			return "", fmt.Errorf("spec: passwordFrom: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("spec: passwordFrom: password file %s is empty", visible(p.File))
		}
		if problem := passwordProblem(v); problem != "" {
			return "", fmt.Errorf("spec: passwordFrom: the password in file %s %s", visible(p.File), problem)
		}
		return v, nil
	}
	return "", fmt.Errorf("spec: passwordFrom sets neither env nor file")
}

// ReadPasswordFile reads a password file: a regular file only, at most
// MaxPasswordFileBytes of it, and nothing once ctx is done. A FIFO, a device
// (/dev/zero, /dev/stdin), a socket or a directory is refused without being
// read: a FIFO would block the run until something writes to it, and a
// device may never end. The file is opened without blocking (O_NONBLOCK)
// and checked again once open, so that a path swapped for a FIFO between
// the check and the open is refused too. Errors name the file, never what
// it holds; a missing file's error matches fs.ErrNotExist.
func ReadPasswordFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read password file %s: %w", visible(path), err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	if err := regularPasswordFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	if err := regularPasswordFile(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxPasswordFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	if len(b) > MaxPasswordFileBytes {
		return nil, fmt.Errorf("password file %s holds more than %d bytes; it must hold the password alone (8 to 30 characters, a trailing newline allowed)", visible(path), MaxPasswordFileBytes)
	}
	return b, nil
}

// regularPasswordFile explains a password file that is not a regular file.
func regularPasswordFile(path string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	kind := "a directory"
	if !fi.IsDir() {
		kind = fileKind(fi.Mode()) // load.go's
	}
	return fmt.Errorf("password file %s is %s, not a regular file; point spec.login.passwordFrom.file at a file that holds the password (a named pipe, a device or a directory is never read)", visible(path), kind)
}

// passwordProblem checks a login password against the rules of
// CreateInstances (LoginConfiguration.Password) that hold for every
// platform: 8 to 30 characters, no spaces, no leading '/', at least three
// of lowercase letters, uppercase letters, digits and symbols. (Windows
// needs 12 characters; the API says so if the blueprint is Windows.) The
// message never contains the password.
func passwordProblem(pw string) string {
	const rules = "; the API wants 8 to 30 characters, no spaces, no leading '/', and at least three of lowercase letters, uppercase letters, digits and symbols"
	n := utf8.RuneCountInString(pw)
	switch {
	case n < 8 || n > 30:
		return fmt.Sprintf("has %d characters%s", n, rules)
	case strings.HasPrefix(pw, "/"):
		return "starts with '/'" + rules
	case strings.IndexFunc(pw, unicode.IsSpace) >= 0:
		return "contains a space" + rules
	}
	var lower, upper, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	if classes := lower + upper + digit + symbol; classes < 3 {
		return fmt.Sprintf("mixes only %d kinds of characters%s", classes, rules)
	}
	return ""
}
