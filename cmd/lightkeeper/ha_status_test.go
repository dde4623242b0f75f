//go:build full

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// What the HA rig reads from the daemons (over HTTP, with a timeout: a
// paused daemon's kernel accepts a connection and never answers) and from
// etcd, and when it counts the rig as settled.

// quiet reports whether no daemon is paused or suspect, clearing suspects
// that now answer /status with nothing in flight at their proxy.
func (r *haRig) quiet() bool {
	for _, d := range r.daemons {
		d.mu.Lock()
		paused, suspect, p := d.paused, d.suspect, d.p
		d.mu.Unlock()
		if paused {
			return false
		}
		if suspect && p != nil {
			if code, _ := d.get("/status"); code != http.StatusOK || r.calls.inFlight(d.id) > 0 {
				return false
			}
			d.mu.Lock()
			d.suspect = false
			d.mu.Unlock()
		}
	}
	return true
}

// ha returns the "ha" object of the daemon's /status, nil if it does not
// answer (not running, paused, or no ha block).
func (d *haDaemon) ha() map[string]any {
	ha, _ := d.status()["ha"].(map[string]any)
	return ha
}

// status is the daemon's /status, nil if it has no process, is paused or
// does not answer.
func (d *haDaemon) status() map[string]any {
	if !d.running() {
		return nil
	}
	code, body := d.get("/status")
	var st map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		return nil
	}
	return st
}

// settled reports whether every create planned under an earlier revision
// has landed: no daemon is paused or just resumed (quiet), one running
// daemon leads (the only one, without ha) and its last cycle reconciled the
// revision pushed last, and no other daemon has a call in flight.
func (r *haRig) settled() bool {
	r.mu.Lock()
	head := r.head
	r.mu.Unlock()
	if head == "" || !r.quiet() {
		return false
	}
	var leader *haDaemon
	for _, d := range r.daemons {
		if !d.running() {
			continue
		}
		st := d.status()
		if st == nil {
			return false
		}
		if ha, _ := st["ha"].(map[string]any); r.o.noHA || ha["leader"] == true {
			// A cycle of this term: the last one it ran as a follower
			// shows the same revision but bought nothing.
			run, _ := st["lastRun"].(map[string]any)
			if leader != nil || run["revision"] != head || run["result"] == "follower" || !after(run["started"], ha["leaderSince"]) {
				return false
			}
			leader = d
		}
	}
	if leader == nil {
		return false
	}
	for _, d := range r.daemons {
		if d != leader && r.calls.inFlight(d.id) > 0 {
			return false
		}
	}
	return true
}

// after reports whether the RFC 3339 time a is at or after b; a nil b (no
// ha object) counts as the beginning of time.
func after(a, b any) bool {
	as, _ := a.(string)
	ta, err := time.Parse(time.RFC3339Nano, as)
	if err != nil {
		return false
	}
	bs, ok := b.(string)
	if !ok {
		return true
	}
	tb, err := time.Parse(time.RFC3339Nano, bs)
	return err == nil && !ta.Before(tb)
}

// haHTTP is the client of the rig's own requests to the daemons: a paused
// daemon's kernel accepts the connection and never answers.
var haHTTP = &http.Client{Timeout: 5 * time.Second}

// get returns the status code and body of GET path on the daemon (0 and
// the error text if it does not answer).
func (d *haDaemon) get(path string) (int, string) {
	p := d.proc()
	if p == nil {
		return 0, "no process"
	}
	resp, err := haHTTP.Get(p.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the sample line that starts with series
// (e.g. `lightkeeper_leader` or `lightkeeper_triggers_total{source="forwarded"}`)
// on the daemon's /metrics, "" if there is none.
func (d *haDaemon) metric(series string) string {
	_, body := d.get("/metrics")
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// revision is the id of the revision last synced per /status, "" if none.
func (d *haDaemon) revision() string {
	rev, _ := d.status()["revision"].(map[string]any)
	id, _ := rev["id"].(string)
	return id
}

// runs is the number of cycles the daemon's /status counts, -1 if it does
// not answer.
func (d *haDaemon) runs() int {
	n, ok := d.status()["runs"].(float64)
	if !ok {
		return -1
	}
	return int(n)
}

// waitSynced waits until every running daemon has synced the head of the
// repository.
func (r *haRig) waitSynced(what string) {
	r.t.Helper()
	head := r.git.head()
	waitUntil(r.t, what+": every daemon at "+head[:8], func() bool {
		for _, d := range r.daemons {
			if d.running() && d.revision() != head {
				return false
			}
		}
		return true
	})
}

// leaderKeys returns the keys under the election prefix in etcd: one per
// daemon in the election.
func (r *haRig) leaderKeys() []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.etcd.Client(r.t).Get(ctx, haPrefix+"leader/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		r.t.Fatalf("etcd: %v", err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

// observed reports whether the daemon's last plan saw the fleet with all
// its count live and listed (no instance only expected): an instance
// deleted after that is known to be gone, not merely not listed yet.
func (d *haDaemon) observed(fleet string, count int) bool {
	fleets, _ := d.status()["fleets"].([]any)
	for _, f := range fleets {
		f, _ := f.(map[string]any)
		if f["name"] == fleet {
			return f["live"] == float64(count) && f["expected"] == float64(0)
		}
	}
	return false
}
