package daemon_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// An invalid revision with thousands of problems: /status, the page, the
// log and the last error list the first 20 of each file and 100 in all,
// then how many more there are.
func TestInvalidRevisionProblemsCapped(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	e.start(e.options())
	e.waitRuns(1)
	var b strings.Builder
	b.WriteString(fleet("keys", "bundle_gen_01", 1))
	for i := range 300 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	for i := range 10 {
		e.write(fmt.Sprintf("keys-%02d.yaml", i), b.String())
	}
	s := e.cycle()
	if s.Invalid == nil || len(s.Invalid.Errors) != 101 {
		t.Fatalf("invalid: %+v", s.Invalid)
	}
	const more = "and 2900 more problems not listed (the list stops at 20 per file and 100 in all); fix these and look again"
	if last := s.Invalid.Errors[100]; last.More != 2900 || last.Error() != more {
		t.Fatalf("last problem %#v", last)
	}
	if !strings.Contains(s.LastError, "(3000 problems, first: fleets/keys-00.yaml:11:3: ") {
		t.Errorf("last error %q", s.LastError)
	}
	code, body := e.get("/status")
	var st struct {
		Invalid struct {
			Errors []struct {
				More    int    `json:"more"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"invalid"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK || len(st.Invalid.Errors) != 101 || st.Invalid.Errors[100].More != 2900 {
		t.Fatalf("/status: %d, %v, %d errors", code, err, len(st.Invalid.Errors))
	}
	if code, page := e.get("/"); code != http.StatusOK || !strings.Contains(page, more) || strings.Count(page, "<li><code>fleets/keys-") != 100 {
		t.Errorf("page: %d, shows the summary %v, %d problems listed", code, strings.Contains(page, more), strings.Count(page, "<li><code>fleets/keys-"))
	}
}

// exclude takes the globs of validate --exclude: "**/testdata" leaves out
// a testdata directory at any depth, the top one included, and the copy of
// the last good revision holds none of them.
func TestExcludeGlobs(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml":                  fleet("web", "bundle_gen_01", 1),
		"testdata/broken.yaml":      "[broken\n",
		"a/testdata/broken.yaml":    "count: nope\n",
		"a/b/c/testdata/other.yaml": fleet("web", "bundle_gen_01", 9), // would collide
		"drafts/x/y.yaml":           "kind: Deployment\n",
		"more/api.example.yaml":     fleet("api", "bundle_gen_01", 9),
	})
	opts := e.options()
	opts.Exclude = []string{"**/testdata", "drafts/**", "**/*.example.yaml"}
	opts.StateDir = t.TempDir()
	e.start(opts)
	s := e.waitRuns(1)
	if s.Invalid != nil || len(s.Fleets) != 1 || s.Fleets[0].Name != "web" {
		t.Fatalf("invalid %+v, fleets %+v", s.Invalid, s.Fleets)
	}
	var copied []string
	fs.WalkDir(savedCopy(t, opts.StateDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			copied = append(copied, filepath.Base(p))
		}
		return nil
	})
	if strings.Join(copied, " ") != ".revision.json web.yaml" {
		t.Errorf("the copy of the last good revision holds %v", copied)
	}
	opts.Exclude = []string{"a/**b"}
	if _, err := daemon.New(opts); err == nil || !strings.Contains(err.Error(), "** must be a whole path element") {
		t.Errorf("a pattern validate refuses: %v", err)
	}
}
