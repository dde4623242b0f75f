//go:build full

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The HA measurements (docs/benchmarks.md, "Several hosts") are benchmarks,
// which a plain go test does not run, and build only with the tag full
// (see ha_e2e_test.go); each takes minutes:
//
//	go test -tags full ./cmd/lightkeeper/ -run '^$' -bench HA -benchtime 1x -ha.samples 10 -v -timeout 30m
var (
	haSamples  = flag.Int("ha.samples", 5, "SIGKILL failovers measured per lease TTL")
	haIdle     = flag.Duration("ha.idle", 60*time.Second, "how long the idle etcd traffic is measured")
	haTTLsFlag = flag.String("ha.ttls", "10s,2s", "lease TTLs to measure, comma-separated")
)

// BenchmarkHAFailover measures, per lease TTL, the time from SIGKILL of the
// leader to the first Lighthouse API call of the new leader, as the
// recording proxies in front of the emulator saw them (callLog). After each
// sample the killed daemon is started again, so there are always three.
// It reports the median as s/failover (and max-s/failover); -benchtime
// is not used: -ha.samples says how many.
func BenchmarkHAFailover(b *testing.B) {
	for _, ttl := range haTTLs(b) {
		b.Run(ttl.String(), func(t *testing.B) {
			r := newHARig(t, haOptions{leaseTTL: ttl, interval: time.Minute})
			var samples []time.Duration
			for i := range *haSamples {
				old := r.waitLeader(fmt.Sprintf("sample %d", i))
				// Kill at a random point of the keep-alive period (a third
				// of the TTL), after the followers have seen the leader.
				time.Sleep(time.Duration(rand.Int64N(int64(ttl / 3))))
				killed := old.kill()
				first := r.firstCallAfter(killed, old)
				d := first.at.Sub(killed)
				samples = append(samples, d)
				t.Logf("TTL %v sample %d: SIGKILL of %s -> first API call (%s) of %s after %v", ttl, i+1, old.id, first.action, first.daemon, d.Round(time.Millisecond))
				r.waitLeader("after the kill")
				old.start()
				r.waitLeader(old.id + " back")
			}
			slices.Sort(samples)
			var sum time.Duration
			for _, d := range samples {
				sum += d
			}
			t.Logf("TTL %v: %d samples, min %v, median %v, mean %v, max %v; all: %v", ttl, len(samples), samples[0].Round(time.Millisecond),
				samples[len(samples)/2].Round(time.Millisecond), (sum / time.Duration(len(samples))).Round(time.Millisecond),
				samples[len(samples)-1].Round(time.Millisecond), roundAll(samples))
			t.ReportMetric(samples[len(samples)/2].Seconds(), "s/failover")
			t.ReportMetric(samples[len(samples)-1].Seconds(), "max-s/failover")
			t.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkHAIdleTraffic measures what an idle cluster of three daemons
// (interval 1m, nothing to change) costs etcd: bytes and messages received
// and sent per second over -ha.idle, per lease TTL.
// It reports wire bytes and keep-alive messages per second.
func BenchmarkHAIdleTraffic(b *testing.B) {
	for _, ttl := range haTTLs(b) {
		b.Run(ttl.String(), func(t *testing.B) {
			r := newHARig(t, haOptions{leaseTTL: ttl, interval: time.Minute})
			r.waitLeader("start")
			r.waitSynced("start")
			time.Sleep(5 * time.Second) // the first cycles and the followers' reads settle
			before, err := r.etcd.Traffic()
			if err != nil {
				t.Fatal(err)
			}
			calls := len(r.calls.since(time.Time{}))
			time.Sleep(*haIdle)
			after, err := r.etcd.Traffic()
			if err != nil {
				t.Fatal(err)
			}
			d := after.Sub(before)
			span := after.At.Sub(before.At)
			rate := d.Rate(span)
			t.Logf("TTL %v, 3 daemons idle for %v: %v", ttl, span.Round(time.Millisecond), d)
			t.Logf("TTL %v per second: wire %.1f B/s received + %.1f B/s sent = %.1f B/s; gRPC %.1f messages/s received + %.1f sent; payload %.1f + %.1f B/s; %.3f unary calls/s",
				ttl, rate.WireReceivedBytes, rate.WireSentBytes, rate.WireReceivedBytes+rate.WireSentBytes,
				rate.ReceivedMessages, rate.SentMessages, rate.ReceivedBytes, rate.SentBytes, rate.Unary)
			t.Logf("Lighthouse API calls meanwhile: %d", len(r.calls.since(time.Time{}))-calls)
			t.ReportMetric(rate.WireReceivedBytes+rate.WireSentBytes, "wire-B/s")
			t.ReportMetric(rate.ReceivedMessages, "msgs-in/s")
			t.ReportMetric(0, "ns/op")
		})
	}
}

func haTTLs(t testing.TB) []time.Duration {
	t.Helper()
	var out []time.Duration
	for s := range strings.SplitSeq(*haTTLsFlag, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("-ha.ttls: %v", err)
		}
		out = append(out, d)
	}
	return out
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
