// Package schema checks YAML documents against JSON Schemas (draft
// 2020-12): the fleet schema (fleet.schema.json, embedded) and any other
// document's, such as the daemon's configuration. A Schema is compiled once;
// its Check converts a YAML node tree into JSON with YAML 1.2's core rules,
// validates it and places every problem at the line and column of the node
// it concerns, worded for the person who wrote the YAML.
//
// The fleet schema is the one source of truth for the shape of a fleet;
// package spec adds only the checks a schema cannot express.
//
// Besides the standard keywords, Check reads these extensions of a schema:
//   - "x-message" on a schema: what to say when a value breaks it, instead
//     of the rule ("must be a duration such as 30s, 5m or 1h30m");
//   - "x-hints" on an object schema: for known wrong keys, what to write
//     instead;
//   - "x-checked-by" on a rule: the rule is there for editors; the program
//     checks it itself with a more precise message, so Check is silent;
//   - "x-sensitive" on a string schema: never show the value in a message;
//   - "x-multiline" on a string schema: the value may hold line breaks and
//     tabs, and "x-multiline-note" at the root says which values may.
package schema

import (
	"bytes"
	"cmp"
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

// Schema is a compiled schema with its document beside it, for the
// extensions (x-message, x-hints, ...) and the property lists used by
// did-you-mean hints. It is safe for concurrent use.
type Schema struct {
	// compile returns the compiled schema, compiling it at the first call
	// for the fleet schema (a run whose every file is plain and valid,
	// which Valid's quick check decides, never needs it).
	compile func() (*jsonschema.Schema, error)
	raw     any
	quick   *quickNode // the rules again, for Valid; nil if of another draft
}

var fleet = sync.OnceValues(func() (*Schema, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(source))
	if err != nil {
		return nil, fmt.Errorf("schema: embedded fleet.schema.json: parse: %w", err)
	}
	compile := sync.OnceValues(func() (*jsonschema.Schema, error) {
		c, err := compileRaw(ID, raw)
		if err != nil {
			return nil, fmt.Errorf("schema: embedded fleet.schema.json: %w", err)
		}
		return c, nil
	})
	return &Schema{compile: compile, raw: raw, quick: compileQuick(raw)}, nil
})

// Fleet returns the fleet schema, compiled once per process, when first
// needed. The error, of Fleet or of a check, means only that the embedded
// document is broken.
func Fleet() (*Schema, error) { return fleet() }

// Compile compiles src, a JSON Schema document whose $id is id, with
// "format" asserted (the ip of a published port is a rule, not a hint).
func Compile(id string, src []byte) (*Schema, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	c, err := compileRaw(id, raw)
	if err != nil {
		return nil, err
	}
	return &Schema{compile: func() (*jsonschema.Schema, error) { return c, nil }, raw: raw, quick: compileQuick(raw)}, nil
}

// compileRaw compiles a parsed schema document.
func compileRaw(id string, raw any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, raw); err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return s, nil
}

// root is the schema document's top-level object.
func (s *Schema) root() map[string]any {
	m, _ := s.raw.(map[string]any)
	return m
}

// at returns the schema object that applies to the value at path, when
// the schema says so through properties, additionalProperties, items and
// local $refs alone; nil otherwise.
func (s *Schema) at(path []string) map[string]any {
	cur := s.ref(s.root())
	for _, p := range path {
		if cur == nil {
			return nil
		}
		var next map[string]any
		if props, ok := cur["properties"].(map[string]any); ok {
			next, _ = props[p].(map[string]any)
		}
		if next == nil && isIndex(p) {
			next, _ = cur["items"].(map[string]any)
		}
		if next == nil {
			next, _ = cur["additionalProperties"].(map[string]any)
		}
		cur = s.ref(next)
	}
	return cur
}

