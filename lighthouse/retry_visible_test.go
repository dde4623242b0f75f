package lighthouse

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dnsClient is a client of https://lighthouse.invalid whose every dial
// fails with dnsErr; dials counts the attempts.
func dnsClient(t *testing.T, dnsErr *net.DNSError, dials *atomic.Int32, edit func(*Options)) *Client {
	t.Helper()
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, dnsErr
	}}
	return newTestClient(t, "https://lighthouse.invalid", testCred, func(o *Options) {
		o.HTTPClient = &http.Client{Transport: tr}
		o.RetryMax = 3
		if edit != nil {
			edit(o)
		}
	})
}

// TestNoSuchHostFailsFast: a host name that does not resolve is an answer,
// not a transient failure: the call fails after one attempt, permanent,
// saying so, instead of being retried quietly for half a minute.
func TestNoSuchHostFailsFast(t *testing.T) {
	var dials atomic.Int32
	var retries []Retry
	c := dnsClient(t, &net.DNSError{Err: "no such host", Name: "lighthouse.invalid", IsNotFound: true}, &dials,
		func(o *Options) { o.OnRetry = func(r Retry) { retries = append(retries, r) } })
	_, err := c.DescribeInstancesPage(context.Background(), "ap-guangzhou", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNetworkError || e.Attempts != 1 || ClassOf(err) != Permanent || e.Ambiguous {
		t.Fatalf("err = %v; want one attempt, %s, permanent, not ambiguous", err, CodeNetworkError)
	}
	if !strings.Contains(err.Error(), "does not resolve") || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("error %q does not say the host name does not resolve", err)
	}
	if dials.Load() != 1 || len(retries) != 0 {
		t.Errorf("%d dials, %d retries reported; want 1 and 0", dials.Load(), len(retries))
	}
}

// TestDNSFailureThatMayPassIsRetried: a DNS timeout or a temporary
// failure is not "no such host": it is retried, and each retry is
// reported to OnRetry before its wait.
func TestDNSFailureThatMayPassIsRetried(t *testing.T) {
	var dials atomic.Int32
	var retries []Retry
	c := dnsClient(t, &net.DNSError{Err: "server misbehaving", Name: "lighthouse.invalid", IsTemporary: true}, &dials,
		func(o *Options) { o.OnRetry = func(r Retry) { retries = append(retries, r) } })
	_, err := c.DescribeInstancesPage(context.Background(), "ap-guangzhou", nil)
	if ErrorCode(err) != CodeNetworkError || ClassOf(err) != RetrySame || dials.Load() != 4 {
		t.Fatalf("err = %v after %d dials; want %s, retry-same, after 4", err, dials.Load(), CodeNetworkError)
	}
	if len(retries) != 3 {
		t.Fatalf("%d retries reported, want 3", len(retries))
	}
	for i, r := range retries {
		if r.Attempt != i+1 || r.MaxAttempts != 4 || r.Action != ActionDescribeInstances || r.Region != "ap-guangzhou" ||
			r.Err == nil || r.Err.Code != CodeNetworkError || r.Wait < time.Millisecond/2 || r.Wait > 4*time.Millisecond {
			t.Errorf("retry %d = %+v", i, r)
		}
	}
}

// TestOnRetrySaysWhatIsRetried: a refused connection is retried, and the
// caller hears of each retry in a line fit for a terminal.
func TestOnRetrySaysWhatIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var lines []string
	c := newTestClient(t, "http://"+addr, testCred, func(o *Options) {
		o.RetryMax = 2
		o.OnRetry = func(r Retry) { lines = append(lines, r.String()) }
	})
	if _, err := c.DescribeZones(context.Background(), "ap-guangzhou", nil); ClassOf(err) != RetrySame {
		t.Fatalf("err = %v, want a retry-same failure", err)
	}
	if len(lines) != 2 {
		t.Fatalf("OnRetry called %d times, want 2: %q", len(lines), lines)
	}
	for i, l := range lines {
		want := []string{"DescribeZones in ap-guangzhou: ClientError.NetworkError", "refused", "attempt " + string(rune('2'+i)) + " of 3 in "}
		for _, w := range want {
			if !strings.Contains(l, w) {
				t.Errorf("line %d %q lacks %q", i, l, w)
			}
		}
	}
}
