package daemon

import (
	"testing"
	"time"
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
