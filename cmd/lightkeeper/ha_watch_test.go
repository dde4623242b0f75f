//go:build full

package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// apiCall is one request a daemon sent to the Lighthouse API.
type apiCall struct {
	daemon string    // the daemon whose proxy took it
	action string    // X-TC-Action
	at     time.Time // when the proxy read its headers
}

// callLog is a recording reverse proxy per daemon in front of the emulator:
// it knows exactly which daemon sent which call when, and which calls are
// still in flight.
type callLog struct {
	t        testing.TB
	target   *url.URL
	mu       sync.Mutex
	calls    []apiCall
	inflight map[string]int
}

func newCallLog(t testing.TB, emulatorURL string) *callLog {
	t.Helper()
	u, err := url.Parse(emulatorURL)
	if err != nil {
		t.Fatal(err)
	}
	return &callLog{t: t, target: u, inflight: map[string]int{}}
}

// endpoint starts the proxy for daemon id and returns its URL.
func (l *callLog) endpoint(id string) string {
	rp := httputil.NewSingleHostReverseProxy(l.target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := apiCall{daemon: id, action: r.Header.Get("X-TC-Action"), at: time.Now()}
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.inflight[id]++
		l.mu.Unlock()
		defer func() { l.mu.Lock(); l.inflight[id]--; l.mu.Unlock() }()
		rp.ServeHTTP(w, r)
	}))
	l.t.Cleanup(hs.Close)
	return hs.URL
}

// since returns the calls that arrived after t, in order.
func (l *callLog) since(t time.Time) []apiCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []apiCall
	for _, c := range l.calls {
		if c.at.After(t) {
			out = append(out, c)
		}
	}
	return out
}

// first returns the first call after t whose action is one of actions (any
// action if none), and whether there is one.
func (l *callLog) first(t time.Time, actions ...string) (apiCall, bool) {
	for _, c := range l.since(t) {
		if len(actions) == 0 || slices.Contains(actions, c.action) {
			return c, true
		}
	}
	return apiCall{}, false
}

// firstNotFrom returns the first call after t sent by a daemon other than
// id (a call the old leader sent just before it died may arrive after t).
func (l *callLog) firstNotFrom(t time.Time, id string) (apiCall, bool) {
	for _, c := range l.since(t) {
		if c.daemon != id {
			return c, true
		}
	}
	return apiCall{}, false
}

// byDaemon counts the calls after t by daemon.
func (l *callLog) byDaemon(t time.Time) map[string]int {
	n := map[string]int{}
	for _, c := range l.since(t) {
		n[c.daemon]++
	}
	return n
}

// inFlight is the number of daemon id's calls not yet answered.
func (l *callLog) inFlight(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[id]
}

// fleetMonitor polls the emulator's admin API while the test runs and
// records every violation of the two things HA must never do: a fleet with
// more live instances than its ceiling, and a name held by two live
// instances at once.
//
// An instance belongs to the fleet its name starts with, up to the first
// "-" (the rig's fleets have no "-" in their names). The ceiling of a
// fleet is the largest count committed since the fleet was last seen
// converged (live == its count) with the rig settled before and after
// (haRig.settled: nobody paused, the leader's last cycle of its term
// reconciled the last commit, no other daemon's call in flight): until then, creates
// planned under an earlier, larger count may still be landing.
type fleetMonitor struct {
	t       testing.TB
	r       *haRig
	mu      sync.Mutex
	want    map[string]int
	ceiling map[string]int
	last    map[string]int // live instances by fleet at the last poll
	bad     []string
	polls   int
}

const monitorPeriod = 20 * time.Millisecond

func startFleetMonitor(t testing.TB, r *haRig) *fleetMonitor {
	m := &fleetMonitor{t: t, r: r, want: map[string]int{}, ceiling: map[string]int{}, last: map[string]int{}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(monitorPeriod)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				m.poll()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		m.check()
	})
	return m
}

// expect is called before a commit with every fleet's new count.
func (m *fleetMonitor) expect(counts map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for f, n := range counts {
		m.want[f] = n
		m.ceiling[f] = max(m.ceiling[f], n)
	}
}

func (m *fleetMonitor) poll() {
	live, err := m.observe(true)
	if err != nil {
		return // the emulator is gone at the end of the test
	}
	// A fleet at its count under a lowered ceiling: the ceiling comes down
	// if the rig is settled before and after a second look.
	m.mu.Lock()
	var lower []string
	for f, n := range live {
		if n == m.want[f] && m.ceiling[f] > n {
			lower = append(lower, f)
		}
	}
	m.mu.Unlock()
	if len(lower) == 0 || !m.r.settled() {
		return
	}
	again, err := m.observe(false)
	if err != nil || !m.r.settled() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range lower {
		if again[f] == m.want[f] {
			m.ceiling[f] = m.want[f]
		}
	}
}

// observe lists the instances once, records the violations it shows and
// returns the live instances by fleet; count says whether it counts as a
// poll (the one live waits for).
func (m *fleetMonitor) observe(count bool) (map[string]int, error) {
	instances, err := listInstances(m.r.emu.url)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	live := map[string]int{}
	holder := map[string]string{} // name -> the live instance's ID
	for _, in := range instances {
		fleet, _, ok := strings.Cut(in.InstanceName, "-")
		if _, known := m.want[fleet]; !ok || !known || !reconcile.Live(in.InstanceState) {
			continue
		}
		live[fleet]++
		if id, dup := holder[in.InstanceName]; dup {
			m.violate("%s is held by two live instances, %s and %s", in.InstanceName, id, in.InstanceId)
		}
		holder[in.InstanceName] = in.InstanceId
	}
	for f := range m.want {
		n := live[f]
		if n > m.ceiling[f] {
			m.violate("fleet %s has %d live instances, over its ceiling %d (count %d)", f, n, m.ceiling[f], m.want[f])
		}
	}
	if count {
		m.polls++
		m.last = live
	}
	return live, nil
}

func (m *fleetMonitor) violate(format string, args ...any) {
	msg := time.Now().Format("15:04:05.000 ") + fmt.Sprintf(format, args...)
	if len(m.bad) < 50 && (len(m.bad) == 0 || !strings.HasSuffix(m.bad[len(m.bad)-1], msg[13:])) {
		m.bad = append(m.bad, msg)
	}
}

// live is the live instances by fleet at the last poll, after a fresh one.
func (m *fleetMonitor) live() map[string]int {
	m.mu.Lock()
	n := m.polls
	m.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		m.mu.Lock()
		if m.polls > n {
			defer m.mu.Unlock()
			return maps.Clone(m.last)
		}
		m.mu.Unlock()
		time.Sleep(monitorPeriod / 2)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.last)
}

// ceilingOf is the fleet's ceiling now.
func (m *fleetMonitor) ceilingOf(fleet string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ceiling[fleet]
}

// check fails the test with every violation seen so far.
func (m *fleetMonitor) check() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.bad) > 0 {
		m.t.Errorf("the fleet monitor saw %d violations:\n%s", len(m.bad), strings.Join(m.bad, "\n"))
		m.bad = nil
	}
}
