package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// The admin API lives under /_emulator/, beside the Lighthouse API. It is
// JSON over HTTP and not authenticated: the emulator is a local test server
// and must not be reachable from untrusted networks.
//
//	GET    /_emulator/instances                   every instance, as DescribeInstances shows it (no lag)
//	DELETE /_emulator/instances/{id}              delete an instance out of band, as in the console
//	POST   /_emulator/instances/{id}/expired-time {"expiredTime":"2026-02-05T09:00:00Z"}: move its expiry
//	GET    /_emulator/faults                      the active faults
//	POST   /_emulator/faults                      inject a fault: {"action","kind","probability","count","delay":"2s","status","instanceId"}
//	DELETE /_emulator/faults                      clear every fault
//	GET    /_emulator/clock                       {"now": RFC 3339 time, "manual": bool}
//	POST   /_emulator/clock/advance               {"duration":"30s"}; only with a manual clock
//	GET    /_emulator/account                     {"balance","spent","available","renewals","expirations","autoRenewFailures","manualRenewals"}
//	POST   /_emulator/account                     {"balance": N} (0: unlimited) or {"available": N}
//	GET    /_emulator/stats                       {"calls": {action: {code or "OK": n}}}
//	GET    /_emulator/state                       SaveState
//	PUT    /_emulator/state                       LoadState
//
// Being unauthenticated, it refuses what a web page in a browser on the
// same machine could make it do (see guardAdmin):
//   - A request that changes something (any method but GET and HEAD) must
//     say it is not a browser's simple request: Content-Type
//     application/json, or the header X-Emulator-Admin (any value). A page
//     can POST text/plain to any address without asking; it cannot send
//     either of these without a CORS preflight, which the emulator never
//     grants. Otherwise 415.
//   - While the emulator listens on a loopback address, the Host header
//     must name a loopback host (localhost, 127.0.0.0/8 or ::1, any port):
//     a page that rebinds its own DNS name to 127.0.0.1 sends its name
//     there, and would otherwise read /_emulator/state as same-origin.
//     Otherwise 403. On another address (lightkeeper emulator
//     --admin-on-public-address) no Host can be told apart, and none is
//     refused.

// AdminHeader is the request header that marks a write to the admin API as
// coming from a program rather than a web page (see guardAdmin); a JSON
// Content-Type does as well.
const AdminHeader = "X-Emulator-Admin"

// guardAdmin answers and returns false for an admin request that a web
// page could have made: a write that is a CORS simple request, or any
// request to a loopback listener addressed to a host that is not.
func guardAdmin(w http.ResponseWriter, r *http.Request) bool {
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopbackAddr(local) && !isLoopbackHost(r.Host) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("the admin API listens on loopback and answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1]), not %q: a web page rebinding its DNS name to this address would send that", r.Host)})
		return false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && r.Header.Get(AdminHeader) == "" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": fmt.Sprintf("a %s to the admin API needs Content-Type: application/json or the header %s: 1 (a web page cannot send either without permission, which the emulator never gives)", r.Method, AdminHeader)})
		return false
	}
	return true
}

func isLoopbackAddr(a net.Addr) bool {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHost reports whether a Host header (host and optional port)
// names a loopback host.
func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return lighthouse.IsLoopbackHost(host)
}

func (s *Server) adminMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /_emulator/instances", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"instances": s.Instances()})
	})
	m.HandleFunc("DELETE /_emulator/instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteInstance(r.PathValue("id")); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_emulator/instances/{id}/expired-time", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ExpiredTime string `json:"expiredTime"`
		}
		if err := decodeAdmin(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expired-time: " + err.Error()})
			return
		}
		t, err := time.Parse(time.RFC3339, body.ExpiredTime)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("expired-time: %q is not an RFC 3339 time such as \"2026-02-05T09:00:00Z\"", body.ExpiredTime)})
			return
		}
		if err := s.SetExpiredTime(r.PathValue("id"), t); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Account())
	})
	m.HandleFunc("POST /_emulator/account", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Balance   *float64 `json:"balance"`
			Available *float64 `json:"available"`
		}
		if err := decodeAdmin(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "account: " + err.Error()})
			return
		}
		var err error
		switch {
		case (body.Balance == nil) == (body.Available == nil):
			err = errors.New("give one of balance (what the account may spend in all; 0: unlimited) and available (what is left to spend)")
		case body.Balance != nil:
			err = s.SetBalance(*body.Balance)
		default:
			err = s.SetAvailable(*body.Available)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "account: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.Account())
	})
	m.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
	})
	m.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decodeAdmin(r, &f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault: " + err.Error()})
			return
		}
		if err := f.Validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.InjectFault(f)
		writeJSON(w, http.StatusCreated, map[string]any{"faults": s.Faults()})
	})
	m.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/clock", func(w http.ResponseWriter, r *http.Request) {
		_, manual := s.clock.(*ManualClock)
		writeJSON(w, http.StatusOK, map[string]any{"now": s.clock.Now().UTC().Format(time.RFC3339Nano), "manual": manual})
	})
	m.HandleFunc("POST /_emulator/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		mc, ok := s.clock.(*ManualClock)
		if !ok {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "the emulator runs on real time; start it with a manual clock to advance it"})
			return
		}
		var body struct {
			Duration string `json:"duration"`
		}
		if err := decodeAdmin(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "clock advance: " + err.Error()})
			return
		}
		d, err := time.ParseDuration(body.Duration)
		if err != nil || d < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("clock advance: duration %q is not a non-negative Go duration such as \"30s\"", body.Duration)})
			return
		}
		mc.Advance(d)
		writeJSON(w, http.StatusOK, map[string]any{"now": mc.Now().UTC().Format(time.RFC3339Nano), "manual": true})
	})
	m.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": s.Stats()})
	})
	m.HandleFunc("GET /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := s.SaveState(&buf); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(buf.Bytes())
	})
	m.HandleFunc("PUT /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		if err := s.LoadState(http.MaxBytesReader(w, r.Body, 256<<20)); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return m
}

func decodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
