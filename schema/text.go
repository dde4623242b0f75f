package schema

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reading YAML text as fleet files and the daemon's configuration are read:
// what the text may hold, and where a parser error is.

// Prepare checks data, the text of a YAML file, and prepares it for the
// parser. The text must be UTF-8 without control characters other than
// tab, line feed and carriage return (YAML forbids them); a problem is
// returned placed at its line and column. A byte order mark at the start of
// any line (what cat of BOM-prefixed files puts before a later "---") is
// dropped, and a "%YAML 1.2" directive becomes "%YAML 1.1", the only one the
// parser takes (the values are read with YAML 1.2 rules either way), so
// that every line and column stays as the author sees them. data is
// returned as is when there is nothing to change.
func Prepare(data []byte) ([]byte, *Violation) {
	if !utf8.Valid(data) {
		line, col := invalidUTF8At(data)
		return nil, &Violation{Line: line, Column: col, Message: "invalid UTF-8; save the file as UTF-8"}
	}
	if line, col, r, ok := controlCharAt(data); ok {
		return nil, &Violation{Line: line, Column: col, Message: fmt.Sprintf("control character %U is not allowed in YAML", r)}
	}
	return normalizeYAML(data), nil
}

// position converts a byte offset into a 1-based line and a column counted
// in characters.
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}

func invalidUTF8At(data []byte) (line, col int) {
	off := 0
	for off < len(data) {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	return position(data, off)
}

// controlCharAt finds a C0 control character other than tab, newline and
// carriage return, or DEL, which YAML forbids.
func controlCharAt(data []byte) (line, col int, r rune, found bool) {
	for i, b := range data {
		if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f {
			line, col = position(data, i)
			return line, col, rune(b), true
		}
	}
	return 0, 0, 0, false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxError places err, an error of the YAML parser on data (as Prepare
// returned it). The parser gives a line but no column; the column is that
// of the first character of the line. A tab in the indentation, the usual
// cause of "cannot start any token", is named.
func SyntaxError(data []byte, err error) Violation {
	line, col, msg := syntaxError(data, err)
	return Violation{Line: line, Column: col, Message: msg}
}

func syntaxError(data []byte, err error) (line, col int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	line = 1
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if isParserProblem(msg) {
			// yaml.v3 reports parser (not scanner) errors with a 0-based
			// line: the line where the enclosing construct starts.
			line++
		}
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil {
		// The parser gives no line for an alias of an undefined anchor:
		// place it at the first such alias.
		if off := aliasOffset(data, m[1]); off >= 0 {
			line, col = position(data, off)
			return line, col, fmt.Sprintf("YAML syntax error: %s; define it with &%s before this alias", msg, m[1])
		}
	}
	lines := bytes.Split(data, []byte{'\n'})
	line = min(line, len(lines))
	// A tab in the indentation confuses the parser a line or so before it
	// is reported.
	for i := 0; i <= line && i < len(lines); i++ {
		indent := len(lines[i]) - len(bytes.TrimLeft(lines[i], " \t"))
		if t := bytes.IndexByte(lines[i][:indent], '\t'); t >= 0 {
			return i + 1, t + 1, "tab character in indentation; indent YAML with spaces"
		}
	}
	col = 1
	if line-1 < len(lines) {
		l := lines[line-1]
		col = 1 + utf8.RuneCount(l[:len(l)-len(bytes.TrimLeft(l, " "))])
	}
	return line, col, "YAML syntax error: " + msg
}

var unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// aliasOffset returns the byte offset of the first alias "*name" in data
// (not followed by more of an anchor name), or -1.
func aliasOffset(data []byte, name string) int {
	needle := []byte("*" + name)
	for from := 0; ; {
		i := bytes.Index(data[from:], needle)
		if i < 0 {
			return -1
		}
		end := from + i + len(needle)
		if end == len(data) || bytes.IndexByte([]byte(" \t\r\n,]}"), data[end]) >= 0 {
			return from + i
		}
		from = end
	}
}

// isParserProblem tells the parser's problems from the scanner's.
func isParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found undefined tag handle", "found incompatible YAML document"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// bom is the byte order mark U+FEFF in UTF-8.
var bom = []byte("\xef\xbb\xbf")

// normalizeYAML is the preparation of Prepare.
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
