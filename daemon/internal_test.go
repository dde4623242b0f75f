package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/gitsync"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

func TestBackoff(t *testing.T) {
	d := &Daemon{opts: Options{Interval: time.Minute, MinBackoff: 5 * time.Second, MaxBackoff: time.Minute, Jitter: -1}}
	var got []time.Duration
	for range 6 {
		w, why := d.nextWait(false)
		if why != "retry" {
			t.Fatalf("reason %q", why)
		}
		got = append(got, w)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	if w, why := d.nextWait(true); w != time.Minute || why != "interval" || d.failures != 0 {
		t.Fatalf("after success: %v %q, failures %d", w, why, d.failures)
	}
	if w, _ := d.nextWait(false); w != 5*time.Second {
		t.Fatalf("a success did not reset the backoff: %v", w)
	}
}

func TestJitter(t *testing.T) {
	d := &Daemon{opts: Options{Jitter: time.Second}}
	for range 100 {
		if w := d.jitter(time.Minute); w < time.Minute || w >= time.Minute+time.Second {
			t.Fatalf("jittered wait %v outside [1m, 1m1s)", w)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                               "just now",
		-3 * time.Second:                "just now",
		-40 * time.Second:               "40 s ago",
		-3*time.Minute - 20*time.Second: "3 min ago",
		-2*time.Hour - 5*time.Minute:    "2 h 5 min ago",
		-5 * time.Hour:                  "5 h ago",
		-50 * time.Hour:                 "2 days ago",
		27*24*time.Hour + time.Hour:     "in 27 days",
		90 * time.Second:                "in 1 min",
	} {
		if got := relative(now.Add(d), now); got != want {
			t.Errorf("relative(now%+v) = %q, want %q", d, got, want)
		}
	}
}

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		m    reconcile.Money
		v    float64
		want string
	}{
		{reconcile.Money{Currency: "CNY"}, 1245, "1245.00 CNY"},
		{reconcile.Money{Currency: "USD"}, -3.5, "-3.50 USD"},
		{reconcile.Money{}, 0, "0.00"},
		{reconcile.Money{Unknown: true}, 0, "0.00 (currency unknown), some prices unknown"},
		{reconcile.Money{Currency: "CNY", Unknown: true}, 35, "35.00 CNY, some prices unknown"},
	} {
		if got := money(tc.m, tc.v); got != tc.want {
			t.Errorf("money(%+v, %v) = %q, want %q", tc.m, tc.v, got, tc.want)
		}
	}
}

// TestAddEvents: a cycle's events go first, newest first; a cycle that
// makes what the one before it made counts them again; at most MaxEvents
// are kept.
func TestAddEvents(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(cycle int, kind, msg string) Event {
		return Event{At: at.Add(time.Duration(cycle) * time.Minute), Cycle: cycle, Kind: kind, Message: msg}
	}
	var list []Event
	list = addEvents(list, []Event{ev(1, EventRevision, "loaded"), ev(1, EventCycle, "success")})
	list = addEvents(list, []Event{ev(2, EventFailure, "sold out"), ev(2, EventCycle, "partial")})
	list = addEvents(list, []Event{ev(3, EventFailure, "sold out"), ev(3, EventCycle, "partial")})
	list = addEvents(list, []Event{ev(4, EventFailure, "sold out"), ev(4, EventCycle, "partial")})
	if len(list) != 4 || list[0].Message != "partial" || list[0].Repeats != 2 || list[0].Cycle != 4 || !list[0].At.Equal(at.Add(4*time.Minute)) ||
		list[1].Message != "sold out" || list[1].Repeats != 2 || list[2].Message != "success" || list[3].Message != "loaded" {
		t.Fatalf("after a failure three times: %+v", list)
	}
	// Only part of the last cycle's events: not a repeat.
	list = addEvents(list, []Event{ev(5, EventCycle, "partial")})
	if len(list) != 5 || list[0].Repeats != 0 || list[0].Cycle != 5 {
		t.Fatalf("a cycle without the failure: %+v", list)
	}
	for i := 6; i < 100; i++ {
		list = addEvents(list, []Event{ev(i, EventCreate, fmt.Sprintf("created %d", i))})
	}
	if len(list) != MaxEvents || list[0].Cycle != 99 || list[MaxEvents-1].Cycle != 99-MaxEvents+1 {
		t.Fatalf("%d events, newest %d, oldest %d; want the last %d", len(list), list[0].Cycle, list[len(list)-1].Cycle, MaxEvents)
	}
}

// expecting is a git source that notes what a push told it.
type expecting struct {
	gitsync.Source
	told []string
}

func (e *expecting) Expect(commit string) { e.told = append(e.told, commit) }

// TestRelayTellsThePushedCommit: a verified push tells the git source its
// commit before it triggers the cycle (gitsync.Expecter).
func TestRelayTellsThePushedCommit(t *testing.T) {
	src := &expecting{}
	r := &relay{src: src}
	const c = "0123456789abcdef0123456789abcdef01234567"
	r.push(gitsync.Push{Ref: "refs/heads/main", After: c})
	if len(src.told) != 1 || src.told[0] != c {
		t.Fatalf("the source was told %q, want %s", src.told, c)
	}
}
