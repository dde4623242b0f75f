package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lk-a"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestConfigHA(t *testing.T) {
	creds := t.TempDir()
	cert, _ := writeCert(t, creds)
	if err := os.WriteFile(filepath.Join(creds, "ca.pem"), must(os.ReadFile(cert)), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"CREDENTIALS_DIRECTORY": creds})
	c, err := ParseConfig("c.yaml", []byte(`repository: {url: /srv/git/fleets}
stateDirectory: /tmp/s
ha:
  id: lk-a
  advertiseURL: http://10.0.0.1:9180
  etcd:
    endpoints: [https://etcd-1:2379, https://etcd-2:2379]
    prefix: /lightkeeper/prod
    tls:
      caFile: ${CREDENTIALS_DIRECTORY}/ca.pem
      certFile: ${CREDENTIALS_DIRECTORY}/client.pem
      keyFile: ${CREDENTIALS_DIRECTORY}/client-key.pem
      serverName: etcd.internal
`), getenv)
	if err != nil {
		t.Fatal(err)
	}
	h := c.HA
	if h == nil || h.ID != "lk-a" || h.AdvertiseURL != "http://10.0.0.1:9180" || time.Duration(h.LeaseTTL) != DefaultLeaseTTL ||
		h.Etcd.Prefix != "/lightkeeper/prod/" || time.Duration(h.Etcd.DialTimeout) != DefaultEtcdDialTimeout ||
		h.Etcd.TLS.KeyFile != filepath.Join(creds, "client-key.pem") {
		t.Fatalf("ha = %+v, etcd %+v", h, h.Etcd)
	}
	tc, err := h.Etcd.TLSConfig()
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "etcd.internal" {
		t.Fatalf("TLS config = %+v, %v", tc, err)
	}

	// Defaults: the host name, plain http without TLS.
	c, err = ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\nstateDirectory: /tmp/s\nha: {etcd: {endpoints: [http://127.0.0.1:2379]}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if c.HA.ID != host || c.HA.Etcd.Prefix != DefaultEtcdPrefix {
		t.Fatalf("ha defaults = %+v", c.HA)
	}
	if tc, err := c.HA.Etcd.TLSConfig(); tc != nil || err != nil {
		t.Fatalf("plain http endpoints got TLS %+v, %v", tc, err)
	}

	// A key that does not match its certificate is a config error.
	_, otherKey := writeCert(t, t.TempDir())
	_, err = ParseConfig("c.yaml", []byte(`repository: {url: /srv/x}
stateDirectory: /tmp/s
ha: {etcd: {endpoints: [https://e:2379], tls: {certFile: `+cert+`, keyFile: `+otherKey+`}}}
`), nil)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:3:") || !strings.Contains(err.Error(), "ha.etcd.tls: certFile") || !strings.Contains(err.Error(), "the key must match the certificate") {
		t.Fatalf("mismatched key: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConfigHAAuth: ha.etcd.passwordFile is read like the other secret
// files (trimmed; --check refuses it missing or empty, warns when others
// may read it), and its content shows in no message.
func TestConfigHAAuth(t *testing.T) {
	const ha = "ha: {etcd: {endpoints: [http://127.0.0.1:2379], username: lightkeeper, passwordFile: pw}}\n"
	dir := t.TempDir()
	cfg := notifyConfig(t, dir, ha, map[string]string{"pw": "etcd-s3cret\n"})
	deps := testDeps
	var got string
	deps.Elect = func(h *HA, _ func(string)) (Leadership, error) {
		pw, err := h.Etcd.Password()
		got = pw
		return idleLeadership{}, err
	}
	if warnings, err := CheckConfig(cfg, deps); err != nil || len(warnings) != 0 || got != "etcd-s3cret" {
		t.Fatalf("CheckConfig: %v, warnings %v, password %q", err, warnings, got)
	}
	if err := os.Chmod(filepath.Join(dir, "pw"), 0o644); err != nil {
		t.Fatal(err)
	}
	if warnings, err := CheckConfig(cfg, deps); err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "ha.etcd.passwordFile: warning: ") {
		t.Errorf("a password file others may read: %v, warnings %v", err, warnings)
	}
	for name, content := range map[string]string{"missing": "", "empty": " \n"} {
		dir := t.TempDir()
		files := map[string]string{}
		if name == "empty" {
			files["pw"] = content
		}
		cfg := notifyConfig(t, dir, ha, files)
		want := map[string]string{"missing": "ha.etcd.passwordFile: DIR/pw does not exist", "empty": "ha.etcd.passwordFile: DIR/pw is empty"}[name]
		if _, err := CheckConfig(cfg, deps); err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir, "DIR"), want) {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
	// Without a user, nothing is read.
	cfg = notifyConfig(t, t.TempDir(), "ha: {etcd: {endpoints: [http://127.0.0.1:2379]}}\n", nil)
	if pw, err := cfg.HA.Etcd.Password(); pw != "" || err != nil {
		t.Errorf("Password() without a user = %q, %v", pw, err)
	}
}

// idleLeadership is a Leadership that never leads, for the configuration's
// checks.
type idleLeadership struct{}

func (idleLeadership) Run(ctx context.Context, _ func(bool), _ func()) { <-ctx.Done() }
func (idleLeadership) Check(context.Context) error                     { return nil }
func (idleLeadership) Leader() (LeaderInfo, bool)                      { return LeaderInfo{}, false }
func (idleLeadership) Publish(context.Context, string) error           { return nil }
func (idleLeadership) Forward(context.Context) error                   { return nil }
func (idleLeadership) ID() string                                      { return "lk-a" }
