// This file holds what the loader checks of the configuration beyond its
// schema that a daemon needs to start: relative paths resolved against the
// file's directory, no token as the repository URL's user name, an API
// endpoint the client accepts. What needs the host (secret files, the
// state directory) is checked by build (build.go), which start-up and
// `daemon --check` both run.

package daemon

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Values of secretFilePermissions.
const (
	// SecretFilesWarn logs a warning for a secret file that group or
	// others may read, and uses it (the default).
	SecretFilesWarn = "warn"
	// SecretFilesRefuse refuses to start with such a file.
	SecretFilesRefuse = "refuse"
)

// baseDir is the directory relative paths of the file resolve against:
// the configuration file's, made absolute.
func (c *Config) baseDir() string {
	dir := filepath.Dir(c.File)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// resolve makes a relative path of the file absolute, against the
// configuration file's directory (the working directory of a service is
// nobody's choice).
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.baseDir(), p)
}

// APIEndpoint is api.endpoint as the client takes it: a host alone means
// https://HOST; "" is the client's default.
func (c *Config) APIEndpoint() string {
	e := c.API.Endpoint
	if e != "" && !strings.Contains(e, "://") {
		e = "https://" + e
	}
	return e
}

// checkStartup resolves the relative paths of the repository and the state
// directory, and reports a URL or an endpoint the daemon would refuse
// later. The *File keys are resolved where check expands them.
func (p *configParser) checkStartup(c *Config) {
	r := &c.Repository
	if gitsync.IsLocal(r.URL) && !strings.HasPrefix(r.URL, "file://") {
		r.URL = c.resolve(r.URL)
	}
	c.StateDirectory = c.resolve(c.StateDirectory)
	if u, err := url.Parse(r.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.User != nil && r.Auth.TokenFile == "" {
		p.at("the URL holds a user name, perhaps a token, which is refused: put the token in a file and set repository.auth.tokenFile (auth.username sets the name)",
			"repository", "url")
	}
	if e := c.APIEndpoint(); e != "" {
		_, err := lighthouse.New(lighthouse.Options{Credential: lighthouse.NewCredential("check", "check", "", "config"), Endpoint: e})
		if err != nil {
			p.at(strings.TrimPrefix(err.Error(), fmt.Sprintf("lighthouse: Options.Endpoint %q: ", e)), "api", "endpoint")
		}
	}
}
