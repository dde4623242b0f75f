package spec

import (
	"strconv"
	"strings"
)

// The instance name is a slot's identity (docs/design.md section 5.1): the only
// label both API sites take atomically with the create. These helpers map a
// slot to its name and a name back to its slot, exactly.
//
// A valid template holds {slot} exactly once, so with {fleet} rendered it is
// a fixed prefix, the slot in decimal (no leading zeros) and a fixed suffix.

// SlotPlaceholder is the placeholder of the slot number in a name template;
// a template must hold it exactly once.
const SlotPlaceholder = "{slot}"

// maxSlotDigits bounds the slot numbers that names are parsed back to
// (below 10^9), so a slot always fits in an int.
const maxSlotDigits = 9

// nameShape is a rendered name template: the name of slot k is prefix, k in
// decimal, suffix.
type nameShape struct {
	prefix, suffix string
}

// String shows the shape as a template with {fleet} rendered: "web-{slot}".
func (s nameShape) String() string { return s.prefix + SlotPlaceholder + s.suffix }

// slotOf parses name back to its slot: name is prefix + digits + suffix and
// the digits are how the slot is written (decimal, no leading zeros).
func (s nameShape) slotOf(name string) (int, bool) {
	if len(name) <= len(s.prefix)+len(s.suffix) || !strings.HasPrefix(name, s.prefix) || !strings.HasSuffix(name, s.suffix) {
		return 0, false
	}
	digits := name[len(s.prefix) : len(name)-len(s.suffix)]
	if !isSlotNumber(digits) || len(digits) > maxSlotDigits {
		return 0, false
	}
	slot, err := strconv.Atoi(digits)
	return slot, err == nil
}

// isSlotNumber reports whether s is a slot number as names write it: "0", or
// a digit 1-9 followed by digits.
func isSlotNumber(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// shape renders the fleet's template around its one {slot}; ok is false when
// the template does not hold {slot} exactly once or is malformed.
func (f *Fleet) shape() (nameShape, bool) {
	tmpl := f.Spec.InstanceName
	if strings.Count(tmpl, SlotPlaceholder) != 1 {
		return nameShape{}, false
	}
	before, after, _ := strings.Cut(tmpl, SlotPlaceholder)
	p, err1 := renderName(before, f.Metadata.Name, 0)
	s, err2 := renderName(after, f.Metadata.Name, 0)
	if err1 != nil || err2 != nil {
		return nameShape{}, false
	}
	return nameShape{p, s}, true
}

// SlotOf parses an instance name back to the slot of f whose name it is:
// name == f.InstanceName(slot) exactly (a slot is written in decimal without
// leading zeros, so "web-01" is no slot of "web-{slot}"). ok is false for
// any other name, for slots of 10 digits or more, and for every name when
// the template does not hold {slot} exactly once.
func (f *Fleet) SlotOf(name string) (slot int, ok bool) {
	s, ok := f.shape()
	if !ok {
		return 0, false
	}
	return s.slotOf(name)
}

// NameIndex maps instance names back to the fleets and slots that own them.
// Build it over the fleets of one region: names need only be unique within a
// region, and validation refuses two fleets of a region whose templates can
// render the same name.
type NameIndex struct {
	byPrefix map[string][]indexed
}

type indexed struct {
	fleet *Fleet
	shape nameShape
}

// NewNameIndex indexes fleets by the rendered text before their {slot}.
func NewNameIndex(fleets []*Fleet) *NameIndex {
	ix := &NameIndex{byPrefix: make(map[string][]indexed, len(fleets))}
	for _, f := range fleets {
		if s, ok := f.shape(); ok {
			ix.byPrefix[s.prefix] = append(ix.byPrefix[s.prefix], indexed{f, s})
		}
	}
	return ix
}

// Lookup returns the fleet and slot whose instance name is name, or ok false
// when no indexed fleet renders it. A slot always starts with a digit, so
// only the prefixes that end before a digit are tried.
func (ix *NameIndex) Lookup(name string) (f *Fleet, slot int, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			continue
		}
		for _, e := range ix.byPrefix[name[:i]] {
			if slot, ok := e.shape.slotOf(name); ok {
				return e.fleet, slot, true
			}
		}
	}
	return nil, 0, false
}
