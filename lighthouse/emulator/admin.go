package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The admin API lives under /_emulator/, beside the Lighthouse API. It is
// JSON over HTTP and not authenticated: the emulator is a local test server
// and must not be reachable from untrusted networks.
//
//	GET    /_emulator/instances        every instance, as DescribeInstances shows it (no lag)
//	DELETE /_emulator/instances/{id}   delete an instance out of band, as in the console
//	GET    /_emulator/faults           the active faults
//	POST   /_emulator/faults           inject a fault: {"action","kind","probability","count","delay":"2s","status"}
//	DELETE /_emulator/faults           clear every fault
//	GET    /_emulator/clock            {"now": RFC 3339 time, "manual": bool}
//	POST   /_emulator/clock/advance    {"duration":"30s"}; only with a manual clock
//	GET    /_emulator/stats            {"calls": {action: {code or "OK": n}}}
//	GET    /_emulator/state            SaveState
//	PUT    /_emulator/state            LoadState
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
