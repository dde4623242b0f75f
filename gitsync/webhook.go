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
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxWebhookBody is the largest webhook body read; reading stops there and
// the request is refused with 413.
const MaxWebhookBody = 1 << 20

// Defaults of WebhookOptions.
const (
	// DefaultWebhooksInFlight bounds the bodies read at once: with
	// MaxWebhookBody, what webhooks may hold in memory.
	DefaultWebhooksInFlight = 8
	// DefaultWebhookMemory is how many verified deliveries are remembered
	// to refuse their replays.
	DefaultWebhookMemory = 4096
	// DefaultRefusalLogEvery is the least time between two WARN lines for
	// refused requests; the ones between are counted in the next.
	DefaultRefusalLogEvery = 10 * time.Second
)

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
	// Delivery is the provider's ID of the delivery (X-GitHub-Delivery,
	// X-Gitea-Delivery, GitLab's Idempotency-Key or X-Gitlab-Event-UUID),
	// "" when it sent none. It is not covered by the signature.
	Delivery string
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
// The payload is JSON (Content-Type application/json, or none), or the
// form GitHub and Gitea also send (application/x-www-form-urlencoded) whose
// field payload holds the JSON; the signature covers the raw body either
// way. Signatures and tokens are compared in constant time. The body must
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
	p.Delivery = deliveryID(p.Provider, h)
	return parsePayload(p, h.Get("Content-Type"), body)
}

// deliveryID is the provider's ID of a delivery, "" if none.
func deliveryID(provider string, h http.Header) string {
	var names []string
	switch provider {
	case "github":
		names = []string{"X-GitHub-Delivery"}
	case "gitea":
		names = []string{"X-Gitea-Delivery", "X-GitHub-Delivery"}
	case "gitlab":
		// The same key on GitLab's retries of one event.
		names = []string{"Idempotency-Key", "X-Gitlab-Event-UUID"}
	}
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
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

// formContentType is the content type of a form-encoded delivery.
const formContentType = "application/x-www-form-urlencoded"

func parsePayload(p Push, contentType string, body []byte) (Push, error) {
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
	if mt, _, _ := mime.ParseMediaType(contentType); mt == formContentType {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, fmt.Errorf("%w: %s body: %w", ErrMalformed, formContentType, err)
		}
		if !form.Has("payload") {
			return p, fmt.Errorf("%w: %s body without a payload field", ErrMalformed, formContentType)
		}
		body = []byte(form.Get("payload"))
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
	// WebhookRefused: unsigned, wrong, too large, malformed, a replay,
	// too many at once, or not a POST.
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
	// Logger receives one line per request (a refused one at WARN, at
	// most once per RefusalLogEvery, and at DEBUG otherwise); nil
	// discards.
	Logger *slog.Logger
	// InFlight bounds the requests whose body is being read at once
	// (default DefaultWebhooksInFlight); one more is refused with 503.
	InFlight int
	// Memory is how many verified deliveries are remembered (default
	// DefaultWebhookMemory): one whose delivery ID or body (for its
	// provider) was seen is refused as a replay with 409.
	Memory int
	// RefusalLogEvery is the least time between two WARN lines for
	// refused requests (default DefaultRefusalLogEvery).
	RefusalLogEvery time.Duration
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
	inFlight                   chan struct{} // a slot per body being read
	seen                       *recent       // verified deliveries

	logMu      sync.Mutex
	lastWarn   time.Time
	suppressed int // refusals logged at DEBUG since the last WARN
}

var _ http.Handler = (*WebhookHandler)(nil)

// NewWebhookHandler returns a handler that verifies deliveries with
// ParseWebhook and calls OnPush for pushes of the followed ref. It answers
// 202 to pushes (followed or not) and 200 to pings; 401 to unsigned
// requests, 403 to wrong signatures, 413 past MaxWebhookBody, 400 to
// malformed payloads, 409 to replays (a verified delivery whose ID, or
// whose body, was seen), 503 past InFlight and 405 to anything but POST.
// The memory of deliveries is this handler's: a new one (a restart, a
// reload) starts empty.
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
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultWebhooksInFlight
	}
	if opts.Memory <= 0 {
		opts.Memory = DefaultWebhookMemory
	}
	if opts.RefusalLogEvery <= 0 {
		opts.RefusalLogEvery = DefaultRefusalLogEvery
	}
	h := &WebhookHandler{opts: opts, inFlight: make(chan struct{}, opts.InFlight), seen: newRecent(opts.Memory)}
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
	lvl, attrs := slog.LevelInfo, []any{"reason", reason, "provider", p.Provider,
		"event", p.Event, "ref", p.Ref, "after", p.After, "delivery", p.Delivery, "remote", r.RemoteAddr}
	if result == WebhookRefused {
		lvl = slog.LevelDebug
		h.logMu.Lock()
		if time.Since(h.lastWarn) >= h.opts.RefusalLogEvery {
			lvl = slog.LevelWarn
			attrs = append(attrs, "refused_since_last_warning", h.suppressed)
			h.lastWarn, h.suppressed = time.Now(), 0
		} else {
			h.suppressed++
		}
		h.logMu.Unlock()
	}
	h.opts.Logger.Log(r.Context(), lvl, "webhook "+result, attrs...)
	http.Error(w, result+": "+reason, code)
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.done(w, r, http.StatusMethodNotAllowed, WebhookRefused, "method", Push{})
		return
	}
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		w.Header().Set("Retry-After", "5")
		h.done(w, r, http.StatusServiceUnavailable, WebhookRefused, "busy", Push{})
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
	case !h.seen.add(p, body):
		h.done(w, r, http.StatusConflict, WebhookRefused, "replayed", p)
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

// recent remembers the last deliveries verified, by delivery ID and by a
// digest of the body, for each provider. The delivery ID is not signed:
// the body is what a replay cannot change.
type recent struct {
	mu   sync.Mutex
	keys map[string]bool
	ring []string // the keys in the order added; the oldest is dropped
	next int
}

func newRecent(n int) *recent {
	return &recent{keys: make(map[string]bool, 2*n), ring: make([]string, 2*n)}
}

// add records a delivery and reports whether it is new.
func (m *recent) add(p Push, body []byte) bool {
	sum := sha256.Sum256(body)
	keys := []string{p.Provider + " body " + hex.EncodeToString(sum[:])}
	if p.Delivery != "" {
		keys = append(keys, p.Provider+" id "+p.Delivery)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if m.keys[k] {
			return false
		}
	}
	for _, k := range keys {
		if old := m.ring[m.next]; old != "" {
			delete(m.keys, old)
		}
		m.ring[m.next] = k
		m.keys[k] = true
		m.next = (m.next + 1) % len(m.ring)
	}
	return true
}
