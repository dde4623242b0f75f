//go:build unix

package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// passwordFleet is a Windows fleet of one that logs in with the password
// read from file.
func passwordFleet(name, file string) string {
	return "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: " + name + "}\nspec:\n  region: ap-guangzhou\n  count: 1\n" +
		"  bundleId: bundle_gen_02\n  blueprintId: lhbp-w1n2022a\n  charge: {period: 1}\n  login: {passwordFrom: {file: " + file + "}}\n"
}

// A password source that is not a regular file (a FIFO nothing writes to,
// a link to /dev/zero) fails its fleet alone, at once: the other fleets are
// created in the same apply. Reading a FIFO whole blocked the apply before
// any create; /dev/zero ate memory until the process died.
func TestBadPasswordSourceFailsItsFleetAlone(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo-password")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero-password")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fleets := loadSpec(t, fleetDoc("web", 2)+passwordFleet("fifo", fifo)+passwordFleet("zero", zero))
	e := newScaleEnv(t, 0)
	r := reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil || p.Totals.Creates != 4 {
		t.Fatalf("plan: %v, %d creates", err, p.Totals.Creates)
	}
	done := make(chan struct{})
	var res *reconcile.Result
	go func() {
		defer close(done)
		res, err = r.Apply(context.Background(), p, false)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the apply is still reading a password source after a minute")
	}
	if err != nil || res.Created != 2 {
		t.Fatalf("apply: %v, %+v", err, res)
	}
	for _, fr := range res.Fleets {
		want := map[string]string{"fifo": "is a named pipe, not a regular file", "zero": "is a device, not a regular file"}[fr.Fleet]
		switch {
		case want == "" && (fr.Error != nil || len(fr.Created) != 2):
			t.Errorf("fleet %s: %+v", fr.Fleet, fr)
		case want != "" && (fr.Error == nil || fr.Error.Field != "spec.login.passwordFrom" || !strings.Contains(fr.Error.Message, want) || len(fr.Created) != 0):
			t.Errorf("fleet %s: error %+v, want one at spec.login.passwordFrom saying %q", fr.Fleet, fr.Error, want)
		}
	}

	// A plan that asks the API (DryRun) reads the password too: the same
	// fleets are in error there, and only there.
	r = reconcile.New(e.client, nil, reconcile.Options{Now: e.clock.Now, APIDryRun: true})
	if p, err = r.Plan(context.Background(), fleets); err != nil {
		t.Fatal(err)
	}
	for _, fp := range p.Fleets {
		if inError := fp.Error != nil; inError != (fp.Fleet != "web") {
			t.Errorf("DryRun plan: fleet %s error %+v", fp.Fleet, fp.Error)
		}
	}
}
