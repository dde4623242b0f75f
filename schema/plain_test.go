package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
	"go.yaml.in/yaml/v3"
)

// slowDocs reads data the way fleet files are read without ReadPlain: the
// YAML parser, then Check. ok is false when the parser or the conversion
// finds a problem, or a document is not a mapping.
func slowDocs(t testing.TB, data []byte) (docs []PlainDoc, ok bool) {
	t.Helper()
	data, problem := Prepare(data)
	if problem != nil {
		return nil, false
	}
	anything, err := Compile("https://example.com/anything.json", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for index := 1; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, true
		}
		if err != nil {
			return nil, false
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null" {
			continue
		}
		res, err := anything.Check(doc.Content[0], Options{})
		if err != nil || len(res.Violations) > 0 {
			return nil, false
		}
		m, isMap := res.Value.(map[string]any)
		if !isMap {
			return nil, false
		}
		docs = append(docs, PlainDoc{Index: index, Line: doc.Content[0].Line, Value: m})
	}
}

// samePlain fails t unless p refuses data or reads exactly what the
// parser and Check read, with no problem in the conversion.
func samePlain(t testing.TB, p *PlainReader, data []byte) (accepted bool) {
	t.Helper()
	fast, ok := p.Read(data)
	if !ok {
		return false
	}
	slow, slowOK := slowDocs(t, data)
	if !slowOK {
		t.Fatalf("ReadPlain accepted %.300q (%d bytes), which the parser or the conversion refuses", data, len(data))
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("ReadPlain read %.300q (%d bytes) as\n%.2000s\nthe parser as\n%.2000s", data, len(data), dump(fast), dump(slow))
	}
	return true
}

func dump(docs []PlainDoc) string {
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "  doc %d line %d: %#v\n", d.Index, d.Line, d.Value)
	}
	return b.String()
}

// plainAccepted are texts the fast path must read (and read as the parser
// does).
var plainAccepted = []string{
	"a: b\n",
	"a: 1\nb: -7\nc: 0\nd: true\ne: False\nf: NULL\ng:\n",
	"# head\n---\na: b\n",
	"a: b\n---\nc: d\n---\n# only a comment, then\ne: f\n",
	"a:\n  b:\n    c: [x, \"y z\", 'w', 3, [], {}]\n  d: {k: v, n: 2, l: [1, 2]}\n",
	"a:\n- x\n- y\nb:\n  - {k: v}\n  -   k: v\n      n: 1\n  - 'q' # c\n",
	"l:\n  - a: 1\n    b:\n    - 2\n    c: x\n  - b\n",
	"a: nginx:1.27\nb: http://x/y#z\nc: a[b]{c},d\nd: \"{fleet}-{slot}\"\n",
	"a: x # comment\nb: 'x' # comment\nc: [a] # comment\n\n\n   # indented comment\nd: e\n",
	"true: 1\nnull: 2\n0: 3\nk.e-y_: 4\n",
	"a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\n",
	"apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata:\n  name: web\n",
	"a: 999999999999999999\nb: -999999999999999999\n",
}

// plainRefused are texts the fast path leaves to the parser.
var plainRefused = []string{
	"",
	"# only a comment\n",
	"---\n",
	"a: b\n---\n",
	"---\n---\na: b\n",
	"- a\n- b\n",
	"just a scalar\n",
	"a: &x 1\nb: *x\n",
	"a: !!str 1\n",
	"a: |\n  text\n",
	"a: >\n  text\n",
	"a: 1.5\n",
	"a: 010\n",
	"a: 0x10\n",
	"a: 1_000\n",
	"a: +1\n",
	"a: .inf\n",
	"a: 2026-01-01\n",
	"a: 9999999999999999999\n",
	"a: \"x\\ty\"\n",
	"a: 'it''s'\n",
	"a: plain\n  continued\n",
	"a: \"multi\n  line\"\n",
	"a: [x,\n  y]\n",
	"a:\tb\n",
	"a: b\r\n",
	"a: caf\xc3\xa9\n",
	"\"quoted key\": 1\n",
	"a b: 1\n",
	"<<: {a: 1}\n",
	"a: 1\na: 2\n",
	"a: {k: 1, k: 2}\n",
	"a: b: c\n",
	"a: b:\n",
	"a:b\n",
	"%YAML 1.1\n---\na: b\n",
	"a: b\n...\n",
	"--- # c\na: b\n",
	"  a: b\n",
	"a:\n  - - x\n",
	"a:\n  -\n    b: c\n",
	"a: [x, ]\n",
	"a: {k:v}\n",
	"a: \"x\"y\n",
	"a: [x] y\n",
	"a: ? x\n",
	"? a\n: b\n",
	"a:\n  b: 1\n c: 2\n",
	"a:\n- b\n  c\n",
}

