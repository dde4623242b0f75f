// Package etcdtest runs a real, single-member etcd server inside a test
// process, with go.etcd.io/etcd/server/v3/embed: the same server code as the
// etcd binary, on free loopback ports, with its data in the test's temporary
// directory. Tests stop it (clients then get "connection refused") and
// restart it on the same data and the same client port (clients reconnect
// on their own), and read its traffic counters to measure what a client
// costs the server.
//
// Clients reach the member through a TCP relay on the client port (see
// Endpoints): Stop cuts every connection at once, as a crash or a
// partition would, instead of waiting for etcd's graceful shutdown, and the
// relay counts the bytes on the wire.
//
// The server keeps etcd's default ticks (heartbeat 100 ms, election
// 1000 ms), so the shortest lease it grants is 2 s.
package etcdtest

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startTimeout bounds how long Start and Restart wait for the member to be
// ready to serve.
const startTimeout = time.Minute

// Options configure Start. The zero value is a plain-text server.
type Options struct {
	// TLS makes the server take only TLS clients that present a
	// certificate of its own test CA (see Server.TLS for the files).
	TLS bool
}

// Server is a running (or stopped) embedded etcd member.
type Server struct {
	t      testing.TB
	dir    string
	tls    *TLSFiles
	scheme string
	proxy  proxy // the client port given out
	mu     sync.Mutex
	etcd   *embed.Etcd // nil while stopped
}

// Start runs a plain-text etcd member on free loopback ports, with its data
// in t.TempDir(), and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	root := t.TempDir()
	s := &Server{t: t, dir: filepath.Join(root, "data"), scheme: "http"}
	if o.TLS {
		files, err := WriteTLSFiles(filepath.Join(root, "tls"))
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
		s.tls, s.scheme = files, "https"
	}
	if err := s.start(); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Endpoints are the client URLs to give clientv3.Config.Endpoints: one,
// http:// or https:// on 127.0.0.1. They stay the same across Restart.
func (s *Server) Endpoints() []string { return []string{s.scheme + "://" + s.proxy.addr} }

// TLS returns the certificate files of a server started with
// Options.TLS, nil otherwise.
func (s *Server) TLS() *TLSFiles { return s.tls }

// Stop cuts every client connection, closes the client port (a client's
// next attempt is refused) and shuts the member down. It does nothing on a
// stopped server.
func (s *Server) Stop() {
	s.mu.Lock()
	e := s.etcd
	s.etcd = nil
	s.mu.Unlock()
	if e == nil {
		return
	}
	s.proxy.close()
	e.Close()
	<-e.Server.StopNotify()
}

// Restart starts a stopped member again on the same data directory and the
// same client port: keys and leases that had not expired are still there (a lease
// is renewed for its full TTL when the member comes back, as etcd does on a
// leader change). Restart of a running member stops it first.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("etcdtest: restart: %v", err)
	}
}

// Running reports whether the member is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etcd != nil
}

func (s *Server) start() error {
	var err error
	for range 5 { // a port FreeAddr picked may be taken before etcd binds it
		if err = s.startMember(); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return err
}

// startMember starts etcd on fresh loopback ports and points the client
// port at it.
func (s *Server) startMember() error {
	client := url.URL{Scheme: s.scheme, Host: FreeAddr(s.t)}
	peer := url.URL{Scheme: "http", Host: FreeAddr(s.t)}
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true // a test's data need not survive a power cut
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	if s.tls != nil {
		cfg.ClientTLSInfo.CertFile = s.tls.ServerCert
		cfg.ClientTLSInfo.KeyFile = s.tls.ServerKey
		cfg.ClientTLSInfo.TrustedCAFile = s.tls.CA
		cfg.ClientTLSInfo.ClientCertAuth = true
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd in %s: %w", s.dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcd in %s failed while starting: %w", s.dir, err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("etcd in %s was not ready after %v", s.dir, startTimeout)
	}
	if err := s.proxy.open(client.Host); err != nil {
		e.Close()
		return fmt.Errorf("etcd in %s: %w", s.dir, err)
	}
	s.mu.Lock()
	s.etcd = e
	s.mu.Unlock()
	return nil
}

// Client returns a client of the server (with the test CA and client
// certificate under Options.TLS), closed when the test ends. It keeps
// working across Stop and Restart: calls while the member is down fail
// or wait for it, as their context says.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if s.tls != nil {
		info := transport.TLSInfo{CertFile: s.tls.ClientCert, KeyFile: s.tls.ClientKey, TrustedCAFile: s.tls.CA}
		tc, err := info.ClientConfig()
		if err != nil {
			t.Fatalf("etcdtest: client TLS: %v", err)
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
