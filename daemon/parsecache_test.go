package daemon_test

import (
	"archive/zip"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/gitsync"
)

// TestGitLoadParsesChangedFiles: a new commit's load parses only the files
// whose blob changed; a file moved unchanged keeps its fleet, under the new
// path in the saved copy, which holds every file's bytes (the unchanged
// ones copied from the last copy, with their blob as the entry's comment);
// and a commit that clashes with an unchanged file is still refused.
func TestGitLoadParsesChangedFiles(t *testing.T) {
	repo := newGitRepo(t)
	db := fleet("db", "bundle_gen_02", 1)
	repo.commit("two fleets", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1), "db.yaml": db, "cache.yaml": fleet("cache", "bundle_gen_01", 1)})
	src, err := gitsync.New(gitsync.Options{URL: repo.dir, Ref: gitsync.Ref{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	opts := e.options()
	opts.Source = daemon.GitSource(src)
	opts.StateDir = t.TempDir()
	e.start(opts)
	e.waitRuns(1)
	if n := daemon.ParsedFiles(e.d); n != 3 {
		t.Fatalf("the first load parsed %d files, want 3", n)
	}

	second := repo.commit("web: 2, db moved", map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2), "db.yaml": "", "sub/db.yaml": db})
	poll(t, "the second commit to be applied", func() bool {
		s := e.d.Status()
		return s.LastGood != nil && s.LastGood.ID == second && e.live("web-") == 2
	})
	if n := daemon.ParsedFiles(e.d); n != 4 {
		t.Errorf("the second load parsed %d files, want 1 (web.yaml)", n-3)
	}
	if e.live("db-") != 1 || e.live("cache-") != 1 {
		t.Errorf("db %d, cache %d instances; want 1 each", e.live("db-"), e.live("cache-"))
	}
	z, err := zip.OpenReader(filepath.Join(opts.StateDir, daemon.LastGoodFile))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	got := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		got[f.Name] = string(b)
		if f.Name == "sub/db.yaml" {
			if want := "git blob " + repo.git(repo.dir, "rev-parse", "HEAD:fleets/sub/db.yaml"); f.Comment != want {
				t.Errorf("sub/db.yaml's comment %q, want %q", f.Comment, want)
			}
		}
	}
	if got["sub/db.yaml"] != db || got["web.yaml"] != fleet("web", "bundle_gen_01", 2) || got["cache.yaml"] == "" || len(got) != 4 {
		t.Errorf("the saved copy holds %v", got)
	}

	// db's name, given to cache: the repository is refused though db.yaml
	// is not parsed again.
	bad := repo.commit("cache renamed db", map[string]string{"cache.yaml": strings.Replace(fleet("cache", "bundle_gen_01", 1), "name: cache", "name: db", 1)})
	poll(t, "the clash to be reported", func() bool {
		s := e.d.Status()
		return s.Invalid != nil && s.Invalid.ID == bad
	})
	s := e.d.Status()
	if len(s.Invalid.Errors) == 0 || !strings.Contains(s.Invalid.Errors[0].Error(), "fleets/sub/db.yaml:4:9: fleet \"db\": metadata.name: duplicate fleet name, first defined at fleets/cache.yaml:4:9") || s.LastGood.ID != second {
		t.Errorf("the clash: %v, last good %s", s.Invalid.Errors, s.LastGood.ID)
	}

	// A restarted daemon loads the copy keyed by its entries' comments, and
	// then parses nothing of a head whose files the copy holds.
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	third := repo.commit("cache back", map[string]string{"cache.yaml": fleet("cache", "bundle_gen_01", 1)})
	opts2 := e.options()
	opts2.Source, opts2.StateDir = daemon.GitSource(src), opts.StateDir
	e.start(opts2)
	poll(t, "the restarted daemon to adopt the head", func() bool {
		s := e.d.Status()
		return s.LastGood != nil && s.LastGood.ID == third
	})
	if n := daemon.ParsedFiles(e.d); n != 3 {
		t.Errorf("the restarted daemon parsed %d files, want 3 (the copy's, and none of the head's)", n)
	}
}
