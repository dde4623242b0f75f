package spec

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const webYAML = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: web
spec:
  region: ap-guangzhou
  count: 3
  bundleId: bundle_gen_03
  blueprintId: lhbp-g0tn7djh
  zones: [ap-guangzhou-3, ap-guangzhou-4]
  charge: {period: 1}
`

func mustLoad(t *testing.T, fsys fstest.MapFS) []*Fleet {
	t.Helper()
	fleets, err := Load(fsys, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return fleets
}

func loadErrors(t *testing.T, fsys fstest.MapFS, opts Options) []string {
	t.Helper()
	_, err := Load(fsys, opts)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v, want Errors", err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestLoadExamples(t *testing.T) {
	fleets, err := LoadInputs([]Input{{FS: os.DirFS("../examples/fleets"), Display: "examples/fleets"}}, Options{})
	if err != nil {
		t.Fatalf("examples do not load: %v", err)
	}
	var names []string
	for _, f := range fleets {
		names = append(names, f.Name())
	}
	if got := strings.Join(names, ","); got != "api,bastion,batch,web" {
		t.Errorf("fleets = %s, want api,bastion,batch,web (sorted by name)", got)
	}
	if got := strings.Join(Regions(fleets), ","); got != "ap-guangzhou,ap-shanghai" {
		t.Errorf("Regions = %s", got)
	}
	api := fleets[0]
	if api.Source.File != "examples/fleets/shanghai.yaml" || api.Source.Document != 2 {
		t.Errorf("api Source = %+v, want document 2 of examples/fleets/shanghai.yaml", api.Source)
	}
	if line, col := api.Position("spec.containers[0].publishPorts[1].hostPort"); line != 44 || col != 22 {
		t.Errorf("Position = %d:%d, want 44:22", line, col)
	}
	if p := api.Spec.Containers[0].PublishPorts[0]; p.IP != "0.0.0.0" || p.Protocol != "tcp" {
		t.Errorf("port defaults not applied: %+v", p)
	}
	if got := strings.Join(api.Spec.Login.KeyIDs, ","); got != "lhkp-api00001,lhkp-ops00001" {
		t.Errorf("api keyIds = %q", got)
	}
	if got := fleets[2].Spec.Login.PasswordFrom.Env; got != "BATCH_PASSWORD" {
		t.Errorf("batch passwordFrom.env = %q", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	f := mustLoad(t, fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}})[0]
	s := f.Spec
	if s.InstanceName != DefaultInstanceName || s.Charge.RenewFlag != DefaultRenewFlag || s.ScaleDown != ScaleDownReport {
		t.Errorf("defaults not applied: %+v", s)
	}
	if s.AutoVoucher || s.Login != nil || s.Tags != nil {
		t.Errorf("unset fields are set: %+v", s)
	}
}

func TestLoadWalk(t *testing.T) {
	other := strings.Replace(webYAML, "name: web", "name: api", 1)
	fsys := fstest.MapFS{
		"fleets/web.yaml":          {Data: []byte(webYAML)},
		"fleets/team/api.yml":      {Data: []byte(other)},
		"fleets/README.md":         {Data: []byte("not yaml")},
		"fleets/.hidden.yaml":      {Data: []byte("broken: [")},
		".github/workflows/ci.yml": {Data: []byte("on: push")},
	}
	fleets := mustLoad(t, fsys)
	if len(fleets) != 2 || fleets[0].Source.File != "fleets/team/api.yml" {
		t.Fatalf("fleets = %v", fleets)
	}
	// A file named explicitly is read even without a YAML extension.
	fsys["web.txt"] = &fstest.MapFile{Data: []byte(webYAML)}
	got, err := LoadInputs([]Input{{FS: fsys, Path: "web.txt", Display: "d"}}, Options{})
	if err != nil || got[0].Source.File != "d/web.txt" {
		t.Fatalf("explicit file: %v %v", got, err)
	}
}

func TestLoadInputsShareNamespace(t *testing.T) {
	a := fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}}
	b := fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}}
	_, err := LoadInputs([]Input{{FS: a, Display: "a"}, {FS: b, Display: "b"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "b/web.yaml:4:9: fleet \"web\": metadata.name: duplicate fleet name, first defined at a/web.yaml:4:9") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMissingPath(t *testing.T) {
	_, err := LoadInputs([]Input{{FS: fstest.MapFS{}, Path: "nope.yaml", Display: "fleets"}}, Options{})
	if err == nil || err.Error() != "fleets/nope.yaml: no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadDefaultFileLimit(t *testing.T) {
	big := webYAML + "# " + strings.Repeat("x", DefaultMaxFileSize) + "\n"
	got := loadErrors(t, fstest.MapFS{"big.yaml": {Data: []byte(big)}}, Options{})
	want := "big.yaml:1:1: file is larger than 1048576 bytes; split it into smaller files"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("errors = %q, want %q", got, want)
	}
}

func TestLoadTotalCountOption(t *testing.T) {
	fsys := fstest.MapFS{"web.yaml": {Data: []byte(strings.Replace(webYAML, "count: 3", "count: 900", 1))}}
	if _, err := Load(fsys, Options{}); err != nil {
		t.Fatalf("900 is under the default limit: %v", err)
	}
	got := loadErrors(t, fsys, Options{MaxTotalCount: 100})
	if len(got) != 1 || !strings.Contains(got[0], "web.yaml:7:10: fleet \"web\": spec.count: brings the total count of all fleets to 900, above the repository-wide limit of 100") {
		t.Fatalf("errors = %q", got)
	}
	if _, err := Load(fsys, Options{MaxTotalCount: -1}); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

func TestLoadSmallAliasesAllowed(t *testing.T) {
	doc := webYAML + "  tags: &t {team: web}\n---\n" +
		strings.Replace(webYAML, "name: web", "name: api", 1) + "  tags: {team: api}\n"
	mustLoad(t, fstest.MapFS{"f.yaml": {Data: []byte(doc)}})
	// Aliases work inside one document.
	withAlias := strings.Replace(webYAML, "zones: [ap-guangzhou-3, ap-guangzhou-4]", "zones: &z [ap-guangzhou-3]", 1) +
		"  containers:\n    - containerImage: nginx\n      command: &cmd run\n    - containerImage: redis\n      command: *cmd\n"
	f := mustLoad(t, fstest.MapFS{"f.yaml": {Data: []byte(withAlias)}})[0]
	if f.Spec.Containers[1].Command != "run" {
		t.Errorf("alias not expanded: %+v", f.Spec.Containers)
	}
}

func TestLoadEmptyDocumentsSkipped(t *testing.T) {
	fleets := mustLoad(t, fstest.MapFS{"f.yaml": {Data: []byte("---\n---\n" + webYAML + "---\n")}})
	if len(fleets) != 1 || fleets[0].Source.Document != 2 {
		t.Fatalf("fleets = %d, document %d", len(fleets), fleets[0].Source.Document)
	}
}

func TestLoadEveryFileReported(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte(strings.Replace(webYAML, "count: 3", "count: -1", 1))},
		"b.yaml": {Data: []byte("")},
		"c.yaml": {Data: []byte(strings.Replace(webYAML, "name: web", "name: c", 1) + "  scaleDown: never\n")},
	}
	got := loadErrors(t, fsys, Options{Concurrency: 3})
	want := []string{
		`a.yaml:7:10: fleet "web": spec.count: must be >= 0`,
		`b.yaml:1:1: file has no YAML documents; add a fleet or delete the file`,
		`c.yaml:12:14: fleet "c": spec.scaleDown: must be one of "report", "isolate", got "never"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadInputsOverlapReadOnce(t *testing.T) {
	fsys := fstest.MapFS{"fleets/web.yaml": {Data: []byte(webYAML)}}
	fleets, err := LoadInputs([]Input{
		{FS: fsys, Path: "fleets"},
		{FS: fsys, Path: "fleets/web.yaml"},
	}, Options{})
	if err != nil || len(fleets) != 1 {
		t.Fatalf("%d fleets, %v", len(fleets), err)
	}
}

