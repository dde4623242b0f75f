package daemon

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

var update = flag.Bool("update", false, "rewrite the .err files of testdata/config/invalid")

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var systemdEnv = env(map[string]string{
	"STATE_DIRECTORY":       "/var/lib/lightkeeper",
	"CREDENTIALS_DIRECTORY": "/run/credentials/lightkeeper.service",
})

// TestLocalExampleConfig: examples/daemon/local.yaml, the configuration of
// scripts/daemon-demo.sh, follows the repository beside it and buys from an
// emulator on loopback, taken for the China site as the emulator serves.
func TestLocalExampleConfig(t *testing.T) {
	c, err := LoadConfig("../examples/daemon/local.yaml", env(nil))
	if err != nil {
		t.Fatalf("the local example config is invalid:\n%v", err)
	}
	dir, _ := filepath.Abs("../examples/daemon")
	if c.Repository.URL != filepath.Join(dir, "fleets") || c.StateDirectory != filepath.Join(dir, "state") || c.Repository.Branch != "main" {
		t.Errorf("repository %+v, state %q; want the paths beside the file", c.Repository, c.StateDirectory)
	}
	if !gitsync.IsLocal(c.Repository.URL) {
		t.Errorf("%s is not a local repository", c.Repository.URL)
	}
	if c.APIEndpoint() != "http://127.0.0.1:9100" || !lighthouse.TakesTags(c.API.Site, c.APIEndpoint()) || c.Listen != "127.0.0.1:9180" {
		t.Errorf("endpoint %q (site %q), listen %q; want the emulator on 9100, the China site, 127.0.0.1:9180", c.APIEndpoint(), c.API.Site, c.Listen)
	}
	if f := following(c); f != (Following{Repository: filepath.Join(dir, "fleets"), Branch: "main"}) {
		t.Errorf("following %+v", f)
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../examples/daemon/config.yaml", systemdEnv)
	if err != nil {
		t.Fatalf("the example config is invalid:\n%v", err)
	}
	r := c.Repository
	if r.URL != "ssh://git@git.example.com/ops/fleets.git" || r.Branch != "main" || r.Path != "fleets" ||
		time.Duration(r.Interval) != time.Minute || time.Duration(r.Timeout) != 2*time.Minute {
		t.Errorf("repository = %+v", r)
	}
	knownHosts, _ := filepath.Abs("../examples/daemon/known_hosts") // beside the file
	if r.Auth.SSHKeyFile != "/run/credentials/lightkeeper.service/git-ssh-key" || r.Auth.KnownHostsFile != knownHosts {
		t.Errorf("auth = %+v", r.Auth)
	}
	if c.API.RateLimits["CreateInstances"] != 5 || c.API.Site != "auto" || c.API.Endpoint != "lighthouse.tencentcloudapi.com" {
		t.Errorf("api = %+v", c.API)
	}
	if c.Limits.MaxCreatesPerRun != 20 || c.Limits.MaxMonthlySpend == nil || *c.Limits.MaxMonthlySpend != 500 || c.Limits.MaxIsolatesPerRun != 0 ||
		c.Limits.MaxTotalCount != 1000 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.Listen != "127.0.0.1:9180" || c.StateDirectory != "/var/lib/lightkeeper" || c.File != "../examples/daemon/config.yaml" {
		t.Errorf("listen %q state %q file %q", c.Listen, c.StateDirectory, c.File)
	}
	if c.Webhook == nil || c.Webhook.SecretFile != "/run/credentials/lightkeeper.service/webhook-secret" {
		t.Errorf("webhook = %+v", c.Webhook)
	}
	if len(c.Exclude) != 2 {
		t.Errorf("exclude = %q", c.Exclude)
	}
	o := c.SourceOptions()
	if o.CacheDir != "/var/lib/lightkeeper/git" || o.Ref != (gitsync.Ref{Branch: "main"}) || o.Auth.KnownHostsFile != r.Auth.KnownHostsFile {
		t.Errorf("source options = %+v", o)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("c.yaml", []byte("repository:\n  url: /srv/git/fleets\n"), env(map[string]string{"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}))
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.File, want.Repository.URL, want.StateDirectory = "c.yaml", "/srv/git/fleets", "/var/lib/a"
	got, _ := json.Marshal(c)
	w, _ := json.Marshal(want)
	if string(got) != string(w) {
		t.Fatalf("defaults:\n got %s\nwant %s", got, w)
	}
	if c.Limits.MaxCreatesPerRun != 20 || c.Listen != "127.0.0.1:9180" || time.Duration(c.Repository.Interval) != time.Minute ||
		c.Limits.MaxMonthlySpend != nil || c.Webhook != nil || c.Repository.GitRef() != (gitsync.Ref{}) {
		t.Fatalf("defaults: %+v", c)
	}
	// An explicit 0 stays 0.
	c, err = ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\nlimits: {maxCreatesPerRun: 0}\nstateDirectory: /tmp/s\n"), nil)
	if err != nil || c.Limits.MaxCreatesPerRun != 0 || c.StateDirectory != "/tmp/s" {
		t.Fatalf("explicit zero: %v %+v", err, c)
	}
	// A credential path outside systemd.
	_, err = ParseConfig("c.yaml", []byte("repository:\n  url: https://h/x\n  auth:\n    tokenFile: ${CREDENTIALS_DIRECTORY}/t\n"), env(map[string]string{"STATE_DIRECTORY": "/s"}))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:4:16: repository.auth.tokenFile: $CREDENTIALS_DIRECTORY is empty here") {
		t.Fatalf("no credentials directory: %v", err)
	}
	// No state directory anywhere.
	_, err = ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:1:1: stateDirectory is not set") {
		t.Fatalf("no state directory: %v", err)
	}
}

func TestConfigMaxTotalCount(t *testing.T) {
	c, err := LoadConfig("testdata/config/large-estate.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxTotalCount != 10000 || c.Limits.MaxCreatesPerRun != 100 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if d := defaultConfig(); d.Limits.MaxTotalCount != spec.DefaultMaxTotalCount {
		t.Errorf("default maxTotalCount = %d, want the spec default %d", d.Limits.MaxTotalCount, spec.DefaultMaxTotalCount)
	}
	c, err = ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\nlimits: {maxTotalCount: -1}\nstateDirectory: /s\n"), nil)
	if err != nil || c.Limits.MaxTotalCount != -1 {
		t.Errorf("no ceiling: %v %+v", err, c)
	}
}

// TestConfigInvalid checks each testdata/config/invalid/NAME.yaml against
// NAME.err, its expected errors with FILE for its path (-update rewrites).
func TestConfigInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/config/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadConfig(f, systemdEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			var es spec.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T, want spec.Errors: %v", err, err)
			}
			// Paths in the file resolve against its directory; the messages
			// name them from testdata/ as the golden files do.
			abs, _ := filepath.Abs("testdata")
			got := strings.ReplaceAll(strings.ReplaceAll(err.Error(), f, "FILE"), abs, "testdata") + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
			if strings.Contains(got, "hunter22") {
				t.Error("a password from the URL is in the error")
			}
		})
	}
}

