package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lightkeeper/lightkeeper/gitsync/gitsynctest"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

var testDeps = Deps{Credential: lighthouse.NewCredential("AKIDtest", "key", "", "test")}

// TestBuildLimits checks that the limits in the file reach the daemon:
// maxTotalCount bounds the fleet load, the others the plan.
func TestBuildLimits(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/large-estate.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDirectory = t.TempDir()
	b, err := build(cfg, testDeps, true)
	if err != nil {
		t.Fatal(err)
	}
	if b.opts.Spec.MaxTotalCount != 10000 || b.opts.Limits.MaxCreates != 100 || b.opts.Path != "fleets" {
		t.Errorf("spec options %+v, limits %+v, path %q; want MaxTotalCount 10000, MaxCreates 100, path fleets", b.opts.Spec, b.opts.Limits, b.opts.Path)
	}
	cfg.Limits.MaxTotalCount = -1
	if b, err = build(cfg, testDeps, true); err != nil || b.opts.Spec.MaxTotalCount != -1 {
		t.Errorf("no ceiling: %v, MaxTotalCount %d", err, b.opts.Spec.MaxTotalCount)
	}
	// limits.maxMonthlySpend: unset is no limit, 0 spends nothing (the
	// one rule of reconcile.Limits, without a stand-in for 0).
	for _, tc := range []struct {
		spend *float64
		want  float64
	}{{nil, reconcile.NoLimit}, {new(float64), 0}} {
		cfg.Limits.MaxMonthlySpend = tc.spend
		if b, err = build(cfg, testDeps, true); err != nil || b.opts.Limits.MaxMonthlySpend != tc.want {
			t.Errorf("maxMonthlySpend %v: %v, MaxMonthlySpend %v, want %v", tc.spend, err, b.opts.Limits.MaxMonthlySpend, tc.want)
		}
		cfg.Limits.MaxMonthlySpend, cfg.Limits.MaxRenewalSpendPerRun = nil, tc.spend
		if b, err = build(cfg, testDeps, true); err != nil || b.opts.Limits.MaxRenewalSpend != tc.want {
			t.Errorf("maxRenewalSpendPerRun %v: %v, MaxRenewalSpend %v, want %v", tc.spend, err, b.opts.Limits.MaxRenewalSpend, tc.want)
		}
		cfg.Limits.MaxRenewalSpendPerRun = nil
	}
}

// TestBuildMakesTheCachePrivate: the state directory and its git cache are
// created 0700, and a cache made open before is closed.
func TestBuildMakesTheCachePrivate(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/large-estate.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDirectory = filepath.Join(t.TempDir(), "state")
	if _, err := build(cfg, testDeps, true); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cfg.StateDirectory, filepath.Join(cfg.StateDirectory, "git")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want 0700", dir, err, fi.Mode().Perm())
		}
	}
	cache := filepath.Join(cfg.StateDirectory, "git")
	if err := os.Chmod(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := build(cfg, testDeps, true); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(cache); fi.Mode().Perm() != 0o700 {
		t.Errorf("an open cache stays %v", fi.Mode().Perm())
	}
}

// TestBuildRequireSigned: with repository.verify, the saved copy of the
// last good revision must name its signer.
func TestBuildRequireSigned(t *testing.T) {
	dir := t.TempDir()
	keys := gitsynctest.WriteKeyFile(t, dir, "allowed_signers", gitsynctest.NewSSHKey(t, "alice@example.com"))
	for _, verify := range []string{"", "  verify: {sshKeyFiles: [" + keys + "]}\n"} {
		cfg, err := ParseConfig(filepath.Join(dir, "c.yaml"), []byte("repository:\n  url: https://git.example.com/f.git\n"+verify+"stateDirectory: "+dir+"\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := build(cfg, testDeps, true)
		if err != nil || b.opts.RequireSigned != (verify != "") {
			t.Errorf("verify %q: %v, RequireSigned %v", verify, err, b.opts.RequireSigned)
		}
	}
}
