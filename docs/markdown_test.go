package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's root, where README.md is.
const root = ".."

// mdFile is a Markdown file as the tests read it: its lines, and whether
// each is inside a fenced code block.
type mdFile struct {
	name  string // relative to the repository root, slash-separated
	lines []string
	code  []bool // lines[i] is a fence or inside one
}

func readMD(name string) (*mdFile, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	f := &mdFile{name: name, lines: strings.Split(string(b), "\n")}
	fence := ""
	for _, l := range f.lines {
		t := strings.TrimSpace(l)
		switch {
		case fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			fence = t[:3]
			f.code = append(f.code, true)
		case fence != "" && strings.HasPrefix(t, fence):
			fence = ""
			f.code = append(f.code, true)
		default:
			f.code = append(f.code, fence != "")
		}
	}
	return f, nil
}

var headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)

// headings returns the file's headings (outside code) with their line
// numbers.
func (f *mdFile) headings() (texts []string, lines []int) {
	for i, l := range f.lines {
		if f.code[i] {
			continue
		}
		if m := headingRE.FindStringSubmatch(l); m != nil {
			texts = append(texts, m[2])
			lines = append(lines, i+1)
		}
	}
	return texts, lines
}

var (
	inlineLinkRE = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE    = regexp.MustCompile(`<[^>]+>`)
	anchorTagRE  = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// anchors returns the anchors GitHub gives the file's headings (and
// explicit <a id> or <a name> tags).
func (f *mdFile) anchors() map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	texts, _ := f.headings()
	for _, t := range texts {
		a := slug(t)
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	for i, l := range f.lines {
		if f.code[i] {
			continue
		}
		for _, m := range anchorTagRE.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// slug is GitHub's anchor of a heading: the rendered text in lower case,
// without punctuation but '-' and '_', spaces made '-'.
func slug(heading string) string {
	t := inlineLinkRE.ReplaceAllString(heading, "$1")
	t = htmlTagRE.ReplaceAllString(t, "")
	var b strings.Builder
	for _, r := range strings.ToLower(t) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// section returns the lines under the heading whose text is heading, up to
// the next heading of the same or a higher level, and the heading's line;
// ok is false if there is no such heading.
func (f *mdFile) section(heading string) (body string, line int, ok bool) {
	level := 0
	var out []string
	for i, l := range f.lines {
		m := headingRE.FindStringSubmatch(l)
		if f.code[i] || m == nil {
			if level > 0 {
				out = append(out, l)
			}
			continue
		}
		switch {
		case level > 0 && len(m[1]) <= level:
			return strings.Join(out, "\n"), line, true
		case level == 0 && m[2] == heading:
			level, line = len(m[1]), i+1
		case level > 0:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n"), line, level > 0
}

// mustSection returns the section of the Markdown file name under heading
// and the heading's line, or fails the test saying what to add.
func mustSection(t *testing.T, name, heading string) (string, int) {
	t.Helper()
	f, err := readMD(name)
	if err != nil {
		t.Fatal(err)
	}
	sec, line, ok := f.section(heading)
	if !ok {
		t.Fatalf("%s has no section %q: add the heading, or fix the test if it moved", name, heading)
	}
	return sec, line
}

// markdownFiles lists the repository's Markdown files, slash-separated and
// relative to its root, leaving out test data.
func markdownFiles() ([]string, error) {
	var names []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	return names, err
}