func TestConfigSchemaDescribesEveryKey(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(ConfigSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	if _, err := configSchema(); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, m map[string]any)
	walk = func(path string, m map[string]any) {
		props, _ := m["properties"].(map[string]any)
		for k, v := range props {
			sub := v.(map[string]any)
			if _, ok := sub["description"]; !ok {
				t.Errorf("%s%s has no description", path, k)
			}
			walk(path+k+".", sub)
		}
	}
	walk("", doc)
}

// TestConfigVerify loads repository.verify: the key files are read at load,
// their paths expanded like the other *File keys.
func TestConfigVerify(t *testing.T) {
	creds := t.TempDir()
	pgp := gitsynctest.WriteKeyFile(t, creds, "trusted.asc", gitsynctest.NewOpenPGPKey(t, "A", "a@example.com"),
		gitsynctest.NewOpenPGPKey(t, "B", "b@example.com"))
	gitsynctest.WriteKeyFile(t, creds, "allowed_signers", gitsynctest.NewSSHKey(t, "c@example.com"))
	getenv := env(map[string]string{"STATE_DIRECTORY": "/s", "CREDENTIALS_DIRECTORY": creds})
	c, err := ParseConfig("c.yaml", []byte(`repository:
  url: https://git.example.com/ops/fleets.git
  tag: v1
  verify:
    mode: tag-and-head
    openpgpKeyFiles: [`+pgp+`]
    sshKeyFiles: ["${CREDENTIALS_DIRECTORY}/allowed_signers"]
`), getenv)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Repository.Verify
	if v.SSHKeyFiles[0] != filepath.Join(creds, "allowed_signers") || v.Mode != "tag-and-head" {
		t.Errorf("verify = %+v", v)
	}
	o := c.SourceOptions()
	if o.Verify == nil || o.Verify.Mode() != gitsync.VerifyTagAndHead {
		t.Fatalf("source options verify = %+v", o.Verify)
	}
	if p, s := o.Verify.Keys(); p != 2 || s != 1 {
		t.Errorf("%d OpenPGP and %d SSH keys, want 2 and 1", p, s)
	}
	// The mode defaults to head; without verify, nothing is checked.
	c, err = ParseConfig("c.yaml", []byte("repository:\n  url: /srv/x\n  verify: {openpgpKeyFiles: ["+pgp+"]}\n"), getenv)
	if err != nil || c.Repository.Verify.Mode != "head" || c.SourceOptions().Verify.Mode() != gitsync.VerifyHead {
		t.Fatalf("default mode: %v %+v", err, c)
	}
	if c, err = ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\n"), getenv); err != nil || c.SourceOptions().Verify != nil {
		t.Fatalf("no verify: %v %+v", err, c.SourceOptions().Verify)
	}
}

