// Package escape makes text from outside lightkeeper (file names from a
// repository, names and messages from the cloud) safe to print on a
// terminal or into a CI log: nothing it holds can move the cursor, change
// colours, break or rewrite a line, reorder what is shown (bidirectional
// overrides), or be read by GitHub Actions as a workflow command.
package escape

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text returns s with every character that is not printable written as a
// Go escape: control characters (\n, \r, \t, \x1b, DEL as \x7f, C1 as
// \u0085), Unicode format and separator characters other than the space
// (\u202e, \u200b, \u2028), and each byte that is not UTF-8 as \xNN.
// Printable text, backslashes included, stays as it is, so a name reads as
// itself and Text(Text(s)) == Text(s).
//
// The two markers GitHub Actions reads as workflow commands lose their
// power too: "::" (a command where a line starts with it) is written
// ":\x3a", and "##[" (a command anywhere in a line) "#\x23[".
func Text(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&0xf, 16))
		case r == ':' && strings.HasPrefix(s[i+1:], ":"):
			b.WriteString(`:\x3a`)
			size = 2
		case r == '#' && strings.HasPrefix(s[i+1:], "#["):
			b.WriteString(`#\x23[`)
			size = 3
		case printable(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e', '\n'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// printable reports whether r prints as itself: the space, or what
// strconv.IsPrint calls printable (letters, marks, numbers, punctuation,
// symbols).
func printable(r rune) bool { return r == ' ' || strconv.IsPrint(r) }

// clean reports whether Text leaves s as it is.
func clean(s string) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return false // a bad byte, or U+FFFD itself: let Text decide
		case r == ':' && strings.HasPrefix(s[i+1:], ":"), r == '#' && strings.HasPrefix(s[i+1:], "#["):
			return false
		case r < utf8.RuneSelf && r >= 0x20 && r != 0x7f:
		case !printable(r):
			return false
		}
	}
	return true
}
