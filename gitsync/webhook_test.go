package gitsync

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	hookSecret = "hook-secret-value"
	commitA    = "0123456789abcdef0123456789abcdef01234567"
)

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func pushBody(ref string) []byte {
	return []byte(fmt.Sprintf(`{"ref":%q,"before":"%s","after":%q,"repository":{"full_name":"ops/fleets"},"project":{"path_with_namespace":"ops/fleets"}}`,
		ref, strings.Repeat("0", 40), commitA))
}

// hookRequest builds a delivery in provider's style, signed with secret
// ("" leaves it unsigned).
func hookRequest(provider, event string, body []byte, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/git", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	switch provider {
	case "github":
		r.Header.Set("X-GitHub-Event", event)
		if secret != "" {
			r.Header.Set("X-Hub-Signature-256", "sha256="+sign(body, secret))
		}
	case "gitea":
		r.Header.Set("X-Gitea-Event", event)
		r.Header.Set("X-GitHub-Event", event) // Gitea sends both
		if secret != "" {
			r.Header.Set("X-Gitea-Signature", sign(body, secret))
		}
	case "gitlab":
		r.Header.Set("X-Gitlab-Event", event)
		if secret != "" {
			r.Header.Set("X-Gitlab-Token", secret)
		}
	}
	return r
}

func TestWebhookHandler(t *testing.T) {
	log, lb := newLogger(t)
	var pushes []Push
	results := map[string]int{}
	h, err := NewWebhookHandler(WebhookOptions{
		Secret:  []byte(hookSecret),
		Ref:     Ref{Branch: "main"},
		OnPush:  func(p Push) { pushes = append(pushes, p) },
		Observe: func(result, reason string) { results[result+"/"+reason]++ },
		Logger:  log,
	})
	if err != nil {
		t.Fatal(err)
	}
	pushEvent := map[string]string{"github": "push", "gitea": "push", "gitlab": "Push Hook"}
	for _, prov := range []string{"github", "gitea", "gitlab"} {
		for _, tc := range []struct {
			name   string
			req    *http.Request
			code   int
			result string
		}{
			{"push main", hookRequest(prov, pushEvent[prov], pushBody("refs/heads/main"), hookSecret), 202, "accepted/push"},
			{"push other", hookRequest(prov, pushEvent[prov], pushBody("refs/heads/dev"), hookSecret), 202, "ignored/other_ref"},
			{"tag", hookRequest(prov, pushEvent[prov], pushBody("refs/tags/main"), hookSecret), 202, "ignored/other_ref"},
			{"unsigned", hookRequest(prov, pushEvent[prov], pushBody("refs/heads/main"), ""), 401, "refused/unsigned"},
			{"wrong secret", hookRequest(prov, pushEvent[prov], pushBody("refs/heads/main"), "other-secret"), 403, "refused/bad_signature"},
			{"malformed", hookRequest(prov, pushEvent[prov], []byte(`{"ref": 3}`), hookSecret), 400, "refused/malformed"},
			{"other event", hookRequest(prov, "issues", []byte(`{}`), hookSecret), 202, "ignored/other_event"},
		} {
			t.Run(prov+"/"+tc.name, func(t *testing.T) {
				clear(results)
				pushes = nil
				w := httptest.NewRecorder()
				h.ServeHTTP(w, tc.req)
				if w.Code != tc.code || results[tc.result] != 1 {
					t.Fatalf("code %d results %v, want %d %s; body %q", w.Code, results, tc.code, tc.result, w.Body)
				}
				if accepted := tc.result == "accepted/push"; accepted != (len(pushes) == 1) {
					t.Fatalf("pushes %v", pushes)
				} else if accepted && (pushes[0].Ref != "refs/heads/main" || pushes[0].After != commitA || pushes[0].Provider != prov || pushes[0].Repository != "ops/fleets") {
					t.Fatalf("push %+v", pushes[0])
				}
			})
		}
	}
	// Tampered body: signed, then changed.
	body := pushBody("refs/heads/main")
	req := hookRequest("github", "push", body, hookSecret)
	req.Body = http.NoBody
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 403 {
		t.Fatalf("tampered: %d", w.Code)
	}
	// Ping, GET, too large, no provider headers at all.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, hookRequest("github", "ping", []byte(`{"zen":"x"}`), hookSecret))
	if w.Code != 200 {
		t.Fatalf("ping: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hooks/git", nil))
	if w.Code != 405 {
		t.Fatalf("GET: %d", w.Code)
	}
	big := bytes.Repeat([]byte(" "), MaxWebhookBody+10)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, hookRequest("github", "push", big, hookSecret))
	if w.Code != 413 {
		t.Fatalf("too large: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/hooks/git", bytes.NewReader(body)))
	if w.Code != 401 {
		t.Fatalf("no headers: %d", w.Code)
	}
	st := h.Stats()
	if st.Accepted != 3 || st.Ignored != 10 || st.Refused != 3*3+4 {
		t.Fatalf("stats %+v", st)
	}
	if strings.Contains(lb.String(), hookSecret) {
		t.Fatal("the secret is in the log")
	}
}

