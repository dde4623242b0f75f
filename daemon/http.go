package daemon

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed page.html
var pageFS embed.FS

var pageTmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"money": func(f float64) string { return fmt.Sprintf("%.2f", f) },
}).ParseFS(pageFS, "page.html"))

// handler builds the daemon's HTTP routes.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !d.Running() {
			http.Error(w, "not running", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if hs := d.haStatus(); hs != nil && !hs.Leader {
			leader := hs.LeaderID
			if leader == "" {
				leader = "none elected yet"
			}
			http.Error(w, "not leader: "+hs.ID+" follows (leader: "+leader+"); send webhooks to any daemon, followers pass them on", http.StatusServiceUnavailable)
			return
		}
		if !d.Ready() {
			http.Error(w, "not ready: no successful sync and observe yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	mux.HandleFunc("GET /status", d.serveStatus)
	mux.HandleFunc("GET /{$}", d.servePage)
	if d.opts.Webhook != nil {
		mux.Handle("POST /hooks/git", d.opts.Webhook)
	}
	mux.HandleFunc("POST /approve", d.serveApprove) // approve.go
	return nosniff(mux)
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages quote >= and <, for people and jq alike
	enc.SetIndent("", "  ")
	if err := enc.Encode(d.Status()); err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// pageData is what the status page shows.
type pageData struct {
	Status
	State   string // "ok", "degraded", "starting", "follower"
	Now     time.Time
	Refresh int // seconds between reloads of the page
	// ApproveURL is the daemon's URL in the approve command shown for a
	// held plan: Options.PublicURL, or "URL".
	ApproveURL string
}

func (d *Daemon) servePage(w http.ResponseWriter, r *http.Request) {
	s := d.Status()
	pd := pageData{Status: s, Now: d.opts.Now(), Refresh: 30, State: "ok", ApproveURL: "URL"}
	if u := d.opts.PublicURL; u != "" {
		pd.ApproveURL = strings.TrimSuffix(u, "/")
	}
	switch {
	case s.HA != nil && !s.HA.Leader:
		pd.State = "follower"
	case !s.Ready:
		pd.State = "starting"
	case s.Invalid != nil || s.LastError != "" || len(s.Held) > 0 || s.StateError != "":
		pd.State = "degraded"
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pd); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}
