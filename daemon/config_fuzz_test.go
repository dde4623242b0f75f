package daemon

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/spec"
)

// FuzzParseConfig feeds arbitrary bytes to the configuration loader. It
// must never panic, and must return either a configuration or spec.Errors
// whose every entry has a message and, but for an empty file and the
// summary of a long list, a line; the password of repository.url is never
// repeated.
func FuzzParseConfig(f *testing.F) {
	for _, dir := range []string{"../examples/daemon", "testdata/config", "testdata/config/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("repository: {url: /srv/x}\nx: &a [*a]\n"))
	f.Add([]byte("repository: {url: 'https://u:hunter22@h/x'}\nlimits: {maxCreatesPerRun: 0x2, maxTotalCount: 010}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Only paths under the state directory and the credentials
		// directory are expanded; both name an empty directory, so no key
		// or certificate file of this host is read.
		dir := t.TempDir()
		getenv := env(map[string]string{"STATE_DIRECTORY": dir, "CREDENTIALS_DIRECTORY": dir})
		cfg, err := ParseConfig("c.yaml", data, getenv)
		if err == nil {
			if cfg == nil || cfg.Repository.URL == "" || cfg.StateDirectory == "" {
				t.Fatalf("accepted without a repository or state directory: %+v", cfg)
			}
			return
		}
		// The one "hunter22" of the input is the password of a url.
		secret := bytes.Count(data, []byte("hunter22")) == 1 && passwordURL.Match(data)
		var errs spec.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not spec.Errors: %v", err)
		}
		for i, e := range errs {
			if e.Message == "" || e.File != "c.yaml" && e.More == 0 {
				t.Fatalf("error %d without a message or file: %#v", i, e)
			}
			if e.Line <= 0 && e.More == 0 && !strings.HasPrefix(e.Message, "the file is empty") {
				t.Fatalf("error %d without a line: %#v", i, e)
			}
			if secret && strings.Contains(e.Error(), "hunter22") {
				t.Fatalf("a password from a URL is in the error: %s", e)
			}
		}
	})
}

// passwordURL matches a url key whose value holds the password hunter22.
var passwordURL = regexp.MustCompile(`(?m)^\s*url:\s*['"]?[a-z]+://[^/@\s]*:hunter22@`)
