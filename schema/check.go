package schema

import "go.yaml.in/yaml/v3"

// DefaultMaxAliasNodes is Options.MaxAliasNodes when it is not set.
const DefaultMaxAliasNodes = 10000

// Options bound the work of Check.
type Options struct {
	// MaxAliasNodes caps the nodes a document may reach through YAML
	// aliases (default DefaultMaxAliasNodes), which stops alias bombs: a
	// few lines that expand to billions of nodes.
	MaxAliasNodes int
	// MaxViolations caps the violations Check words and returns; those
	// beyond it are only counted (Result.More). 0 means no cap, a negative
	// value that none is kept.
	MaxViolations int
}

// Result is what Check found in one document.
type Result struct {
	// Value is the document as JSON: maps, slices, strings, bools, nil and
	// int64, float64 or json.Number numbers. Use it only when Violations
	// is empty; it is nil when aliases expanded past Options.MaxAliasNodes.
	Value any
	// Violations are the problems found, each placed at its node: first
	// what the conversion found, then what the schema found (a node the
	// conversion already explained gets no second message).
	Violations []Violation
	// More counts the problems found beyond Options.MaxViolations.
	More int
}

// Check converts the YAML document at root (its root node, or the document
// node) into JSON as YAML 1.2's core schema reads it, validates it against
// s and places every problem at its line and column: what JSON cannot hold
// (duplicate and merge keys, keys that are not strings), numbers that
// YAML 1.1 and 1.2 read differently or that are not finite, whole numbers
// written as floats where the schema wants an integer, control characters
// in strings, and every rule of the schema the value breaks. The error is
// not about the document: s cannot validate at all.
func (s *Schema) Check(root *yaml.Node, o Options) (Result, error) {
	if o.MaxAliasNodes <= 0 {
		o.MaxAliasNodes = DefaultMaxAliasNodes
	}
	c := converter{schema: s, budget: o.MaxAliasNodes, max: o.MaxViolations}
	value := c.value(root)
	res := Result{Violations: c.out, More: c.more}
	if c.exhausted {
		return res, nil
	}
	res.Value = value
	max := o.MaxViolations
	if max > 0 {
		max -= len(c.out)
		if max <= 0 {
			max = -1 // nothing more is kept: count the schema's problems
		}
	}
	violations, more, err := s.validate(value, Deref(root), max)
	if err != nil {
		return res, err
	}
	res.More += more
	// A node the conversion already explained (".inf", a duplicate key)
	// gets no second message from the schema.
	var explained map[[2]int]bool
	if len(c.out) > 0 {
		explained = make(map[[2]int]bool, len(c.out))
		for _, v := range c.out {
			explained[[2]int{v.Line, v.Column}] = true
		}
	}
	for _, v := range violations {
		if !explained[[2]int{v.Line, v.Column}] {
			res.Violations = append(res.Violations, v)
		}
	}
	return res, nil
}
