package schema

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Walking a YAML node tree by field path: the one walker that placing
// violations, Fleet.Position and the daemon configuration's own checks
// share.

// Deref follows aliases (at most 100) and steps into a document node, so
// that n is the node its value is written at. nil stays nil.
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 100; i++ {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

// Lookup walks path (mapping keys and list indices, as Violation.Path) from
// root, following aliases, and returns the value node there and, when the
// last step is a mapping key, the key node. Where the path leaves the
// document, the deepest node reached is returned with a nil key; the first
// of duplicate keys wins.
func Lookup(root *yaml.Node, path []string) (val, key *yaml.Node) {
	return lookup(root, path, nil)
}

// keyIndex remembers the key positions of large mappings, so that placing
// many violations in one mapping stays linear.
type keyIndex map[*yaml.Node]map[string]int

// indexFrom is the size from which a mapping is indexed.
const indexFrom = 32

func (ix keyIndex) find(n *yaml.Node, key string) (int, bool) {
	idx, ok := ix[n]
	if !ok {
		idx = make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if _, dup := idx[n.Content[i].Value]; !dup {
				idx[n.Content[i].Value] = i
			}
		}
		ix[n] = idx
	}
	i, ok := idx[key]
	return i, ok
}

// lookup is Lookup with an optional index of large mappings.
func lookup(root *yaml.Node, path []string, ix keyIndex) (val, key *yaml.Node) {
	n := root
	for _, p := range path {
		n = Deref(n)
		if n == nil {
			return nil, nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			if ix != nil && len(n.Content) > indexFrom {
				if i, ok := ix.find(n, p); ok {
					key, next = n.Content[i], n.Content[i+1]
				}
			} else {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						key, next = n.Content[i], n.Content[i+1]
						break
					}
				}
			}
			if next == nil {
				return n, nil
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, nil
			}
			key, n = nil, n.Content[i]
		default:
			return n, nil
		}
	}
	return n, key
}

// ParseField splits a field name as FieldName renders it
// ("spec.containers[0].envs[1].key") into a path.
func ParseField(field string) []string {
	var out []string
	for _, part := range strings.Split(field, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, part)
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				out = append(out, part[i+1:])
				break
			}
			out = append(out, part[i+1:i+j])
			part = part[i+j+1:]
		}
	}
	return out
}

// keyNodes indexes the key nodes of a mapping by their value; the first of
// duplicate keys wins.
func keyNodes(n *yaml.Node) map[string]*yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, dup := keys[n.Content[i].Value]; !dup {
			keys[n.Content[i].Value] = n.Content[i]
		}
	}
	return keys
}