func TestReadPlainMatchesParser(t *testing.T) {
	var p PlainReader // one for all: what it uses again must not show
	for range 2 {
		for _, src := range plainAccepted {
			if !samePlain(t, &p, []byte(src)) {
				t.Errorf("ReadPlain refused %q", src)
			}
			if _, ok := p.Read([]byte("x: [1, 2, {y: z}]\nl:\n- a: b\n")); !ok {
				t.Fatal("ReadPlain refused a list")
			}
		}
	}
	for _, src := range plainAccepted {
		if !samePlain(t, new(PlainReader), []byte(src)) {
			t.Errorf("ReadPlain refused %q", src)
		}
	}
	long := strings.Repeat("k", 1025) + ": v\n"
	for _, src := range append(plainRefused, long) {
		if docs, ok := ReadPlain([]byte(src)); ok {
			t.Errorf("ReadPlain read %q as\n%s", src, dump(docs))
		}
	}
}

// TestReadPlainReadsGeneratedFleets: the fleets the benchmarks and the
// comparison with other validators use take the fast path, one document a
// file and several.
func TestReadPlainReadsGeneratedFleets(t *testing.T) {
	var p PlainReader
	var all []string
	for i := range 30 {
		doc := fleetgen.Doc(i)
		all = append(all, doc)
		if !samePlain(t, &p, []byte(doc)) {
			t.Fatalf("ReadPlain refused fleetgen.Doc(%d):\n%s", i, doc)
		}
		if !samePlain(t, &p, []byte(fleetgen.Minimal(fmt.Sprintf("f%d", i), "ap-guangzhou", i))) {
			t.Fatalf("ReadPlain refused fleetgen.Minimal")
		}
	}
	if !samePlain(t, &p, []byte(strings.Join(all, "---\n"))) {
		t.Fatal("ReadPlain refused 30 documents in one file")
	}
}

// TestStringsShared: equal keys and values read with one PlainReader are
// one string, and a long value is not kept.
func TestStringsShared(t *testing.T) {
	var strs PlainReader
	long := strings.Repeat("x", maxSharedLen+1)
	docs, ok := strs.Read([]byte("a: production\nb: " + long + "\n---\na: production\nb: " + long + "\n"))
	if !ok || len(docs) != 2 {
		t.Fatalf("ReadPlain: %v %v", docs, ok)
	}
	a0, a1 := docs[0].Value["a"].(string), docs[1].Value["a"].(string)
	if a0 != "production" || unsafe.StringData(a0) != unsafe.StringData(a1) || len(strs.strs) != 3 {
		t.Fatalf("shared strings: %q %q, %d kept", a0, a1, len(strs.strs))
	}
	if _, kept := strs.strs[long]; kept {
		t.Error("a string longer than maxSharedLen was kept")
	}
}

// FuzzReadPlain holds ReadPlain to the parser: whatever it accepts, the
// parser and Check read the same way, with no problem.
func FuzzReadPlain(f *testing.F) {
	for _, s := range append(plainAccepted, plainRefused...) {
		f.Add([]byte(s))
	}
	for i := range 6 {
		f.Add([]byte(fleetgen.Doc(i)))
	}
	for _, dir := range []string{"../spec/testdata/invalid", "../examples/fleets"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
					f.Add(b)
				}
			}
			return nil
		})
	}
	var p PlainReader
	f.Fuzz(func(t *testing.T, data []byte) {
		samePlain(t, &p, data)
	})
}
