package spec

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// Checks of string and number values that the schema cannot express: what a
// value written with escapes or tags may hold.

// visible quotes s for a message so that nothing in it is invisible (see
// schema.Quote).
func visible(s string) string { return schema.Quote(s) }

// multiLineField matches the fields whose value may span lines: a
// container's command (a block scalar is the natural way to write a long
// one) and an environment variable's value.
var multiLineField = regexp.MustCompile(`^spec\.containers\[\d+\]\.(command|envs\[\d+\]\.value)$`)

// controlProblem explains a control character in a string value, or "": NUL
// anywhere; a line break or tab outside the multi-line fields; any other C0
// or C1 control character or DEL anywhere. The raw-byte check of the file
// already refuses most of them written literally; this catches escapes
// ("\n", "\0", "\x07", "\u0085") in double-quoted strings.
func controlProblem(field, s string) string {
	if !hasControl(s) {
		return ""
	}
	multi := multiLineField.MatchString(field)
	for _, r := range s {
		switch {
		case r == 0:
			return fmt.Sprintf("%s holds U+0000 (NUL), which no value may hold; remove it", visible(s))
		case (r == '\n' || r == '\t') && multi:
			continue
		case r == '\n' || r == '\r' || r == '\t':
			return fmt.Sprintf("%s holds the control character %U; this value is one line: remove it (only a container's command and environment values may hold line breaks)", visible(s), r)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Sprintf("%s holds the control character %U; remove it", visible(s), r)
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

// integerField matches the fields that take an integer.
var integerField = regexp.MustCompile(`^spec\.(count|charge\.period|containers\[\d+\]\.publishPorts\[\d+\]\.(hostPort|containerPort))$`)

// floatIntegerProblem explains a whole number written as a float where an
// integer is required ("count: 3.0", "1e2", or "1e-400", which a float
// reads as 0), or "". A float with a fraction is left to the schema ("must
// be an integer, got a number").
func floatIntegerProblem(field string, n *yaml.Node) string {
	if n.ShortTag() != "!!float" || !integerField.MatchString(field) {
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

// bom is the byte order mark U+FEFF in UTF-8.
var bom = []byte("\xef\xbb\xbf")

// normalizeYAML prepares a file for the YAML parser, keeping every line and
// column as the author sees them: a byte order mark at the start of any line
// (what cat of BOM-prefixed files puts before a later "---") is dropped, and
// a "%YAML 1.2" directive becomes "%YAML 1.1", the only one the parser takes
// (the values are read with YAML 1.2 rules either way, see scalar). data is
// returned as is when there is nothing to change.
func normalizeYAML(data []byte) []byte {
	if !bytes.Contains(data, bom) && !bytes.Contains(data, []byte("%YAML 1.2")) {
		return data
	}
	out := make([]byte, 0, len(data))
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		line = bytes.TrimPrefix(line, bom)
		if rest, ok := bytes.CutPrefix(line, []byte("%YAML 1.2")); ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n') {
			out = append(out, "%YAML 1.1"...)
			out = append(out, rest...)
			continue
		}
		out = append(out, line...)
	}
	return out
}
