package gitsync

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newKey(t *testing.T) (gossh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// sshServer serves git-upload-pack of bare over SSH on loopback, to the
// holder of client's key only. It returns the address.
func sshServer(t *testing.T, bare string, host gossh.Signer, client gossh.PublicKey) string {
	t.Helper()
	srv := &ssh.Server{
		Handler: func(s ssh.Session) {
			args := s.Command()
			if len(args) != 2 || args[0] != "git-upload-pack" {
				io.WriteString(s.Stderr(), "only git-upload-pack\n")
				s.Exit(1)
				return
			}
			cmd := exec.Command("git-upload-pack", bare)
			cmd.Env = gitEnv(t.TempDir())
			in, err := cmd.StdinPipe()
			if err != nil {
				s.Exit(1)
				return
			}
			cmd.Stdout, cmd.Stderr = s, s.Stderr()
			if err := cmd.Start(); err != nil {
				s.Exit(1)
				return
			}
			go func() { io.Copy(in, s); in.Close() }()
			code := 0
			if err := cmd.Wait(); err != nil {
				code = 1
			}
			s.Exit(code)
		},
		PublicKeyHandler: func(ctx ssh.Context, key ssh.PublicKey) bool {
			return ssh.KeysEqual(key, client)
		},
	}
	srv.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSH(t *testing.T) {
	r := newRepos(t)
	c := r.commit("one", map[string]string{"a.yaml": "1"})
	r.push("main")
	hostKey, _ := newKey(t)
	otherHostKey, _ := newKey(t)
	clientKey, clientPEM := newKey(t)
	_, strangerPEM := newKey(t)
	addr := sshServer(t, r.bare, hostKey, clientKey.PublicKey())
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "id_ed25519", clientPEM)
	strangerFile := writeFile(t, dir, "stranger", strangerPEM)
	hostLine := func(k gossh.Signer, host string) []byte {
		return []byte(knownhosts.Line([]string{knownhosts.Normalize(host)}, k.PublicKey()) + "\n")
	}
	good := writeFile(t, dir, "known_hosts", hostLine(hostKey, addr))
	wrong := writeFile(t, dir, "known_hosts.wrong", hostLine(otherHostKey, addr))
	unknown := writeFile(t, dir, "known_hosts.other", hostLine(hostKey, "example.com:22"))
	url := "ssh://git@" + addr + "/remote.git"

	sync := func(a Auth) (Revision, error) {
		rem, err := NewRemote(Options{URL: url, CacheDir: t.TempDir(), Auth: a})
		if err != nil {
			t.Fatal(err)
		}
		rev, _, err := rem.Sync(ctxT(t))
		return rev, err
	}
	t.Run("ok", func(t *testing.T) {
		rev, err := sync(Auth{SSHKeyFile: keyFile, KnownHostsFile: good})
		if err != nil || rev.Commit != c {
			t.Fatalf("sync: %v %+v", err, rev)
		}
	})
	for _, tc := range []struct {
		name string
		auth Auth
		want error
		text string
	}{
		{"host key mismatch", Auth{SSHKeyFile: keyFile, KnownHostsFile: wrong}, ErrHostKeyMismatch, wrong},
		{"host unknown", Auth{SSHKeyFile: keyFile, KnownHostsFile: unknown}, ErrHostKeyUnknown, "add the host key to known_hosts " + unknown},
		{"client key refused", Auth{SSHKeyFile: strangerFile, KnownHostsFile: good}, ErrAuth, strangerFile},
		{"no known_hosts", Auth{SSHKeyFile: keyFile}, ErrCredentials, "knownHostsFile"},
		{"missing known_hosts file", Auth{SSHKeyFile: keyFile, KnownHostsFile: filepath.Join(dir, "nope")}, ErrCredentials, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sync(tc.auth)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			t.Log(err)
		})
	}
}

// httpServer serves bare's parent through git http-backend, asking for
// basic auth with password token when token is not empty.
func httpServer(t *testing.T, bare, token string) string {
	return servedHTTP(t, bare, token, nil)
}

// servedHTTP is httpServer calling seen (when not nil) with each request
// before it is served.
func servedHTTP(t *testing.T, bare, token string, seen func(*http.Request)) string {
	t.Helper()
	cmd := exec.Command("git", "--exec-path")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git http-backend missing: %v", err)
	}
	h := &cgi.Handler{Path: backend, Root: "/git", Env: []string{
		"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir(),
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		if token != "" {
			if _, pw, ok := r.BasicAuth(); !ok || pw != token {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/git/" + filepath.Base(bare)
}

func TestHTTPToken(t *testing.T) {
	const token = "s3cret-t0ken-value"
	r := newRepos(t)
	c := r.commit("one", map[string]string{"a.yaml": "1"})
	r.push("main")
	url := httpServer(t, r.bare, token)
	dir := t.TempDir()
	good := writeFile(t, dir, "token", []byte(token+"\n"))
	bad := writeFile(t, dir, "bad", []byte("wrong-token-value"))

	log, lb := newLogger(t)
	sync := func(url string, a Auth) (Revision, error) {
		rem, err := NewRemote(Options{URL: url, CacheDir: t.TempDir(), Auth: a, Logger: log})
		if err != nil {
			return Revision{}, err
		}
		rev, _, err := rem.Sync(ctxT(t))
		return rev, err
	}
	rev, err := sync(url, Auth{TokenFile: good})
	if err != nil || rev.Commit != c {
		t.Fatalf("sync: %v %+v", err, rev)
	}
	for name, a := range map[string]Auth{"wrong token": {TokenFile: bad}, "no token": {}} {
		_, err := sync(url, a)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), "wrong-token-value") {
			t.Fatalf("%s: the token is in the error: %v", name, err)
		}
		t.Log(err)
	}
	// Credentials in the URL are refused, and never shown.
	withUser := strings.Replace(url, "http://", "http://"+token+"@", 1)
	if _, err := sync(withUser, Auth{}); !errors.Is(err, ErrCredentials) || strings.Contains(err.Error(), token) {
		t.Fatalf("token in URL: %v", err)
	}
	withPw := strings.Replace(url, "http://", "http://user:"+token+"@", 1)
	if _, err := sync(withPw, Auth{}); !errors.Is(err, ErrCredentials) || strings.Contains(err.Error(), token) {
		t.Fatalf("password in URL: %v", err)
	}
	// A token never goes over plain http to anything but loopback.
	if _, err := sync("http://git.example.com/x.git", Auth{TokenFile: good}); !errors.Is(err, ErrCredentials) {
		t.Fatalf("token over plain http: %v", err)
	}
	if logs := lb.String(); !strings.Contains(logs, "new revision") || strings.Contains(logs, token) || strings.Contains(logs, "wrong-token-value") {
		t.Fatalf("logs:\n%s", logs)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://tok@github.com/a/b.git":  "https://REDACTED@github.com/a/b.git",
		"https://u:pw@github.com/a/b.git": "https://REDACTED@github.com/a/b.git",
		"https://github.com/a/b.git":      "https://github.com/a/b.git",
		"ssh://git@github.com/a/b.git":    "ssh://git@github.com/a/b.git",
		"ssh://git:pw@github.com/a/b.git": "ssh://REDACTED@github.com/a/b.git",
		"git@github.com:a/b.git":          "git@github.com:a/b.git",
		"https://to%zzk@github.com/x":     "https://REDACTED@github.com/x",
		"/srv/git/fleets":                 "/srv/git/fleets",
		"file:///srv/git/fleets":          "file:///srv/git/fleets",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
