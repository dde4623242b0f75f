package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

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
	mux.Handle("GET /metrics", d.reg.Handler(maxScrapesInFlight))
	mux.HandleFunc("GET /status", d.serveStatus)
	mux.HandleFunc("GET /status/fleets/{name}", d.serveFleet(writeFleetJSON)) // fleetpage.go
	mux.HandleFunc("GET /fleets/{name}", d.serveFleet(d.writeFleetPage))
	mux.HandleFunc("GET /{$}", d.servePage)
	if d.opts.Webhook != nil {
		mux.Handle("POST /hooks/git", d.opts.Webhook)
	}
	mux.HandleFunc("POST /approve", d.serveApprove) // approve.go
	return nosniff(mux)
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, d.Status())
}

// writeJSON writes v as indented JSON, never cached.
func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages quote >= and <, for people and jq alike
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// pageData is what the status page shows.
type pageData struct {
	pageBase
	Status
	// ApproveURL is the daemon's URL in the approve command shown for a
	// held plan: Options.PublicURL, or "URL".
	ApproveURL string
}

func (d *Daemon) servePage(w http.ResponseWriter, r *http.Request) {
	s := d.Status()
	approveURL := "URL"
	if u := d.opts.PublicURL; u != "" {
		approveURL = strings.TrimSuffix(u, "/")
	}
	render(w, pageTmpl, pageData{pageBase: pageBase{State: pageState(s), Now: d.opts.Now(), Refresh: pageRefresh}, Status: s, ApproveURL: approveURL})
}
