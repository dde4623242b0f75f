package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
)

// The wording of violations: messages per error kind, hints for a value of
// the wrong type or an unknown key, and values shown with nothing invisible.

// gotString shows the offending string after a rule's message, with
// invisible characters made visible, for rules about a string's form or
// value (a pattern, a format, a list of allowed values):
// ", got "bundle_gen_03\u0020"". Nothing is shown of a value whose schema
// sch says "x-sensitive".
func gotString(sch map[string]any, k jsonschema.ErrorKind, n *yaml.Node) string {
	if sensitive, _ := sch["x-sensitive"].(bool); sensitive {
		return ""
	}
	switch k.(type) {
	case *kind.Pattern, *kind.Format, *kind.AnyOf, *kind.Not, *kind.Enum, *kind.Const:
	default:
		return ""
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return ""
	}
	return ", got " + quoteShort(n.Value)
}

// MaxShown is the longest value, in characters, that a message shows
// whole; a longer one is cut there and ends in "…", so that a message
// stays a line whatever the document holds.
const MaxShown = 200

// Short returns s cut at MaxShown characters, ending in "…" when cut.
func Short(s string) string {
	if len(s) <= MaxShown {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxShown {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// quoteShort is Quote of Short(s).
func quoteShort(s string) string { return Quote(Short(s)) }

// Quote renders a value for a message: quoted, with control and other
// invisible characters escaped (as strconv.Quote does) and a space at either
// end written \u0020, so that "bundle_gen_03 " shows as "bundle_gen_03\u0020".
func Quote(s string) string {
	q := strconv.Quote(s)
	body := q[1 : len(q)-1]
	trimmed := strings.TrimLeft(body, " ")
	lead := len(body) - len(trimmed)
	rest := strings.TrimRight(trimmed, " ")
	trail := len(trimmed) - len(rest)
	if lead == 0 && trail == 0 {
		return q
	}
	return `"` + strings.Repeat(`\u0020`, lead) + rest + strings.Repeat(`\u0020`, trail) + `"`
}

// message renders the kinds the fleet schema can produce; anything else
// falls back to the library's English text.
func message(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Const:
		return "must be " + display(k.Want)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		return "must be one of " + strings.Join(want, ", ")
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters, got %d", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("must match %s", k.Want)
	case *kind.MinItems:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d keys", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d keys, got %d", k.Want, k.Got)
	}
	return fmt.Sprint(k)
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func typeNames(ts []string) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = typeName(t)
	}
	return strings.Join(names, " or ")
}

// yaml11Bools are the YAML 1.1 spellings of booleans that YAML 1.2, and so
// lightkeeper, reads as strings.
var yaml11Bools = map[string]bool{"yes": true, "on": true, "y": true, "no": false, "off": false, "n": false}

// typeHint suggests how to write a scalar of the wrong type: the YAML 1.2
// spelling of a YAML 1.1 boolean, quotes around a number meant as text, no
// quotes around a number. "" when there is nothing to suggest.
//
// Quotes are suggested only where the quoted text would be valid: where the
// schema lists the allowed values they are listed instead, and where the
// quoted text would break the field's pattern the pattern's rule is given.
func typeHint(k *kind.Type, n *yaml.Node, sch map[string]any) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	if slices.Contains(k.Want, "string") && (k.Got == "number" || k.Got == "integer" || k.Got == "boolean") {
		if enum, ok := sch["enum"].([]any); ok {
			want := make([]string, len(enum))
			for i, w := range enum {
				want[i] = display(w)
			}
			return "; write one of " + strings.Join(want, ", ")
		}
		if p, ok := sch["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err == nil && !re.MatchString(n.Value) {
				if m, ok := sch["x-message"].(string); ok {
					return fmt.Sprintf("; quoted, %s would still be refused: it %s", quoteShort(n.Value), m)
				}
				return fmt.Sprintf("; quoted, %s would still be refused: it must match %s", quoteShort(n.Value), p)
			}
		}
	}
	quoted := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
	switch {
	case slices.Contains(k.Want, "boolean") && k.Got == "string" && !quoted:
		if b, ok := yaml11Bools[strings.ToLower(n.Value)]; ok {
			return fmt.Sprintf("; YAML 1.2 reads %s as a string: write %t", Short(n.Value), b)
		}
	case slices.Contains(k.Want, "boolean") && k.Got == "string" && quoted:
		if v := strings.ToLower(strings.TrimSpace(n.Value)); v == "true" || v == "false" {
			return "; write it without quotes: " + v
		}
	case slices.Contains(k.Want, "string") && (k.Got == "number" || k.Got == "integer" || k.Got == "boolean"):
		return "; quote it to keep it text: " + quoteShort(n.Value)
	case (slices.Contains(k.Want, "integer") || slices.Contains(k.Want, "number")) && k.Got == "string" && n.Tag == "!!str" && n.Style&yaml.TaggedStyle != 0:
		if _, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil {
			return "; the !!str tag keeps it text: write it without the tag: " + Short(strings.TrimSpace(n.Value))
		}
	case (slices.Contains(k.Want, "integer") || slices.Contains(k.Want, "number")) && k.Got == "string" && quoted:
		if _, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil {
			return "; write it without quotes: " + Short(strings.TrimSpace(n.Value))
		}
	}
	return ""
}

// typeName names JSON types the way a YAML author thinks of them.
func typeName(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "null":
		return "empty (null)"
	}
	return t
}

// unknownKeyMessage explains an unknown key, with the schema's own hint for
// known mistakes (x-hints), a did-you-mean suggestion among the keys that
// the schema allows there or, when they are few, the list of them.
func unknownKeyMessage(sch map[string]any, key string) string {
	msg := "unknown key " + quoteShort(key)
	if hints, ok := sch["x-hints"].(map[string]any); ok {
		if h, ok := hints[key].(string); ok {
			return msg + ": " + h
		}
	}
	props, _ := sch["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	if s := Suggest(key, names); s != "" {
		return fmt.Sprintf("%s; did you mean %q?", msg, s)
	}
	if len(names) > 0 && len(names) <= maxKeysListed {
		slices.Sort(names)
		return msg + "; known keys: " + strings.Join(names, ", ")
	}
	return msg
}

// maxKeysListed is the most keys an unknown-key message lists.
const maxKeysListed = 8

// Suggest returns the candidate closest to word by edit distance, ignoring
// case, if it is close enough to be a likely typo; "" otherwise.
func Suggest(word string, candidates []string) string {
	best, bestD := "", 0
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := distance(lw, strings.ToLower(c))
		limit := max(2, len(c)/3)
		if d > limit {
			continue
		}
		if best == "" || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, by bytes.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
