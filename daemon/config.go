// This file holds the daemon's configuration: the YAML format, its embedded
// JSON Schema (config.schema.json, draft 2020-12) and the loader, whose
// errors read `config.yaml:4:13: repository.interval: must be a duration
// such as 30s`. The package comment is in doc.go.

package daemon

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/schema"
	"github.com/lightkeeper/lightkeeper/spec"
)

// ConfigSchemaID is the $id of the configuration schema.
const ConfigSchemaID = "https://raw.githubusercontent.com/lightkeeper/lightkeeper/main/daemon/config.schema.json"

//go:embed config.schema.json
var configSchemaSource []byte

// ConfigSchema returns the JSON Schema of the configuration file.
func ConfigSchema() []byte { return slices.Clone(configSchemaSource) }

// Defaults of the keys that a configuration may leave out.
const (
	DefaultInterval         = time.Minute
	DefaultListen           = "127.0.0.1:9180"
	DefaultMaxCreatesPerRun = 20
	DefaultMaxTotalCount    = spec.DefaultMaxTotalCount
	DefaultSite             = "auto"
)

// Config is the daemon's configuration file.
type Config struct {
	// File is the path the configuration was read from (not a YAML key).
	File string `yaml:"-"`

	Repository Repository `yaml:"repository"`
	API        API        `yaml:"api"`
	Limits     Limits     `yaml:"limits"`
	// Listen is the HOST:PORT of the HTTP server (health, metrics, status,
	// webhook); default DefaultListen.
	Listen string `yaml:"listen"`
	// StateDirectory holds the git cache and the daemon's state; default
	// the first path in $STATE_DIRECTORY.
	StateDirectory string `yaml:"stateDirectory"`
	// Webhook, when set, enables POST /hooks/git.
	Webhook *Webhook `yaml:"webhook"`
	// Exclude lists globs, relative to Repository.Path, of files and
	// directories that are not fleets: the globs of validate --exclude
	// (spec.Options.Exclude, "**" for any number of directories).
	Exclude []string `yaml:"exclude"`
	// HA, when set, runs the daemon on several hosts with one leader.
	HA *HA `yaml:"ha"`
	// SecretFilePermissions says what to do with a secret file that group
	// or others may read: SecretFilesWarn (default) or SecretFilesRefuse.
	SecretFilePermissions string `yaml:"secretFilePermissions"`
	// PublicURL is the status page's URL as people reach it, for the links
	// of notifications.
	PublicURL string `yaml:"publicURL"`
	// Notify lists where notifications go (config_notify.go).
	Notify []NotifySink `yaml:"notify"`
	// Approvers may release a held plan (POST /approve).
	Approvers []Approver `yaml:"approvers"`
	// Memory is the Go runtime's soft memory limit (memoryLimit); see
	// MemoryLimit and DefaultMemoryLimit. GOMEMLIMIT, when set, wins.
	Memory ByteSize `yaml:"memoryLimit"`

	root *yaml.Node // the file's YAML, to place the problems build finds
}

// Repository is the git repository that holds the fleets.
type Repository struct {
	// URL of the repository; see gitsync.Options.URL.
	URL string `yaml:"url"`
	// Branch, Tag and Commit select what to follow; at most one is set, and
	// Branch is "main" when none is.
	Branch string `yaml:"branch"`
	Tag    string `yaml:"tag"`
	Commit string `yaml:"commit"`
	// Path is the subdirectory of the fleets ("" for the root).
	Path string `yaml:"path"`
	// Interval between polls of the remote head; default DefaultInterval.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one fetch; default gitsync.DefaultTimeout.
	Timeout Duration `yaml:"timeout"`
	// Auth holds the paths of credential files.
	Auth RepositoryAuth `yaml:"auth"`
	// Verify, when set, applies only revisions signed by trusted keys
	// (config_verify.go).
	Verify *Verify `yaml:"verify"`
}

// RepositoryAuth holds the paths of the files with the git credentials.
// ${CREDENTIALS_DIRECTORY} and ${STATE_DIRECTORY} are expanded in them.
type RepositoryAuth struct {
	SSHKeyFile     string `yaml:"sshKeyFile"`
	KnownHostsFile string `yaml:"knownHostsFile"`
	TokenFile      string `yaml:"tokenFile"`
	Username       string `yaml:"username"`
}

// API configures the Lighthouse API client.
type API struct {
	// Endpoint is a host or base URL; "" means the client's default.
	Endpoint string `yaml:"endpoint"`
	// RateLimits overrides the client's requests per second by action.
	RateLimits map[string]float64 `yaml:"rateLimits"`
	// Site is "china", "intl" or "auto" (default: decided by the endpoint).
	Site string `yaml:"site"`
}

