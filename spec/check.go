package spec

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The checks a schema cannot express. checkFleet runs on a fleet that passed
// the schema; checkRepository on all fleets that did.

// zoneSuffixRE is what follows the region in a zone id: "-3".
var zoneSuffixRE = regexp.MustCompile(`^-[0-9]+$`)

// checkFleet checks one fleet on its own.
func checkFleet(f *Fleet) Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		line, col := f.Position(field)
		errs = append(errs, &Error{File: f.Source.File, Line: line, Column: col, Fleet: f.Metadata.Name,
			Field: field, Message: fmt.Sprintf(format, args...)})
	}
	s := &f.Spec
	for i, z := range s.Zones {
		rest, ok := strings.CutPrefix(z, s.Region)
		if !ok || !zoneSuffixRE.MatchString(rest) {
			add(fmt.Sprintf("spec.zones[%d]", i), "zone %q is not in region %s; use a zone such as %s-3", z, s.Region, s.Region)
		}
	}
	if len(s.Tags) > MaxUserTags {
		add("spec.tags", "%d tags, at most %d: an instance takes %d tags and lightkeeper uses %d (%s, %s)",
			len(s.Tags), MaxUserTags, MaxTags, MaxTags-MaxUserTags, TagFleet, TagSlot)
	}
	if m := resolveAlias(lookupNode(f.node, []string{"spec", "tags"})); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if strings.HasPrefix(strings.ToLower(k.Value), ReservedTagPrefix) {
				errs = append(errs, &Error{File: f.Source.File, Line: k.Line, Column: k.Column, Fleet: f.Metadata.Name, Field: "spec.tags",
					Message: fmt.Sprintf("tag key %q uses the reserved prefix %q; lightkeeper sets those tags itself, rename the key", k.Value, ReservedTagPrefix)})
			}
		}
	}
	last := max(s.Count-1, 0)
	name, err := renderName(s.InstanceName, f.Metadata.Name, last)
	switch {
	case err != nil:
		add("spec.instanceName", "%v", err)
	case len(name) > MaxInstanceNameLen:
		add("spec.instanceName", "renders to %d characters for slot %d (%q), at most %d; shorten the template or the fleet name",
			len(name), last, name, MaxInstanceNameLen)
	}
	return errs
}

// checkRepository checks what spans fleets: unique names, the total count.
// fleets are in file order.
func checkRepository(fleets []*Fleet, opts Options) Errors {
	var errs Errors
	first := make(map[string]*Fleet, len(fleets))
	total := 0
	for _, f := range fleets {
		if prev, dup := first[f.Metadata.Name]; dup {
			line, col := f.Position("metadata.name")
			pl, pc := prev.Position("metadata.name")
			errs = append(errs, &Error{File: f.Source.File, Line: line, Column: col, Fleet: f.Metadata.Name, Field: "metadata.name",
				Message: fmt.Sprintf("duplicate fleet name, first defined at %s:%d:%d; fleet names must be unique in the repository", prev.Source.File, pl, pc)})
			continue
		}
		first[f.Metadata.Name] = f
		before := total
		total += f.Spec.Count
		if opts.MaxTotalCount >= 0 && before <= opts.MaxTotalCount && total > opts.MaxTotalCount {
			line, col := f.Position("spec.count")
			errs = append(errs, &Error{File: f.Source.File, Line: line, Column: col, Fleet: f.Metadata.Name, Field: "spec.count",
				Message: fmt.Sprintf("brings the total count of all fleets to %d, above the repository-wide limit of %d; lower the counts or raise the limit",
					total, opts.MaxTotalCount)})
		}
	}
	return errs
}
