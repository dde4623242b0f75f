package spec

import (
	"strconv"
	"strings"
)

// The instance name is a slot's identity (DESIGN.md section 5): the only
// label both API sites take atomically with the create. These helpers map a
// slot to its name and a name back to its slot, exactly.

// namePrefix renders the part of the fleet's name template before the first
// {slot}; ok is false when the template has no {slot}.
func (f *Fleet) namePrefix() (prefix string, ok bool) {
	i := strings.Index(f.Spec.InstanceName, "{slot}")
	if i < 0 {
		return "", false
	}
	p, err := renderName(f.Spec.InstanceName[:i], f.Metadata.Name, 0)
	return p, err == nil
}

// SlotOf parses an instance name back to the slot of f whose name it is:
// name == f.InstanceName(slot) exactly (a slot is written in decimal without
// leading zeros, so "web-01" is no slot of "web-{slot}"). ok is false for
// any other name, and for every name when the template has no {slot}.
func (f *Fleet) SlotOf(name string) (slot int, ok bool) {
	prefix, ok := f.namePrefix()
	if !ok || !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	rest := name[len(prefix):]
	n := 0
	for n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, false
	}
	slot, err := strconv.Atoi(rest[:n])
	if err != nil || f.InstanceName(slot) != name {
		return 0, false
	}
	return slot, true
}

// NameIndex maps instance names back to the fleets and slots that own them.
// Build it over the fleets of one region: names need only be unique within a
// region, and validation refuses two fleets of a region whose templates can
// render the same name.
type NameIndex struct {
	byPrefix map[string][]*Fleet
}

// NewNameIndex indexes fleets by the rendered text before their {slot}.
func NewNameIndex(fleets []*Fleet) *NameIndex {
	ix := &NameIndex{byPrefix: make(map[string][]*Fleet, len(fleets))}
	for _, f := range fleets {
		if p, ok := f.namePrefix(); ok {
			ix.byPrefix[p] = append(ix.byPrefix[p], f)
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
		for _, f := range ix.byPrefix[name[:i]] {
			if slot, ok := f.SlotOf(name); ok {
				return f, slot, true
			}
		}
	}
	return nil, 0, false
}