// TestConfigYAML12 reads the configuration's values as a fleet's are read
// (one pipeline, schema.Schema.Check): YAML 1.2 hex and octal integers are
// integers, a leading 0 and a whole number written as a float are refused
// with the fleet's messages.
func TestConfigYAML12(t *testing.T) {
	parse := func(limits string) (*Config, error) {
		return ParseConfig("c.yaml", []byte("repository: {url: /srv/x}\nstateDirectory: /s\nlimits: {"+limits+"}\n"), nil)
	}
	for in, want := range map[string]int{"maxCreatesPerRun: 0x2": 2, "maxCreatesPerRun: 0o10": 8, "maxCreatesPerRun: 12": 12} {
		c, err := parse(in)
		if err != nil || c.Limits.MaxCreatesPerRun != want {
			t.Errorf("%s: %v, %+v; want %d", in, err, c, want)
		}
	}
	for in, want := range map[string]string{
		"maxCreatesPerRun: 010": `c.yaml:3:28: limits.maxCreatesPerRun: 010 is ambiguous: YAML 1.1 reads a leading 0 as octal (8), YAML 1.2 as decimal (10); write 10 (or "010" for a string)`,
		"maxCreatesPerRun: 3.0": `c.yaml:3:28: limits.maxCreatesPerRun: 3.0 is written as a float; write the integer without a decimal point or exponent: 3`,
		"maxCreatesPerRun: 1_0": `c.yaml:3:28: limits.maxCreatesPerRun: 1_0 is not a YAML 1.2 integer; write it without '_': 10`,
		"maxMonthlySpend: .inf": `c.yaml:3:27: limits.maxMonthlySpend: .inf is not a finite number; write a number`,
	} {
		if _, err := parse(in); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", in, err, want)
		}
	}
}

// TestConfigAliasBomb: a few lines of aliases that expand to a million
// nodes are refused as a fleet's are, without expanding them.
func TestConfigAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("repository: {url: /srv/x}\nstateDirectory: /s\nx-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := ParseConfig("c.yaml", []byte(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:6:") || !strings.Contains(err.Error(), "aliases expand to too many nodes (an alias bomb?); write the values out") {
		t.Fatalf("alias bomb: %v", err)
	}
}

// A configuration is read up to the size of a fleet file: /dev/zero or a
// huge file is refused, not read to the end.
func TestConfigTooLarge(t *testing.T) {
	for _, file := range []string{"/dev/zero", filepath.Join(t.TempDir(), "big.yaml")} {
		if file != "/dev/zero" {
			if err := os.WriteFile(file, []byte("repository: {url: /srv/x}\n"+strings.Repeat("# padding\n", 200_000)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadConfig(file, nil)
		if err == nil || err.Error() != file+":1:1: the file is larger than 1048576 bytes: is it the configuration?" {
			t.Errorf("%s: %v", file, err)
		}
	}
}
