// Package schema holds the JSON Schema of a lightkeeper fleet document
// (fleet.schema.json, draft 2020-12), compiled once, and maps its validation
// errors back to positions in the YAML the document came from.
//
// The schema is the one source of truth for the shape of a fleet; package
// spec adds only the checks a schema cannot express.
package schema

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
)

// ID is the stable $id of the fleet schema. Editors and other validators may
// refer to the schema by it.
const ID = "https://raw.githubusercontent.com/lightkeeper/lightkeeper/main/schema/fleet.schema.json"

//go:embed fleet.schema.json
var source []byte

// JSON returns the fleet schema document, as embedded in the binary.
func JSON() []byte { return slices.Clone(source) }

// compiled is the schema compiled once, with the raw document beside it for
// the lightkeeper extensions (x-message, x-hints) and the property lists used
// by did-you-mean hints.
type compiled struct {
	schema *jsonschema.Schema
	raw    any
}

var load = sync.OnceValues(func() (*compiled, error) {
	s, raw, err := CompileDocument(ID, source)
	if err != nil {
		return nil, fmt.Errorf("schema: embedded fleet.schema.json: %w", err)
	}
	return &compiled{schema: s, raw: raw}, nil
})

// CompileDocument compiles src, a JSON Schema document whose $id is id,
// with "format" asserted (the ip of a published port is a rule, not a
// hint). It returns the schema and the parsed document. The fleet schema
// and the daemon's configuration schema are both compiled with it.
func CompileDocument(id string, src []byte) (*jsonschema.Schema, any, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, nil, fmt.Errorf("parse: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, raw); err != nil {
		return nil, nil, fmt.Errorf("add: %w", err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, nil, fmt.Errorf("compile: %w", err)
	}
	return s, raw, nil
}

// Compile compiles the embedded schema (once per process) and reports an
// error only if the embedded document is broken. Validate calls it; callers
// may call it first to fail early.
func Compile() error {
	_, err := load()
	return err
}

// Violation is one way a document breaks the schema, placed at the YAML node
// it concerns.
type Violation struct {
	// Path is the location of the value in the document, as object keys and
	// array indices ("spec", "zones", "0"). Empty for the document itself.
	Path []string
	// Line and Column (1-based) of the YAML node the violation concerns: the
	// offending value, or the key for an unknown key, or the mapping that
	// misses a required key.
	Line, Column int
	// Message says what is wrong and, where it can, how to fix it.
	Message string
}

// Field renders Path as a dotted field name with list indices in brackets,
// for example "spec.containers[0].containerImage". Empty for the document.
func (v Violation) Field() string { return FieldName(v.Path) }

// FieldName renders a value location as "spec.containers[0].containerImage".
func FieldName(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if p == "" {
			p = `""` // an empty key
		}
		if isIndex(p) {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Validate checks doc, the JSON form of one YAML document (maps, slices,
// strings, bools, nil and json.Number, int64 or float64 numbers), against
// the fleet schema. node is the YAML node doc was built from (the document's
// root mapping); it is used only to place each violation. Every violation is
// returned, ordered as the schema reports them; nil means valid.
func Validate(doc any, node *yaml.Node) ([]Violation, error) {
	c, err := load()
	if err != nil {
		return nil, err
	}
	err = c.schema.Validate(doc)
	if err == nil {
		return nil, nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, fmt.Errorf("schema: validate: %w", err)
	}
	col := collector{compiled: c, root: node, seen: map[violationKey]bool{}}
	col.collect(verr)
	return col.out, nil
}

// collector gathers the violations of one document.
type collector struct {
	*compiled
	root  *yaml.Node
	out   []Violation
	seen  map[violationKey]bool
	index map[*yaml.Node]map[string]int // key positions in large mappings
}

type violationKey struct {
	line, col int
	path, msg string
}

// add appends v unless the same message is already placed at the same
// node (two keywords of one schema may explain a value the same way).
func (c *collector) add(v Violation) {
	k := violationKey{v.Line, v.Column, strings.Join(v.Path, "\x00"), v.Message}
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.out = append(c.out, v)
}

// collect flattens the error tree into violations at its leaves.
func (c *collector) collect(e *jsonschema.ValidationError) {
	if pn, ok := e.ErrorKind.(*kind.PropertyNames); ok {
		c.propertyName(e, pn.Property)
		return
	}
	if len(e.Causes) > 0 {
		if m, ok := c.lookup(e.SchemaURL)["x-message"].(string); ok {
			switch e.ErrorKind.(type) {
			case *kind.AnyOf, *kind.OneOf, *kind.AllOf, *kind.Not:
				// The schema explains the combination as a whole.
				n, _ := c.find(e.InstanceLocation)
				c.add(Violation{Path: e.InstanceLocation, Line: n.Line, Column: n.Column, Message: m + gotString(e.ErrorKind, deref(n))})
				return
			}
		}
		for _, cause := range e.Causes {
			c.collect(cause)
		}
		return
	}
	sch := c.lookup(e.SchemaURL)
	if checkedElsewhere(sch) {
		return
	}
	at := func(path []string, n *yaml.Node, msg string) {
		v := Violation{Path: path, Message: msg}
		if n != nil {
			v.Line, v.Column = n.Line, n.Column
		}
		c.add(v)
	}
	loc := e.InstanceLocation
	val, _ := c.find(loc)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		keys := keyNodes(val)
		for _, p := range k.Properties {
			at(loc, keys[p], unknownKeyMessage(sch, p))
		}
		return
	case *kind.Required:
		for _, p := range k.Missing {
			at(loc, val, fmt.Sprintf("missing required key %q", p))
		}
		return
	case *kind.Type:
		at(loc, val, fmt.Sprintf("must be %s, got %s", typeNames(k.Want), typeName(k.Got))+typeHint(k, deref(val), sch))
		return
	case *kind.UniqueItems:
		dup := append(slices.Clip(loc), strconv.Itoa(k.Duplicates[1]))
		n, _ := c.find(dup)
		at(dup, n, fmt.Sprintf("duplicate of item %d", k.Duplicates[0]))
		return
	}
	if m, ok := sch["x-message"].(string); ok {
		at(loc, val, m+gotString(e.ErrorKind, deref(val)))
		return
	}
	at(loc, val, message(e.ErrorKind)+gotString(e.ErrorKind, deref(val)))
}

// checkedElsewhere reports whether a schema's rule is there for editors only:
// package spec checks it itself, with a more precise message, once the
// document passes the schema ("x-checked-by": "spec").
func checkedElsewhere(sch map[string]any) bool {
	_, ok := sch["x-checked-by"]
	return ok
}

// propertyName reports the ways a mapping key breaks propertyNames, at the
// key, with the key in the field path ("spec.tags.<key>").
func (c *collector) propertyName(e *jsonschema.ValidationError, key string) {
	// The library's InstanceLocation of a propertyNames error may share its
	// array with later locations (it read "spec.charge" for spec.tags);
	// where the schema path has no list in it, it names the place exactly.
	loc := e.InstanceLocation
	if p, ok := instancePathOf(e.SchemaURL); ok {
		loc = p
	}
	val, _ := c.find(loc)
	n := keyNodes(val)[key]
	if n == nil {
		n = deref(val)
	}
	path := append(slices.Clip(loc), key)
	var leaves func(e *jsonschema.ValidationError)
	leaves = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, cause := range e.Causes {
				leaves(cause)
			}
			return
		}
		sch := c.lookup(e.SchemaURL)
		if checkedElsewhere(sch) {
			return
		}
		msg := message(e.ErrorKind)
		if m, ok := sch["x-message"].(string); ok {
			msg = m
		}
		v := Violation{Path: path, Message: "key " + msg}
		if key == "" {
			v.Message = "a key must not be empty"
		}
		if n != nil {
			v.Line, v.Column = n.Line, n.Column
		}
		c.add(v)
	}
	leaves(e)
}

// instancePathOf returns the instance path that a schema location
// ("#/properties/spec/properties/tags/propertyNames") applies to (spec,
// tags), when only "properties" lead there; ok is false otherwise.
func instancePathOf(schemaURL string) ([]string, bool) {
	_, frag, _ := strings.Cut(schemaURL, "#")
	toks := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if len(toks) == 0 || toks[len(toks)-1] != "propertyNames" {
		return nil, false
	}
	toks = toks[:len(toks)-1]
	var path []string
	for i := 0; i < len(toks); i += 2 {
		if toks[i] != "properties" || i+1 >= len(toks) {
			return nil, false
		}
		path = append(path, toks[i+1])
	}
	return path, true
}

// keyNodes indexes the key nodes of a mapping by their value; the first of
// duplicate keys wins.
func keyNodes(n *yaml.Node) map[string]*yaml.Node {
	n = deref(n)
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

// lookup returns the raw schema object that a SchemaURL points at.
func (c *compiled) lookup(schemaURL string) map[string]any {
	_, frag, _ := strings.Cut(schemaURL, "#")
	cur := c.raw
	if frag != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			if t, err := url.PathUnescape(tok); err == nil {
				tok = t
			}
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch v := cur.(type) {
			case map[string]any:
				cur = v[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(v) {
					return nil
				}
				cur = v[i]
			default:
				return nil
			}
		}
	}
	// The keyword may be addressed itself (".../additionalProperties");
	// the extensions live on the schema object that holds it.
	m, _ := cur.(map[string]any)
	return m
}

// find walks path from the document root and returns the value node there
// and, when the last step is a mapping key, the key node. Aliases are
// followed. Where the path leaves the YAML (it should not), the deepest node
// reached is returned. Large mappings are indexed once, so placing many
// errors in one mapping stays linear.
func (c *collector) find(path []string) (val, key *yaml.Node) {
	n := c.root
	for _, p := range path {
		n = deref(n)
		if n == nil {
			return nil, nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			if len(n.Content) > 32 {
				idx, ok := c.index[n]
				if !ok {
					idx = make(map[string]int, len(n.Content)/2)
					for i := 0; i+1 < len(n.Content); i += 2 {
						if _, dup := idx[n.Content[i].Value]; !dup {
							idx[n.Content[i].Value] = i
						}
					}
					if c.index == nil {
						c.index = map[*yaml.Node]map[string]int{}
					}
					c.index[n] = idx
				}
				if i, ok := idx[p]; ok {
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

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	return n
}
