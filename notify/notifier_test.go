package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor bounds how long a test waits for a worker; tests never pass or
// fail on timing, only time out.
const waitFor = 30 * time.Second

// recorder is a Sink that records what it is sent (a fake for the logic of
// the Notifier; the HTTP sinks are tested against real servers).
type recorder struct {
	name string
	mu   sync.Mutex
	got  []Event
	ch   chan Event
}

func newRecorder(name string) *recorder { return &recorder{name: name, ch: make(chan Event, 100)} }

func (r *recorder) Name() string { return r.name }

func (r *recorder) Send(_ context.Context, ev Event) error {
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
	r.ch <- ev
	return nil
}

// next returns the next event the sink gets.
func (r *recorder) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitFor):
		t.Fatalf("%s: no event after %v", r.name, waitFor)
		return Event{}
	}
}

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// flush waits until every queue of n is empty and its worker idle: it
// sends a marker through each route and waits for it.
func flush(t *testing.T, n *Notifier, sinks ...*recorder) {
	t.Helper()
	for i, s := range sinks {
		n.queues[i].push(Event{Kind: "flush", Key: "flush"})
		if ev := s.next(t); ev.Kind != "flush" {
			t.Fatalf("%s got %s %s, want nothing before the flush marker", s.name, ev.Status, ev.Key)
		}
	}
}

func cond(key, fp string, sev Severity) Event {
	return Event{Kind: key, Key: key, Fingerprint: fp, Severity: sev, Summary: key + " holds"}
}

