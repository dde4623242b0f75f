package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files of a TLS server, named as a systemd unit
// would pass them with LoadCredential= (etcd-ca.pem, etcd-client.pem,
// etcd-client-key.pem) in one directory, beside the server's own pair.
type TLSFiles struct {
	// Dir holds every file below.
	Dir string
	// CA is the certificate of the test CA that signed both the server's
	// and the client's certificate.
	CA string
	// ClientCert and ClientKey are a client certificate the server
	// accepts, and its key.
	ClientCert, ClientKey string
	// ServerCert and ServerKey are the server's pair, for 127.0.0.1 and
	// localhost.
	ServerCert, ServerKey string
}

// writeTLSFiles creates a CA, a server pair and a client pair in dir.
func writeTLSFiles(dir string) (*TLSFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls directory: %w", err)
	}
	f := &TLSFiles{Dir: dir, CA: filepath.Join(dir, "etcd-ca.pem"),
		ClientCert: filepath.Join(dir, "etcd-client.pem"), ClientKey: filepath.Join(dir, "etcd-client-key.pem"),
		ServerCert: filepath.Join(dir, "etcd-server.pem"), ServerKey: filepath.Join(dir, "etcd-server-key.pem")}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcdtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse the CA certificate: %w", err)
	}
	for i, leaf := range []struct {
		cert, key string
		tmpl      x509.Certificate
	}{
		{f.ServerCert, f.ServerKey, x509.Certificate{Subject: pkix.Name{CommonName: "etcdtest server"},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}},
		{f.ClientCert, f.ClientKey, x509.Certificate{Subject: pkix.Name{CommonName: "lightkeeper"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}},
	} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		tmpl := leaf.tmpl
		tmpl.SerialNumber = big.NewInt(int64(i + 2))
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", leaf.cert, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("marshal key: %w", err)
		}
		if err := writePEM(leaf.cert, "CERTIFICATE", der); err != nil {
			return nil, err
		}
		if err := writePEM(leaf.key, "PRIVATE KEY", keyDER); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func writePEM(file, typ string, der []byte) error {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
