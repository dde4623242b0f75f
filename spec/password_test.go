package spec

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPasswordFromResolve(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"PW": "s3cret-Passw0rd"}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	file := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	if got, err := (&PasswordFrom{Env: "PW"}).Resolve(ctx, getenv); err != nil || got != "s3cret-Passw0rd" {
		t.Errorf("env: %q, %v", got, err)
	}
	if got, err := (&PasswordFrom{File: file("pw", "from-file-Passw0rd\n")}).Resolve(ctx, getenv); err != nil || got != "from-file-Passw0rd" {
		t.Errorf("file: %q, %v", got, err)
	}
	if _, err := (&PasswordFrom{Env: "UNSET"}).Resolve(ctx, getenv); err == nil || !strings.Contains(err.Error(), "UNSET is unset or empty") {
		t.Errorf("unset env: %v", err)
	}
	if _, err := (&PasswordFrom{File: filepath.Join(dir, "missing")}).Resolve(ctx, getenv); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := (&PasswordFrom{File: file("empty", "\n")}).Resolve(ctx, getenv); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
	// A password the API would refuse (InvalidParameterValue.InvalidPassword)
	// is refused before anything is bought, without showing it.
	for _, pw := range []string{"Sh0rt!", "alllowercaseletters", "/Leading-slash1", "has Space-A1", strings.Repeat("Ab1-", 8)} {
		env["BAD"] = pw
		_, err := (&PasswordFrom{Env: "BAD"}).Resolve(ctx, getenv)
		if err == nil || !strings.Contains(err.Error(), "environment variable BAD") || strings.Contains(err.Error(), pw) {
			t.Errorf("password %q: %v", pw, err)
		}
		_, err = (&PasswordFrom{File: file("bad", pw)}).Resolve(ctx, getenv)
		if err == nil || !strings.Contains(err.Error(), "the password in file") || strings.Contains(err.Error(), pw) {
			t.Errorf("password %q in a file: %v", pw, err)
		}
	}
}

// A password file is read only as far as a password can go: one over
// MaxPasswordFileBytes is refused, and what it holds is not shown.
func TestReadPasswordFileIsBounded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	big := strings.Repeat("Secret-Passw0rd!", 1<<16) // 1 MiB
	if err := os.WriteFile(p, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPasswordFile(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "holds more than 256 bytes") || strings.Contains(err.Error(), "Secret") {
		t.Errorf("a 1 MiB file: %v", err)
	}
	if err := os.WriteFile(p, []byte(strings.Repeat("x", MaxPasswordFileBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadPasswordFile(context.Background(), p); err != nil || len(b) != MaxPasswordFileBytes {
		t.Errorf("a file of exactly %d bytes: %d bytes, %v", MaxPasswordFileBytes, len(b), err)
	}
	// A directory is not a password file.
	if _, err := ReadPasswordFile(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "is a directory, not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	// Nothing is read once the run is over.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadPasswordFile(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("after the run's context ended: %v", err)
	}
}

// validate refuses a password file among devices or kernel files on any
// machine: /dev/zero would never end and /dev/stdin would wait for input.
func TestPasswordFileUnderDevIsRefused(t *testing.T) {
	for _, path := range []string{"/dev/zero", "/dev/stdin", "/proc/self/fd/0", "/sys/kernel/notes", "/dev/../dev/urandom"} {
		doc := strings.Replace(fullYAML, "login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}", "login: {passwordFrom: {file: \""+path+"\"}}", 1)
		if doc == fullYAML {
			t.Fatal("fixture: fullYAML has no key-pair login to replace")
		}
		_, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(doc)}}, Options{})
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "spec.login.passwordFrom.file" ||
			!strings.Contains(errs[0].Message, "where devices and kernel files are: it is never read as a password file") {
			t.Errorf("%s: %v", path, err)
		}
	}
	doc := strings.Replace(fullYAML, "login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}", "login: {passwordFrom: {file: /run/credentials/lightkeeper.service/dev-password}}", 1)
	if _, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(doc)}}, Options{}); err != nil {
		t.Errorf("a regular path that names dev: %v", err)
	}
}
