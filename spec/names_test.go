package spec

import (
	"strconv"
	"strings"
	"testing"
)

func fleetWithTemplate(name, tmpl string) *Fleet {
	f := &Fleet{Metadata: Metadata{Name: name}, Spec: Spec{InstanceName: tmpl}}
	f.applyDefaults()
	return f
}

func TestSlotOf(t *testing.T) {
	web := fleetWithTemplate("web", "")
	sh := fleetWithTemplate("api", "{fleet}-sh-{slot}-{fleet}")
	none := fleetWithTemplate("solo", "solo")
	two := fleetWithTemplate("two", "{slot}-{slot}")
	digitAfter := fleetWithTemplate("x", "x{slot}0") // a digit right after {slot}
	for _, tc := range []struct {
		f    *Fleet
		name string
		slot int
		ok   bool
	}{
		{web, "web-0", 0, true},
		{web, "web-12", 12, true},
		{web, "web-01", 0, false}, // not how slot 1 is written
		{web, "web-", 0, false},
		{web, "web-1x", 0, false},
		{web, "web-1-", 0, false},
		{web, "webs-1", 0, false},
		{web, "web-99999999999", 0, false},
		{sh, "api-sh-3-api", 3, true},
		{sh, "api-sh-3-ap", 0, false},
		{sh, "api-sh--api", 0, false},
		{none, "solo", 0, false},
		{two, "1-1", 0, false},
		{digitAfter, "x00", 0, true},
		{digitAfter, "x10", 1, true},
		{digitAfter, "x100", 10, true},
		{digitAfter, "x0", 0, false},
		{digitAfter, "x010", 0, false},
		{web, "web-999999999", 999999999, true},
		{web, "web-1000000000", 0, false}, // 10 digits: beyond the slots names are parsed to
	} {
		slot, ok := tc.f.SlotOf(tc.name)
		if slot != tc.slot || ok != tc.ok {
			t.Errorf("fleet %q SlotOf(%q) = %d, %v; want %d, %v", tc.f.Name(), tc.name, slot, ok, tc.slot, tc.ok)
		}
		if ok && tc.f.InstanceName(slot) != tc.name {
			t.Errorf("round trip of %q gives %q", tc.name, tc.f.InstanceName(slot))
		}
	}
}

func TestNameIndex(t *testing.T) {
	web := fleetWithTemplate("web", "")
	web1 := fleetWithTemplate("web1", "{fleet}-{slot}")
	db := fleetWithTemplate("db", "{slot}.db")
	x := fleetWithTemplate("x", "x{slot}0")
	ix := NewNameIndex([]*Fleet{web, web1, db, x})
	for _, tc := range []struct {
		name  string
		fleet *Fleet
		slot  int
	}{
		{"web-4", web, 4},
		{"web1-4", web1, 4},
		{"7.db", db, 7},
		{"x120", x, 12},
		{"x12", nil, 0},
		{"web-x", nil, 0},
		{"other-1", nil, 0},
		{"", nil, 0},
	} {
		f, slot, ok := ix.Lookup(tc.name)
		if f != tc.fleet || slot != tc.slot || ok != (tc.fleet != nil) {
			t.Errorf("Lookup(%q) = %v, %d, %v; want %v, %d", tc.name, f, slot, ok, tc.fleet, tc.slot)
		}
	}
}

func BenchmarkNameIndexLookup(b *testing.B) {
	var fleets []*Fleet
	for i := range 1000 {
		fleets = append(fleets, fleetWithTemplate("fleet-"+strconv.Itoa(i), ""))
	}
	ix := NewNameIndex(fleets)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, ok := ix.Lookup(fleets[i%1000].InstanceName(i % 10)); !ok {
			b.Fatal("not found")
		}
	}
}

// The semantic check stands behind the schema's pattern: a template must
// hold {slot} exactly once.
func TestCheckFleetSlotCount(t *testing.T) {
	for tmpl, want := range map[string]string{
		"web":           `spec.instanceName: must hold {slot} exactly once, such as "{fleet}-{slot}" (the instance name is the slot's identity)`,
		"{slot}{slot}":  `spec.instanceName: holds {slot} 2 times; it must hold {slot} exactly once`,
		"{fleet}{slot}": "",
	} {
		f := fleetWithTemplate("web", tmpl)
		f.Spec.Region = "ap-guangzhou"
		errs := checkFleet(f, Options{})
		if got := errs.Error(); (want == "") != (len(errs) == 0) || !strings.Contains(got, want) {
			t.Errorf("template %q: %v; want %q", tmpl, errs, want)
		}
	}
}