// Limits are the guards of each reconcile cycle.
type Limits struct {
	// MaxCreatesPerRun caps the creates of one cycle; default 20.
	MaxCreatesPerRun int `yaml:"maxCreatesPerRun"`
	// MaxMonthlySpend caps the monthly price of what one cycle buys; nil
	// means no ceiling.
	MaxMonthlySpend *float64 `yaml:"maxMonthlySpend"`
	// MaxRenewalSpendPerRun caps what the renewals of one cycle cost (fleets
	// with charge.renewBefore); nil means no ceiling, 0 renews nothing.
	MaxRenewalSpendPerRun *float64 `yaml:"maxRenewalSpendPerRun"`
	// MaxIsolatesPerRun caps the isolations of one cycle; default 0.
	MaxIsolatesPerRun int `yaml:"maxIsolatesPerRun"`
	// MaxUpdatesPerRun caps the resets, bundle changes and replacements of
	// one cycle's rollouts (fleets with spec.update); default 0 (rollouts
	// are only reported), -1 no limit. What is over it waits for the next
	// cycle.
	MaxUpdatesPerRun int `yaml:"maxUpdatesPerRun"`
	// MaxTotalCount caps the sum of count over every fleet of a revision
	// (spec.Options.MaxTotalCount): a revision over it is invalid. It is
	// positive, or -1 for no ceiling; default DefaultMaxTotalCount.
	MaxTotalCount int `yaml:"maxTotalCount"`
}

// Webhook enables POST /hooks/git.
type Webhook struct {
	// SecretFile holds the shared secret (expanded like RepositoryAuth).
	SecretFile string `yaml:"secretFile"`
}

// Duration is a time.Duration written as "30s", "5m" or "1h30m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("must be a duration such as 30s, 5m or 1h30m")
	}
	*d = Duration(v)
	return nil
}

// String renders the duration as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// GitRef returns the gitsync reference the repository settings select.
func (r Repository) GitRef() gitsync.Ref {
	return gitsync.Ref{Branch: r.Branch, Tag: r.Tag, Commit: r.Commit}
}

// SourceOptions returns the gitsync options for the repository, with the
// git cache under the state directory.
func (c *Config) SourceOptions() gitsync.Options {
	r := c.Repository
	o := gitsync.Options{
		URL: r.URL, Ref: r.GitRef(), Path: r.Path,
		CacheDir: filepathJoin(c.StateDirectory, "git"),
		Timeout:  time.Duration(r.Timeout),
		Auth: gitsync.Auth{SSHKeyFile: r.Auth.SSHKeyFile, KnownHostsFile: r.Auth.KnownHostsFile,
			TokenFile: r.Auth.TokenFile, Username: r.Auth.Username},
	}
	if r.Verify != nil {
		o.Verify = r.Verify.Verifier()
	}
	return o
}

func filepathJoin(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

// defaultConfig is what a file that sets only the required keys means.
func defaultConfig() Config {
	return Config{
		Repository: Repository{Interval: Duration(DefaultInterval), Timeout: Duration(gitsync.DefaultTimeout)},
		API:        API{Site: DefaultSite},
		Limits:     Limits{MaxCreatesPerRun: DefaultMaxCreatesPerRun, MaxTotalCount: DefaultMaxTotalCount},
		Listen:     DefaultListen,

		SecretFilePermissions: SecretFilesWarn,
	}
}

// LoadConfig reads and checks the configuration file. getenv resolves
// $STATE_DIRECTORY (the default stateDirectory) and the variables of file
// paths; nil means an empty environment. The error is a spec.Errors with
// every problem found, each placed at its line and column. A file is read
// up to the size of a fleet file (spec.DefaultMaxFileSize): a larger one
// is refused.
func LoadConfig(file string, getenv func(string) string) (*Config, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, spec.DefaultMaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(b) > spec.DefaultMaxFileSize {
		return nil, spec.Errors{{File: file, Line: 1, Column: 1,
			Message: fmt.Sprintf("the file is larger than %d bytes: is it the configuration?", spec.DefaultMaxFileSize)}}
	}
	return ParseConfig(file, b, getenv)
}

// configSchema is the configuration schema, compiled once.
var configSchema = sync.OnceValues(func() (*schema.Schema, error) {
	s, err := schema.Compile(ConfigSchemaID, configSchemaSource)
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	return s, nil
})

// ParseConfig is LoadConfig on data read from file (file names the source
// in errors).
func ParseConfig(file string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p := &configParser{file: file}
	root, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	sch, err := configSchema()
	if err != nil {
		return nil, err
	}
	// The same pipeline as a fleet's: YAML 1.2 scalars, aliases bounded
	// as a fleet's are, every problem placed.
	res, err := sch.Check(root, schema.Options{MaxAliasNodes: spec.DefaultMaxAliasNodes, MaxViolations: spec.DefaultMaxErrors})
	if err != nil {
		return nil, fmt.Errorf("validate config: %w", err)
	}
	for _, v := range res.Violations {
		p.errs = append(p.errs, &spec.Error{File: file, Line: v.Line, Column: v.Column, Field: v.Field(), Message: v.Message})
	}
	if len(p.errs) > 0 || res.More > 0 {
		return nil, p.result(res.More)
	}
	cfg := defaultConfig()
	if err := root.Decode(&cfg); err != nil {
		// The schema admits only what decodes; say so rather than panic.
		p.add(root, nil, err.Error())
		return nil, p.result(0)
	}
	cfg.File, cfg.root = file, root
	p.check(&cfg, getenv)
	if len(p.errs) > 0 {
		return nil, p.result(0)
	}
	return &cfg, nil
}

// check adds what the schema cannot say: defaults from the environment,
// variables in file paths, durations in range, valid globs.
func (p *configParser) check(c *Config, getenv func(string) string) {
	if c.StateDirectory == "" {
		dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":")
		if dir == "" {
			p.add(p.root, nil, "stateDirectory is not set and $STATE_DIRECTORY is empty: set stateDirectory, or run under systemd with StateDirectory=")
		}
		c.StateDirectory = dir
	}
	if time.Duration(c.Repository.Interval) < time.Second {
		p.at("must be at least 1s", "repository", "interval")
	}
	if time.Duration(c.Repository.Timeout) < time.Second {
		p.at("must be at least 1s", "repository", "timeout")
	}
	files := []configFile{
		{&c.Repository.Auth.SSHKeyFile, []string{"repository", "auth", "sshKeyFile"}},
		{&c.Repository.Auth.KnownHostsFile, []string{"repository", "auth", "knownHostsFile"}},
		{&c.Repository.Auth.TokenFile, []string{"repository", "auth", "tokenFile"}},
	}
	if c.Webhook != nil {
		files = append(files, configFile{&c.Webhook.SecretFile, []string{"webhook", "secretFile"}})
	}
	files = append(files, c.haFiles()...)
	files = append(files, c.notifyFiles()...)
	for _, f := range files {
		var bad string
		*f.v, bad = expandFileVars(*f.v, getenv)
		if bad != "" {
			p.at(bad, f.path...)
		}
		*f.v = c.resolve(*f.v)
	}
	p.checkStartup(c) // config_check.go
	if gitsync.IsLocal(c.Repository.URL) && (c.Repository.Auth != RepositoryAuth{}) {
		p.at("a local repository needs no credentials: remove repository.auth", "repository", "auth")
	}
	for i, g := range c.Exclude {
		if err := spec.CheckExclude(g); err != nil {
			msg := err.Error()
			if why, ok := strings.CutPrefix(msg, fmt.Sprintf("exclude pattern %q: ", g)); ok {
				msg = fmt.Sprintf("%q is not a valid glob: %s", g, why)
			}
			p.at(msg, "exclude", fmt.Sprint(i))
		}
	}
	// repository.verify: its checks and key files are in config_verify.go.
	p.checkVerify(c, getenv)
	p.checkNotify(c) // config_notify.go
	if len(p.errs) == 0 {
		p.checkHA(c) // reads the TLS files: only once their paths are good
	}
}

