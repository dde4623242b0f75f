package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/notify"
)

// hookSecret signs the notifications of the tests' webhook sinks.
const hookSecret = "notify-hook-secret-0123"

// receiver is a real local HTTP server that takes the daemon's signed
// webhook notifications, checks each signature and hands the bodies to
// the test in order.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	ch  chan notify.WebhookBody
	raw chan string // the bodies as received, to look for secrets
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, ch: make(chan notify.WebhookBody, 256), raw: make(chan string, 256)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, body, err := notify.Receive([]byte(hookSecret), req)
		if err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.raw <- string(body)
		r.ch <- b
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// route is a webhook route to the receiver.
func (r *receiver) route(kinds ...string) notify.Route {
	r.t.Helper()
	wh, err := notify.NewWebhook(notify.WebhookOptions{HTTPOptions: notify.HTTPOptions{Name: "hook", URL: r.srv.URL}, Secret: []byte(hookSecret)})
	if err != nil {
		r.t.Fatal(err)
	}
	return notify.Route{Sink: wh, Kinds: kinds}
}

// next returns the next notification whose kind and status match (a ""
// matches any), skipping the others.
func (r *receiver) next(kind string, status notify.Status) notify.WebhookBody {
	r.t.Helper()
	deadline := time.After(waitFor)
	var skipped []string
	for {
		select {
		case b := <-r.ch:
			if (kind == "" || b.Kind == kind) && (status == "" || b.Status == status) {
				return b
			}
			skipped = append(skipped, fmt.Sprintf("%s %s", b.Status, b.Kind))
		case <-deadline:
			r.t.Fatalf("no %s %s notification after %v (skipped: %s)", status, kind, waitFor, strings.Join(skipped, ", "))
			return notify.WebhookBody{}
		}
	}
}

// drain returns the notifications received so far.
func (r *receiver) drain() []notify.WebhookBody {
	var out []notify.WebhookBody
	for {
		select {
		case b := <-r.ch:
			out = append(out, b)
		default:
			return out
		}
	}
}

// bodies returns every body received so far, as text.
func (r *receiver) bodies() string {
	var b strings.Builder
	for {
		select {
		case s := <-r.raw:
			b.WriteString(s + "\n")
		default:
			return b.String()
		}
	}
}

// approve posts an approval of plan with token to the daemon's handler.
func (e *env) approve(token, plan string) (int, daemon.ApproveResponse) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/approve", strings.NewReader(fmt.Sprintf(`{"plan": %q}`, plan)))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	e.d.Handler().ServeHTTP(rec, req)
	var resp daemon.ApproveResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		e.t.Fatalf("POST /approve: %d %q: %v", rec.Code, rec.Body, err)
	}
	return rec.Code, resp
}
