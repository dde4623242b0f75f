package daemon_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lightkeeper/lightkeeper/reconcile"
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

// browser starts a headless browser for the test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := findBrowser()
	if bin == "" {
		t.Skip("no headless browser found (looked for " + strings.Join(browsers, ", ") + "): install Debian's chromium-headless-shell package (or chromium), e.g. with .ci/install-browser.sh")
	}
	if testing.Short() {
		t.Skip("starts a browser; skipped in -short mode")
	}
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
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts it: each page opens a tab of it
		t.Fatalf("browser %s: %v", bin, err)
	}
	return ctx
}

// view is a page as the browser shows it.
type view struct {
	title, text, state string
	scripts, images    int
}

// look loads url in a new tab of the browser, waits for sel, saves a
// screenshot of the whole page as name (a PNG in the test's artifact
// directory: kept with go test -artifacts -outputdir DIR; its path is
// logged) and returns what the page shows.
func look(t *testing.T, bctx context.Context, url, sel, name string) view {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, waitFor)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("browser: load %s: %v", url, err)
	}
	get := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		return v
	}
	count := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		return n
	}
	v := view{title: get(chromedp.Title()), text: get(chromedp.Text(chromedp.CSS("body"))), state: get(chromedp.Text(chromedp.CSS("#state"))),
		scripts: count("document.scripts.length"), images: count("document.images.length")}
	if over := count("document.documentElement.scrollWidth - document.documentElement.clientWidth"); over > 0 {
		t.Errorf("%s is %d px wider than the window: a long word (an API error, a name) widens a table past the page", url, over)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	shot := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s (%d bytes)", url, shot, len(png))
	if v.scripts != 0 || v.images != 0 {
		t.Errorf("%s has %d scripts and %d images; it must need neither (and nothing from a revision or the cloud may become one)", url, v.scripts, v.images)
	}
	return v
}

// rows returns the cells of the rows of a table, as the browser shows them.
func rows(t *testing.T, bctx context.Context, url, table string) [][]string {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, waitFor)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(table))); err != nil {
		t.Fatalf("browser: load %s: %v", url, err)
	}
	r, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("`+table+` tbody tr"), tr => Array.from(tr.cells, c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("browser: %s: %v", url, err)
	}
	return r
}

// wantRows checks the rows of a table.
func wantRows(t *testing.T, bctx context.Context, url, table string, want [][]string) {
	t.Helper()
	if got := rows(t, bctx, url, table); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("%s rows\n%q\nwant\n%q", table, got, want)
	}
}

func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not show %q; it shows:\n%s", what, want, text)
		}
	}
}