// TestConditionsNotifyOnChangeRepeatAndResolve: a condition is sent when
// it starts, not again while it holds unchanged, again at once when its
// fingerprint changes, again after the repeat interval, and resolved when
// a later call of its scope no longer lists it; another scope's call
// leaves it alone.
func TestConditionsNotifyOnChangeRepeatAndResolve(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := newRecorder("rec")
	n, err := New(Options{Routes: []Route{{Sink: rec, Repeat: time.Hour}}, Now: clk.Now, PublicURL: "https://lk.example/"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	n.Conditions("plan", []Event{cond("plan.held", "p1", Warning)})
	ev := rec.next(t)
	if ev.Status != Firing || ev.Key != "plan.held" || ev.Repeat || !ev.Since.Equal(clk.Now()) || ev.URL != "https://lk.example/" {
		t.Fatalf("first: %+v", ev)
	}
	start := clk.Now()

	clk.add(time.Minute)
	n.Conditions("plan", []Event{cond("plan.held", "p1", Warning)})
	n.Conditions("revision", nil) // another scope: resolves nothing of plan
	flush(t, n, rec)

	clk.add(time.Minute)
	n.Conditions("plan", []Event{cond("plan.held", "p2", Warning)})
	if ev := rec.next(t); ev.Fingerprint != "p2" || ev.Repeat || !ev.Since.Equal(start) {
		t.Fatalf("changed: %+v (since %v, want %v)", ev, ev.Since, start)
	}

	clk.add(59 * time.Minute)
	n.Conditions("plan", []Event{cond("plan.held", "p2", Warning)})
	flush(t, n, rec)
	clk.add(time.Minute)
	n.Conditions("plan", []Event{cond("plan.held", "p2", Warning)})
	if ev := rec.next(t); !ev.Repeat || ev.Status != Firing {
		t.Fatalf("after the repeat interval: %+v", ev)
	}

	clk.add(time.Minute)
	n.Conditions("plan", nil)
	ev = rec.next(t)
	if ev.Status != Resolved || ev.Key != "plan.held" || !ev.At.Equal(clk.Now()) || !ev.Since.Equal(start) {
		t.Fatalf("resolved: %+v", ev)
	}
	n.Conditions("plan", nil)
	flush(t, n, rec)
	if got := n.Active(); len(got) != 0 {
		t.Errorf("active after the resolution: %+v", got)
	}
}

// TestRoutesFilterByKindSeverityAndConditions: a route takes the kinds it
// lists at or above its severity; a ConditionsOnly route takes no one-off
// event; a condition whose severity falls below a route's minimum is
// resolved there.
func TestRoutesFilterByKindSeverityAndConditions(t *testing.T) {
	all, heldOnly, critical, alerts := newRecorder("all"), newRecorder("held"), newRecorder("critical"), newRecorder("alerts")
	n, err := New(Options{Routes: []Route{
		{Sink: all},
		{Sink: heldOnly, Kinds: []string{"plan.held"}},
		{Sink: critical, MinSeverity: Critical},
		{Sink: alerts, ConditionsOnly: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	n.Notify(Event{Kind: "revision.applied", Severity: Info, Summary: "applied"})
	n.Conditions("s", []Event{cond("plan.held", "", Warning), cond("revision.invalid", "", Critical)})

	kinds := func(r *recorder, k int) []string {
		var out []string
		for range k {
			ev := r.next(t)
			out = append(out, string(ev.Status)+" "+ev.Kind)
		}
		return out
	}
	if got := kinds(all, 3); !slices.Equal(got, []string{"event revision.applied", "firing plan.held", "firing revision.invalid"}) {
		t.Errorf("all: %v", got)
	}
	if got := kinds(heldOnly, 1); !slices.Equal(got, []string{"firing plan.held"}) {
		t.Errorf("held: %v", got)
	}
	if got := kinds(critical, 1); !slices.Equal(got, []string{"firing revision.invalid"}) {
		t.Errorf("critical: %v", got)
	}
	if got := kinds(alerts, 2); !slices.Equal(got, []string{"firing plan.held", "firing revision.invalid"}) {
		t.Errorf("alerts: %v", got)
	}
	flush(t, n, all, heldOnly, critical, alerts)

	// revision.invalid falls to warning: the critical route sees it end.
	n.Conditions("s", []Event{cond("plan.held", "", Warning), cond("revision.invalid", "", Warning)})
	if ev := critical.next(t); ev.Status != Resolved || ev.Kind != "revision.invalid" {
		t.Errorf("critical: %+v", ev)
	}
	if ev := all.next(t); ev.Status != Firing || ev.Kind != "revision.invalid" || ev.Severity != Warning {
		t.Errorf("all: %+v", ev)
	}
}

// TestForgetDropsWithoutResolving: a forgotten scope sends no resolution,
// and its conditions are new again afterwards.
func TestForgetDropsWithoutResolving(t *testing.T) {
	rec := newRecorder("rec")
	n, err := New(Options{Routes: []Route{{Sink: rec}}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	n.Conditions("plan", []Event{cond("plan.held", "p", Warning)})
	rec.next(t)
	n.Forget("plan")
	n.Conditions("plan", nil)
	flush(t, n, rec)
	n.Conditions("plan", []Event{cond("plan.held", "p", Warning)})
	if ev := rec.next(t); ev.Status != Firing || ev.Repeat {
		t.Errorf("after Forget: %+v", ev)
	}
}

// TestPreviousCarriesWhatWasSent: a Notifier that replaces another (a
// reload) sends nothing again for the conditions the other sent to a sink
// of the same name, and resolves them when they clear.
func TestPreviousCarriesWhatWasSent(t *testing.T) {
	rec := newRecorder("rec")
	old, err := New(Options{Routes: []Route{{Sink: rec}}})
	if err != nil {
		t.Fatal(err)
	}
	old.Conditions("plan", []Event{cond("plan.held", "p", Warning)})
	rec.next(t)
	if err := old.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Routes: []Route{{Sink: rec}}, Previous: old})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	n.Conditions("plan", []Event{cond("plan.held", "p", Warning)})
	flush(t, n, rec)
	n.Conditions("plan", nil)
	if ev := rec.next(t); ev.Status != Resolved {
		t.Errorf("after the reload: %+v", ev)
	}
}

// blocking is a Sink whose Send waits until released or its context ends.
type blocking struct {
	release chan struct{}
	started chan struct{}
}

func (b *blocking) Name() string { return "blocking" }
func (b *blocking) Send(ctx context.Context, _ Event) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestFullQueueDropsTheOldest: with the sink stuck, Notify still returns
// at once; past the queue's size the oldest events are dropped and
// counted; Close's grace ends, dropping the rest.
func TestFullQueueDropsTheOldest(t *testing.T) {
	b := &blocking{release: make(chan struct{}), started: make(chan struct{}, 1)}
	var mu sync.Mutex
	counts := map[string]int{}
	n, err := New(Options{Routes: []Route{{Sink: b}}, QueueSize: 3, Timeout: time.Hour,
		Observe: func(sink, result string) { mu.Lock(); counts[sink+" "+result]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(Event{Kind: "e", Summary: "0"})
	<-b.started // the worker holds event 0
	for i := 1; i <= 10; i++ {
		n.Notify(Event{Kind: "e", Summary: string(rune('0' + i))})
	}
	if l := n.queues[0].length(); l != 3 {
		t.Errorf("queue holds %d, want 3", l)
	}
	n.queues[0].mu.Lock()
	var kept []string
	for _, ev := range n.queues[0].items {
		kept = append(kept, ev.Summary)
	}
	n.queues[0].mu.Unlock()
	if want := []string{"8", "9", ":"}; !slices.Equal(kept, want) {
		t.Errorf("kept %q, want the newest %q", kept, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); err == nil {
		t.Error("Close: nil, want an error for the events dropped")
	}
	mu.Lock()
	defer mu.Unlock()
	// 7 dropped for the queue, the one in flight and the 3 queued at the
	// end of the grace.
	if counts["blocking dropped"] != 11 || counts["blocking sent"] != 0 {
		t.Errorf("counts %v", counts)
	}
}

// failing fails its first n attempts with err.
type failing struct {
	mu    sync.Mutex
	n     int
	err   error
	tries int
}

func (f *failing) Name() string { return "failing" }
func (f *failing) Send(context.Context, Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.tries <= f.n {
		return f.err
	}
	return nil
}

// TestRetriesAndPermanentErrors: a failed attempt is retried up to
// MaxAttempts; a Permanent error is not retried.
func TestRetriesAndPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fails         int
		err           error
		tries         int
		sent, retried int
		failed        int
	}{
		{"recovers", 2, errors.New("boom"), 3, 1, 2, 0},
		{"gives up", 9, errors.New("boom"), 4, 0, 3, 1},
		{"permanent", 9, Permanent(errors.New("no")), 1, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &failing{n: tc.fails, err: tc.err}
			var mu sync.Mutex
			counts := map[string]int{}
			n, err := New(Options{Routes: []Route{{Sink: f}}, MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
				Observe: func(_, result string) { mu.Lock(); counts[result]++; mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			n.Notify(Event{Kind: "e"})
			if err := n.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if f.tries != tc.tries || counts[ResultSent] != tc.sent || counts[ResultRetried] != tc.retried || counts[ResultFailed] != tc.failed {
				t.Errorf("tries %d, counts %v; want tries %d, sent %d, retried %d, failed %d", f.tries, counts, tc.tries, tc.sent, tc.retried, tc.failed)
			}
		})
	}
}
