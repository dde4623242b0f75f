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
