package schema

import (
	"bytes"
	"strconv"
)

// A fast path for the YAML that fleet files are written in: block mappings
// and sequences, one-line flow collections, plain and simply quoted
// scalars. ReadPlain turns such a text straight into the JSON values that
// the YAML parser and Check would build, without a node tree, and refuses
// anything else (anchors, tags, multi-line scalars, escapes, floats, keys
// that are not plain words, non-ASCII text, tabs, ...). A refusal says
// nothing about the text: the caller parses it with the YAML parser, which
// places every problem. The values are the same as Check's, and Check would
// find no problem in the conversion (FuzzReadPlain holds the two readings
// side by side), so a document that the schema and the program then accept
// needs no node tree at all; one with any problem is read again the slow
// way, which words it.

// PlainDoc is one document that ReadPlain read.
type PlainDoc struct {
	// Index is the document's 1-based place in the file, as a yaml.Decoder
	// counts documents.
	Index int
	// Line is the line of the document's root node (its first key).
	Line int
	// Value is the document as JSON (see Result.Value).
	Value map[string]any
}

// PlainReader reads plain YAML texts one after the other (see Read). It
// keeps what reading the next text can use again: one copy of each short
// string it has handed out, so that the documents it reads share their
// keys and common values instead of holding a copy each, and the lines,
// maps and lists of the last text. It is not safe for concurrent use; the
// zero value is ready.
type PlainReader struct {
	strs   map[string]string
	lines  []plainLine
	docs   []PlainDoc
	maps   []map[string]any // handed out by the last Read
	lists  [][]any
	spare  []map[string]any // cleared, for the next
	lists0 [][]any
}

// Limits of what a PlainReader keeps: the longest string shared, how many
// strings, and the largest map or list used again and how many.
const (
	maxSharedLen = 64
	maxShared    = 1 << 10
	maxReused    = 64
	maxSpare     = 256
)

// get returns b as a string, shared when it is short.
func (p *PlainReader) get(b []byte) string {
	if len(b) > maxSharedLen {
		return string(b)
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.strs == nil {
		p.strs = make(map[string]string, 256)
	}
	if len(p.strs) < maxShared {
		p.strs[s] = s
	}
	return s
}

// newMap returns an empty map, one of the last text's when it can.
func (p *PlainReader) newMap(size int) map[string]any {
	var m map[string]any
	if n := len(p.spare); n > 0 {
		m, p.spare = p.spare[n-1], p.spare[:n-1]
	} else {
		m = make(map[string]any, size)
	}
	p.maps = append(p.maps, m)
	return m
}

// newList returns an empty list, one of the last text's when it can.
func (p *PlainReader) newList() []any {
	if n := len(p.lists0); n > 0 {
		l := p.lists0[n-1]
		p.lists0 = p.lists0[:n-1]
		return l
	}
	return []any{}
}

// keepList records a finished list for use again.
func (p *PlainReader) keepList(l []any) []any {
	p.lists = append(p.lists, l)
	return l
}

// recycle makes the last text's maps and lists ready for use again.
func (p *PlainReader) recycle() {
	for _, m := range p.maps {
		if len(m) <= maxReused && len(p.spare) < maxSpare {
			clear(m)
			p.spare = append(p.spare, m)
		}
	}
	for _, l := range p.lists {
		if cap(l) <= maxReused && len(p.lists0) < maxSpare {
			clear(l[:cap(l)])
			p.lists0 = append(p.lists0, l[:0])
		}
	}
	clear(p.maps)
	clear(p.lists)
	p.maps, p.lists = p.maps[:0], p.lists[:0]
}

// plainLine is a line of content: not blank, not only a comment.
type plainLine struct {
	text   []byte // from the first character that is not a space
	indent int    // spaces before text
	num    int    // 1-based line number
	sep    bool   // a "---" line between documents
}

// plainReader reads the lines of one text.
type plainReader struct {
	*PlainReader
	i int
}

// ReadPlain reads data, the text of a YAML file as Prepare returned it,
// when every document in it is a block mapping written in the subset of
// YAML described above. ok is false when the text uses anything else, or
// is not valid YAML: the caller must then read it with the YAML parser.
func ReadPlain(data []byte) (docs []PlainDoc, ok bool) {
	var p PlainReader
	return p.Read(data)
}

// Read is ReadPlain. The maps and lists of the documents it returns are
// used again by the next call: copy out what is kept beyond it (strings
// may be kept).
func (p *PlainReader) Read(data []byte) (docs []PlainDoc, ok bool) {
	p.recycle()
	r := plainReader{PlainReader: p}
	if !r.split(data) {
		return nil, false
	}
	docs = p.docs[:0]
	defer func() { p.docs = docs[:0] }()
	// A first stretch of comments before "---" is no document; any other
	// empty document is left to the parser.
	start := 0
	if len(r.lines) > 0 && r.lines[0].sep {
		start = 1
	}
	r.i = start
	for index := 1; ; index++ {
		if r.i >= len(r.lines) || r.lines[r.i].sep || r.lines[r.i].indent != 0 {
			return nil, false
		}
		line := r.lines[r.i].num
		m, ok := r.mapping(0)
		if !ok {
			return nil, false
		}
		docs = append(docs, PlainDoc{Index: index, Line: line, Value: m})
		if r.i == len(r.lines) {
			return docs, true
		}
		if !r.lines[r.i].sep {
			return nil, false
		}
		r.i++
	}
}

// split cuts data into content lines, refusing what the fast path does
// not read: tabs, carriage returns, bytes beyond ASCII, directives and
// document end markers.
func (r *plainReader) split(data []byte) bool {
	r.lines = r.lines[:0]
	for num := 1; len(data) > 0; num++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		for _, b := range line[indent:] {
			if b >= 0x80 || b < 0x20 || b == 0x7f {
				return false
			}
		}
		text := line[indent:]
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		if indent == 0 && (text[0] == '%' || bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("..."))) {
			if string(text) != "---" {
				return false
			}
			r.lines = append(r.lines, plainLine{num: num, sep: true})
			continue
		}
		r.lines = append(r.lines, plainLine{text: text, indent: indent, num: num})
	}
	return true
}

