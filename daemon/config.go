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
	"maps"
	"math"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
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
	// Exclude lists path.Match globs, relative to Repository.Path, of files
	// that are not fleets.
	Exclude []string `yaml:"exclude"`
	// HA, when set, runs the daemon on several hosts with one leader.
	HA *HA `yaml:"ha"`
	// SecretFilePermissions says what to do with a secret file that group
	// or others may read: SecretFilesWarn (default) or SecretFilesRefuse.
	SecretFilePermissions string `yaml:"secretFilePermissions"`

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
	// MaxIsolatesPerRun caps the isolations of one cycle; default 0.
	MaxIsolatesPerRun int `yaml:"maxIsolatesPerRun"`
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
// every problem found, each placed at its line and column.
func LoadConfig(file string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(file, b, getenv)
}

// configSchema is the configuration schema compiled, with the parsed
// document beside it for the x-message and property lists of errors.
type configSchema struct {
	schema *jsonschema.Schema
	raw    any
}

var compiledSchema = sync.OnceValues(func() (*configSchema, error) {
	s, raw, err := schema.CompileDocument(ConfigSchemaID, configSchemaSource)
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	return &configSchema{schema: s, raw: raw}, nil
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
	doc := p.toJSON(root, nil)
	if len(p.errs) > 0 {
		return nil, p.result()
	}
	sch, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	if err := sch.schema.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return nil, fmt.Errorf("validate config: %w", err)
		}
		p.collect(verr, sch.raw)
		return nil, p.result()
	}
	cfg := defaultConfig()
	if err := root.Decode(&cfg); err != nil {
		// The schema admits only what decodes; say so rather than panic.
		p.add(root, nil, err.Error())
		return nil, p.result()
	}
	cfg.File, cfg.root = file, root
	p.check(&cfg, getenv)
	if len(p.errs) > 0 {
		return nil, p.result()
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
		if _, err := path.Match(g, ""); err != nil {
			p.at(fmt.Sprintf("%q is not a valid glob: %v", g, err), "exclude", fmt.Sprint(i))
		}
	}
	// repository.verify: its checks and key files are in config_verify.go.
	p.checkVerify(c, getenv)
	if len(p.errs) == 0 {
		p.checkHA(c) // reads the TLS files: only once their paths are good
	}
}

// configFile is a key that holds a file path, and where it is.
type configFile struct {
	v    *string
	path []string
}

// configParser turns the YAML into the JSON form the schema validates and
// places each problem at its node. (schema/ maps fleet errors the same
// way, but its mapping is bound to the fleet schema and unexported; this is
// the smaller version for a small file. schema.FieldName and
// schema.Suggest are shared.)
type configParser struct {
	file string
	root *yaml.Node
	errs spec.Errors
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *configParser) parse(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		p.errs = append(p.errs, &spec.Error{File: p.file, Message: "the file is empty: repository.url is required"})
		return nil, p.errs
	}
	if err != nil {
		e := &spec.Error{File: p.file, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Column, e.Message = 1, m[2]
		}
		p.errs = append(p.errs, e)
		return nil, p.errs
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p.errs = append(p.errs, &spec.Error{File: p.file, Line: next.Line, Column: next.Column, Message: "a config file holds one YAML document; remove the ---"})
		return nil, p.errs
	}
	p.root = deref(&doc)
	if p.root == nil || p.root.Kind != yaml.MappingNode {
		p.add(p.root, nil, "the configuration must be a mapping with repository, api, limits, …")
		return nil, p.errs
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
	n, _ := p.find(path)
	p.add(n, path, msg)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 100 && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode); i++ {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// toJSON converts the node to maps, slices and scalars for the schema,
// with YAML 1.2 core scalars; duplicate and merge keys are errors.
func (p *configParser) toJSON(n *yaml.Node, path []string) any {
	n = deref(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			sub := append(slices.Clip(path), k.Value)
			switch {
			case k.Kind != yaml.ScalarNode:
				p.add(k, path, "keys must be plain strings")
				continue
			case k.Tag == "!!merge":
				p.add(k, path, "merge keys (<<) are not supported here; write the keys out")
				continue
			case first[k.Value] != nil:
				p.add(k, sub, fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, first[k.Value].Line))
				continue
			}
			first[k.Value] = k
			m[k.Value] = p.toJSON(n.Content[i+1], sub)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = p.toJSON(c, append(slices.Clip(path), strconv.Itoa(i)))
		}
		return s
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i
		}
		p.add(n, path, fmt.Sprintf("%s: write integers in decimal, without leading zeros or '_'", n.Value))
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
		p.add(n, path, fmt.Sprintf("%s is not a finite number", n.Value))
	}
	return n.Value
}

