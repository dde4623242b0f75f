package examples

import (
	"context"
	"os"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/spec"
)

// TestExampleFleetsAreBuyable loads examples/fleets and sends, for every
// slot of every fleet, a DryRun CreateInstances to the emulator with the
// fleet's bundle, blueprint, zone, login, containers and tags: the catalog
// must serve them and the API's parameter rules must accept them.
func TestExampleFleetsAreBuyable(t *testing.T) {
	fleets, err := spec.Load(os.DirFS("fleets"), spec.Options{})
	if err != nil {
		t.Fatalf("example fleets do not validate:\n%v", err)
	}
	if regions := spec.Regions(fleets); len(fleets) < 3 || len(regions) < 2 {
		t.Fatalf("examples: %d fleets over regions %v; want at least 3 over 2", len(fleets), regions)
	}

	// Every slot, as the China site (the default endpoint) would be asked.
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), Site: emulator.SiteChina},
		emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = -1 }))
	for _, f := range fleets {
		for slot := range f.Spec.Count {
			// The request reconcile sends, with a placeholder password of
			// the API's form where the fleet reads one from outside git.
			req := reconcile.CreateRequest(f, slot, 0, true)
			if f.Spec.Login != nil && f.Spec.Login.PasswordFrom != nil {
				req = reconcile.WithPassword(req, "Placeholder-Pass-2026")
			}
			req.DryRun, req.ClientToken = true, ""
			if _, err := h.Client.CreateInstances(context.Background(), f.Spec.Region, req); err != nil {
				t.Errorf("%s: fleet %q slot %d: the emulator refuses it: %v", f.Source.File, f.Name(), slot, err)
			}
		}
	}
	if got := len(h.Server.Instances()); got != 0 {
		t.Errorf("a DryRun created %d instances", got)
	}

	// A plan with API DryRuns on both sites: the international site takes
	// no tags (they are left out, with a note) and no container restart
	// policy (a fleet error naming the field, before anything is bought).
	for _, site := range []emulator.Site{emulator.SiteChina, emulator.SiteIntl} {
		h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), Site: site})
		r := reconcile.New(h.Client, nil, reconcile.Options{Tags: site == emulator.SiteChina, APIDryRun: true, Now: h.Now,
			Getenv: func(string) string { return "Placeholder-Pass-2026" }})
		p, err := r.Plan(context.Background(), fleets)
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, fp := range p.Fleets {
			wantField := ""
			if site == emulator.SiteIntl && hasRestartPolicy(fp.Fleet, fleets) {
				wantField = "spec.containers[0].restartPolicy"
				refused++
			}
			switch {
			case wantField == "" && fp.Error != nil:
				t.Errorf("site %s: fleet %q: %v", site, fp.Fleet, fp.Error)
			case wantField != "" && (fp.Error == nil || fp.Error.Field != wantField):
				t.Errorf("site %s: fleet %q: error %+v, want one at %s", site, fp.Fleet, fp.Error, wantField)
			case fp.Error != nil && len(fp.Creates) > 0:
				t.Errorf("site %s: fleet %q in error still plans %d creates", site, fp.Fleet, len(fp.Creates))
			}
		}
		if got := len(h.Server.Instances()); got != 0 {
			t.Errorf("site %s: a plan created %d instances", site, got)
		}
		if site == emulator.SiteIntl && refused == 0 {
			t.Error("no example fleet has a container restart policy: the international-site check went untested")
		}
	}
}

func hasRestartPolicy(name string, fleets []*spec.Fleet) bool {
	for _, f := range fleets {
		if f.Name() == name {
			for _, c := range f.Spec.Containers {
				if c.RestartPolicy != "" {
					return true
				}
			}
		}
	}
	return false
}