// next returns the line to read, or false at the end of the document.
func (r *plainReader) next() (plainLine, bool) {
	if r.i >= len(r.lines) || r.lines[r.i].sep {
		return plainLine{}, false
	}
	return r.lines[r.i], true
}

// isDash reports whether text starts a block sequence entry.
func isDash(text []byte) bool {
	return text[0] == '-' && (len(text) == 1 || text[1] == ' ')
}

// mapping reads a block mapping whose keys are at indent.
func (r *plainReader) mapping(indent int) (map[string]any, bool) {
	m := r.newMap(8)
	for {
		l, ok := r.next()
		if !ok || l.indent < indent {
			return m, true
		}
		if l.indent > indent || isDash(l.text) {
			return nil, false
		}
		key, rest, ok := r.key(l.text)
		if !ok {
			return nil, false
		}
		if _, dup := m[key]; dup {
			return nil, false
		}
		r.i++
		v, ok := r.entry(rest, indent)
		if !ok {
			return nil, false
		}
		m[key] = v
	}
}

// entry reads the value of a mapping key at indent: rest is what follows
// the key's ": " on its line.
func (r *plainReader) entry(rest []byte, indent int) (any, bool) {
	rest = trimSpaces(rest)
	if len(rest) > 0 && rest[0] != '#' {
		return r.inline(rest, indent)
	}
	l, ok := r.next()
	switch {
	case !ok || l.indent < indent || (l.indent == indent && !isDash(l.text)):
		return nil, true // "key:" and nothing: null
	case isDash(l.text):
		return r.sequence(l.indent)
	}
	return r.mapping(l.indent)
}

// sequence reads a block sequence whose dashes are at indent.
func (r *plainReader) sequence(indent int) ([]any, bool) {
	s := r.newList()
	for {
		l, ok := r.next()
		if !ok || l.indent < indent || !isDash(l.text) {
			return r.keepList(s), true
		}
		if l.indent > indent {
			return nil, false
		}
		text := l.text[1:]
		n := 1
		for n-1 < len(text) && text[n-1] == ' ' {
			n++
		}
		text = text[n-1:]
		if len(text) == 0 || text[0] == '#' || isDash(text) {
			return nil, false // the entry's value on the next lines, or a list in a list
		}
		if _, _, isKey := r.key(text); isKey {
			// "- key: value": a mapping whose keys are at the column of
			// the first.
			col := indent + n
			r.lines[r.i] = plainLine{text: text, indent: col, num: l.num}
			m, ok := r.mapping(col)
			if !ok {
				return nil, false
			}
			s = append(s, m)
			continue
		}
		r.i++
		v, ok := r.inline(text, indent)
		if !ok {
			return nil, false
		}
		s = append(s, v)
	}
}

// inline reads a value written on the rest of a line, in a block at
// indent: nothing may follow but a comment, and no line below may be
// indented further (it would continue a plain scalar).
func (r *plainReader) inline(text []byte, indent int) (any, bool) {
	var v any
	var rest []byte
	var ok bool
	switch text[0] {
	case '[', '{', '"', '\'':
		v, rest, ok = r.flowValue(text)
		if !ok || !onlyComment(rest) {
			return nil, false
		}
	default:
		end := len(text)
		if i := bytes.Index(text, []byte(" #")); i >= 0 {
			end = i
		}
		word := trimSpaces(text[:end])
		if bytes.Contains(word, []byte(": ")) || word[len(word)-1] == ':' {
			return nil, false
		}
		v, ok = r.plain(word)
		if !ok {
			return nil, false
		}
	}
	if l, more := r.next(); more && l.indent > indent {
		return nil, false
	}
	return v, true
}

