package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Defaults of the ha keys.
const (
	DefaultLeaseTTL        = 10 * time.Second
	DefaultEtcdPrefix      = "/lightkeeper/"
	DefaultEtcdDialTimeout = 5 * time.Second
	// MinLeaseTTL is etcd's smallest lease TTL with its default tick
	// settings (it raises smaller ones).
	MinLeaseTTL = 2 * time.Second
)

// HA is the `ha` key: run on several hosts with one leader elected on etcd.
type HA struct {
	// ID names this daemon in the election; default the host name.
	ID string `yaml:"id"`
	// AdvertiseURL is this daemon's HTTP base URL, shown on the others'
	// status.
	AdvertiseURL string `yaml:"advertiseURL"`
	// LeaseTTL is the leader's lease; default DefaultLeaseTTL.
	LeaseTTL Duration `yaml:"leaseTTL"`
	// Etcd is the cluster that holds the election.
	Etcd Etcd `yaml:"etcd"`
}

// Etcd is how to reach the etcd cluster.
type Etcd struct {
	// Endpoints are the members' client URLs.
	Endpoints []string `yaml:"endpoints"`
	// Prefix of the election's keys; default DefaultEtcdPrefix.
	Prefix string `yaml:"prefix"`
	// DialTimeout bounds the connection and each call; default
	// DefaultEtcdDialTimeout.
	DialTimeout Duration `yaml:"dialTimeout"`
	// TLS secures the connection; nil means plain http:// endpoints (or
	// the system's roots for https:// ones).
	TLS *EtcdTLS `yaml:"tls"`
	// Username and PasswordFile authenticate to an etcd with
	// authentication enabled (both or neither; the file is read at
	// start-up, like the other secret files).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"passwordFile"`
}

// Password reads PasswordFile: "" when no user is set.
func (e Etcd) Password() (string, error) {
	if e.Username == "" {
		return "", nil
	}
	b, err := readSecretFile(e.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("ha.etcd.passwordFile: %w", err)
	}
	return string(b), nil
}

// EtcdTLS holds the paths of the PEM files for TLS to etcd (expanded like
// RepositoryAuth).
type EtcdTLS struct {
	CAFile     string `yaml:"caFile"`
	CertFile   string `yaml:"certFile"`
	KeyFile    string `yaml:"keyFile"`
	ServerName string `yaml:"serverName"`
}

// haFiles are the file keys of ha, for the variable expansion of check.
func (c *Config) haFiles() []configFile {
	if c.HA == nil {
		return nil
	}
	files := []configFile{{&c.HA.Etcd.PasswordFile, []string{"ha", "etcd", "passwordFile"}}}
	if t := c.HA.Etcd.TLS; t != nil {
		files = append(files,
			configFile{&t.CAFile, []string{"ha", "etcd", "tls", "caFile"}},
			configFile{&t.CertFile, []string{"ha", "etcd", "tls", "certFile"}},
			configFile{&t.KeyFile, []string{"ha", "etcd", "tls", "keyFile"}})
	}
	return files
}

// checkHA fills the ha defaults and reports what the schema cannot say:
// the TTL's range, endpoints that do not match the TLS settings, and TLS
// files that do not load.
func (p *configParser) checkHA(c *Config) {
	h := c.HA
	if h == nil {
		return
	}
	if h.ID == "" {
		name, err := os.Hostname()
		if err != nil || name == "" {
			p.at("the host name is unknown: set ha.id", "ha")
		}
		h.ID = name
	}
	switch ttl := time.Duration(h.LeaseTTL); {
	case ttl == 0:
		h.LeaseTTL = Duration(DefaultLeaseTTL)
	case ttl < MinLeaseTTL:
		p.at(fmt.Sprintf("must be at least %v (etcd's smallest lease)", MinLeaseTTL), "ha", "leaseTTL")
	case ttl%time.Second != 0:
		p.at("must be whole seconds (an etcd lease counts seconds)", "ha", "leaseTTL")
	}
	if h.Etcd.Prefix == "" {
		h.Etcd.Prefix = DefaultEtcdPrefix
	}
	if !strings.HasSuffix(h.Etcd.Prefix, "/") {
		h.Etcd.Prefix += "/"
	}
	switch d := time.Duration(h.Etcd.DialTimeout); {
	case d == 0:
		h.Etcd.DialTimeout = Duration(DefaultEtcdDialTimeout)
	case d < 100*time.Millisecond:
		p.at("must be at least 100ms", "ha", "etcd", "dialTimeout")
	}
	for i, ep := range h.Etcd.Endpoints {
		if h.Etcd.TLS != nil && strings.HasPrefix(ep, "http://") {
			p.at("ha.etcd.tls is set but this endpoint is plain http: write https://", "ha", "etcd", "endpoints", fmt.Sprint(i))
		}
	}
	if h.Etcd.TLS != nil {
		if _, err := h.Etcd.TLSConfig(); err != nil {
			p.at(err.Error(), "ha", "etcd", "tls")
		}
	}
}

// TLSConfig returns the TLS configuration of the connection to etcd: nil
// for plain http:// endpoints, the system's roots for https:// ones
// without tls, else the CA, client certificate and server name of tls.
func (e Etcd) TLSConfig() (*tls.Config, error) {
	t := e.TLS
	if t == nil {
		for _, ep := range e.Endpoints {
			if strings.HasPrefix(ep, "https://") {
				return &tls.Config{MinVersion: tls.VersionTLS12}, nil
			}
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			var perr *os.PathError
			if errors.As(err, &perr) {
				return nil, fmt.Errorf("certFile/keyFile: %w", err)
			}
			return nil, fmt.Errorf("certFile %s and keyFile %s: %w (both PEM; the key must match the certificate)", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
