package docs_test

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	// linkRE finds inline links and images: [text](target "title").
	linkRE = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// refDefRE finds reference definitions: [label]: target.
	refDefRE = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	// codeSpanRE finds inline code, whose brackets are not links.
	codeSpanRE = regexp.MustCompile("`+[^`]*`+")
	schemeRE   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// TestLinks checks every relative link of every Markdown file in the
// repository (outside testdata): the file or directory it names exists, and
// an anchor (#section) names a heading of the Markdown file it points into,
// as GitHub makes anchors (lower case, punctuation dropped, spaces as '-',
// a repeated heading's anchor suffixed -1, -2, …).
func TestLinks(t *testing.T) {
	names, err := markdownFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"README.md", "docs/design.md", "CONTRIBUTING.md"} {
		if !slices.Contains(names, want) {
			t.Fatalf("found %d Markdown files, not %s: %v", len(names), want, names)
		}
	}
	files := map[string]*mdFile{}
	load := func(name string) (*mdFile, error) {
		if f, ok := files[name]; ok {
			return f, nil
		}
		f, err := readMD(name)
		files[name] = f
		return f, err
	}
	links := 0
	for _, name := range names {
		f, err := load(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range f.lines {
			if f.code[i] {
				continue
			}
			l = codeSpanRE.ReplaceAllString(l, "")
			var targets []string
			for _, m := range linkRE.FindAllStringSubmatch(l, -1) {
				targets = append(targets, m[1])
			}
			if m := refDefRE.FindStringSubmatch(l); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if target == "" || schemeRE.MatchString(target) {
					continue // an absolute URL: not checked here
				}
				links++
				where := name + ":" + strconv.Itoa(i+1) + ": link " + target
				file, anchor, _ := strings.Cut(target, "#")
				dest := name
				if file != "" {
					dest = path.Clean(path.Join(path.Dir(name), file))
					if strings.HasPrefix(dest, "../") {
						t.Errorf("%s: leads outside the repository", where)
						continue
					}
					if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
						t.Errorf("%s: %s does not exist; fix the link or add the file", where, dest)
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				df, err := load(dest)
				if err != nil {
					t.Fatal(err)
				}
				if anchors := df.anchors(); !anchors[anchor] {
					t.Errorf("%s: %s has no heading whose anchor is #%s; its anchors are %s",
						where, dest, anchor, strings.Join(slices.Sorted(maps.Keys(anchors)), " "))
				}
			}
		}
	}
	if links < 50 {
		t.Errorf("only %d relative links checked: is the link pattern still right?", links)
	}
}

// TestSlug pins GitHub's anchor rules as the link check applies them.
func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Idempotency: what is guaranteed":            "idempotency-what-is-guaranteed",
		"5.3 The ClientToken and incarnations":       "53-the-clienttoken-and-incarnations",
		"`lightkeeper validate`":                     "lightkeeper-validate",
		"validate's JSON":                            "validates-json",
		"/status":                                    "status",
		"Against kubeconform: memory and speed":      "against-kubeconform-memory-and-speed",
		"Slots, and the name as identity":            "slots-and-the-name-as-identity",
		"[Link](x.md) and <b>tags</b>":               "link-and-tags",
		"Known limit: the international site":        "known-limit-the-international-site",
		"snake_case and UPPER — dashes":              "snake_case-and-upper--dashes",
		"8.2 Several hosts: the lease and the fence": "82-several-hosts-the-lease-and-the-fence",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestReadmeMapsEveryDoc: every file of docs/ is in the README's map of the
// documentation, so a new topic is found from the front page.
func TestReadmeMapsEveryDoc(t *testing.T) {
	docMap, line := mustSection(t, "README.md", "Documentation")
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		n++
		if !strings.Contains(docMap, "](docs/"+e.Name()+")") {
			t.Errorf("README.md:%d: the Documentation table does not list docs/%s; add a row: | [docs/%s](docs/%s) | what a reader looks up there |",
				line, e.Name(), e.Name(), e.Name())
		}
	}
	if n < 8 {
		t.Errorf("docs/ holds %d Markdown files, want at least 8", n)
	}
}