// ref follows a local "$ref" ("#/$defs/duration") of sch, once.
func (s *Schema) ref(sch map[string]any) map[string]any {
	r, ok := sch["$ref"].(string)
	if !ok || !strings.HasPrefix(r, "#") {
		return sch
	}
	return s.lookup(r)
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
// s. node is the YAML node doc was built from (the document's root
// mapping); it is used only to place each violation. Every violation is
// returned, ordered as the schema reports them; nil means valid. Check does
// this and the conversion; Validate is for a value built in Go.
func (s *Schema) Validate(doc any, node *yaml.Node) ([]Violation, error) {
	v, _, err := s.validate(doc, node, 0)
	return v, err
}

// validate is Validate keeping at most max violations (0: all; negative:
// none) and counting the rest.
func (s *Schema) validate(doc any, node *yaml.Node, max int) ([]Violation, int, error) {
	compiled, err := s.compile()
	if err != nil {
		return nil, 0, err
	}
	err = compiled.Validate(doc)
	if err == nil {
		return nil, 0, nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, 0, fmt.Errorf("schema: validate: %w", err)
	}
	col := collector{Schema: s, root: node, max: max, seen: map[violationKey]bool{}, index: keyIndex{}}
	col.collect(verr)
	return col.out, col.more, nil
}

// collector gathers the violations of one document: first every leaf of
// the error tree, placed; then, in document order, it words as many as it
// keeps and counts the rest.
type collector struct {
	*Schema
	root   *yaml.Node
	leaves []leaf
	out    []Violation
	max    int // violations kept; 0: all; negative: none
	more   int // violations found beyond max
	seen   map[violationKey]bool
	index  keyIndex
}

// leaf is one problem of the error tree, placed but not yet worded.
type leaf struct {
	e     *jsonschema.ValidationError
	sch   map[string]any                // the schema object of the rule broken
	path  []string                      // the field the violation is reported at
	node  *yaml.Node                    // where it is placed; nil when the YAML has no such node
	key   string                        // the key an unknown-key, missing-key or key-name leaf is about
	whole bool                          // a combination that the schema's x-message explains as a whole
	rules []*jsonschema.ValidationError // of a key name: the rules of propertyNames it breaks
}

type violationKey struct {
	line, col int
	path, msg string
}

// full reports whether the collector keeps no more violations.
func (c *collector) full() bool { return c.max < 0 || (c.max > 0 && len(c.out) >= c.max) }

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

// collect gathers the leaves of e, orders them as the document is written
// and words those kept.
func (c *collector) collect(e *jsonschema.ValidationError) {
	c.gather(e)
	slices.SortStableFunc(c.leaves, func(a, b leaf) int { return cmpPos(a.node, b.node) })
	for _, l := range c.leaves {
		if c.full() {
			// Counted, not worded: a did-you-mean hint per unknown key
			// is not free.
			c.more++
			continue
		}
		c.word(l)
	}
}

// gather flattens the error tree into placed leaves.
func (c *collector) gather(e *jsonschema.ValidationError) {
	if pn, ok := e.ErrorKind.(*kind.PropertyNames); ok {
		rules := c.keyRules(e, nil)
		if len(rules) == 0 {
			return // every rule broken is checked elsewhere
		}
		if c.max < 0 {
			c.more++
			return
		}
		// The library's InstanceLocation of a propertyNames error may
		// share its array with later locations (it read "spec.charge" for
		// spec.tags); where the schema path has no list in it, it names
		// the place exactly.
		loc := e.InstanceLocation
		if p, ok := instancePathOf(e.SchemaURL); ok {
			loc = p
		}
		path := append(slices.Clip(loc), pn.Property)
		val, n := c.find(path)
		if n == nil {
			n = Deref(val)
		}
		c.leaves = append(c.leaves, leaf{e: e, path: path, node: n, key: pn.Property, rules: rules})
		return
	}
	if len(e.Causes) > 0 {
		sch := c.lookup(e.SchemaURL)
		if _, ok := sch["x-message"].(string); ok {
			switch e.ErrorKind.(type) {
			case *kind.AnyOf, *kind.OneOf, *kind.AllOf, *kind.Not:
				// The schema explains the combination as a whole.
				if c.max < 0 {
					c.more++
					return
				}
				n, _ := c.find(e.InstanceLocation)
				c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: e.InstanceLocation, node: n, whole: true})
				return
			}
		}
		for _, cause := range e.Causes {
			c.gather(cause)
		}
		return
	}
	sch := c.lookup(e.SchemaURL)
	if checkedElsewhere(sch) {
		return
	}
	if c.max < 0 {
		c.more += leafCount(e.ErrorKind) // none is kept: count only
		return
	}
	loc := e.InstanceLocation
	val, _ := c.find(loc)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		keys := keyNodes(val)
		props := k.Properties
		if c.max > 0 && len(props) > c.max {
			// Only the first max keys of the mapping can be kept.
			props = slices.Clone(props)
			slices.SortFunc(props, func(a, b string) int { return cmpPos(keys[a], keys[b]) })
			c.more += len(props) - c.max
			props = props[:c.max]
		}
		for _, p := range props {
			c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: loc, node: keys[p], key: p})
		}
		return
	case *kind.Required:
		for _, p := range k.Missing {
			c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: loc, node: val, key: p})
		}
		return
	case *kind.DependentRequired:
		// Reported at the key that is missing: the field a reader adds.
		for _, p := range k.Missing {
			c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: append(slices.Clip(loc), p), node: val, key: p})
		}
		return
	case *kind.UniqueItems:
		dup := append(slices.Clip(loc), strconv.Itoa(k.Duplicates[1]))
		n, _ := c.find(dup)
		c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: dup, node: n})
		return
	}
	c.leaves = append(c.leaves, leaf{e: e, sch: sch, path: loc, node: val})
}

