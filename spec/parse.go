package spec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// fileResult is what one file yields.
type fileResult struct {
	fleets []*Fleet
	errs   Errors
}

// parseFile reads, parses and checks every document of one file. It never
// panics: a panic of the YAML parser is reported as an error of the file.
func parseFile(ref fileRef, opts Options) (res fileResult) {
	fail := func(line, col int, format string, args ...any) {
		res.errs = append(res.errs, &Error{File: ref.display, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	data, tooLarge, err := readLimited(ref, opts.MaxFileSize)
	if err != nil {
		fail(0, 0, "%v", err)
		return res
	}
	if tooLarge {
		fail(1, 1, "file is larger than %d bytes; split it into smaller files", opts.MaxFileSize)
		return res
	}
	if !utf8.Valid(data) {
		line, col := invalidUTF8At(data)
		fail(line, col, "invalid UTF-8; save the file as UTF-8")
		return res
	}
	if line, col, r, ok := controlCharAt(data); ok {
		fail(line, col, "control character %U is not allowed in YAML", r)
		return res
	}

	sum := maphash.Bytes(sourceSeed, data)
	data = normalizeYAML(data)

	defer func() {
		if r := recover(); r != nil {
			res.fleets = nil
			fail(1, 1, "YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for index := 1; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, col, msg := syntaxError(data, err)
			fail(line, col, "%s", msg)
			return res
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // an empty document between "---" markers
		}
		docs++
		f, errs := parseDocument(ref.display, index, doc.Content[0], opts)
		res.errs = append(res.errs, errs...)
		if f != nil {
			res.fleets = append(res.fleets, f)
		}
	}
	if docs == 0 {
		fail(1, 1, "file has no YAML documents; add a fleet or delete the file")
	}
	if len(res.fleets) > 0 {
		// Keep neither the node trees nor the text (see Fleet.root).
		file := &sourceFile{fsys: ref.fsys, name: ref.name, sum: sum}
		for _, f := range res.fleets {
			f.node, f.file = nil, file
		}
	}
	return res
}

// readLimited reads a file unless it is larger than limit bytes.
func readLimited(ref fileRef, limit int64) (data []byte, tooLarge bool, err error) {
	f, err := ref.fsys.Open(ref.name)
	if err != nil {
		return nil, false, errors.New(describeFSError(err))
	}
	defer f.Close()
	var buf bytes.Buffer
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		// Only a symbolic link gets here: the walk skips directories.
		return nil, false, errors.New("is a directory (a symbolic link named like a fleet file); rename the link or point it at a file")
	}
	if err == nil && st.Mode().IsRegular() {
		if st.Size() > limit {
			return nil, true, nil
		}
		buf.Grow(int(st.Size()) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(f, limit+1))
	data = buf.Bytes()
	if err != nil {
		return nil, false, errors.New(describeFSError(err))
	}
	return data, int64(len(data)) > limit, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
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

// syntaxError places a YAML parser error. The parser gives a line but no
// column; the column is that of the first character of the line. A tab in
// the indentation, the usual cause of "cannot start any token", is named.
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

// parseDocument converts, validates and checks one document. It returns the
// fleet when the document is valid on its own.
func parseDocument(file string, index int, root *yaml.Node, opts Options) (*Fleet, Errors) {
	if what := notFleet(root); what != "" {
		return nil, Errors{notFleetError(file, root, what)}
	}
	name := ""
	if n := lookupNode(root, []string{"metadata", "name"}); n != nil && n != root && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		name = n.Value
	}
	c := converter{file: file, fleet: name, budget: opts.MaxAliasNodes}
	value := c.value(root)
	if c.exhausted {
		return nil, c.errs
	}
	errs := c.errs
	violations, err := schema.Validate(value, root)
	if err != nil {
		errs = append(errs, &Error{File: file, Line: root.Line, Column: root.Column, Fleet: name, Message: err.Error()})
		return nil, errs
	}
	// A node the converter already explained (".inf", a duplicate key)
	// gets no second message from the schema.
	var explained map[[2]int]bool
	if len(errs) > 0 {
		explained = make(map[[2]int]bool, len(errs))
		for _, e := range errs {
			explained[[2]int{e.Line, e.Column}] = true
		}
	}
	for _, v := range violations {
		if explained[[2]int{v.Line, v.Column}] {
			continue
		}
		errs = append(errs, &Error{File: file, Line: v.Line, Column: v.Column, Fleet: name, Field: v.Field(), Message: v.Message})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	f := &Fleet{Source: Source{File: file, Document: index, Line: root.Line}, node: root}
	fillFleet(f, obj(value))
	f.applyDefaults()
	if errs := checkFleet(f, opts); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// converter turns a YAML node tree into the JSON-like value the schema
// validates, reporting what JSON cannot hold (duplicate keys, merge keys,
// non-scalar keys) and bounding alias expansion.
type converter struct {
	file, fleet string
	errs        Errors
	budget      int // nodes that may still be reached through aliases
	aliasDepth  int
	exhausted   bool
	path        []string // keys and indices from the root to the node converted
}

func (c *converter) fail(n *yaml.Node, format string, args ...any) {
	if c.aliasDepth > 0 {
		return // reported where the anchor was defined
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: n.Line, Column: n.Column, Fleet: c.fleet,
		Field: schema.FieldName(c.path), Message: fmt.Sprintf(format, args...)})
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
			c.errs = append(c.errs, &Error{File: c.file, Line: n.Line, Column: n.Column, Fleet: c.fleet,
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
					first = firstKeys(n)
				}
				c.fail(k, "duplicate key %q; first at line %d", k.Value, first[k.Value].Line)
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
		// The field name is built only for the rare values that need it.
		if msg := numberProblem(n); msg != "" {
			c.fail(n, "%s", msg)
		} else if n.ShortTag() == "!!float" {
			if msg := floatIntegerProblem(schema.FieldName(c.path), n); msg != "" {
				c.fail(n, "%s", msg)
			}
		} else if s, ok := v.(string); ok && hasControl(s) {
			if msg := controlProblem(schema.FieldName(c.path), s); msg != "" {
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

// firstKeys indexes the first scalar key node of each value in mapping n.
func firstKeys(n *yaml.Node) map[string]*yaml.Node {
	keys := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if _, seen := keys[k.Value]; !seen && k.Kind == yaml.ScalarNode {
			keys[k.Value] = k
		}
	}
	return keys
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
// NaN, which no field takes. "" means the number is fine.
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
				return fmt.Sprintf("%s is not a YAML 1.2 integer; write it in decimal: %s", v, i)
			}
			return fmt.Sprintf("%s is not a YAML 1.2 integer; write it in decimal", v)
		}
		if strings.Contains(v, "_") {
			return fmt.Sprintf("%s is not a YAML 1.2 integer; write it without '_': %s", v, strings.ReplaceAll(v, "_", ""))
		}
		if len(digits) > 1 && digits[0] == '0' {
			dec := cmp.Or(strings.TrimLeft(digits, "0"), "0")
			sign := v[:len(v)-len(digits)]
			if oct, ok := new(big.Int).SetString(dec, 8); ok {
				return fmt.Sprintf("%s is ambiguous: YAML 1.1 reads a leading 0 as octal (%s%s), YAML 1.2 as decimal (%s%s); write %s%s (or %q for a string)",
					v, sign, oct, sign, dec, sign, dec, v)
			}
			return fmt.Sprintf("%s has a leading 0; write %s%s (or %q for a string)", v, sign, dec, v)
		}
	case "!!float":
		if f, err := strconv.ParseFloat(v, 64); err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) ||
			strings.Contains(strings.ToLower(v), "inf") || strings.Contains(strings.ToLower(v), "nan") {
			return fmt.Sprintf("%s is not a finite number; write a number", v)
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
