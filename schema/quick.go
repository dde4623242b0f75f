package schema

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A quick check of a value against a schema, for Valid: the rules of the
// schema compiled once more into a form that decides the values ReadPlain
// builds (maps, lists, strings, int64, bools, nil) without allocating,
// which the validator does at every value. It knows only the keywords
// whose meaning it can decide exactly; for any other keyword, value type
// or number, it answers "unknown", and Valid asks the validator, which
// stays the authority (FuzzQuick holds the two side by side).

// Valid reports whether v, a document's JSON value, passes the schema.
// It words nothing: a caller that needs the problems uses Check. Values
// such as ReadPlain builds are mostly decided by a quick check of the
// schema's rules that allocates nothing; the validator decides the rest.
func (s *Schema) Valid(v any) bool {
	if s.quick != nil {
		switch s.quick.check(v) {
		case valid:
			return true
		case invalid:
			return false
		}
	}
	compiled, err := s.compile()
	return err == nil && compiled.Validate(v) == nil
}

// verdict is a quick check's answer.
type verdict uint8

const (
	invalid verdict = iota
	valid
	unknown
)

// quickNode is one schema object, compiled.
type quickNode struct {
	unknown bool // a keyword quick cannot decide

	types    uint8 // typeNull|...; 0: any type
	consts   []any // const (one value) or enum: strings, bools, nil, int64
	hasConst bool
	format   bool // "format" (asserted): unknown for strings

	props        map[string]*quickNode
	required     []string
	noAdditional bool
	additional   *quickNode
	names        *quickNode
	minProps     int
	maxProps     int

	items    *quickNode
	minItems int
	maxItems int
	unique   bool

	minLen, maxLen int
	pattern        *regexp.Regexp

	min, max       *int64
	exMin, exMax   *int64
	multipleOf     int64
	allOf, anyOf   []*quickNode
	oneOf          []*quickNode
	not            *quickNode
	ifs, then, els *quickNode
}

const (
	typeNull = 1 << iota
	typeBool
	typeInteger
	typeNumber
	typeString
	typeArray
	typeObject
)

// compileQuick compiles a schema document (as jsonschema.UnmarshalJSON
// read it) of draft 2020-12; nil when it is of another draft.
func compileQuick(raw any) *quickNode {
	root, ok := raw.(map[string]any)
	if !ok {
		return nil
	}
	if d, ok := root["$schema"].(string); ok && d != "https://json-schema.org/draft/2020-12/schema" {
		return nil
	}
	return quickFrom(raw)
}

// quickFrom compiles one schema object.
func quickFrom(raw any) *quickNode {
	n := &quickNode{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	switch raw := raw.(type) {
	case bool:
		if !raw {
			n.not = &quickNode{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
		}
		return n
	case map[string]any:
		for k, v := range raw {
			if !n.keyword(k, v) {
				n.unknown = true
			}
		}
		return n
	}
	n.unknown = true
	return n
}

// keyword compiles one keyword of a schema object; false means quick
// cannot decide it.
func (n *quickNode) keyword(k string, v any) bool {
	switch k {
	case "$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly":
		return true
	case "type":
		names, ok := v.([]any)
		if s, isStr := v.(string); isStr {
			names, ok = []any{s}, true
		}
		if !ok {
			return false
		}
		for _, t := range names {
			bit := map[any]uint8{"null": typeNull, "boolean": typeBool, "integer": typeInteger, "number": typeNumber,
				"string": typeString, "array": typeArray, "object": typeObject}[t]
			if bit == 0 {
				return false
			}
			n.types |= bit
		}
		return true
	case "const", "enum":
		vals := []any{v}
		if k == "enum" {
			l, ok := v.([]any)
			if !ok {
				return false
			}
			vals = l
		}
		if n.hasConst {
			return false // both: leave it to the validator
		}
		n.hasConst = true
		for _, c := range vals {
			c, ok := scalarConst(c)
			if !ok {
				return false
			}
			n.consts = append(n.consts, c)
		}
		return true
	case "format":
		n.format = true
		return true
	case "properties":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		n.props = make(map[string]*quickNode, len(m))
		for name, s := range m {
			n.props[name] = quickFrom(s)
		}
		return true
	case "required":
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, r := range l {
			s, ok := r.(string)
			if !ok {
				return false
			}
			n.required = append(n.required, s)
		}
		return true
	case "additionalProperties":
		if b, ok := v.(bool); ok {
			n.noAdditional = !b
			return true
		}
		n.additional = quickFrom(v)
		return true
	case "propertyNames":
		n.names = quickFrom(v)
		return true
	case "items":
		if _, ok := v.([]any); ok {
			return false
		}
		n.items = quickFrom(v)
		return true
	case "uniqueItems":
		b, ok := v.(bool)
		n.unique = b
		return ok
	case "minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength":
		i, ok := quickInt(v)
		if !ok || i < 0 || i > 1<<31 {
			return false
		}
		*map[string]*int{"minProperties": &n.minProps, "maxProperties": &n.maxProps, "minItems": &n.minItems,
			"maxItems": &n.maxItems, "minLength": &n.minLen, "maxLength": &n.maxLen}[k] = int(i)
		return true
	case "pattern":
		s, ok := v.(string)
		if !ok {
			return false
		}
		re, err := regexp.Compile(s) // the validator's own engine
		n.pattern = re
		return err == nil
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		i, ok := quickInt(v)
		if !ok {
			return false
		}
		*map[string]**int64{"minimum": &n.min, "maximum": &n.max, "exclusiveMinimum": &n.exMin, "exclusiveMaximum": &n.exMax}[k] = &i
		return true
	case "multipleOf":
		i, ok := quickInt(v)
		n.multipleOf = i
		return ok && i > 0
	case "allOf", "anyOf", "oneOf":
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			return false
		}
		subs := make([]*quickNode, len(l))
		for i, s := range l {
			subs[i] = quickFrom(s)
		}
		*map[string]*[]*quickNode{"allOf": &n.allOf, "anyOf": &n.anyOf, "oneOf": &n.oneOf}[k] = subs
		return true
	case "not", "if", "then", "else":
		*map[string]**quickNode{"not": &n.not, "if": &n.ifs, "then": &n.then, "else": &n.els}[k] = quickFrom(v)
		return true
	}
	// Extensions are annotations; any other keyword is a rule quick does
	// not know.
	return strings.HasPrefix(k, "x-")
}

// quickInt reads a schema number (a json.Number) that is a whole int64.
func quickInt(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(num), 10, 64)
	return i, err == nil
}

