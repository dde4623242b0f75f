package lighthouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFindCredentialOrder(t *testing.T) {
	home := t.TempDir()
	sysd := t.TempDir()
	sdkFile := filepath.Join(home, ".tencentcloud", "credentials")
	tccli := filepath.Join(home, ".tccli", "default.credential")
	tccliAlt := filepath.Join(home, ".tencentcloud", "default.credential")
	writeFile(t, filepath.Join(sysd, SystemdSecretIDName), "AKIDsystemd\n")
	writeFile(t, filepath.Join(sysd, SystemdSecretKeyName), "key-systemd\n")
	writeFile(t, sdkFile, "# comment\n[other]\nsecret_id = AKIDother\nsecret_key = nope\n\n[default]\nsecret_id = AKIDsdkfile\nsecret_key = key-sdkfile\n")
	writeFile(t, tccli, `{"secretId":"AKIDtccli","secretKey":"key-tccli","token":"tok"}`)
	writeFile(t, tccliAlt, `{"secretId":"AKIDtccliAlt","secretKey":"key-tccli-alt"}`)
	custom := filepath.Join(t.TempDir(), "creds.ini")
	writeFile(t, custom, "[default]\nsecret_id=AKIDcustom\nsecret_key=key-custom\ntoken=t2\n")

	full := map[string]string{
		EnvSecretID: "AKIDenv", EnvSecretKey: "key-env", EnvSessionToken: "tok-env",
		EnvCredentialsDirectory: sysd, EnvCredentialsFile: custom,
	}
	steps := []struct {
		drop      func(env map[string]string)
		id, token string
	}{
		{func(map[string]string) {}, "AKIDenv", "tok-env"},
		{func(e map[string]string) { delete(e, EnvSecretID); delete(e, EnvSecretKey) }, "AKIDsystemd", ""},
		{func(e map[string]string) { delete(e, EnvCredentialsDirectory) }, "AKIDcustom", "t2"},
		{func(e map[string]string) { delete(e, EnvCredentialsFile) }, "AKIDsdkfile", ""},
		{func(map[string]string) { os.Remove(sdkFile) }, "AKIDtccli", "tok"},
		{func(map[string]string) { os.Remove(tccli) }, "AKIDtccliAlt", ""},
	}
	for _, s := range steps {
		s.drop(full)
		c, err := FindCredential(envOf(full), home)
		if err != nil {
			t.Fatalf("want %s: %v", s.id, err)
		}
		if c.SecretID() != s.id || c.Token() != s.token || c.SecretKey() == "" {
			t.Fatalf("got %v token %q, want %s token %q", c, c.Token(), s.id, s.token)
		}
	}
	os.Remove(tccliAlt)
	_, err := FindCredential(envOf(full), home)
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
	for _, place := range []string{EnvSecretID, "$" + EnvCredentialsDirectory, sdkFile, tccli, tccliAlt} {
		if !strings.Contains(err.Error(), place) {
			t.Errorf("error does not name %q:\n%v", place, err)
		}
	}
}

func TestFindCredentialBrokenPlaces(t *testing.T) {
	home := t.TempDir()
	dir := t.TempDir()
	for name, c := range map[string]struct {
		env   map[string]string
		setup func()
		want  string
	}{
		"only id in env": {env: map[string]string{EnvSecretID: "AKIDx"}, want: "only one of"},
		"systemd key without id": {
			env:   map[string]string{EnvCredentialsDirectory: dir},
			setup: func() { writeFile(t, filepath.Join(dir, SystemdSecretKeyName), "k") },
			want:  SystemdSecretIDName,
		},
		"explicit file missing": {env: map[string]string{EnvCredentialsFile: filepath.Join(home, "nope.ini")}, want: "does not exist"},
		"ini without default": {
			env:   map[string]string{EnvCredentialsFile: filepath.Join(home, "bad.ini")},
			setup: func() { writeFile(t, filepath.Join(home, "bad.ini"), "[prod]\nsecret_id=a\nsecret_key=VERYSECRET\n") },
			want:  "[default] needs secret_id and secret_key",
		},
		"tccli not json": {
			env:   map[string]string{},
			setup: func() { writeFile(t, filepath.Join(home, ".tccli", "default.credential"), "secretKey=VERYSECRET") },
			want:  "not a tccli profile",
		},
	} {
		t.Run(name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			_, err := FindCredential(envOf(c.env), home)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "VERYSECRET") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestCredentialNeverPrints(t *testing.T) {
	const key, token = "sEcReT-KeY-123456", "SeSsIoN-ToKeN-987"
	c := NewCredential("AKIDabcdefgh1234", key, token, "test")
	type holder struct {
		Cred Credential
		Ptr  *Credential
	}
	h := holder{c, &c}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(f, c), fmt.Sprintf(f, h), fmt.Sprintf(f, &c))
	}
	outs = append(outs, c.String(), c.GoString(), fmt.Sprint(c), fmt.Sprintln(&c))
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cred", c, "ptr", &c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cred", c)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, key) || strings.Contains(o, token) {
			t.Fatalf("secret printed: %s", o)
		}
	}
	if !strings.Contains(c.String(), "...1234") || !strings.Contains(c.String(), "REDACTED") {
		t.Fatalf("String() = %s", c)
	}
}

// TENCENTCLOUD_SECURITY_TOKEN (Terraform's name) is read when
// TENCENTCLOUD_SESSION_TOKEN is not set; both set and different is an error
// that shows neither token.
func TestFindCredentialSecurityToken(t *testing.T) {
	base := map[string]string{EnvSecretID: "AKIDtmp", EnvSecretKey: "key-tmp"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with(map[string]string{EnvSecurityToken: "sec-tok"}), "sec-tok"},
		{with(map[string]string{EnvSessionToken: "sess-tok"}), "sess-tok"},
		{with(map[string]string{EnvSessionToken: "same", EnvSecurityToken: "same"}), "same"},
		{base, ""},
	} {
		c, err := FindCredential(envOf(tc.env), "")
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.Token() != tc.want {
			t.Errorf("%v: token %q, want %q", tc.env, c.Token(), tc.want)
		}
	}
	_, err := FindCredential(envOf(with(map[string]string{EnvSessionToken: "tok-one", EnvSecurityToken: "tok-two"})), "")
	if err == nil || !strings.Contains(err.Error(), EnvSecurityToken) {
		t.Fatalf("two different tokens: err %v, want an error naming both variables", err)
	}
	if strings.Contains(err.Error(), "tok-one") || strings.Contains(err.Error(), "tok-two") {
		t.Fatalf("the error shows a token: %v", err)
	}
}
