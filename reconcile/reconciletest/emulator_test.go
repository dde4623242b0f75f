package reconciletest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// An attempt canceled after net/http reported it written (httptrace's
// WroteRequest, which fires once the request is in the transport's buffer)
// but before the buffer reached the connection never leaves the client.
// Quiesce must not wait for it: this is how TestChaos hung for 10 minutes
// (a delay fault's 50 ms attempt timeout closing the connection between the
// two, on a loaded machine).
func TestQuiesceSkipsAnAttemptThatNeverLeftTheClient(t *testing.T) {
	e := StartEmulator(t, emulator.Config{}, lighthouse.Options{})
	e.QuiesceTimeout = time.Second

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Once the request is in the transport's buffer, the attempt is
	// canceled, and the transport goes on only once it has given up on
	// the attempt and closed the connection (a closed connection refuses a
	// deadline): the buffer cannot be flushed any more.
	var c net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { c = i.Conn },
		WroteRequest: func(httptrace.WroteRequestInfo) {
			cancel()
			for c.SetWriteDeadline(time.Time{}) == nil {
				time.Sleep(time.Millisecond)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-TC-Action", lighthouse.ActionDescribeInstances)
	req.Header.Set("X-TC-Region", "ap-guangzhou")
	if resp, err := e.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the attempt was answered (%s), though it was canceled before it was sent", resp.Status)
	}
	if err := e.Quiesce(); err != nil {
		t.Fatalf("Quiesce waits for a request that never reached the server:\n%v", err)
	}
}

// A request the server holds (here a delay fault of a minute, with a client
// that waits) makes Quiesce give up after QuiesceTimeout and name it.
func TestQuiesceNamesTheRequestItWaitsFor(t *testing.T) {
	e := StartEmulator(t, emulator.Config{}, lighthouse.Options{RetryMax: -1})
	e.QuiesceTimeout = 100 * time.Millisecond
	e.Server.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultDelay, Delay: time.Minute, Count: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Client.DescribeInstancesPage(ctx, "ap-guangzhou", nil)
	}()
	defer func() { cancel(); <-done }()
	// Wait until the request reached the server.
	for {
		e.mu.Lock()
		n := len(e.sent)
		e.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	err := e.Quiesce()
	if err == nil || !strings.Contains(err.Error(), "request 1 (DescribeInstances in ap-guangzhou), sent ") ||
		!strings.Contains(err.Error(), "the client still waits for its answer") {
		t.Fatalf("Quiesce = %v, want an error naming request 1 (DescribeInstances in ap-guangzhou) that the client still waits for", err)
	}
	cancel()
	<-done
	if err := e.Quiesce(); err != nil {
		t.Fatalf("once the client went away the delay ends and the request is handled; Quiesce = %v", err)
	}
}