// scalarConst reads a const or enum value that quick compares exactly.
func scalarConst(v any) (any, bool) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, true
	case json.Number:
		return quickInt(v)
	}
	return nil, false
}

// check decides whether v passes n.
func (n *quickNode) check(v any) verdict {
	if n.unknown {
		return unknown
	}
	var t uint8
	switch v.(type) {
	case nil:
		t = typeNull
	case bool:
		t = typeBool
	case int64:
		t = typeInteger | typeNumber
	case string:
		t = typeString
	case []any:
		t = typeArray
	case map[string]any:
		t = typeObject
	default:
		return unknown
	}
	if n.types != 0 && n.types&t == 0 {
		return invalid
	}
	out := valid
	if n.hasConst {
		found := false
		for _, c := range n.consts {
			if c == v {
				found = true
				break
			}
		}
		if !found {
			return invalid
		}
	}
	switch v := v.(type) {
	case string:
		if n.minLen >= 0 || n.maxLen >= 0 {
			l := utf8.RuneCountInString(v)
			if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
				return invalid
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			return invalid
		}
		if n.format {
			out = unknown
		}
	case int64:
		if n.min != nil && v < *n.min || n.max != nil && v > *n.max ||
			n.exMin != nil && v <= *n.exMin || n.exMax != nil && v >= *n.exMax ||
			n.multipleOf > 0 && v%n.multipleOf != 0 {
			return invalid
		}
	case []any:
		if n.minItems >= 0 && len(v) < n.minItems || n.maxItems >= 0 && len(v) > n.maxItems {
			return invalid
		}
		if n.unique {
			for i, a := range v {
				switch a.(type) {
				case []any, map[string]any:
					return unknown
				}
				for _, b := range v[:i] {
					if a == b {
						return invalid
					}
				}
			}
		}
		if n.items != nil {
			for _, e := range v {
				if !fold(&out, n.items.check(e)) {
					return invalid
				}
			}
		}
	case map[string]any:
		if n.minProps >= 0 && len(v) < n.minProps || n.maxProps >= 0 && len(v) > n.maxProps {
			return invalid
		}
		for _, r := range n.required {
			if _, ok := v[r]; !ok {
				return invalid
			}
		}
		for k, e := range v {
			if p, ok := n.props[k]; ok {
				if !fold(&out, p.check(e)) {
					return invalid
				}
			} else if n.noAdditional {
				return invalid
			} else if n.additional != nil && !fold(&out, n.additional.check(e)) {
				return invalid
			}
			if n.names != nil && !fold(&out, n.names.check(k)) {
				return invalid
			}
		}
	}
	for _, s := range n.allOf {
		if !fold(&out, s.check(v)) {
			return invalid
		}
	}
	if len(n.anyOf) > 0 {
		some := invalid
		for _, s := range n.anyOf {
			switch s.check(v) {
			case valid:
				some = valid
			case unknown:
				if some == invalid {
					some = unknown
				}
			}
			if some == valid {
				break
			}
		}
		if !fold(&out, some) {
			return invalid
		}
	}
	if len(n.oneOf) > 0 {
		matches, unsure := 0, false
		for _, s := range n.oneOf {
			switch s.check(v) {
			case valid:
				matches++
			case unknown:
				unsure = true
			}
		}
		switch {
		case matches > 1:
			return invalid
		case unsure:
			out = unknown
		case matches == 0:
			return invalid
		}
	}
	if n.not != nil {
		switch n.not.check(v) {
		case valid:
			return invalid
		case unknown:
			out = unknown
		}
	}
	if n.ifs != nil {
		var branch *quickNode
		switch n.ifs.check(v) {
		case valid:
			branch = n.then
		case invalid:
			branch = n.els
		default:
			return unknown
		}
		if branch != nil && !fold(&out, branch.check(v)) {
			return invalid
		}
	}
	return out
}

// fold adds one keyword's verdict r to out; false when r is invalid.
func fold(out *verdict, r verdict) bool {
	switch r {
	case invalid:
		*out = invalid
		return false
	case unknown:
		*out = unknown
	}
	return true
}
