package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes to the loader as one file, and as two files
// at once. It must never panic, and must return either fleets or Errors
// whose every entry names the file and, but for read errors, a line.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(webYAML))
	f.Add([]byte(fullYAML))
	f.Add([]byte(webYAML + "---\n" + fullYAML))
	for _, dir := range []string{"testdata/invalid", "../examples/fleets"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"a.yaml":     {Data: data},
			"dir/b.yaml": {Data: []byte(webYAML)},
		}
		fleets, err := Load(fsys, Options{MaxAliasNodes: 1000})
		if err == nil {
			for _, fl := range fleets {
				if fl.Name() == "" || fl.CreationHash() == "" || fl.InstanceName(0) == "" {
					t.Fatalf("valid fleet with empty fields: %+v", fl)
				}
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not Errors: %v", err)
		}
		for i, e := range errs {
			if e.More > 0 {
				// The summary of a list cut short ends it.
				if i != len(errs)-1 || e.File != "" || !strings.HasPrefix(e.Message, "and ") {
					t.Fatalf("summary %#v at %d of %d", e, i, len(errs))
				}
				continue
			}
			if e.File != "a.yaml" && e.File != "dir/b.yaml" {
				t.Fatalf("error names no file of the input: %v", e)
			}
			if e.Line <= 0 || e.Column <= 0 || e.Message == "" || strings.Contains(e.Error(), "\x00") {
				t.Fatalf("error without a position or message: %#v", e)
			}
		}
	})
}
