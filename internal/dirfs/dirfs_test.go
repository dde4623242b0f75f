package dirfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// tree makes a directory with files, a subdirectory and symbolic links
// that stay inside it or lead out, and returns it with a file outside.
func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "repo")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(base, "secret.yaml"), []byte("outside: true\n"), 0o644))
	for name, text := range map[string]string{
		"a.yaml": "a: 1\n", "sub/b.yaml": "b: 2\n", "sub/deeper/c.yml": "c: 3\n", ".hidden.yaml": "h: 1\n", "empty.yaml": "",
	} {
		must(os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	must(os.Symlink("a.yaml", filepath.Join(dir, "link-in.yaml")))
	must(os.Symlink("../a.yaml", filepath.Join(dir, "sub", "link-up.yaml")))
	must(os.Symlink("sub", filepath.Join(dir, "link-dir")))
	must(os.Symlink("../secret.yaml", filepath.Join(dir, "link-out.yaml")))
	must(os.Symlink(filepath.Join(base, "secret.yaml"), filepath.Join(dir, "link-abs.yaml")))
	must(os.Symlink(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "link-abs-in.yaml")))
	must(os.Symlink("missing.yaml", filepath.Join(dir, "link-dangling.yaml")))
	must(os.Symlink("loop.yaml", filepath.Join(dir, "loop.yaml")))
	return dir
}

// read opens name and reads it whole, as the loader does, and renders
// what happened.
func read(fsys fs.FS, name string) string {
	f, err := fsys.Open(name)
	if err != nil {
		return "open: " + err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "stat: " + err.Error()
	}
	if st.IsDir() {
		return fmt.Sprintf("dir %s", st.Name())
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "read: " + err.Error()
	}
	return fmt.Sprintf("%s %d %v %q", st.Name(), st.Size(), st.Mode(), b)
}

// list renders a directory's entries.
func list(fsys fs.FS, name string) string {
	entries, err := fs.ReadDir(fsys, name)
	if err != nil {
		return "readdir: " + err.Error()
	}
	var parts []string
	for _, e := range entries {
		parts = append(parts, fmt.Sprintf("%s:%v:%v", e.Name(), e.IsDir(), e.Type()))
	}
	return strings.Join(parts, " ")
}

// open opens dir as an os.Root and through New, both closed when the test
// ends.
func open(t *testing.T, dir string) (*os.Root, fs.FS) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	fsys, release := New(dir, root)
	t.Cleanup(release)
	return root, fsys
}

// TestSameAsRoot: every file, link, directory and bad path reads as it
// does through the os.Root, errors included.
func TestSameAsRoot(t *testing.T) {
	dir := tree(t)
	root, fsys := open(t, dir)
	if _, fast := fsys.(*beneath); !fast {
		t.Fatalf("New returned %T, not the Linux file system", fsys)
	}
	for _, name := range []string{
		"a.yaml", "sub/b.yaml", "sub/deeper/c.yml", ".hidden.yaml", "empty.yaml", "link-in.yaml", "sub/link-up.yaml",
		"link-dir", "link-dir/b.yaml", "link-out.yaml", "link-abs.yaml", "link-abs-in.yaml", "link-dangling.yaml",
		"loop.yaml", "missing.yaml", "sub", ".", "../secret.yaml", "/etc/passwd", "sub/../a.yaml", "a.yaml/x", "",
	} {
		if got, want := read(fsys, name), read(root.FS(), name); got != want {
			t.Errorf("Open(%q):\n got  %s\n want %s", name, got, want)
		}
	}
	for _, name := range []string{".", "sub", "sub/deeper", "link-dir", "a.yaml", "missing", "..", "link-out.yaml"} {
		if got, want := list(fsys, name), list(root.FS(), name); got != want {
			t.Errorf("ReadDir(%q):\n got  %s\n want %s", name, got, want)
		}
	}
}

// TestFS runs the standard file system checks.
func TestFS(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.yaml", "sub/b.yaml", "sub/deeper/c.yml"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, fsys := open(t, dir)
	if err := fstest.TestFS(fsys, "a.yaml", "sub/b.yaml", "sub/deeper/c.yml"); err != nil {
		t.Fatal(err)
	}
}