// TestStatusPagesInBrowser loads the status page and a fleet's page in a
// real headless Chromium in the main states a daemon is in: healthy (with
// a commit subject and an instance name that hold markup), a plan held
// over a limit, an invalid newest revision, and creates that fail. It
// checks the text a person sees, that no script or image is on a page,
// and saves a screenshot of each (status-healthy.png, fleet-web.png,
// status-held.png, status-invalid.png, status-failing.png in the test's
// artifact directory).
func TestStatusPagesInBrowser(t *testing.T) {
	bctx := browser(t)

	t.Run("healthy", func(t *testing.T) {
		e := newEnv(t, map[string]string{
			"web.yaml": fleet("web", "bundle_gen_01", 2),
			"api.yaml": fleet("api", "bundle_gen_02", 1),
		})
		e.cloud = renamingCloud{e.cloud}
		opts := e.options()
		opts.Source = subjectSource{opts.Source}
		opts.Reconcile.Tags = true // the renamed instances keep their slots by their tags
		opts.Now = e.clock.Now     // the page's times and the cloud's on one clock
		url := e.serve(opts)
		e.clock.Advance(5 * time.Minute)
		e.cycle()

		v := look(t, bctx, url+"/", "#fleets", "status-healthy.png")
		if v.state != "ok" || v.title != "lightkeeper: ok" {
			t.Errorf("state %q, title %q; want ok", v.state, v.title)
		}
		contains(t, "the healthy page", v.text, hostileSubject, "success, started by webhook", "nothing to do", "created 2: ", "revision ", " loaded: 2 fleets",
			"As the last plan listed them", "(5 min ago)")
		wantRows(t, bctx, url+"/", "#fleets", [][]string{
			// fleet, region, state, desired, live, pending, failed, expected, planned, monthly, problem
			{"api\nfleets/api.yaml", "ap-guangzhou", "ok", "1", "1", "0", "0", "0", "0", "", ""},
			{"web\nfleets/web.yaml", "ap-guangzhou", "ok", "2", "2", "0", "0", "0", "0", "", ""},
		})

		v = look(t, bctx, url+"/fleets/web", "#instances", "fleet-web.png")
		if v.title != "lightkeeper: fleet web" {
			t.Errorf("fleet page title %q", v.title)
		}
		fd := e.fleetDetail("web")
		ins := rows(t, bctx, url+"/fleets/web", "#instances")
		if len(ins) != 2 {
			t.Fatalf("instance rows %q", ins)
		}
		for i, in := range fd.Instances {
			// slot, name, ID, zone, state, public IP, bundle, blueprint, expires
			row := ins[i]
			if row[0] != string(rune('0'+i)) || row[1] != hostileName || row[2] != in.ID || row[3] != in.Zone || row[4] != "RUNNING" ||
				row[5] != in.PublicIPs[0] || row[6] != "bundle_gen_01" || row[7] != in.BlueprintID || !strings.HasPrefix(row[8], in.Expires.UTC().Format("2006-01-02")) ||
				!strings.Contains(row[8], "(in ") {
				t.Errorf("instance row %d %q; want %+v", i, row, in)
			}
		}
	})

	t.Run("held", func(t *testing.T) {
		e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
		opts := e.options()
		opts.Limits = reconcile.Limits{MaxCreates: 3, MaxMonthlySpend: 200}
		opts.Now = e.clock.Now
		url := e.serve(opts)
		v := look(t, bctx, url+"/", "#held", "status-held.png")
		if v.state != "degraded" {
			t.Errorf("state %q, want degraded", v.state)
		}
		contains(t, "the held page", v.text, "The last plan was held, not applied", "limits.maxCreatesPerRun 3", "limits.maxMonthlySpend",
			"the monthly bill grows by 300.00 CNY", "Held, not applied.", "held, started by start")
	})

	t.Run("invalid", func(t *testing.T) {
		e := newEnv(t, map[string]string{
			"web.yaml": fleet("web", "bundle_gen_01", 3),
			"api.yaml": fleet("api", "bundle_gen_02", 1),
		})
		opts := e.options()
		opts.Now = e.clock.Now
		url := e.serve(opts)
		e.write("web.yaml", fleet("web", "bundle_gen_01", 5))
		e.write("more/api-copy.yaml", fleet("api", "bundle_gen_02", 1))
		s := e.cycle()
		if s.Invalid == nil {
			t.Fatal("the colliding revision is not invalid")
		}
		v := look(t, bctx, url+"/", "#invalid", "status-invalid.png")
		if v.state != "degraded" || !strings.Contains(v.title, "degraded") {
			t.Errorf("state badge %q, title %q; want degraded", v.state, v.title)
		}
		contains(t, "the invalid page", v.text,
			"Revision "+s.Invalid.Short+" is invalid",
			"The last good revision "+s.LastGood.Short+" is still reconciled",
			"duplicate fleet name",
			"fleets/more/api-copy.yaml",
			"is invalid, not applied: 1 problem")
		// The fleet rows show the counts of the last good revision.
		wantRows(t, bctx, url+"/", "#fleets", [][]string{
			{"api\nfleets/api.yaml", "ap-guangzhou", "ok", "1", "1", "1", "0", "0", "0", "", ""},
			{"web\nfleets/web.yaml", "ap-guangzhou", "ok", "3", "3", "3", "0", "0", "0", "", ""},
		})
	})

	t.Run("failing", func(t *testing.T) {
		e := newEnv(t, map[string]string{
			"web.yaml": fleet("web", "bundle_gen_01", 2),
			"api.yaml": fleet("api", "bundle_gen_02", 1),
		})
		e.cloud = refusingCloud{e.cloud}
		opts := e.options()
		opts.Now = e.clock.Now
		url := e.serve(opts)
		v := look(t, bctx, url+"/", "#last-error", "status-failing.png")
		if v.state != "degraded" {
			t.Errorf("state %q, want degraded", v.state)
		}
		contains(t, "the failing page", v.text, "partial, started by start", "2 creates failed: ", "sold out <b>today</b>", "3 failed")
		got := rows(t, bctx, url+"/", "#fleets")
		if len(got) != 2 || got[1][2] != "error" || got[1][8] != "2" || !strings.HasPrefix(got[1][9], "+") || !strings.Contains(got[1][9], " CNY") {
			t.Errorf("fleet rows %q; want web in error, 2 to create at a price in CNY", got)
		}
	})
}
