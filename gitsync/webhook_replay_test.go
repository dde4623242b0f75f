package gitsync

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hookPushEvent is the event name of a push, by provider.
var hookPushEvent = map[string]string{"github": "push", "gitea": "push", "gitlab": "Push Hook"}

// newTestHook is a handler of the test secret that counts its pushes and
// results.
func newTestHook(t *testing.T, o WebhookOptions) (*WebhookHandler, *[]Push, map[string]int, *logBuf) {
	t.Helper()
	log, lb := newLogger(t)
	var pushes []Push
	results := map[string]int{}
	o.Secret, o.Ref, o.Logger = []byte(hookSecret), Ref{Branch: "main"}, log
	o.OnPush = func(p Push) { pushes = append(pushes, p) }
	o.Observe = func(result, reason string) { results[result+"/"+reason]++ }
	h, err := NewWebhookHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, &pushes, results, lb
}

func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestWebhookFormEncoded: GitHub's default content type, and Gitea's form
// option, carry the JSON in the payload field; the signature covers the
// raw body.
func TestWebhookFormEncoded(t *testing.T) {
	h, pushes, results, _ := newTestHook(t, WebhookOptions{})
	form := func(v string) []byte { return []byte("payload=" + url.QueryEscape(v)) }
	for _, prov := range []string{"github", "gitea"} {
		body := form(strings.Replace(string(pushBody("refs/heads/main")), "ops/fleets", prov+"/fleets", 2))
		req := hookRequest(prov, "push", body, hookSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code := serve(h, req); code != http.StatusAccepted {
			t.Fatalf("%s form push: %d, results %v", prov, code, results)
		}
	}
	if len(*pushes) != 2 || (*pushes)[0].Ref != "refs/heads/main" || (*pushes)[0].After != commitA || (*pushes)[1].Repository != "gitea/fleets" {
		t.Fatalf("pushes %+v", *pushes)
	}
	for name, body := range map[string][]byte{
		"no payload field": []byte("ref=refs%2Fheads%2Fmain"),
		"bad escape":       []byte("payload=%zz"),
		"json, not a form": pushBody("refs/heads/dev"),
	} {
		req := hookRequest("github", "push", body, hookSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if code := serve(h, req); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	// The signature is over the body as sent, not the payload decoded.
	body := form(string(pushBody("refs/heads/main")))
	req := hookRequest("github", "push", body, hookSecret)
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign(pushBody("refs/heads/main"), hookSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code := serve(h, req); code != http.StatusForbidden {
		t.Errorf("signed over the decoded payload: %d, want 403", code)
	}
}

// TestWebhookReplay: a verified delivery is accepted once; the same body
// again, or the same delivery ID again, is refused; a forged request does
// not take the ID of the real one.
func TestWebhookReplay(t *testing.T) {
	h, pushes, results, lb := newTestHook(t, WebhookOptions{})
	withID := func(prov, id string, body []byte, secret string) *http.Request {
		r := hookRequest(prov, hookPushEvent[prov], body, secret)
		switch prov {
		case "github":
			r.Header.Set("X-GitHub-Delivery", id)
		case "gitea":
			r.Header.Set("X-Gitea-Delivery", id)
		case "gitlab":
			r.Header.Set("Idempotency-Key", id)
		}
		return r
	}
	push2 := []byte(strings.Replace(string(pushBody("refs/heads/main")), `"before":"0`, `"before":"1`, 1))
	for _, prov := range []string{"github", "gitea", "gitlab"} {
		clear(results)
		*pushes = nil
		steps := []struct {
			name string
			req  *http.Request
			code int
		}{
			{"forged, taking the ID first", withID(prov, "d-1", pushBody("refs/heads/main"), "wrong"), http.StatusForbidden},
			{"the delivery", withID(prov, "d-1", pushBody("refs/heads/main"), hookSecret), http.StatusAccepted},
			{"replayed", withID(prov, "d-1", pushBody("refs/heads/main"), hookSecret), http.StatusConflict},
			{"replayed under a new ID", withID(prov, "d-2", pushBody("refs/heads/main"), hookSecret), http.StatusConflict},
			{"replayed without an ID", hookRequest(prov, hookPushEvent[prov], pushBody("refs/heads/main"), hookSecret), http.StatusConflict},
			{"another body under a seen ID", withID(prov, "d-1", push2, hookSecret), http.StatusConflict},
			{"the next delivery", withID(prov, "d-3", push2, hookSecret), http.StatusAccepted},
		}
		for _, s := range steps {
			if code := serve(h, s.req); code != s.code {
				t.Errorf("%s: %s: %d, want %d", prov, s.name, code, s.code)
			}
		}
		if len(*pushes) != 2 || (*pushes)[0].Delivery != "d-1" || results["refused/replayed"] != 4 {
			t.Errorf("%s: pushes %+v, results %v", prov, *pushes, results)
		}
	}
	// Refusals are logged at WARN once in a while, the rest at DEBUG.
	if n := strings.Count(lb.String(), "level=WARN"); n != 1 {
		t.Errorf("%d WARN lines for %d refusals:\n%s", n, h.Stats().Refused, lb.String())
	}
}

// TestWebhookRefusalLogIsRateLimited: a stream of refused requests logs one
// WARN per RefusalLogEvery, each counting those in between.
func TestWebhookRefusalLogIsRateLimited(t *testing.T) {
	const every, n = 50 * time.Millisecond, 200
	h, _, _, lb := newTestHook(t, WebhookOptions{RefusalLogEvery: every})
	start := time.Now()
	for range n {
		serve(h, hookRequest("github", "push", pushBody("refs/heads/main"), "forged"))
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	warns := strings.Count(lb.String(), "level=WARN")
	if most := int(took/every) + 1; warns < 2 || warns > most || warns >= n {
		t.Errorf("%d WARN lines for %d refusals over %v at one per %v (at most %d)", warns, n, took, every, most)
	}
	if !strings.Contains(lb.String(), "refused_since_last_warning=") {
		t.Error("a WARN line does not count the refusals it stands for")
	}
}

// TestWebhookInFlight: past InFlight bodies being read, a request is
// refused with 503 at once instead of holding more memory.
func TestWebhookInFlight(t *testing.T) {
	h, pushes, results, _ := newTestHook(t, WebhookOptions{InFlight: 1})
	pr, pw := io.Pipe()
	slow := hookRequest("github", "push", nil, "")
	slow.Body = pr
	slow.Header.Set("X-Hub-Signature-256", "sha256="+sign(pushBody("refs/heads/main"), hookSecret))
	done := make(chan int)
	go func() { done <- serve(h, slow) }()
	pw.Write(pushBody("refs/heads/main")[:10]) // the slot is taken once this is read
	code := serve(h, hookRequest("github", "push", push3(), hookSecret))
	if code != http.StatusServiceUnavailable || results["refused/busy"] != 1 {
		t.Errorf("a second body while one is read: %d, results %v", code, results)
	}
	pw.Write(pushBody("refs/heads/main")[10:])
	pw.Close()
	if code := <-done; code != http.StatusAccepted {
		t.Errorf("the slow delivery: %d", code)
	}
	if code := serve(h, hookRequest("github", "push", push3(), hookSecret)); code != http.StatusAccepted || len(*pushes) != 2 {
		t.Errorf("once the slot is free: %d, %d pushes", code, len(*pushes))
	}
}

// push3 is a push of main with a body of its own.
func push3() []byte {
	return []byte(strings.Replace(string(pushBody("refs/heads/main")), `"before":"0`, `"before":"3`, 1))
}
