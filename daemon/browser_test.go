package daemon_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// browsers are the headless browsers the page test can drive, best first:
// Debian's chromium-headless-shell package, then its chromium package.
var browsers = []string{"chromium-headless-shell", "chromium", "chromium-browser", "headless-shell", "google-chrome"}

// findBrowser returns the path of a browser, or "".
func findBrowser() string {
	for _, name := range browsers {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestStatusPageInBrowser loads / in a real headless Chromium: a daemon
// with two fleets whose newest revision is invalid. It checks the text a
// person sees and saves a screenshot in the test's artifact directory
// (kept with go test -artifacts; a temporary directory otherwise).
func TestStatusPageInBrowser(t *testing.T) {
	bin := findBrowser()
	if bin == "" {
		t.Skip("no headless browser found (looked for " + strings.Join(browsers, ", ") + "): install Debian's chromium-headless-shell package (or chromium), e.g. with .ci/install-browser.sh")
	}
	if testing.Short() {
		t.Skip("starts a browser; skipped in -short mode")
	}
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 3),
		"api.yaml": fleet("api", "bundle_gen_02", 1),
	})
	e.start(e.options())
	e.waitRuns(1)
	e.write("web.yaml", fleet("web", "bundle_gen_01", 5))
	e.write("more/api-copy.yaml", fleet("api", "bundle_gen_02", 1))
	s := e.cycle()
	if s.Invalid == nil {
		t.Fatal("the colliding revision is not invalid")
	}
	srv := httptest.NewServer(e.d.Handler())
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in CI
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, waitFor)
	defer cancelTimeout()

	page := srv.URL + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#fleets"))); err != nil {
		t.Fatalf("browser %s: load %s: %v", bin, page, err)
	}
	get := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		return v
	}
	title := get(chromedp.Title())
	text := get(chromedp.Text(chromedp.CSS("body")))
	state := get(chromedp.Text(chromedp.CSS("#state")))
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.scripts.length"))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	shot := filepath.Join(t.ArtifactDir(), "status-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	if state != "degraded" || !strings.Contains(title, "degraded") {
		t.Errorf("state badge %q, title %q; want degraded", state, title)
	}
	if scripts != 0 {
		t.Errorf("the page has %d scripts; it must work without JavaScript", scripts)
	}
	for _, want := range []string{
		"Revision " + s.Invalid.Short + " is invalid",
		"The last good revision " + s.LastGood.Short + " is still reconciled",
		"duplicate fleet name",
		"fleets/more/api-copy.yaml",
		"web", "api", "ap-guangzhou",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q; it shows:\n%s", want, text)
		}
	}
	// The fleet rows show the counts of the last good revision.
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("#fleets tbody tr"), tr => Array.from(tr.cells, c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	want := [][]string{
		// fleet, region, state, desired, live, pending, failed, expected, to create, to renew, next expiry, rollout, problem
		{"api\nfleets/api.yaml", "ap-guangzhou", "ok", "1", "1", "1", "0", "0", "0", "0", "2026-02-01 00:00:00 UTC\nlhins-ID", "", ""},
		{"web\nfleets/web.yaml", "ap-guangzhou", "ok", "3", "3", "3", "0", "0", "0", "0", "2026-02-01 00:00:00 UTC\nlhins-ID", "", ""},
	}
	for _, row := range rows { // instance IDs are the emulator's to choose
		if len(row) > 10 {
			row[10] = regexp.MustCompile(`lhins-[a-z0-9]{8}`).ReplaceAllString(row[10], "lhins-ID")
		}
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("fleet rows\n%q\nwant\n%q", rows, want)
	}
}