// key splits "key: rest" or "key:" into the key and what follows it. A
// key is a plain word of letters, digits, '_', '-' and '.', at most
// maxPlainKey long.
func (r *plainReader) key(text []byte) (key string, rest []byte, ok bool) {
	i := 0
	for i < len(text) && isKeyByte(text[i]) {
		i++
	}
	if i == 0 || i > maxPlainKey || text[0] == '-' || text[0] == '.' || i == len(text) || text[i] != ':' {
		return "", nil, false
	}
	if i+1 < len(text) && text[i+1] != ' ' {
		return "", nil, false
	}
	return r.get(text[:i]), text[i+1:], true
}

// maxPlainKey is the longest key the fast path reads (the parser refuses
// a key longer than 1024 characters).
const maxPlainKey = 256

func isKeyByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-' || b == '.'
}

// plain resolves a plain scalar as YAML 1.2's core schema and the YAML
// parser both read it, or refuses it: the words true, false and null in
// their three spellings, decimal integers written without a leading zero
// or a sign other than '-', and strings that start with a letter or a
// digit-free character and cannot be read as anything else.
func (r *plainReader) plain(word []byte) (any, bool) {
	switch c := word[0]; {
	case '0' <= c && c <= '9', c == '-':
		return decimal(word)
	case c == '.', c == '+', c == '~', c == '<', c == '=', isIndicator(c):
		return nil, false
	}
	switch string(word) {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	case "null", "Null", "NULL":
		return nil, true
	}
	s := r.get(word)
	return s, !hasControl(s)
}

// decimal reads a decimal integer: an optional '-', then 0 or a digit
// other than 0 and at most 17 more.
func decimal(word []byte) (any, bool) {
	digits := word
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return nil, false
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return nil, false
		}
	}
	i, err := strconv.ParseInt(string(word), 10, 64)
	return i, err == nil
}

// isIndicator reports whether c may not start a plain scalar (or starts
// one the fast path leaves to the parser).
func isIndicator(c byte) bool {
	switch c {
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return true
	}
	return false
}

// flowValue reads a quoted scalar or a flow collection at the start of
// text, all on one line, and returns what follows it.
func (r *plainReader) flowValue(text []byte) (any, []byte, bool) {
	switch text[0] {
	case '"', '\'':
		q := text[0]
		end := bytes.IndexByte(text[1:], q)
		if end < 0 {
			return nil, nil, false
		}
		body := text[1 : 1+end]
		rest := text[2+end:]
		if q == '"' && bytes.IndexByte(body, '\\') >= 0 || q == '\'' && len(rest) > 0 && rest[0] == '\'' {
			return nil, nil, false // escapes
		}
		s := r.get(body)
		return s, rest, !hasControl(s)
	case '[':
		s := r.newList()
		rest := trimSpaces(text[1:])
		if len(rest) > 0 && rest[0] == ']' {
			return r.keepList(s), rest[1:], true
		}
		for {
			v, after, ok := r.flowItem(rest)
			if !ok {
				return nil, nil, false
			}
			s = append(s, v)
			after = trimSpaces(after)
			switch {
			case len(after) > 0 && after[0] == ']':
				return r.keepList(s), after[1:], true
			case len(after) > 0 && after[0] == ',':
				rest = trimSpaces(after[1:])
			default:
				return nil, nil, false
			}
		}
	case '{':
		m := r.newMap(4)
		rest := trimSpaces(text[1:])
		if len(rest) > 0 && rest[0] == '}' {
			return m, rest[1:], true
		}
		for {
			key, after, ok := r.key(rest)
			if !ok || len(after) == 0 {
				return nil, nil, false
			}
			if _, dup := m[key]; dup {
				return nil, nil, false
			}
			v, after, ok := r.flowItem(trimSpaces(after))
			if !ok {
				return nil, nil, false
			}
			m[key] = v
			after = trimSpaces(after)
			switch {
			case len(after) > 0 && after[0] == '}':
				return m, after[1:], true
			case len(after) > 0 && after[0] == ',':
				rest = trimSpaces(after[1:])
			default:
				return nil, nil, false
			}
		}
	}
	return nil, nil, false
}

// flowItem reads one value inside a flow collection: a quoted scalar, a
// nested collection, or a plain word of letters, digits and _ - . / @ + =.
func (r *plainReader) flowItem(text []byte) (any, []byte, bool) {
	if len(text) == 0 {
		return nil, nil, false
	}
	switch text[0] {
	case '[', '{', '"', '\'':
		return r.flowValue(text)
	}
	i := 0
	for i < len(text) && (isKeyByte(text[i]) || text[i] == '/' || text[i] == '@' || text[i] == '+' || text[i] == '=') {
		i++
	}
	if i == 0 {
		return nil, nil, false
	}
	v, ok := r.plain(text[:i])
	return v, text[i:], ok
}

// onlyComment reports whether rest, what follows a value on its line, is
// blank or a comment after a space.
func onlyComment(rest []byte) bool {
	t := trimSpaces(rest)
	return len(t) == 0 || (t[0] == '#' && len(t) < len(rest))
}

// trimSpaces drops the spaces at both ends of b.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}
