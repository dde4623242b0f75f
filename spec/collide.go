package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// Two fleets of one region must never render the same instance name, for
// any slot numbers at all: the name is the slot's identity, and a slot above
// count can exist (surplus after a count went down), so the slot range of
// the specs does not bound the names that can be met.
//
// A shape renders the regular language prefix·N·suffix, where N is a slot
// number: "0" or [1-9][0-9]*. Whether two such languages meet is decided
// exactly by a search of the product of their automata (collision). The
// shorter prefix must be a prefix of the longer and the shorter suffix a
// suffix of the longer for any name to be shared, so only such pairs are
// searched: sorted by prefix, the shapes whose prefix starts with another's
// follow it directly.

// collision returns a name that both shapes render (a short one: the search
// is breadth-first), or ok false when no slot numbers make them meet.
func collision(a, b nameShape) (name string, ok bool) {
	pa, pb := newPattern(a), newPattern(b)
	// A state is a position in each pattern. At a slot token the position
	// carries where the slot number is: not begun (0), "0" read (1), or a
	// digit 1-9 and maybe more digits read (2).
	type state struct{ i, si, j, sj int }
	type step struct {
		from state
		c    byte
		read bool // false for leaving a slot number, which reads nothing
	}
	start := state{}
	seen := map[state]step{start: {}}
	queue := []state{start}
	visit := func(from, to state, c byte, read bool) {
		if _, ok := seen[to]; !ok {
			seen[to] = step{from, c, read}
			queue = append(queue, to)
		}
	}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if q.i == pa.len() && q.j == pb.len() {
			var rev []byte
			for s := q; s != start; s = seen[s].from {
				if st := seen[s]; st.read {
					rev = append(rev, st.c)
				}
			}
			slices.Reverse(rev)
			return string(rev), true
		}
		// Leaving a slot number that has begun reads nothing.
		if pa.isSlot(q.i) && q.si != 0 {
			visit(q, state{q.i + 1, 0, q.j, q.sj}, 0, false)
		}
		if pb.isSlot(q.j) && q.sj != 0 {
			visit(q, state{q.i, q.si, q.j + 1, 0}, 0, false)
		}
		// Reading one byte on both sides.
		for _, c := range candidates(pa, q.i, q.si, pb, q.j, q.sj) {
			i, si := pa.step(q.i, q.si, c)
			j, sj := pb.step(q.j, q.sj, c)
			visit(q, state{i, si, j, sj}, c, true)
		}
	}
	return "", false
}

// pattern is a shape as a sequence of bytes with one slot token.
type pattern struct {
	s    nameShape
	slot int // index of the slot token
}

func newPattern(s nameShape) pattern { return pattern{s, len(s.prefix)} }

func (p pattern) len() int          { return len(p.s.prefix) + 1 + len(p.s.suffix) }
func (p pattern) isSlot(i int) bool { return i == p.slot }

func (p pattern) literal(i int) byte {
	if i < p.slot {
		return p.s.prefix[i]
	}
	return p.s.suffix[i-p.slot-1]
}

// canRead reports whether position i, slot state si can read byte c.
func (p pattern) canRead(i, si int, c byte) bool {
	switch {
	case i >= p.len():
		return false
	case !p.isSlot(i):
		return p.literal(i) == c
	case si == 1:
		return false // after a "0" the slot number has ended
	}
	return isDigit(c)
}

// candidates returns the bytes worth trying from positions i of a and j of
// b: a literal on either side is the only byte that side can read; inside
// two slot numbers, '0' and '1' stand for every digit ('2'-'9' lead to the
// states '1' leads to).
func candidates(a pattern, i, si int, b pattern, j, sj int) []byte {
	var try []byte
	switch {
	case i < a.len() && !a.isSlot(i):
		try = []byte{a.literal(i)}
	case j < b.len() && !b.isSlot(j):
		try = []byte{b.literal(j)}
	default:
		try = []byte{'0', '1'}
	}
	out := try[:0]
	for _, c := range try {
		if a.canRead(i, si, c) && b.canRead(j, sj, c) {
			out = append(out, c)
		}
	}
	return out
}

