package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/notify"
)

const waitFor = 30 * time.Second

// request is one request a test server received.
type request struct {
	path   string
	header http.Header
	body   []byte
}

// server is a real local HTTP server that records each request and
// answers with the statuses of answers, in turn (200 once they run out).
type server struct {
	*httptest.Server
	mu      sync.Mutex
	answers []int
	got     []request
	ch      chan request
}

func newServer(t *testing.T, answers ...int) *server {
	s := &server{answers: answers, ch: make(chan request, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{path: r.URL.Path, header: r.Header.Clone(), body: body}
		s.mu.Lock()
		s.got = append(s.got, req)
		code := http.StatusOK
		if len(s.answers) > 0 {
			code, s.answers = s.answers[0], s.answers[1:]
		}
		s.mu.Unlock()
		s.ch <- req
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(waitFor):
		t.Fatalf("no request after %v", waitFor)
		return request{}
	}
}

// counter counts Observe's calls.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) observe(sink, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[sink+" "+result]++
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// start starts a Notifier of one route with fast retries and a log buffer.
func start(t *testing.T, r notify.Route, c *counter, log *syncbuf.Buffer) *notify.Notifier {
	t.Helper()
	n, err := notify.New(notify.Options{Routes: []notify.Route{r}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Observe: c.observe, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PublicURL: "https://lk.example/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

var held = notify.Event{Kind: "plan.held", Key: "plan.held", Fingerprint: "0123456789abcdef", Severity: notify.Warning,
	Summary: "plan 0123456789abcdef held: it creates 25 instances, 5 over limits.maxCreatesPerRun 20", Fleets: []string{"web"},
	Region: "ap-guangzhou", Revision: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
	Description: "approve it: lightkeeper approve --daemon URL --token-file FILE 0123456789abcdef",
	Details:     map[string]any{"planId": "0123456789abcdef", "violations": []string{"the plan creates 25 instances"}}}

// TestWebhookSignsAVersionedBody: the body is version 1 with the event's
// fields; its X-Lightkeeper-Signature-256 is the HMAC-SHA256 of the body
// under the secret (checked here with crypto/hmac, and with Verify); a
// wrong secret or a changed body does not verify; the delivery ID is in
// the body and the header, and the same in every attempt; 503s are
// retried; the secret is in no body, header or log line.
func TestWebhookSignsAVersionedBody(t *testing.T) {
	const secret = "s3cr3t-webhook-key"
	srv := newServer(t, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	log := &syncbuf.Buffer{}
	c := &counter{}
	wh, err := notify.NewWebhook(notify.WebhookOptions{HTTPOptions: notify.HTTPOptions{Name: "hook", URL: srv.URL + "/lk"}, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, notify.Route{Sink: wh}, c, log)
	n.Conditions("plan", []notify.Event{held})
	var reqs []request
	for range 3 {
		reqs = append(reqs, srv.next(t))
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.get("hook retried") != 2 || c.get("hook sent") != 1 {
		t.Errorf("counts %v, want 2 retried and 1 sent", c.m)
	}
	for i, r := range reqs {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(r.body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if got := r.header.Get(notify.SignatureHeader); got != want {
			t.Errorf("attempt %d: signature %q, want %q", i, got, want)
		}
		if err := notify.Verify([]byte(secret), r.body, r.header.Get(notify.SignatureHeader)); err != nil {
			t.Errorf("attempt %d: Verify: %v", i, err)
		}
		if err := notify.Verify([]byte("wrong"), r.body, r.header.Get(notify.SignatureHeader)); err == nil {
			t.Errorf("attempt %d: verifies under another secret", i)
		}
		tampered := strings.Replace(string(r.body), "held", "hold", 1)
		if err := notify.Verify([]byte(secret), []byte(tampered), r.header.Get(notify.SignatureHeader)); err == nil {
			t.Errorf("attempt %d: a changed body verifies", i)
		}
		if r.path != "/lk" || r.header.Get("Content-Type") != "application/json" || r.header.Get(notify.EventHeader) != "plan.held" {
			t.Errorf("attempt %d: path %s, headers %v", i, r.path, r.header)
		}
		if d := r.header.Get(notify.DeliveryHeader); d == "" || d != reqs[0].header.Get(notify.DeliveryHeader) {
			t.Errorf("attempt %d: delivery %q, first %q", i, d, reqs[0].header.Get(notify.DeliveryHeader))
		}
		for name, vs := range r.header {
			if strings.Contains(strings.Join(vs, " "), secret) {
				t.Errorf("attempt %d: header %s holds the secret", i, name)
			}
		}
		if strings.Contains(string(r.body), secret) {
			t.Errorf("attempt %d: the body holds the secret", i)
		}
	}
	var b map[string]any
	if err := json.Unmarshal(reqs[2].body, &b); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"version": 1.0, "kind": "plan.held", "key": "plan.held", "status": "firing", "severity": "warning",
		"summary": held.Summary, "region": "ap-guangzhou", "revision": held.Revision, "url": "https://lk.example/",
		"delivery": reqs[2].header.Get(notify.DeliveryHeader)} {
		if b[k] != want {
			t.Errorf("body %s = %v, want %v", k, b[k], want)
		}
	}
	if d, _ := b["details"].(map[string]any); d["planId"] != "0123456789abcdef" {
		t.Errorf("details %v", b["details"])
	}
	if f, _ := b["fleets"].([]any); len(f) != 1 || f[0] != "web" {
		t.Errorf("fleets %v", b["fleets"])
	}
	if strings.Contains(log.String(), secret) {
		t.Errorf("the log holds the secret:\n%s", log)
	}
}

// TestSlackURLIsASecret: a Slack webhook URL is a credential: when the
// post fails, neither the log nor the error names its path; a 404 (a
// revoked webhook) is not retried. The message says what happened, to
// which fleet, and links the page.
func TestSlackURLIsASecret(t *testing.T) {
	const token = "T0000/B0000/XXXXsecretXXXXtoken"
	srv := newServer(t, http.StatusInternalServerError, http.StatusNotFound)
	log := &syncbuf.Buffer{}
	c := &counter{}
	sl, err := notify.NewSlack(notify.SlackOptions{HTTPOptions: notify.HTTPOptions{Name: "slack", URL: srv.URL + "/services/" + token}})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, notify.Route{Sink: sl}, c, log)
	n.Conditions("plan", []notify.Event{held})
	first, second := srv.next(t), srv.next(t)
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if first.path != "/services/"+token || second.path != first.path {
		t.Fatalf("paths %s, %s", first.path, second.path)
	}
	if c.get("slack retried") != 1 || c.get("slack failed") != 1 {
		t.Errorf("counts %v, want 1 retried (500) and 1 failed (404: not retried)", c.m)
	}
	if strings.Contains(log.String(), "secret") || !strings.Contains(log.String(), "slack: HTTP 404") {
		t.Errorf("log:\n%s", log)
	}
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string                  `json:"type"`
			Text     *struct{ Text string }  `json:"text"`
			Elements []struct{ Text string } `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(first.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Text != "[warning] "+held.Summary {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Blocks) != 3 || !strings.Contains(m.Blocks[0].Text.Text, ":warning: *plan 0123456789abcdef held") ||
		!strings.Contains(m.Blocks[1].Text.Text, "lightkeeper approve") {
		t.Errorf("blocks %s", first.body)
	}
	ctxLine := m.Blocks[len(m.Blocks)-1].Elements[0].Text
	for _, want := range []string{"fleet web (ap-guangzhou)", "revision `a1b2c3d4e5f6`", "<https://lk.example/|status page>"} {
		if !strings.Contains(ctxLine, want) {
			t.Errorf("context line %q lacks %q", ctxLine, want)
		}
	}
}

// TestDeadSinkDoesNotBlock: with a sink that never answers, Notify and
// Conditions return at once, and Close ends after its grace.
func TestDeadSinkDoesNotBlock(t *testing.T) {
	hang := make(chan struct{})
	entered := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-hang
	}))
	defer srv.Close()
	defer close(hang)
	wh, err := notify.NewWebhook(notify.WebhookOptions{HTTPOptions: notify.HTTPOptions{Name: "dead", URL: srv.URL}, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	n, err := notify.New(notify.Options{Routes: []notify.Route{{Sink: wh}}, QueueSize: 4, Timeout: time.Hour, Observe: c.observe})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(notify.Event{Kind: "revision.applied"})
	<-entered // the sink holds the first event and never answers
	for i := range 20 {
		n.Notify(notify.Event{Kind: "revision.applied", Summary: string(rune('a' + i))})
		n.Conditions("plan", []notify.Event{{Kind: "plan.held", Fingerprint: string(rune('a' + i))}})
	}
	// Returning here is the point: nothing above waited for the sink.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); err == nil {
		t.Error("Close: want an error for what was dropped")
	}
	if got := c.get("dead dropped"); got != 41 {
		t.Errorf("dropped %d, want 41 (36 for the full queue, the one in flight and 4 queued at the end of the grace)", got)
	}
}

// TestAlertmanagerBody: a condition is posted to /api/v2/alerts as one
// alert with its labels and annotations, endsAt four resends ahead while
// it fires and its time when resolved; a one-off event is refused.
func TestAlertmanagerBody(t *testing.T) {
	srv := newServer(t)
	am, err := notify.NewAlertmanager(notify.AlertmanagerOptions{HTTPOptions: notify.HTTPOptions{Name: "am", URL: srv.URL + "/"}, Resend: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ev := held
	ev.Kind, ev.Key, ev.Instance = "instance.expiring", "instance.expiring/web/lhins-1", "lhins-1"
	ev.Status, ev.At, ev.Since, ev.URL = notify.Firing, at, at.Add(-time.Hour), "https://lk.example/"
	if err := am.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r := srv.next(t)
	var alerts []notify.Alert
	if err := json.Unmarshal(r.body, &alerts); err != nil || len(alerts) != 1 {
		t.Fatalf("%v: %s", err, r.body)
	}
	a := alerts[0]
	want := map[string]string{"alertname": "LightkeeperInstanceExpiring", "fleet": "web", "region": "ap-guangzhou", "severity": "warning", "instance": "lhins-1"}
	if r.path != "/api/v2/alerts" || len(a.Labels) != len(want) {
		t.Errorf("path %s, labels %v", r.path, a.Labels)
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	if a.Annotations["summary"] != held.Summary || a.Annotations["revision"] != held.Revision || a.Annotations["planId"] != "0123456789abcdef" ||
		!strings.Contains(a.Annotations["description"], "lightkeeper approve") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(ev.Since) || !a.EndsAt.Equal(at.Add(4*time.Minute)) || a.GeneratorURL != "https://lk.example/" {
		t.Errorf("startsAt %v endsAt %v generatorURL %q", a.StartsAt, a.EndsAt, a.GeneratorURL)
	}
	ev.Status, ev.At = notify.Resolved, at.Add(time.Hour)
	if err := am.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(srv.next(t).body, &alerts); err != nil || !alerts[0].EndsAt.Equal(ev.At) {
		t.Errorf("resolved: endsAt %v, want %v (%v)", alerts[0].EndsAt, ev.At, err)
	}
	ev.Status = notify.Once
	if err := am.Send(context.Background(), ev); err == nil {
		t.Error("a one-off event was sent as an alert")
	}
	for kind, name := range map[string]string{"plan.held": "LightkeeperPlanHeld", "fleet.not-converged": "LightkeeperFleetNotConverged", "revision.invalid": "LightkeeperRevisionInvalid"} {
		if got := notify.AlertName(kind); got != name {
			t.Errorf("AlertName(%s) = %s, want %s", kind, got, name)
		}
	}
}

// TestReceive: a receiver's side takes a body signed under its secret and
// refuses one signed under another, one changed, one unsigned and one too
// large.
func TestReceive(t *testing.T) {
	secret := []byte("receive-secret")
	body := []byte(`{"version":1,"kind":"plan.held","status":"firing","severity":"warning","summary":"held"}`)
	req := func(b []byte, sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(b)))
		if sig != "" {
			r.Header.Set(notify.SignatureHeader, sig)
		}
		return r
	}
	b, raw, err := notify.Receive(secret, req(body, notify.Sign(secret, body)))
	if err != nil || b.Kind != "plan.held" || b.Status != notify.Firing || b.Severity != notify.Warning || string(raw) != string(body) {
		t.Fatalf("Receive: %+v %q %v", b, raw, err)
	}
	big := []byte(`{"summary":"` + strings.Repeat("x", notify.MaxWebhookBody) + `"}`)
	for name, r := range map[string]*http.Request{
		"another secret": req(body, notify.Sign([]byte("other"), body)),
		"changed":        req([]byte(strings.Replace(string(body), "held", "hold", 1)), notify.Sign(secret, body)),
		"unsigned":       req(body, ""),
		"too large":      req(big, notify.Sign(secret, big)),
	} {
		if _, _, err := notify.Receive(secret, r); err == nil {
			t.Errorf("%s: received", name)
		}
	}
}
