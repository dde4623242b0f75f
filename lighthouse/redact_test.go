package lighthouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestCreateRequestPrintsNoPassword: a create request carrying a login
// password must not show it through any fmt verb or slog handler, while
// its JSON body (what is sent) still carries it.
func TestCreateRequestPrintsNoPassword(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	req := createReq("tok")
	req.LoginConfiguration = &LoginConfiguration{Password: pw, KeyIds: []string{"lhkp-abcdefgh"}}
	lc := *req.LoginConfiguration

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for name, v := range map[string]any{"request": req, "*request": *req, "login": lc, "*login": &lc} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, pw) || strings.Contains(got, fmt.Sprintf("%x", pw)) {
				t.Errorf("fmt %s of %s shows the password: %s", verb, name, got)
			}
		}
	}
	if got := fmt.Sprintf("%+v", lc); !strings.Contains(got, "lhkp-abcdefgh") || !strings.Contains(got, "REDACTED") {
		t.Errorf("fmt %%+v of the login configuration hides too much: %s", got)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("create", "req", req, "login", lc, "plogin", &lc)
	}
	if strings.Contains(buf.String(), pw) {
		t.Errorf("slog shows the password:\n%s", buf.String())
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"Password":"`+pw+`"`)) {
		t.Errorf("the JSON body lost the password: %s", body)
	}
	var back CreateInstancesRequest
	if err := json.Unmarshal(body, &back); err != nil || back.LoginConfiguration.Password != pw {
		t.Errorf("JSON round trip: %v, %+v", err, back.LoginConfiguration)
	}
}

// TestClientPrintsNoSecret: printing or logging a Client (say, a struct
// holding one dumped with %+v) must not show the SecretKey or token.
func TestClientPrintsNoSecret(t *testing.T) {
	const key, token = "client-secret-key-NEVER-SHOWN", "session-token-NEVER-SHOWN"
	cl, err := New(Options{Credential: NewCredential("AKIDprint00000001", key, token, "test")})
	if err != nil {
		t.Fatal(err)
	}
	type holder struct{ C *Client }
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, v := range map[string]any{"*Client": cl, "Client": *cl, "holder": holder{cl}} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, key) || strings.Contains(got, token) {
				t.Errorf("fmt %s of %s shows a secret: %s", verb, name, got)
			}
		}
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("client", "c", cl)
	}
	//lint:ignore SA9005 the point is that nothing comes out
	if b, _ := json.Marshal(cl); bytes.Contains(b, []byte(key)) {
		t.Errorf("JSON shows the key: %s", b)
	}
	if strings.Contains(buf.String(), key) || strings.Contains(buf.String(), token) {
		t.Errorf("slog shows a secret:\n%s", buf.String())
	}
}
