package gitsync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// session is the authentication of one Sync: the go-git method, the
// secrets to scrub from errors, and what the host-key check saw.
type session struct {
	method  transport.AuthMethod
	secrets []string
	known   string // known_hosts file, for hints
	host    string // host:port checked

	mu     sync.Mutex
	keyErr error // the host-key callback's refusal, if any
}

func (s *session) hostKeyError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyErr
}

// newSession reads the credentials that rawURL needs. An error wraps
// ErrCredentials.
func (a Auth) newSession(rawURL string) (*session, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: parse URL: %w", ErrCredentials, err)
	}
	if ep.Password != "" {
		return nil, fmt.Errorf("%w: the URL holds a password: put it in a file and set repository.auth.tokenFile", ErrCredentials)
	}
	s := &session{}
	switch ep.Protocol {
	case "ssh":
		return s, a.ssh(s, ep)
	case "http", "https":
		if a.SSHKeyFile != "" {
			return nil, fmt.Errorf("%w: sshKeyFile is set but the URL is %s: use an ssh:// URL or drop sshKeyFile", ErrCredentials, ep.Protocol)
		}
		if a.TokenFile == "" {
			if ep.User != "" {
				return nil, fmt.Errorf("%w: the URL holds a user name (maybe a token): put the token in a file and set repository.auth.tokenFile", ErrCredentials)
			}
			return s, nil
		}
		if ep.Protocol == "http" && !isLoopback(ep.Host) {
			return nil, fmt.Errorf("%w: refusing to send a token over plain http to %s: use https", ErrCredentials, ep.Host)
		}
		tok, err := readSecret(a.TokenFile)
		if err != nil {
			return nil, err
		}
		user := a.Username
		if user == "" {
			user = "git"
		}
		s.method = &githttp.BasicAuth{Username: user, Password: tok}
		s.secrets = append(s.secrets, tok)
		return s, nil
	case "file":
		return s, nil
	}
	return nil, fmt.Errorf("%w: unsupported URL scheme %q", ErrCredentials, ep.Protocol)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readSecret reads a credential file; the content never appears in errors.
func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: read token file: %w", ErrCredentials, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("%w: token file %s must hold one non-empty line", ErrCredentials, file)
	}
	return tok, nil
}

func (a Auth) ssh(s *session, ep *transport.Endpoint) error {
	if a.TokenFile != "" {
		return fmt.Errorf("%w: tokenFile is set but the URL is ssh: use an https:// URL or drop tokenFile", ErrCredentials)
	}
	if a.KnownHostsFile == "" {
		return fmt.Errorf("%w: ssh needs repository.auth.knownHostsFile: lightkeeper never trusts a host key on first use", ErrCredentials)
	}
	if a.SSHKeyFile == "" {
		return fmt.Errorf("%w: ssh needs repository.auth.sshKeyFile", ErrCredentials)
	}
	db, err := knownhosts.NewDB(a.KnownHostsFile)
	if err != nil {
		return fmt.Errorf("%w: read known_hosts %s: %w", ErrCredentials, a.KnownHostsFile, err)
	}
	user := ep.User
	if user == "" {
		user = a.Username
	}
	if user == "" {
		user = "git"
	}
	pk, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, "")
	if err != nil {
		return fmt.Errorf("%w: read ssh key %s: %w", ErrCredentials, a.SSHKeyFile, err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	s.known = a.KnownHostsFile
	s.host = net.JoinHostPort(ep.Host, strconv.Itoa(port))
	check := db.HostKeyCallback()
	pk.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err != nil {
			s.mu.Lock()
			s.keyErr = err
			s.mu.Unlock()
		}
		return err
	}
	// Offer only the algorithms known_hosts has keys of, so a server with
	// several host keys shows the one we can check.
	pk.HostKeyAlgorithms = db.HostKeyAlgorithms(s.host)
	s.method = pk
	return nil
}

// classify turns a go-git error from talking to the remote into one that
// wraps a sentinel, with a hint. timeout is the per-Sync bound, for the
// message.
func (s *session) classify(ctx context.Context, op, rawURL string, err error, a Auth) *Error {
	e := &Error{Op: op, URL: RedactURL(rawURL)}
	clean := scrubErr(err, rawURL, s.secrets...)
	if kerr := s.hostKeyError(); kerr != nil {
		switch {
		case knownhosts.IsHostKeyChanged(kerr):
			e.Err = fmt.Errorf("%w: %s offered a key that %s does not hold for it", ErrHostKeyMismatch, s.host, s.known)
			e.Hint = fmt.Sprintf("if the server's key was rotated on purpose, check its fingerprint and replace its line in known_hosts %s", s.known)
		case knownhosts.IsHostUnknown(kerr):
			e.Err = fmt.Errorf("%w: %s is not in %s", ErrHostKeyUnknown, s.host, s.known)
			host, port, _ := net.SplitHostPort(s.host)
			e.Hint = fmt.Sprintf("add the host key to known_hosts %s: ssh-keyscan -p %s %s >> %s, after checking the fingerprint", s.known, port, host, s.known)
		default:
			e.Err = fmt.Errorf("%w: %w", ErrHostKeyMismatch, kerr)
			e.Hint = fmt.Sprintf("check known_hosts %s", s.known)
		}
		return e
	}
	msg := clean.Error()
	if t := strings.TrimSpace(msg); t != msg {
		clean = &scrubbed{msg: t, err: clean}
	}
	switch {
	case ctx.Err() != nil:
		e.Err = fmt.Errorf("%w: %w", ErrUnreachable, clean)
		e.Hint = "the remote did not answer in time: check the network or raise repository.timeout"
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		strings.Contains(msg, "unable to authenticate"):
		e.Err = fmt.Errorf("%w: %w", ErrAuth, clean)
		switch {
		case a.TokenFile != "":
			e.Hint = "check the token in " + a.TokenFile + " and its access to the repository"
		case a.SSHKeyFile != "":
			e.Hint = "check that the key in " + a.SSHKeyFile + " is a deploy key of the repository"
		default:
			e.Hint = "the repository needs credentials: set repository.auth.tokenFile or sshKeyFile"
		}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		e.Err = fmt.Errorf("%w: %w", ErrUnreachable, clean)
		e.Hint = "check repository.url, and that the credentials can see the repository"
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		e.Err = fmt.Errorf("%w: %w", ErrRefNotFound, clean)
		e.Hint = "the repository is empty: push a commit"
	default:
		e.Err = fmt.Errorf("%w: %w", ErrUnreachable, clean)
		e.Hint = "check repository.url and the network"
	}
	return e
}
