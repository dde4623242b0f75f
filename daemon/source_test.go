package daemon_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
)

func TestDirSourceRevisions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := daemon.DirSource{Dir: dir}
	sync := func() daemon.Revision {
		t.Helper()
		rev, err := src.Sync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	write("a.yaml", "a")
	r1 := sync()
	if r2 := sync(); r2.ID != r1.ID {
		t.Fatalf("unchanged directory, new ID %s != %s", r2.ID, r1.ID)
	}
	write("a.yaml", "a") // same bytes rewritten
	if r2 := sync(); r2.ID != r1.ID {
		t.Fatal("rewriting the same bytes made a new revision")
	}
	write(".git/HEAD", "ref: x") // hidden: not part of the revision
	if r2 := sync(); r2.ID != r1.ID {
		t.Fatal("a hidden directory changed the revision")
	}
	write("sub/b.yaml", "b")
	r3 := sync()
	if r3.ID == r1.ID {
		t.Fatal("a new file did not change the revision")
	}
	write("sub/b.yaml", "c")
	if r4 := sync(); r4.ID == r3.ID {
		t.Fatal("an edit did not change the revision")
	}
	if b, err := fs.ReadFile(r3.FS, "sub/b.yaml"); err != nil || string(b) != "c" {
		t.Fatalf("FS reads %q, %v", b, err)
	}
	if _, err := (daemon.DirSource{Dir: filepath.Join(dir, "missing")}).Sync(context.Background()); err == nil {
		t.Fatal("a missing directory synced")
	}
}

func TestPathAndExclude(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml":            fleet("web", "bundle_gen_01", 1),
		"drafts/web.yaml":     fleet("web", "bundle_gen_01", 9), // would collide
		"api.yaml":            fleet("api", "bundle_gen_01", 1),
		"api.wip.yaml":        fleet("api", "bundle_gen_01", 9), // would collide
		"../elsewhere/x.yaml": fleet("x", "bundle_gen_01", 1),   // outside Path
	})
	opts := e.options()
	opts.Exclude = []string{"drafts", "*.wip.yaml"}
	e.start(opts)
	s := e.waitRuns(1)
	if s.Invalid != nil {
		t.Fatalf("invalid: %+v", s.Invalid.Errors)
	}
	var names []string
	for _, f := range s.Fleets {
		names = append(names, f.Name+":"+f.File)
	}
	if want := []string{"api:fleets/api.yaml", "web:fleets/web.yaml"}; !slices.Equal(names, want) {
		t.Fatalf("fleets %v, want %v", names, want)
	}
}

func TestNewRejects(t *testing.T) {
	e := newEnv(t, nil)
	for name, mod := range map[string]func(*daemon.Options){
		"no source":   func(o *daemon.Options) { o.Source = nil },
		"no cloud":    func(o *daemon.Options) { o.Cloud = nil },
		"bad pattern": func(o *daemon.Options) { o.Exclude = []string{"["} },
		"bad path":    func(o *daemon.Options) { o.Path = "../up" },
	} {
		opts := e.options()
		mod(&opts)
		if _, err := daemon.New(opts); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
