package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The webhook's headers.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the sink's secret, as GitHub signs its webhooks.
	SignatureHeader = "X-Lightkeeper-Signature-256"
	// DeliveryHeader carries the delivery's ID, the same in each attempt
	// (a receiver may drop a delivery it has seen).
	DeliveryHeader = "X-Lightkeeper-Delivery"
	// EventHeader carries the event's kind.
	EventHeader = "X-Lightkeeper-Event"
)

// WebhookVersion is the version of the webhook's body (WebhookBody); it
// changes only when a field changes meaning or goes away.
const WebhookVersion = 1

// WebhookBody is the JSON body of the webhook sink: the event, its
// delivery and the body's version. docs/daemon.md ("The webhook") documents it.
type WebhookBody struct {
	Version     int            `json:"version"`
	Delivery    string         `json:"delivery"`
	Kind        string         `json:"kind"`
	Key         string         `json:"key"`
	Status      Status         `json:"status"`
	Severity    Severity       `json:"severity"`
	Summary     string         `json:"summary"`
	Description string         `json:"description,omitempty"`
	Fleets      []string       `json:"fleets,omitempty"`
	Region      string         `json:"region,omitempty"`
	Instance    string         `json:"instance,omitempty"`
	Revision    string         `json:"revision,omitempty"`
	At          time.Time      `json:"at"`
	Since       time.Time      `json:"since"`
	Repeat      bool           `json:"repeat,omitempty"`
	URL         string         `json:"url,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
}

// WebhookOptions configure a webhook sink.
type WebhookOptions struct {
	HTTPOptions
	// Secret signs each body (SignatureHeader); required.
	Secret []byte
}

// Webhook posts each event as a signed, versioned JSON body.
type Webhook struct{ o WebhookOptions }

var _ Sink = (*Webhook)(nil)

// NewWebhook returns a webhook sink.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if err := o.check("webhook"); err != nil {
		return nil, err
	}
	if len(o.Secret) == 0 {
		return nil, fmt.Errorf("notify: webhook sink %s has no secret to sign with", o.Name)
	}
	return &Webhook{o}, nil
}

// Name names the sink.
func (w *Webhook) Name() string { return w.o.Name }

// Send posts ev once. The delivery ID is derived from the event, so that
// every attempt of one event carries the same.
func (w *Webhook) Send(ctx context.Context, ev Event) error {
	id := deliveryID(ev)
	body, err := webhookBody(ev, id)
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", w.o.Name, err))
	}
	h := http.Header{}
	h.Set(SignatureHeader, Sign(w.o.Secret, body))
	h.Set(DeliveryHeader, id)
	h.Set(EventHeader, ev.Kind)
	return w.o.post(ctx, w.o.URL, body, h)
}

// webhookBody is ev's JSON body.
func webhookBody(ev Event, delivery string) ([]byte, error) {
	b := WebhookBody{Version: WebhookVersion, Delivery: delivery, Kind: ev.Kind, Key: ev.key(), Status: ev.Status,
		Severity: ev.Severity, Summary: ev.Summary, Description: ev.Description, Fleets: ev.Fleets, Region: ev.Region,
		Instance: ev.Instance, Revision: ev.Revision, At: ev.At.UTC(), Since: ev.Since.UTC(), Repeat: ev.Repeat, URL: ev.URL, Details: ev.Details}
	return json.Marshal(b)
}

// deliveryID names one event as sent: its key, status and time, hashed,
// with random bits so that two daemons never name two deliveries alike.
func deliveryID(ev Event) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d", ev.Kind, ev.key(), ev.Status, ev.At.UnixNano())
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:8]) + "-" + hostNonce
}

// hostNonce tells apart the deliveries of two daemons that send the same
// event at the same instant.
var hostNonce = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// Sign returns the SignatureHeader value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a SignatureHeader value against body and secret in
// constant time: what a receiver runs before it trusts a body.
func Verify(secret, body []byte, signature string) error {
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return errors.New("notify: the signature does not start with sha256=")
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return errors.New("notify: the signature is not hex")
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errors.New("notify: the signature does not match the body")
	}
	return nil
}

// MaxWebhookBody bounds the body Receive reads.
const MaxWebhookBody = 1 << 20

// Receive is a receiver's side of the webhook: it reads r's body (up to
// MaxWebhookBody), checks its signature under secret, and decodes it. It
// returns the body as received too, for a receiver that keeps it.
func Receive(secret []byte, r *http.Request) (WebhookBody, []byte, error) {
	var b WebhookBody
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	switch {
	case err != nil:
		return b, nil, fmt.Errorf("notify: read the webhook's body: %w", err)
	case len(body) > MaxWebhookBody:
		return b, nil, fmt.Errorf("notify: the webhook's body is over %d bytes", MaxWebhookBody)
	}
	if err := Verify(secret, body, r.Header.Get(SignatureHeader)); err != nil {
		return b, body, err
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, body, fmt.Errorf("notify: the webhook's body: %w", err)
	}
	return b, body, nil
}
