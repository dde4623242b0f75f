package lighthouse

import (
	"sort"
	"testing"
	"time"
)

func TestLimiterRates(t *testing.T) {
	l, err := newLimiters(map[string]float64{ActionDescribeInstances: 0, "ModifyInstancesAttribute": 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if lim := l.limiter(ActionCreateInstances, "ap-guangzhou"); lim == nil || lim.Limit() != 5 || lim.Burst() != 1 {
		t.Fatalf("CreateInstances bucket %v, want 5/s burst 1", lim)
	}
	first, second := l.limiter(ActionCreateInstances, "ap-guangzhou"), l.limiter(ActionCreateInstances, "ap-guangzhou")
	if first != second {
		t.Fatal("callers of one action and region must share one bucket")
	}
	if l.limiter(ActionCreateInstances, "ap-guangzhou") == l.limiter(ActionCreateInstances, "ap-shanghai") {
		t.Fatal("access points are limited separately, as the service counts them")
	}
	if l.limiter(ActionDescribeInstances, "ap-guangzhou") != nil {
		t.Fatal("a rate <= 0 must mean unlimited")
	}
	if lim := l.limiter("ModifyInstancesAttribute", ""); lim.Limit() != 3 {
		t.Fatalf("override ignored: %v", lim.Limit())
	}
	if lim := l.limiter("RebootInstances", ""); lim.Limit() != DefaultRateLimit {
		t.Fatalf("unknown action: %v, want DefaultRateLimit", lim.Limit())
	}
	if _, err := newLimiters(map[string]float64{"": 1}, 1); err == nil {
		t.Fatal("empty action name accepted")
	}
}

// maxInWindow schedules n requests arriving together on a bucket of rate
// r and the given burst (starting full) and returns the most that leave
// within any one-second window (less a millisecond: the bucket computes
// its delays in floating point, so 5 intervals of 200ms may sum to 999.999ms).
func maxInWindow(t *testing.T, r float64, burst, n int) int {
	t.Helper()
	l, _ := newLimiters(map[string]float64{"X": r}, burst)
	lim := l.limiter("X", "")
	t0 := time.Unix(1700000000, 0)
	var at []time.Duration
	for range n {
		res := lim.ReserveN(t0, 1)
		at = append(at, res.DelayFrom(t0))
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	best := 0
	for i := range at {
		j := i
		for j < len(at) && at[j]-at[i] < time.Second-time.Millisecond {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// TestBurstOneFitsAnyWindow shows why buckets have burst 1: no one-second
// window ever holds more than the rate, while burst N allows 2N-1.
func TestBurstOneFitsAnyWindow(t *testing.T) {
	if got := maxInWindow(t, 5, 1, 50); got != 5 {
		t.Fatalf("burst 1: %d requests in one second, want 5", got)
	}
	if got := maxInWindow(t, 5, 5, 50); got <= 5 {
		t.Fatalf("burst 5: %d requests in one second; expected the burst to exceed the rate", got)
	}
}

// The bucket key is the access point: the host of a global endpoint
// whatever the product region, the region of the regional endpoint.
func TestAccessPoint(t *testing.T) {
	cred := NewCredential("AKIDap", "key", "", "test")
	for _, tc := range []struct {
		endpoint string
		regions  []string // all share one access point
		other    string   // a region with another access point, or ""
	}{
		{EndpointDefault, []string{"ap-guangzhou", "ap-shanghai", "ap-singapore", ""}, ""},
		{EndpointIntl, []string{"ap-guangzhou", "ap-shanghai", "na-siliconvalley"}, ""},
		{"http://127.0.0.1:9100", []string{"ap-guangzhou", "ap-beijing", "ap-hongkong"}, ""},
		{EndpointRegional, []string{"ap-guangzhou"}, "ap-shanghai"},
	} {
		c, err := New(Options{Credential: cred, Endpoint: tc.endpoint})
		if err != nil {
			t.Fatal(err)
		}
		first := c.accessPoint(tc.regions[0])
		for _, r := range tc.regions[1:] {
			if got := c.accessPoint(r); got != first {
				t.Errorf("%s: region %q has access point %q, region %q %q; want one shared bucket", tc.endpoint, r, got, tc.regions[0], first)
			}
		}
		if tc.other != "" && c.accessPoint(tc.other) == first {
			t.Errorf("%s: regions %q and %q share access point %q; the regional endpoint is one access point per region", tc.endpoint, tc.regions[0], tc.other, first)
		}
	}
	def, _ := New(Options{Credential: cred})
	intl, _ := New(Options{Credential: cred, Endpoint: EndpointIntl})
	if def.accessPoint("ap-guangzhou") == intl.accessPoint("ap-guangzhou") {
		t.Error("the default and the international endpoints are different access points")
	}
}
