package gitsync

import (
	"errors"
	"net/url"
	"strings"
)

// Sentinels wrapped by *Error, for errors.Is.
var (
	// ErrRefNotFound: the remote has no such branch or tag, or the pinned
	// commit is not in it (deleted branch, typo, not pushed yet).
	ErrRefNotFound = errors.New("ref not found")
	// ErrHostKeyUnknown: the SSH server's host is not in known_hosts.
	ErrHostKeyUnknown = errors.New("ssh host key unknown")
	// ErrHostKeyMismatch: the SSH server offered a key that known_hosts does
	// not hold for it (a rotated key, or someone in the middle).
	ErrHostKeyMismatch = errors.New("ssh host key mismatch")
	// ErrAuth: the remote refused the credentials or wants some.
	ErrAuth = errors.New("authentication failed")
	// ErrCredentials: a credential file could not be read or is unusable.
	ErrCredentials = errors.New("credentials unusable")
	// ErrUnreachable: the remote could not be reached or answered nonsense
	// (DNS, refused connection, timeout, not a git repository).
	ErrUnreachable = errors.New("remote unreachable")
	// ErrPathNotFound: the revision has no such subdirectory.
	ErrPathNotFound = errors.New("path not found in revision")
)

// Error is what Sync returns: the operation, the repository (its URL with
// any userinfo removed), the cause and, when there is one, what to do.
type Error struct {
	// Op is what failed: "ls-remote", "fetch", "open", "read".
	Op string
	// URL is the repository URL, redacted.
	URL string
	// Err is the cause; it wraps one of the sentinels where one applies.
	Err error
	// Hint says what to do about it; may be empty.
	Hint string
}

// Error implements error.
func (e *Error) Error() string {
	s := "gitsync: " + e.Op
	if e.URL != "" {
		s += " " + e.URL
	}
	s += ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// RedactURL removes userinfo (a user name may be a token) and any password
// from a URL for errors and logs. scp-like addresses (git@host:path) carry
// no secret and are returned as they are.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Scheme == "" {
		if i := strings.Index(raw, "://"); i >= 0 {
			// Unparseable, but may still carry userinfo: cut it out.
			rest := raw[i+3:]
			if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
				return raw[:i+3] + "REDACTED@" + rest[at+1:]
			}
		}
		return raw
	}
	if u.Scheme == "ssh" {
		if _, hasPw := u.User.Password(); !hasPw {
			return u.String() // ssh://git@host/x: the login is no secret
		}
	}
	u.User = url.User("REDACTED")
	return u.String()
}

// scrub removes every secret from s.
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

// scrubbed is an error whose text had secrets removed; it keeps the
// original chain for errors.Is and errors.As.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// scrubErr returns err with the secrets and the raw URL removed from its text.
func scrubErr(err error, rawURL string, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactURL(rawURL); red != rawURL {
		msg = strings.ReplaceAll(msg, rawURL, red)
	}
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if u.Scheme != "ssh" {
			secrets = append(secrets, u.User.Username())
		}
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	clean := scrub(msg, secrets...)
	if clean == err.Error() {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}