// One directory reached through two spellings (as "fleets" and as an
// absolute path) is read once when the inputs share a Root, and two
// different directories with the same file names are not merged.
func TestLoadInputsSameRootReadOnce(t *testing.T) {
	fsys := fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}}
	fleets, err := LoadInputs([]Input{
		{FS: fsys, Display: "fleets", Root: "/srv/repo/fleets"},
		{FS: fsys, Display: "/srv/repo/fleets", Root: "/srv/repo/fleets"},
	}, Options{})
	if err != nil || len(fleets) != 1 {
		t.Fatalf("same Root: %d fleets, %v", len(fleets), err)
	}
	_, err = LoadInputs([]Input{
		{FS: fsys, Display: "a", Root: "/srv/a"},
		{FS: fsys, Display: "b", Root: "/srv/b"},
	}, Options{})
	if err == nil || !strings.Contains(err.Error(), "duplicate fleet name") {
		t.Fatalf("different Roots: %v, want a duplicate name", err)
	}
}

// TestLoadHostileInputs loads large files built to produce one error per
// line, deep nesting and many duplicate keys. Each must be counted and the
// first ones listed, every error placed, in the order of the file; with the
// caps off, each is listed. The handling is linear (a quadratic mapping of
// errors to nodes once took a minute on a 1 MiB file of this kind).
func TestLoadHostileInputs(t *testing.T) {
	const size = 256 << 10
	head := "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: x}\nspec:\n"
	valid := "  region: ap-guangzhou\n  count: 1\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-a7oxy2bx\n  charge: {period: 1}\n"
	grow := func(prefix string, line func(i int) string) (string, int) {
		var b strings.Builder
		b.WriteString(prefix)
		n := 0
		for ; b.Len() < size; n++ {
			b.WriteString(line(n))
		}
		return b.String(), n
	}
	// Every zone is malformed, and the second repeats the first.
	zones, nZones := grow(head+valid+"  zones:\n", func(int) string { return "    - z\n" })
	keys, nKeys := grow(head+valid, func(i int) string { return fmt.Sprintf("  k%d: 1\n", i) })
	tags, nTags := grow(head+valid+"  tags:\n", func(i int) string { return fmt.Sprintf("    lightkeeper-%d: v\n", i) })
	tagValues, nTagValues := grow(head+valid+"  tags:\n", func(i int) string { return fmt.Sprintf("    k%d: 1\n", i) })
	dups, nDups := grow(head+valid, func(int) string { return "  count: 2\n" })
	for _, tc := range []struct {
		name, data string
		errors     int
		first      string
	}{
		{"zones", zones, nZones + 1, `a.yaml:11:7: fleet "x": spec.zones[0]: must be a zone id such as ap-guangzhou-3, got "z"`},
		{"keys", keys, nKeys, `a.yaml:10:3: fleet "x": spec: unknown key "k0"`},
		{"tags", tags, nTags + 1, `a.yaml:11:5: fleet "x": spec.tags: ` + fmt.Sprint(nTags) + ` tags, at most 8: an instance takes 10 tags and lightkeeper uses 2 (lightkeeper-fleet, lightkeeper-slot)`},
		{"tag values", tagValues, nTagValues, `a.yaml:11:9: fleet "x": spec.tags.k0: must be a string, got a number; quote it to keep it text: "1"`},
		{"duplicate keys", dups, nDups, `a.yaml:10:3: fleet "x": spec: duplicate key "count"; first at line 6`},
		{"nested lists", strings.Repeat("[", size), 1, `a.yaml:1:1: YAML syntax error: exceeded max depth of 10000`},
		{"nested maps", strings.Repeat("{a: ", size/4), 1, `a.yaml:1:1: YAML syntax error: exceeded max depth of 10000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"a.yaml": {Data: []byte(tc.data)}}
			_, err := Load(fsys, Options{})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load error = %v, want Errors", err)
			}
			listed := min(tc.errors, DefaultMaxFileErrors)
			if errs.Count() != tc.errors || errs[0].Error() != tc.first {
				t.Errorf("%d errors, first %q; want %d, first %q", errs.Count(), errs[0].Error(), tc.errors, tc.first)
			}
			if tc.errors > listed {
				last := errs[len(errs)-1]
				if len(errs) != listed+1 || last.More != tc.errors-listed ||
					last.Error() != fmt.Sprintf("and %d more problems not listed (the list stops at 20 per file and 100 in all); fix these and look again", tc.errors-listed) {
					t.Errorf("%d listed, last %q (more %d); want %d and a summary", len(errs), last.Error(), last.More, listed)
				}
				for i := 1; i < listed; i++ {
					if errs[i].Line < errs[i-1].Line {
						t.Errorf("listed out of the file's order: %s before %s", errs[i-1], errs[i])
					}
				}
			}
			all := loadErrors(t, fsys, Options{MaxErrors: -1, MaxFileErrors: -1})
			if len(all) != tc.errors || all[0] != tc.first {
				t.Errorf("caps off: %d errors, first %q; want %d", len(all), all[0], tc.errors)
			}
		})
	}
}

// TestLoadCapsProblems: a revision whose files hold many problems lists the
// first 20 of each file and 100 in all, in file order, and counts the rest
// in a summary; the caps are options.
func TestLoadCapsProblems(t *testing.T) {
	head := "apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: x}\nspec:\n  region: ap-guangzhou\n  count: 1\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-a7oxy2bx\n  charge: {period: 1}\n"
	var b strings.Builder
	b.WriteString(head)
	for i := range 30 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	// A second document with 30 more: counted, not listed.
	b.WriteString("---\n" + strings.Replace(b.String(), "name: x", "name: y", 1))
	fsys := fstest.MapFS{}
	for i := range 10 {
		fsys[fmt.Sprintf("f%02d.yaml", i)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	_, err := Load(fsys, Options{})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v, want Errors", err)
	}
	if len(errs) != 101 || errs.Count() != 600 {
		t.Fatalf("%d listed, %d counted; want 100 listed and a summary, 600 counted", len(errs), errs.Count())
	}
	for i, e := range errs[:100] {
		if want := fmt.Sprintf("f%02d.yaml:%d:3: fleet \"x\": spec: unknown key \"k%d\"", i/20, 10+i%20, i%20); e.Error() != want {
			t.Fatalf("error %d = %q, want %q", i, e.Error(), want)
		}
	}
	if got := errs[100].Error(); got != "and 500 more problems not listed (the list stops at 20 per file and 100 in all); fix these and look again" {
		t.Errorf("summary %q", got)
	}
	_, err = Load(fsys, Options{MaxErrors: 7, MaxFileErrors: -1})
	errs = nil
	if !errors.As(err, &errs) || len(errs) != 8 || errs.Count() != 600 || errs[6].Line != 16 ||
		errs[7].Error() != "and 593 more problems not listed (the list stops at 7 in all); fix these and look again" {
		t.Errorf("other caps: %d listed, %d counted:\n%v", len(errs), errs.Count(), err)
	}
	_, err = Load(fsys, Options{MaxErrors: -1, MaxFileErrors: -1})
	errs = nil
	if !errors.As(err, &errs) || len(errs) != 600 || errs.Count() != 600 {
		t.Errorf("no caps: %d listed", len(errs))
	}
	// A directory of something else is still one line, however many
	// documents its files hold.
	compose := strings.Repeat("---\nservices: {web: {image: nginx}}\n", 30)
	got := loadErrors(t, fstest.MapFS{"compose.yaml": {Data: []byte(compose)}}, Options{})
	if len(got) != 1 || !strings.Contains(got[0], "no lightkeeper fleets here: 30 YAML documents, all something else") {
		t.Errorf("not fleets: %q", got)
	}
}

// Valid values that look unusual are accepted: bundle ids of the newer
// families (bundle2022_gen_02, as DescribeBundles returns them), integers
// in YAML 1.2 hex and octal, a period of 60 months.
func TestLoadAcceptsUnusualValidValues(t *testing.T) {
	for _, change := range [][2]string{
		{"bundle_gen_03", "bundle2022_gen_02"},
		{"bundle_gen_03", "bundle_ent_hk_02"},
		{"count: 3", "count: 0x3"},
		{"count: 3", "count: 0o3"},
		{"count: 3", "count: +3"},
		{"{period: 1}", "{period: 60}"},
	} {
		doc := strings.Replace(webYAML, change[0], change[1], 1)
		if _, err := Load(fstest.MapFS{"web.yaml": {Data: []byte(doc)}}, Options{}); err != nil {
			t.Errorf("%s -> %s: %v", change[0], change[1], err)
		}
	}
}

// A symbolic link named *.yaml that leads to a directory is reported as
// such, not as a failed read.
func TestLoadSymlinkToDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/real", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/real/web.yaml", []byte(webYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", dir+"/linked.yaml"); err != nil {
		t.Fatal(err)
	}
	_, err := Load(os.DirFS(dir), Options{})
	want := "linked.yaml: is a directory (a symbolic link named like a fleet file); rename the link or point it at a file"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// A region newer than the build is accepted when the caller allows it.
func TestLoadExtraRegions(t *testing.T) {
	doc := strings.ReplaceAll(webYAML, "ap-guangzhou", "ap-newcity")
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(doc)}}
	if _, err := Load(fsys, Options{}); err == nil || !strings.Contains(err.Error(), `unknown Lighthouse region "ap-newcity"`) {
		t.Fatalf("unknown region: %v", err)
	}
	if _, err := Load(fsys, Options{ExtraRegions: []string{"ap-newcity"}}); err != nil {
		t.Errorf("allowed region refused: %v", err)
	}
	if got := KnownRegions(); !slices.IsSorted(got) || !slices.Contains(got, "ap-guangzhou") {
		t.Errorf("KnownRegions = %v", got)
	}
}
