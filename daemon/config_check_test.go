package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigRelativePaths: relative paths in the file resolve against the
// file's directory, not the working directory.
func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "etc", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(mustGetwd(t), file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		yaml string
		got  func(*Config) []string
		want []string
	}{
		{"repository: {url: ../fleets}\nstateDirectory: state\nwebhook: {secretFile: secrets/hook}\n",
			func(c *Config) []string { return []string{c.Repository.URL, c.StateDirectory, c.Webhook.SecretFile} },
			[]string{filepath.Join(dir, "fleets"), filepath.Join(dir, "etc", "state"), filepath.Join(dir, "etc", "secrets", "hook")}},
		{"repository:\n  url: https://git.example.com/f.git\n  auth: {tokenFile: token}\nstateDirectory: /var/lib/lk\n",
			func(c *Config) []string {
				return []string{c.Repository.URL, c.StateDirectory, c.Repository.Auth.TokenFile}
			},
			[]string{"https://git.example.com/f.git", "/var/lib/lk", filepath.Join(dir, "etc", "token")}},
		{"repository: {url: \"file:///srv/git/f\"}\nstateDirectory: /s\n",
			func(c *Config) []string { return []string{c.Repository.URL} },
			[]string{"file:///srv/git/f"}},
	} {
		if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(rel, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		got := tc.got(c)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %q, want %q", tc.yaml, got, tc.want)
				break
			}
		}
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