// leafCount is the number of leaves an error of kind k makes.
func leafCount(k jsonschema.ErrorKind) int {
	switch k := k.(type) {
	case *kind.AdditionalProperties:
		return len(k.Properties)
	case *kind.Required:
		return len(k.Missing)
	case *kind.DependentRequired:
		return len(k.Missing)
	}
	return 1
}

// cmpPos orders nodes as they are written; nil (no place) first.
func cmpPos(a, b *yaml.Node) int {
	var al, ac, bl, bc int
	if a != nil {
		al, ac = a.Line, a.Column
	}
	if b != nil {
		bl, bc = b.Line, b.Column
	}
	return cmp.Or(cmp.Compare(al, bl), cmp.Compare(ac, bc))
}

// word turns a leaf into its violations (a key may break several rules of
// propertyNames).
func (c *collector) word(l leaf) {
	at := func(msg string) {
		v := Violation{Path: l.path, Message: msg}
		if l.node != nil {
			v.Line, v.Column = l.node.Line, l.node.Column
		}
		c.add(v)
	}
	n := Deref(l.node)
	if l.whole {
		at(l.sch["x-message"].(string) + gotString(l.sch, l.e.ErrorKind, n))
		return
	}
	switch k := l.e.ErrorKind.(type) {
	case *kind.PropertyNames:
		c.keyName(l, at)
		return
	case *kind.AdditionalProperties:
		at(unknownKeyMessage(l.sch, l.key))
		return
	case *kind.Required:
		at("missing required key " + quoteShort(l.key))
		return
	case *kind.DependentRequired:
		at("required with " + Short(k.Prop))
		return
	case *kind.Type:
		at(fmt.Sprintf("must be %s, got %s", typeNames(k.Want), typeName(k.Got)) + typeHint(k, n, l.sch))
		return
	case *kind.UniqueItems:
		at(fmt.Sprintf("duplicate of item %d", k.Duplicates[0]))
		return
	}
	if m, ok := l.sch["x-message"].(string); ok {
		at(m + gotString(l.sch, l.e.ErrorKind, n))
		return
	}
	at(message(l.e.ErrorKind) + gotString(l.sch, l.e.ErrorKind, n))
}

// checkedElsewhere reports whether a schema's rule is there for editors only:
// package spec checks it itself, with a more precise message, once the
// document passes the schema ("x-checked-by": "spec").
func checkedElsewhere(sch map[string]any) bool {
	_, ok := sch["x-checked-by"]
	return ok
}

// keyRules appends to out the leaves of a propertyNames error that are not
// checked elsewhere: the rules of the key's name that it breaks.
func (c *collector) keyRules(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) > 0 {
		for _, cause := range e.Causes {
			out = c.keyRules(cause, out)
		}
		return out
	}
	if checkedElsewhere(c.lookup(e.SchemaURL)) {
		return out
	}
	return append(out, e)
}

// keyName words the ways a mapping key breaks propertyNames, at the key,
// with the key in the field path ("spec.tags.<key>").
func (c *collector) keyName(l leaf, at func(string)) {
	for _, e := range l.rules {
		if l.key == "" {
			at("a key must not be empty")
			continue
		}
		msg := message(e.ErrorKind)
		if m, ok := c.lookup(e.SchemaURL)["x-message"].(string); ok {
			msg = m
		}
		at("key " + msg)
	}
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

// lookup returns the raw schema object that a SchemaURL points at.
func (s *Schema) lookup(schemaURL string) map[string]any {
	_, frag, _ := strings.Cut(schemaURL, "#")
	cur := s.raw
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

// find walks path from the document root (see Lookup), indexing large
// mappings once.
func (c *collector) find(path []string) (val, key *yaml.Node) {
	return lookup(c.root, path, c.index)
}