// step reads byte c at position i, slot state si.
func (p pattern) step(i, si int, c byte) (int, int) {
	if !p.isSlot(i) {
		return i + 1, 0
	}
	if si == 0 && c == '0' {
		return i, 1
	}
	return i, 2
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkNameCollisions refuses two fleets of one region whose templates can
// render the same instance name. fleets are in file order, each name once.
// The later fleet of a pair gets the error, which names the earlier.
func checkNameCollisions(fleets []*Fleet) Errors {
	var errs Errors
	forEachCollision(fleets, func(first, second int, name string) {
		a, b := fleets[first], fleets[second]
		sa, _ := a.shape()
		sb, _ := b.shape()
		errs = append(errs, collisionError(b, sb, a, sa, name))
	})
	return errs
}

// forEachCollision calls fn for each pair of fleets (indices first < second)
// of one region whose templates render a common name, with one such name.
func forEachCollision(fleets []*Fleet, fn func(first, second int, name string)) {
	type entry struct {
		order int
		shape nameShape
	}
	byRegion := map[string][]entry{}
	var regions []string
	for i, f := range fleets {
		if s, ok := f.shape(); ok {
			if _, seen := byRegion[f.Spec.Region]; !seen {
				regions = append(regions, f.Spec.Region)
			}
			byRegion[f.Spec.Region] = append(byRegion[f.Spec.Region], entry{i, s})
		}
	}
	for _, r := range regions {
		es := byRegion[r]
		slices.SortFunc(es, func(a, b entry) int {
			return cmp.Or(strings.Compare(a.shape.prefix, b.shape.prefix), cmp.Compare(a.order, b.order))
		})
		for i, a := range es {
			for _, b := range es[i+1:] {
				if !strings.HasPrefix(b.shape.prefix, a.shape.prefix) {
					break // sorted: no later prefix starts with a's either
				}
				if !strings.HasSuffix(a.shape.suffix, b.shape.suffix) && !strings.HasSuffix(b.shape.suffix, a.shape.suffix) {
					continue
				}
				if name, ok := collision(a.shape, b.shape); ok {
					fn(min(a.order, b.order), max(a.order, b.order), name)
				}
			}
		}
	}
}

// collisionError reports at f that its names meet those of other.
func collisionError(f *Fleet, mine nameShape, other *Fleet, theirs nameShape, name string) *Error {
	line, col := templatePosition(f)
	e := &Error{File: f.Source.File, Line: line, Column: col, Fleet: f.Metadata.Name, Field: "spec.instanceName"}
	ol, oc := templatePosition(other)
	fslot, _ := mine.slotOf(name)
	oslot, _ := theirs.slotOf(name)
	what := fmt.Sprintf("%q is slot %d of %q here and slot %d of %q there; the name is a slot's identity, so change the text before or after {slot} in one of them by a character that is not a digit",
		name, fslot, mine.String(), oslot, theirs.String())
	if mine == theirs {
		what = fmt.Sprintf("both render %q (%q is slot %d of each); the name is a slot's identity, so give one of them another template",
			mine.String(), name, fslot)
	}
	e.Message = fmt.Sprintf("can render the same instance name as fleet %q (%s:%d:%d) in region %s: %s",
		other.Metadata.Name, other.Source.File, ol, oc, f.Spec.Region, what)
	return e
}

// templatePosition is where a fleet's name template is written, or, for the
// default template, where the fleet name that it renders is.
func templatePosition(f *Fleet) (line, col int) {
	if n, key := schema.Lookup(f.root(), []string{"spec", "instanceName"}); key != nil && n.Kind == yaml.ScalarNode {
		return n.Line, n.Column
	}
	return f.Position("metadata.name")
}