// configFile is a key that holds a file path, and where it is.
type configFile struct {
	v    *string
	path []string
}

// configParser reads the file into a YAML node tree (schema.Schema checks
// it) and places the problems of the checks that follow at their nodes.
type configParser struct {
	file string
	root *yaml.Node
	errs spec.Errors
}

// parse reads the one YAML document of the file, its text checked and its
// syntax errors placed as a fleet file's are.
func (p *configParser) parse(data []byte) (root *yaml.Node, err error) {
	fail := func(line, col int, msg string) (*yaml.Node, error) {
		p.errs = append(p.errs, &spec.Error{File: p.file, Line: line, Column: col, Message: msg})
		return nil, p.errs
	}
	text, problem := schema.Prepare(data)
	if problem != nil {
		return fail(problem.Line, problem.Column, problem.Message)
	}
	defer func() {
		if r := recover(); r != nil {
			root, err = fail(1, 1, fmt.Sprintf("YAML parser failed: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	err = dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return fail(0, 0, "the file is empty: repository.url is required")
	}
	if err != nil {
		v := schema.SyntaxError(text, err)
		return fail(v.Line, v.Column, v.Message)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line, col := next.Line, next.Column
		if err != nil {
			v := schema.SyntaxError(text, err)
			line, col = v.Line, v.Column
		}
		return fail(line, col, "a config file holds one YAML document; remove the ---")
	}
	p.root = schema.Deref(&doc)
	if p.root == nil || p.root.Kind == yaml.ScalarNode && p.root.ShortTag() == "!!null" {
		return fail(0, 0, "the file is empty: repository.url is required")
	}
	if p.root.Kind != yaml.MappingNode {
		return fail(p.root.Line, p.root.Column, "the configuration must be a mapping with repository, api, limits, …")
	}
	return p.root, nil
}

func (p *configParser) add(n *yaml.Node, path []string, msg string) {
	e := &spec.Error{File: p.file, Field: schema.FieldName(path), Message: msg}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// at adds msg at the value found at path (or the nearest node above it).
func (p *configParser) at(msg string, path ...string) {
	n, _ := schema.Lookup(p.root, path)
	p.add(n, path, msg)
}

// result returns the problems sorted by line and column, with a summary
// of more that are not listed.
func (p *configParser) result(more int) error {
	slices.SortStableFunc(p.errs, func(a, b *spec.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Field, b.Field))
	})
	if more > 0 {
		p.errs = append(p.errs, &spec.Error{More: more, Message: fmt.Sprintf("and %d more problems not listed; fix these and look again", more)})
	}
	return p.errs
}