func TestWebhookPinnedAndEmptySecret(t *testing.T) {
	if _, err := NewWebhookHandler(WebhookOptions{}); err == nil {
		t.Fatal("empty secret accepted")
	}
	h, err := NewWebhookHandler(WebhookOptions{Secret: []byte(hookSecret), Ref: Ref{Commit: commitA},
		OnPush: func(Push) { t.Fatal("push on a pinned commit") }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hookRequest("github", "push", pushBody("refs/heads/main"), hookSecret))
	if w.Code != 202 || h.Stats().Ignored != 1 {
		t.Fatalf("pinned: %d %+v", w.Code, h.Stats())
	}
	if _, err := ParseWebhook(hookRequest("github", "push", pushBody("refs/heads/main"), hookSecret).Header, pushBody("refs/heads/main"), nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("ParseWebhook without secret: %v", err)
	}
}

// FuzzParseWebhook checks that no input panics, that a request is accepted
// only with the right signature or token, and that a correctly signed push
// yields the ref of its payload.
func FuzzParseWebhook(f *testing.F) {
	for _, prov := range []uint8{0, 1, 2, 3} {
		f.Add(prov, "push", "", pushBody("refs/heads/main"))
		f.Add(prov, "Push Hook", "sha256=00", []byte(`{"ref":"refs/heads/x","after":"`+commitA+`"}`))
		f.Add(prov, "ping", "zz", []byte(`{}`))
		f.Add(prov, "push", hookSecret, []byte(`{"ref":"refs/tags/v1","after":"`+strings.Repeat("a", 64)+`"}`))
		f.Add(prov, "push", "", []byte(`{"ref":null,"after":[1,2]}`))
	}
	f.Fuzz(func(t *testing.T, prov uint8, event, sig string, body []byte) {
		provs := []string{"github", "gitea", "gitlab", "none"}
		name := provs[int(prov)%len(provs)]
		h := make(http.Header)
		switch name {
		case "github":
			h.Set("X-GitHub-Event", event)
			h.Set("X-Hub-Signature-256", sig)
		case "gitea":
			h.Set("X-Gitea-Event", event)
			h.Set("X-Gitea-Signature", sig)
		case "gitlab":
			h.Set("X-Gitlab-Event", event)
			h.Set("X-Gitlab-Token", sig)
		}
		_, err := ParseWebhook(h, body, []byte(hookSecret))
		if err == nil {
			ok := false
			switch name {
			case "github":
				ok = sig == "sha256="+sign(body, hookSecret)
			case "gitea":
				ok = strings.EqualFold(sig, sign(body, hookSecret))
			case "gitlab":
				ok = sig == hookSecret
			}
			if !ok {
				t.Fatalf("%s accepted with signature %q", name, sig)
			}
		}
		// Correctly signed, the payload decides.
		switch name {
		case "github":
			h.Set("X-Hub-Signature-256", "sha256="+sign(body, hookSecret))
		case "gitea":
			h.Set("X-Gitea-Signature", sign(body, hookSecret))
		case "gitlab":
			h.Set("X-Gitlab-Token", hookSecret)
		default:
			return
		}
		p, err := ParseWebhook(h, body, []byte(hookSecret))
		if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrUnsigned) {
			t.Fatalf("signed %s delivery refused: %v", name, err)
		}
		if err == nil && p.IsPush() {
			var pl struct{ Ref, After string }
			if json.Unmarshal(body, &pl) != nil || pl.Ref != p.Ref || !strings.EqualFold(pl.After, p.After) {
				t.Fatalf("push %+v does not match payload %q", p, body)
			}
		}
	})
}
