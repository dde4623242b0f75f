package spec

import (
	"strconv"
	"testing"
)

func TestCollision(t *testing.T) {
	for _, tc := range []struct {
		a, b string // shapes, {slot} once
		want string // a shortest common name, "" for none
	}{
		{"web-{slot}", "web-1{slot}", "web-10"},
		{"web-{slot}", "web-0{slot}", ""}, // "web-00" is no slot of web-{slot}
		{"a-{slot}", "a-1-{slot}", ""},    // default templates of fleets a and a-1
		{"a-{slot}", "a-1{slot}", "a-10"},
		{"{slot}.db", "{slot}.db", "0.db"},
		{"{slot}", "{slot}0", "10"}, // slot 10 of one, slot 1 of the other
		{"{slot}", "0{slot}", ""},   // never a leading zero
		{"x{slot}1", "x1{slot}", "x11"},
		{"x{slot}", "x{slot}-", ""},
		{"x{slot}0-", "x{slot}-", "x10-"},
		{"x0{slot}", "x{slot}", ""},
		{"x{slot}y", "x{slot}z", ""},
		{"web-{slot}", "db-{slot}", ""},
		{"n{slot}", "n{slot}00", "n100"},
		{"0{slot}", "00{slot}", ""},
	} {
		sa, sb := shapeOf(t, tc.a), shapeOf(t, tc.b)
		for _, pair := range [][2]nameShape{{sa, sb}, {sb, sa}} {
			got, ok := collision(pair[0], pair[1])
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("collision(%s, %s) = %q, %v; want %q", pair[0], pair[1], got, ok, tc.want)
			}
		}
	}
}

func shapeOf(t *testing.T, tmpl string) nameShape {
	t.Helper()
	s, ok := fleetWithTemplate("f", tmpl).shape()
	if !ok {
		t.Fatalf("template %q has no shape", tmpl)
	}
	return s
}

// TestCollisionBruteForce checks collision against every name that slots 0
// to bruteSlots-1 render, over all shapes whose prefix and suffix are at
// most two of 'a', '0', '1': a name both render must be found, and every
// name found must be rendered by both (for some slot, however large).
func TestCollisionBruteForce(t *testing.T) {
	const bruteSlots = 2000
	var parts []string
	var grow func(s string)
	grow = func(s string) {
		parts = append(parts, s)
		if len(s) < 2 {
			for _, c := range "a01" {
				grow(s + string(c))
			}
		}
	}
	grow("")
	var shapes []nameShape
	for _, p := range parts {
		for _, s := range parts {
			shapes = append(shapes, nameShape{p, s})
		}
	}
	owners := map[string][]int{}
	for i, s := range shapes {
		for slot := range bruteSlots {
			name := s.prefix + strconv.Itoa(slot) + s.suffix
			owners[name] = append(owners[name], i)
		}
	}
	brute := map[[2]int]string{}
	for name, os := range owners {
		for x := range os {
			for y := range os {
				if os[x] < os[y] {
					brute[[2]int{os[x], os[y]}] = name
				}
			}
		}
	}
	found, beyond := 0, 0
	for i := range shapes {
		for j := i + 1; j < len(shapes); j++ {
			name, ok := collision(shapes[i], shapes[j])
			if bn, want := brute[[2]int{i, j}]; want && !ok {
				t.Errorf("collision(%s, %s) = %q, %v; slots below %d render %q from both", shapes[i], shapes[j], name, ok, bruteSlots, bn)
				continue
			}
			if !ok {
				continue
			}
			found++
			_, ok1 := shapes[i].slotOf(name)
			_, ok2 := shapes[j].slotOf(name)
			if !ok1 || !ok2 {
				t.Errorf("collision(%s, %s) = %q, which is not a name of both", shapes[i], shapes[j], name)
			}
			if _, small := brute[[2]int{i, j}]; !small {
				beyond++
			}
		}
	}
	t.Logf("%d shapes, %d colliding pairs (%d only beyond slot %d)", len(shapes), found, beyond, bruteSlots-1)
	if found == 0 {
		t.Error("no collisions found at all")
	}
}

// TestForEachCollisionMatchesPairs checks the sorted, prefix-filtered scan
// against collision on every pair, over fleets of two regions.
func TestForEachCollisionMatchesPairs(t *testing.T) {
	var fleets []*Fleet
	for i, tmpl := range []string{
		"{fleet}-{slot}", "web-{slot}", "web-1{slot}", "web-{slot}-x", "web-1{slot}-x", "{slot}", "{slot}0",
		"1{slot}", "web-0{slot}", "f3-{slot}", "w{slot}b", "w{slot}1b", "w1{slot}b", "{fleet}{slot}", "f1{slot}",
	} {
		for _, region := range []string{"ap-guangzhou", "ap-shanghai"} {
			f := fleetWithTemplate("f"+strconv.Itoa(i), tmpl)
			f.Spec.Region = region
			fleets = append(fleets, f)
		}
	}
	got := map[[2]int]bool{}
	forEachCollision(fleets, func(a, b int, name string) {
		if a >= b || got[[2]int{a, b}] {
			t.Errorf("pair %d, %d reported out of order or twice", a, b)
		}
		got[[2]int{a, b}] = true
		if _, ok := fleets[a].SlotOf(name); !ok {
			t.Errorf("%q is no name of %s", name, fleets[a].Spec.InstanceName)
		}
		if _, ok := fleets[b].SlotOf(name); !ok {
			t.Errorf("%q is no name of %s", name, fleets[b].Spec.InstanceName)
		}
	})
	want := 0
	for i, a := range fleets {
		for j := i + 1; j < len(fleets); j++ {
			b := fleets[j]
			sa, _ := a.shape()
			sb, _ := b.shape()
			_, ok := collision(sa, sb)
			ok = ok && a.Spec.Region == b.Spec.Region
			if ok {
				want++
			}
			if ok != got[[2]int{i, j}] {
				t.Errorf("%s and %s (%s, %s): collide %v, reported %v", a.Spec.InstanceName, b.Spec.InstanceName, a.Spec.Region, b.Spec.Region, ok, got[[2]int{i, j}])
			}
		}
	}
	if want == 0 {
		t.Error("no collisions in the table")
	}
}

func BenchmarkNameCollisions10k(b *testing.B) {
	var fleets []*Fleet
	for i := range 10000 {
		f := fleetWithTemplate("fleet-"+strconv.Itoa(i), "")
		f.Spec.Region = "ap-guangzhou"
		fleets = append(fleets, f)
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs := checkNameCollisions(fleets); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
