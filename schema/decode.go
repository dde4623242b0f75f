package schema

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// converter turns a YAML node tree into the JSON value the schema
// validates, reading scalars as YAML 1.2's core schema does, and reports
// what JSON cannot hold or YAML writes ambiguously: duplicate keys, merge
// keys, keys that are not scalars, numbers YAML 1.1 and 1.2 read
// differently, infinities, whole numbers written as floats where the schema
// wants an integer, control characters in strings. It bounds alias
// expansion (an alias bomb) and the problems it keeps.
type converter struct {
	schema     *Schema
	out        []Violation
	max        int // problems kept; 0: all; negative: none
	more       int // problems found beyond max
	budget     int // nodes that may still be reached through aliases
	aliasDepth int
	exhausted  bool
	path       []string // keys and indices from the root to the node converted
}

// fail reports a problem at node n, with the current path as its field.
func (c *converter) fail(n *yaml.Node, format string, args ...any) {
	if c.aliasDepth > 0 {
		return // reported where the anchor was defined
	}
	if c.max < 0 || (c.max > 0 && len(c.out) >= c.max) {
		c.more++
		return
	}
	c.out = append(c.out, Violation{Path: append([]string(nil), c.path...), Line: n.Line, Column: n.Column,
		Message: fmt.Sprintf(format, args...)})
}

func (c *converter) value(n *yaml.Node) any {
	if c.exhausted {
		return nil
	}
	if c.aliasDepth > 0 {
		c.budget--
		if c.budget < 0 {
			c.exhausted = true
			return nil
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		c.aliasDepth++
		v := c.value(n.Alias)
		c.aliasDepth--
		if c.exhausted && c.aliasDepth == 0 {
			c.out = append(c.out, Violation{Line: n.Line, Column: n.Column,
				Message: "aliases expand to too many nodes (an alias bomb?); write the values out"})
		}
		return v
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var first map[string]*yaml.Node // built at the first duplicate
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, "a key must be a plain string, not a %s", kindName(k.Kind))
				continue
			}
			if k.ShortTag() == "!!merge" {
				c.fail(k, "merge keys (<<) are not supported; write the keys out")
				continue
			}
			if _, dup := m[k.Value]; dup {
				if first == nil {
					first = keyNodes(n)
				}
				c.fail(k, "duplicate key %s; first at line %d", quoteShort(k.Value), first[k.Value].Line)
				continue
			}
			c.path = append(c.path, k.Value)
			m[k.Value] = c.value(v)
			c.path = c.path[:len(c.path)-1]
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			c.path = append(c.path, strconv.Itoa(i))
			s[i] = c.value(e)
			c.path = c.path[:len(c.path)-1]
		}
		return s
	case yaml.ScalarNode:
		v := scalar(n)
		if msg := numberProblem(n); msg != "" {
			c.fail(n, "%s", msg)
		} else if n.ShortTag() == "!!float" {
			if msg := c.floatIntegerProblem(n); msg != "" {
				c.fail(n, "%s", msg)
			}
		} else if s, ok := v.(string); ok && hasControl(s) {
			if msg := c.controlProblem(s); msg != "" {
				c.fail(n, "%s", msg)
			}
		}
		return v
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return c.value(n.Content[0])
		}
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// numberProblem explains why a scalar that the YAML parser (which mixes
// YAML 1.1 and 1.2 rules) read as a number must be written otherwise: a
// leading zero, which YAML 1.1 reads as octal and YAML 1.2 as decimal, so
// "count: 010" would silently mean 8 to one tool and 10 to another; digit
// separators and binary, which YAML 1.2 does not have; and infinities and
// NaN, which no field takes. "" means the number is fine: decimal, or
// YAML 1.2's 0x hexadecimal and 0o octal.
func numberProblem(n *yaml.Node) string {
	v := n.Value
	switch n.ShortTag() {
	case "!!int":
		digits := strings.TrimLeft(v, "+-")
		switch {
		case strings.HasPrefix(digits, "0x"), strings.HasPrefix(digits, "0o"):
			if strings.Contains(digits, "_") {
				break
			}
			return ""
		case strings.HasPrefix(digits, "0b"):
			if i, ok := new(big.Int).SetString(v, 0); ok {
				return fmt.Sprintf("%s is not a YAML 1.2 integer; write it in decimal: %s", Short(v), Short(i.String()))
			}
			return fmt.Sprintf("%s is not a YAML 1.2 integer; write it in decimal", Short(v))
		}
		if strings.Contains(v, "_") {
			return fmt.Sprintf("%s is not a YAML 1.2 integer; write it without '_': %s", Short(v), Short(strings.ReplaceAll(v, "_", "")))
		}
		if len(digits) > 1 && digits[0] == '0' {
			dec := Short(cmp.Or(strings.TrimLeft(digits, "0"), "0"))
			sign := v[:len(v)-len(digits)]
			if oct, ok := new(big.Int).SetString(strings.TrimSuffix(dec, "…"), 8); ok && !strings.HasSuffix(dec, "…") {
				return fmt.Sprintf("%s is ambiguous: YAML 1.1 reads a leading 0 as octal (%s%s), YAML 1.2 as decimal (%s%s); write %s%s (or %s for a string)",
					Short(v), sign, oct, sign, dec, sign, dec, strconv.Quote(Short(v)))
			}
			return fmt.Sprintf("%s has a leading 0; write %s%s (or %s for a string)", Short(v), sign, dec, quoteShort(v))
		}
	case "!!float":
		if f, err := strconv.ParseFloat(v, 64); err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) ||
			strings.Contains(strings.ToLower(v), "inf") || strings.Contains(strings.ToLower(v), "nan") {
			return fmt.Sprintf("%s is not a finite number; write a number", Short(v))
		}
	}
	return ""
}

