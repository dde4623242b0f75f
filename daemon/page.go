package daemon

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// The status page (page.html, at /) and the page of one fleet (fleet.html,
// at /fleets/NAME) are rendered on the server by html/template, which
// escapes everything that comes from the repository or the cloud. They use
// no script and load nothing from elsewhere (the Content-Security-Policy
// says so); each reloads itself every pageRefresh seconds.

//go:embed page.html fleet.html page_common.html
var pageFS embed.FS

var pageTmpl = template.Must(template.New("page.html").Funcs(pageFuncs).ParseFS(pageFS, "page.html", "page_common.html"))

var fleetTmpl = template.Must(template.New("fleet.html").Funcs(pageFuncs).ParseFS(pageFS, "fleet.html", "page_common.html"))

var pageFuncs = template.FuncMap{
	"money":    money,
	"fleetURL": fleetURL,
	"ips":      func(ips []string) string { return strings.Join(ips, ", ") },
}

// pageRefresh is the seconds between reloads of the pages.
const pageRefresh = 30

// pageBase is what every page shows: the daemon's state in one word (the
// badge and the title), and the time it was made.
type pageBase struct {
	State   string // "ok", "degraded", "starting", "follower"
	Now     time.Time
	Refresh int
}

// pageState is the daemon's state in one word.
func pageState(s Status) string {
	switch {
	case s.HA != nil && !s.HA.Leader:
		return "follower"
	case !s.Ready:
		return "starting"
	case s.Invalid != nil || s.LastError != "" || len(s.Held) > 0 || s.StateError != "":
		return "degraded"
	}
	return "ok"
}

// moment is a time as the pages show it: absolute, in UTC, and relative to
// when the page was made ("3 min ago", "in 27 days").
type moment struct {
	Zero     bool
	ISO      string // for <time datetime>
	Abs, Rel string
}

// At is t as a moment of the page.
func (p pageBase) At(t time.Time) moment {
	if t.IsZero() {
		return moment{Zero: true}
	}
	return moment{ISO: t.UTC().Format(time.RFC3339), Abs: t.UTC().Format("2006-01-02 15:04:05 UTC"), Rel: relative(t, p.Now)}
}

// relative says how long before or after now t is, in the largest unit
// that fits: "just now", "40 s ago", "3 min ago", "2 h 5 min ago",
// "3 days ago", "in 27 days".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		s = fmt.Sprintf("%d h", h)
		if m > 0 {
			s += fmt.Sprintf(" %d min", m)
		}
	default:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// money writes an amount with its currency: "450.00 CNY". An amount that
// could not be priced in full says so; no currency is known only when
// nothing was priced.
func money(m reconcile.Money, amount float64) string {
	s := fmt.Sprintf("%.2f", math.Abs(amount))
	if amount < 0 {
		s = "-" + s
	}
	switch {
	case m.Currency != "":
		s += " " + m.Currency
	case amount != 0 || m.Unknown:
		s += " (currency unknown)"
	}
	if m.Unknown {
		s += ", some prices unknown"
	}
	return s
}

// fleetURL is the path of a fleet's page.
func fleetURL(name string) string { return "/fleets/" + url.PathEscape(name) }

// render executes tmpl with data and writes it as an HTML page.
func render(w http.ResponseWriter, tmpl *template.Template, data any) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}
