// Package examples holds a working fleet repository (fleets/). Its test
// proves that every example fleet is valid and that the built-in emulator
// would sell each of its instances, so the README's examples stay true.
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

	// Both sites: the China site takes tags, the international one
	// refuses them, and reconcile sends them only where they are taken.
	for _, site := range []emulator.Site{emulator.SiteChina, emulator.SiteIntl} {
		h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), Site: site},
			emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = -1 }))
		for _, f := range fleets {
			for slot := range f.Spec.Count {
				// The request reconcile sends, with a placeholder password of
				// the API's form where the fleet reads one from outside git.
				req := reconcile.CreateRequest(f, slot, 0, site == emulator.SiteChina, "Placeholder-Pass-2026")
				req.DryRun, req.ClientToken = true, ""
				if _, err := h.Client.CreateInstances(context.Background(), f.Spec.Region, req); err != nil {
					t.Errorf("site %s: %s: fleet %q slot %d: the emulator refuses it: %v", site, f.Source.File, f.Name(), slot, err)
				}
			}
		}
		if got := len(h.Server.Instances()); got != 0 {
			t.Errorf("site %s: a DryRun created %d instances", site, got)
		}
	}
}