// scalar resolves a scalar the way YAML 1.2's core schema does.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
		if b, ok := new(big.Int).SetString(n.Value, 0); ok {
			return json.Number(b.String())
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case "!!str":
		// The parser leaves a plain number beyond float64 (1e400) a string;
		// keep it a number so the schema reports it as out of range.
		// An explicit !!str keeps the value a string ("count: !!str 3" is
		// refused where a number is required).
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 && plainFloatRE.MatchString(n.Value) {
			if f, ok := new(big.Float).SetString(n.Value); ok && !f.IsInf() {
				return json.Number(f.Text('g', -1))
			}
		}
	}
	return n.Value
}

// plainFloatRE is a YAML 1.2 core float in decimal or exponent form.
var plainFloatRE = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// floatIntegerProblem explains a whole number written as a float where the
// schema wants an integer ("count: 3.0", "1e2", or "1e-400", which a float
// reads as 0), or "". JSON Schema counts 3.0 as an integer; lightkeeper
// wants integers written as such. A float with a fraction is left to the
// schema ("must be an integer, got a number").
func (c *converter) floatIntegerProblem(n *yaml.Node) string {
	if c.schema == nil || !wantsInteger(c.schema.at(c.path)) {
		return ""
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || f != float64(int64(f)) {
		return ""
	}
	if f == 0 && strings.ContainsAny(strings.TrimLeft(n.Value, "+-0."), "123456789") {
		return fmt.Sprintf("%s is not an integer (it is too small for a float, which reads it as 0); write a whole number without a decimal point or exponent", n.Value)
	}
	return fmt.Sprintf("%s is written as a float; write the integer without a decimal point or exponent: %d", n.Value, int64(f))
}

func wantsInteger(sch map[string]any) bool {
	switch t := sch["type"].(type) {
	case string:
		return t == "integer"
	case []any:
		integer := false
		for _, e := range t {
			if e == "number" {
				return false
			}
			integer = integer || e == "integer"
		}
		return integer
	}
	return false
}

// controlProblem explains a control character in a string value, or "":
// NUL anywhere; a line break or tab outside the values whose schema says
// "x-multiline": true (the root's "x-multiline-note" names them); any
// other C0 or C1 control character or DEL anywhere. A parser refuses most
// of them written literally; this catches escapes ("\n", "\0", "\x07",
// "\u0085") in double-quoted strings.
func (c *converter) controlProblem(s string) string {
	multi, note := false, ""
	if c.schema != nil {
		multi, _ = c.schema.at(c.path)["x-multiline"].(bool)
		if n, ok := c.schema.root()["x-multiline-note"].(string); ok {
			note = " (" + n + ")"
		}
	}
	for _, r := range s {
		switch {
		case r == 0:
			return fmt.Sprintf("%s holds U+0000 (NUL), which no value may hold; remove it", quoteShort(s))
		case (r == '\n' || r == '\t') && multi:
			continue
		case r == '\n' || r == '\r' || r == '\t':
			return fmt.Sprintf("%s holds the control character %U; this value is one line: remove it%s", quoteShort(s), r, note)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Sprintf("%s holds the control character %U; remove it", quoteShort(s), r)
		}
	}
	return ""
}

// hasControl reports whether s may hold a control character: a byte below
// 0x20, DEL, or the first byte (0xC2) of a C1 control in UTF-8.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f || b == 0xc2 {
			return true
		}
	}
	return false
}
