package spec

import (
	"fmt"
	"strings"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// notFleet returns what a document is instead of a fleet ("apiVersion
// apps/v1, kind Deployment"), or "" when it is meant as a fleet, however
// broken. A document is something else when its apiVersion is not
// lightkeeper's, when it has a kind other than Fleet and no apiVersion, or
// when it has none of a fleet's four top-level keys (a compose file).
func notFleet(root *yaml.Node) string {
	root = schema.Deref(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return ""
	}
	var apiVersion, kind *yaml.Node
	fleetKeys := 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "apiVersion":
			apiVersion = schema.Deref(root.Content[i+1])
			fleetKeys++
		case "kind":
			kind = schema.Deref(root.Content[i+1])
			fleetKeys++
		case "metadata", "spec":
			fleetKeys++
		}
	}
	str := func(n *yaml.Node) (string, bool) {
		if n == nil || n.Kind != yaml.ScalarNode {
			return "", false
		}
		return n.Value, true
	}
	av, hasAV := str(apiVersion)
	kv, hasKind := str(kind)
	describe := func() string {
		var parts []string
		if hasAV {
			parts = append(parts, "apiVersion "+visibleShort(av))
		}
		if hasKind {
			parts = append(parts, "kind "+visibleShort(kv))
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case hasAV && !strings.HasPrefix(strings.ToLower(av), "lightkeeper"):
		return describe()
	case apiVersion == nil && hasKind && kv != KindFleet:
		return describe()
	case fleetKeys == 0:
		var keys []string
		for i := 0; i+1 < len(root.Content) && len(keys) < 3; i += 2 {
			keys = append(keys, root.Content[i].Value)
		}
		more := ""
		if len(root.Content)/2 > len(keys) {
			more = ", …"
		}
		return fmt.Sprintf("no apiVersion or kind; keys %s%s", strings.Join(keys, ", "), more)
	}
	return ""
}

// visibleShort shows a value in a message: as it is when it is plain text,
// quoted with invisible characters made visible otherwise, and cut at 40
// characters.
func visibleShort(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	if q := visible(s); q != `"`+s+`"` || s == "" || strings.ContainsAny(s, " ,") {
		return q
	}
	return s
}

// notFleetError reports a document that is not a fleet, once.
func notFleetError(file string, root *yaml.Node, what string) *Error {
	return &Error{File: file, Line: root.Line, Column: root.Column, notFleet: true, what: what,
		Message: fmt.Sprintf("not a lightkeeper fleet (%s); a fleet has apiVersion %s and kind %s: leave this file out with --exclude, or point lightkeeper at the directory that holds the fleet specs",
			what, APIVersion, KindFleet)}
}
