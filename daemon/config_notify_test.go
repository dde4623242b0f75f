package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/notify"
)

// notifyConfig writes a configuration with the notify and approvers keys
// of body in dir, and the files files (name → content, mode 0600).
func notifyConfig(t *testing.T, dir, body string, files map[string]string) *Config {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := ParseConfig(filepath.Join(dir, "config.yaml"), []byte("repository: {url: https://git.example.com/f.git}\nstateDirectory: "+dir+"/state\n"+body), nil)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return cfg
}

const slackURL = "https://hooks.slack.com/services/T000/B000/XXXXslacktokenXXXX"

// TestBuildNotify: the sinks and approvers of the file reach the daemon:
// named, filtered, the Slack URL and the secrets read from their files,
// Alertmanager given every condition by default.
func TestBuildNotify(t *testing.T) {
	dir := t.TempDir()
	cfg := notifyConfig(t, dir, `publicURL: https://lk.example.com/
notify:
  - {type: webhook, url: "https://hooks.example.com/lk", secretFile: hook, events: [plan.held, revision.invalid], minSeverity: warning, repeatInterval: 1h}
  - {type: slack, urlFile: slack}
  - {type: alertmanager, url: "http://127.0.0.1:9093", repeatInterval: 30s}
  - {type: webhook, url: "https://hooks.example.com/two", secretFile: hook}
approvers:
  - {name: alice, tokenFile: alice}
`, map[string]string{"hook": "k3y\n", "slack": slackURL + "\n", "alice": "alice-token-0123456789\n"})
	b, err := build(cfg, testDeps, false)
	if err != nil {
		t.Fatal(err)
	}
	r := b.opts.Notify
	if len(r) != 4 || b.opts.PublicURL != "https://lk.example.com/" {
		t.Fatalf("routes %+v, public URL %q", r, b.opts.PublicURL)
	}
	var names []string
	for _, x := range r {
		names = append(names, x.Sink.Name())
	}
	if !slices.Equal(names, []string{"webhook-1", "slack", "alertmanager", "webhook-2"}) {
		t.Errorf("names %q", names)
	}
	if !slices.Equal(r[0].Kinds, []string{"plan.held", "revision.invalid"}) || r[0].MinSeverity != notify.Warning || r[0].Repeat != time.Hour {
		t.Errorf("webhook route %+v", r[0])
	}
	if len(r[1].Kinds) != 0 || r[1].ConditionsOnly {
		t.Errorf("slack route %+v", r[1])
	}
	if !r[2].ConditionsOnly || len(r[2].Kinds) != len(conditionKinds) || r[2].Sink.(*notify.Alertmanager).ResendEvery() != 30*time.Second {
		t.Errorf("alertmanager route %+v", r[2])
	}
	if a := b.opts.Approvers; len(a) != 1 || a[0].Name != "alice" || string(a[0].Token) != "alice-token-0123456789" {
		t.Errorf("approvers %+v", a)
	}
}

// TestCheckNotifyFiles: --check finds what start-up would refuse in the
// files of notify and approvers (missing, empty, not a URL, a short or
// shared token, open to others with secretFilePermissions: refuse), and no
// message shows what a file holds.
func TestCheckNotifyFiles(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		files      map[string]string
		want       string
	}{
		{"missing", "notify: [{type: slack, urlFile: nothere}]\n", nil, "notify[0].urlFile: " + "DIR/nothere does not exist"},
		{"empty", "notify: [{type: slack, urlFile: slack}]\n", map[string]string{"slack": "\n"}, "notify[0].urlFile: DIR/slack is empty"},
		{"not a URL", "notify: [{type: slack, urlFile: slack}]\n", map[string]string{"slack": "xoxb-not-a-url-secret\n"},
			"notify[0].urlFile: DIR/slack does not hold an http:// or https:// URL with a host (what it holds is not shown: it may be a credential)"},
		{"no secret", "notify: [{type: webhook, url: \"https://h.example.com/\", secretFile: hook}]\n", map[string]string{"hook": " \n"},
			"notify[0].secretFile: DIR/hook is empty"},
		{"short token", "approvers: [{name: a, tokenFile: a}]\n", map[string]string{"a": "short-secret\n"},
			"approvers[0].tokenFile: DIR/a holds 12 characters; a token needs at least 16 (openssl rand -hex 32 > DIR/a)"},
		{"shared token", "approvers: [{name: a, tokenFile: a}, {name: b, tokenFile: b}]\n",
			map[string]string{"a": "same-token-0123456789-secret", "b": "same-token-0123456789-secret\n"},
			`approvers[1].tokenFile: holds the same token as approver "a"'s: each approver needs their own, to say who approved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := notifyConfig(t, dir, tc.body, tc.files)
			_, err := CheckConfig(cfg, testDeps)
			if err == nil {
				t.Fatal("passed")
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if !strings.Contains(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if strings.Contains(got, "secret") && !strings.Contains(tc.want, "secret") {
				t.Errorf("a message shows what a file holds: %s", got)
			}
		})
	}

	// A token open to others: a warning, or refused with refuse.
	dir := t.TempDir()
	cfg := notifyConfig(t, dir, "approvers: [{name: a, tokenFile: a}]\n", map[string]string{"a": "alice-token-0123456789"})
	if err := os.Chmod(filepath.Join(dir, "a"), 0o644); err != nil {
		t.Fatal(err)
	}
	warnings, err := CheckConfig(cfg, testDeps)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "approvers[0].tokenFile: warning: ") {
		t.Errorf("warnings %v, err %v", warnings, err)
	}
	cfg.SecretFilePermissions = SecretFilesRefuse
	if _, err := CheckConfig(cfg, testDeps); err == nil || !strings.Contains(err.Error(), "(secretFilePermissions: refuse)") {
		t.Errorf("refuse: %v", err)
	}
}

// TestEventKindsInTheSchema: the schema's event kinds are EventKinds, in
// order, so that a kind the daemon sends can be asked for.
func TestEventKindsInTheSchema(t *testing.T) {
	var doc struct {
		Defs struct {
			EventKind struct {
				Enum []string `json:"enum"`
			} `json:"eventKind"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(configSchemaSource, &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.Defs.EventKind.Enum, EventKinds) {
		t.Errorf("schema event kinds %q, EventKinds %q", doc.Defs.EventKind.Enum, EventKinds)
	}
	for k := range conditionKinds {
		if !slices.Contains(EventKinds, k) {
			t.Errorf("condition kind %s is not in EventKinds", k)
		}
	}
}
