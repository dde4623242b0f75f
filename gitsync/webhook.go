package gitsync

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
)

// MaxWebhookBody is the largest webhook body read; reading stops there and
// the request is refused with 413.
const MaxWebhookBody = 1 << 20

// Webhook refusals, for errors.Is.
var (
	// ErrUnsigned: the request carries no signature or token, or comes from
	// no known provider.
	ErrUnsigned = errors.New("webhook: unsigned request")
	// ErrBadSignature: the signature or token does not match the secret.
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrMalformed: a signed request whose body cannot be read as the
	// provider's payload.
	ErrMalformed = errors.New("webhook: malformed payload")
)

// Push is a verified webhook delivery.
type Push struct {
	// Provider is "github", "gitea" or "gitlab".
	Provider string
	// Event is "push", "ping" or the provider's name for another event
	// ("Tag Push Hook" is reported as "push").
	Event string
	// Ref is the full ref pushed ("refs/heads/main"); empty for a ping.
	Ref string
	// After is the commit the ref points to after the push (all zeros when
	// the ref was deleted).
	After string
	// Repository names the repository, for logs.
	Repository string
}

// IsPush reports whether p is a push (rather than a ping or another event).
func (p Push) IsPush() bool { return p.Event == "push" }

// ParseWebhook verifies a webhook delivery against secret and parses it:
//
//   - GitHub: X-GitHub-Event, X-Hub-Signature-256 "sha256=" + hex HMAC-SHA256.
//   - Gitea (and Forgejo): X-Gitea-Event, X-Gitea-Signature hex HMAC-SHA256
//     (X-Hub-Signature-256, which Gitea also sends, is accepted too).
//   - GitLab: X-Gitlab-Event, X-Gitlab-Token equal to the secret.
//
// Signatures and tokens are compared in constant time. The body must
// already be limited in size by the caller. An empty secret refuses all.
func ParseWebhook(h http.Header, body, secret []byte) (Push, error) {
	if len(secret) == 0 {
		return Push{}, fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	var p Push
	switch {
	case h.Get("X-Gitlab-Event") != "" || h.Get("X-Gitlab-Token") != "":
		p.Provider, p.Event = "gitlab", h.Get("X-Gitlab-Event")
		tok := h.Get("X-Gitlab-Token")
		if tok == "" {
			return p, fmt.Errorf("%w: no X-Gitlab-Token", ErrUnsigned)
		}
		// Hash both sides so the comparison's time says nothing of length.
		a, b := sha256.Sum256([]byte(tok)), sha256.Sum256(secret)
		if !hmac.Equal(a[:], b[:]) {
			return p, fmt.Errorf("%w: X-Gitlab-Token", ErrBadSignature)
		}
	case h.Get("X-Gitea-Event") != "" || h.Get("X-Gitea-Signature") != "":
		p.Provider, p.Event = "gitea", h.Get("X-Gitea-Event")
		sig := h.Get("X-Gitea-Signature")
		if sig == "" {
			sig, _ = strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		}
		if err := checkHMAC(sig, body, secret, "X-Gitea-Signature"); err != nil {
			return p, err
		}
	case h.Get("X-GitHub-Event") != "" || h.Get("X-Hub-Signature-256") != "":
		p.Provider, p.Event = "github", h.Get("X-GitHub-Event")
		sig := h.Get("X-Hub-Signature-256")
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		if sig != "" && !ok {
			return p, fmt.Errorf("%w: X-Hub-Signature-256 must start with sha256=", ErrBadSignature)
		}
		if err := checkHMAC(hexSig, body, secret, "X-Hub-Signature-256"); err != nil {
			return p, err
		}
	default:
		return Push{}, fmt.Errorf("%w: no GitHub, Gitea or GitLab headers", ErrUnsigned)
	}
	return parsePayload(p, body)
}

func checkHMAC(sig string, body, secret []byte, header string) error {
	if sig == "" {
		return fmt.Errorf("%w: no %s", ErrUnsigned, header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex SHA-256", ErrBadSignature, header)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("%w: %s", ErrBadSignature, header)
	}
	return nil
}

// payload holds the fields of GitHub, Gitea and GitLab push payloads that
// lightkeeper reads.
type payload struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Project struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

func parsePayload(p Push, body []byte) (Push, error) {
	switch p.Event {
	case "ping", "push":
	case "Push Hook", "Tag Push Hook", "System Hook":
		p.Event = "push"
	default:
		return p, nil // signed, but not an event lightkeeper acts on
	}
	if p.Event == "ping" {
		return p, nil
	}
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return p, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !strings.HasPrefix(pl.Ref, "refs/") {
		return p, fmt.Errorf("%w: ref %q is not a full ref name", ErrMalformed, pl.Ref)
	}
	if len(pl.After) != 40 && len(pl.After) != 64 {
		return p, fmt.Errorf("%w: after %q is not a commit hash", ErrMalformed, pl.After)
	}
	if _, err := hex.DecodeString(pl.After); err != nil {
		return p, fmt.Errorf("%w: after %q is not a commit hash", ErrMalformed, pl.After)
	}
	p.Ref, p.After = pl.Ref, strings.ToLower(pl.After)
	p.Repository = pl.Repository.FullName
	if p.Repository == "" {
		p.Repository = pl.Project.PathWithNamespace
	}
	return p, nil
}

// Webhook results, as passed to WebhookOptions.Observe.
const (
	// WebhookAccepted: a verified push of the followed ref; OnPush ran.
	WebhookAccepted = "accepted"
	// WebhookIgnored: verified, but a ping, another event or another ref.
	WebhookIgnored = "ignored"
	// WebhookRefused: unsigned, wrong, too large, malformed or not a POST.
	WebhookRefused = "refused"
)

// WebhookOptions configure NewWebhookHandler.
type WebhookOptions struct {
	// Secret shared with the git host; required. It is never logged.
	Secret []byte
	// Ref is what the daemon follows: pushes to other refs are ignored. A
	// pinned commit ignores every push. The zero Ref follows "main".
	Ref Ref
	// OnPush is called, on the request's goroutine, for each accepted push.
	// It should only signal (a non-blocking send on a channel).
	OnPush func(Push)
	// Observe, if set, is called once per request with one of the Webhook*
	// results and a short reason ("bad_signature", "other_ref", …), for
	// metrics.
	Observe func(result, reason string)
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// WebhookStats counts requests by result.
type WebhookStats struct {
	Accepted, Ignored, Refused uint64
}

// WebhookHandler is the http.Handler for POST /hooks/git.
type WebhookHandler struct {
	opts                       WebhookOptions
	ref                        string
	accepted, ignored, refused atomic.Uint64
}

var _ http.Handler = (*WebhookHandler)(nil)

// NewWebhookHandler returns a handler that verifies deliveries with
// ParseWebhook and calls OnPush for pushes of the followed ref. It answers
// 202 to pushes (followed or not) and 200 to pings; 401 to unsigned
// requests, 403 to wrong signatures, 413 past MaxWebhookBody, 400 to
// malformed payloads and 405 to anything but POST.
func NewWebhookHandler(opts WebhookOptions) (*WebhookHandler, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("gitsync: webhook: empty secret: set webhook.secretFile to a file holding one")
	}
	ref, err := opts.Ref.normalize()
	if err != nil {
		return nil, fmt.Errorf("gitsync: webhook: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnPush == nil {
		opts.OnPush = func(Push) {}
	}
	h := &WebhookHandler{opts: opts}
	if ref.Commit == "" {
		h.ref = ref.name()
	}
	return h, nil
}

// Stats returns the counts so far.
func (h *WebhookHandler) Stats() WebhookStats {
	return WebhookStats{Accepted: h.accepted.Load(), Ignored: h.ignored.Load(), Refused: h.refused.Load()}
}

func (h *WebhookHandler) done(w http.ResponseWriter, r *http.Request, code int, result, reason string, p Push) {
	switch result {
	case WebhookAccepted:
		h.accepted.Add(1)
	case WebhookIgnored:
		h.ignored.Add(1)
	default:
		h.refused.Add(1)
	}
	if h.opts.Observe != nil {
		h.opts.Observe(result, reason)
	}
	lvl := slog.LevelInfo
	if result == WebhookRefused {
		lvl = slog.LevelWarn
	}
	h.opts.Logger.Log(r.Context(), lvl, "webhook "+result, "reason", reason, "provider", p.Provider,
		"event", p.Event, "ref", p.Ref, "after", p.After, "remote", r.RemoteAddr)
	http.Error(w, result+": "+reason, code)
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.done(w, r, http.StatusMethodNotAllowed, WebhookRefused, "method", Push{})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.done(w, r, http.StatusRequestEntityTooLarge, WebhookRefused, "too_large", Push{})
			return
		}
		h.done(w, r, http.StatusBadRequest, WebhookRefused, "read", Push{})
		return
	}
	p, err := ParseWebhook(r.Header, body, h.opts.Secret)
	switch {
	case errors.Is(err, ErrUnsigned):
		h.done(w, r, http.StatusUnauthorized, WebhookRefused, "unsigned", p)
	case errors.Is(err, ErrBadSignature):
		h.done(w, r, http.StatusForbidden, WebhookRefused, "bad_signature", p)
	case err != nil:
		h.done(w, r, http.StatusBadRequest, WebhookRefused, "malformed", p)
	case p.Event == "ping":
		h.done(w, r, http.StatusOK, WebhookIgnored, "ping", p)
	case !p.IsPush():
		h.done(w, r, http.StatusAccepted, WebhookIgnored, "other_event", p)
	case h.ref == "" || p.Ref != h.ref:
		h.done(w, r, http.StatusAccepted, WebhookIgnored, "other_ref", p)
	default:
		h.opts.OnPush(p)
		h.done(w, r, http.StatusAccepted, WebhookAccepted, "push", p)
	}
}