// find returns the value node at path, or the deepest node reached, and
// the key node of the last step when there is one.
func (p *configParser) find(path []string) (val, key *yaml.Node) {
	n := p.root
	for _, s := range path {
		n = deref(n)
		if n == nil {
			return nil, nil
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					key, next = n.Content[i], n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(n.Content) {
				key, next = nil, n.Content[i]
			}
		}
		if next == nil {
			return n, nil
		}
		n = next
	}
	return n, key
}

// collect flattens a validation error tree into placed errors.
func (p *configParser) collect(e *jsonschema.ValidationError, raw any) {
	if k, ok := e.ErrorKind.(*kind.PropertyNames); ok {
		// jsonschema v6.0.3 gives this error a wrong InstanceLocation (that
		// of another value); the schema location names the object instead.
		var loc []string
		_, frag, _ := strings.Cut(e.SchemaURL, "#")
		toks := strings.Split(strings.TrimPrefix(frag, "/"), "/")
		for i := 0; i+1 < len(toks); i++ {
			if toks[i] == "properties" {
				loc = append(loc, toks[i+1])
				i++
			}
		}
		loc = append(loc, k.Property)
		_, kn := p.find(loc)
		p.add(kn, loc, fmt.Sprintf("%q is not an API action name (like CreateInstances)", k.Property))
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			p.collect(c, raw)
		}
		return
	}
	loc := e.InstanceLocation
	val, _ := p.find(loc)
	sch := schemaAt(raw, e.SchemaURL)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		props, _ := sch["properties"].(map[string]any)
		names := slices.Sorted(maps.Keys(props))
		for _, name := range k.Properties {
			_, kn := p.find(append(slices.Clip(loc), name))
			msg := fmt.Sprintf("unknown key %q", name)
			if s := schema.Suggest(name, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(names) > 0 {
				msg += "; known keys: " + strings.Join(names, ", ")
			}
			p.add(kn, append(slices.Clip(loc), name), msg)
		}
	case *kind.Required:
		for _, m := range k.Missing {
			p.add(val, append(slices.Clip(loc), m), "missing required key")
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			p.add(val, append(slices.Clip(loc), m), fmt.Sprintf("required with %s", k.Prop))
		}
	case *kind.Not, *kind.Pattern:
		if m, ok := sch["x-message"].(string); ok {
			p.add(val, loc, m)
		} else if pk, ok := k.(*kind.Pattern); ok {
			p.add(val, loc, fmt.Sprintf("%q does not match %s", pk.Got, pk.Want))
		} else {
			p.add(val, loc, "is not allowed here")
		}
	case *kind.Type:
		msg := fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
		if m, ok := sch["x-message"].(string); ok {
			msg = m // says what to write: "must be a duration such as 30s, …"
		}
		if v := deref(val); v != nil && v.Kind == yaml.ScalarNode && slices.Contains(k.Want, "string") {
			msg += fmt.Sprintf("; quote it: %q", v.Value)
		} else if v != nil && v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			msg += "; write it without quotes"
		}
		p.add(val, loc, msg)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprintf("%v", w)
		}
		p.add(val, loc, "must be one of "+strings.Join(want, ", "))
	case *kind.Minimum:
		if m, ok := sch["x-message"].(string); ok {
			p.add(val, loc, m)
		} else {
			p.add(val, loc, "must be >= "+k.Want.RatString())
		}
	case *kind.MinLength:
		p.add(val, loc, "must not be empty")
	case *kind.MinItems:
		p.add(val, loc, fmt.Sprintf("must list at least %d", k.Want))
	default:
		p.add(val, loc, fmt.Sprint(e.ErrorKind))
	}
}

// schemaAt returns the object of raw, the parsed schema, at a schema URL.
func schemaAt(raw any, u string) map[string]any {
	_, frag, _ := strings.Cut(u, "#")
	cur := raw
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
	}
	m, _ := cur.(map[string]any)
	return m
}

// result returns the problems sorted by line and column.
func (p *configParser) result() error {
	slices.SortStableFunc(p.errs, func(a, b *spec.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Field, b.Field))
	})
	return p.errs
}
