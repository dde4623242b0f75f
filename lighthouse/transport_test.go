package lighthouse

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var testCred = NewCredential("AKIDtransport0001", "transport-secret-key-XYZ", "", "test")

// scriptServer answers the i-th request (from 0) with script(i, w, r).
func scriptServer(t *testing.T, script func(i int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		script(int(n.Add(1))-1, w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func envelopeError(w http.ResponseWriter, code string) {
	io.WriteString(w, `{"Response":{"Error":{"Code":"`+code+`","Message":"msg for `+code+`"},"RequestId":"req-`+code+`"}}`)
}

const okDescribe = `{"Response":{"TotalCount":0,"InstanceSet":[],"RequestId":"req-ok"}}`
const okCreate = `{"Response":{"InstanceIdSet":["lhins-aaaaaaaa"],"RequestId":"req-ok"}}`

func createReq(token string) *CreateInstancesRequest {
	return &CreateInstancesRequest{
		BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
		InstanceChargePrepaid: &InstanceChargePrepaid{Period: 1}, ClientToken: token,
	}
}

func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		first     func(w http.ResponseWriter) // answer to every failing attempt
		failures  int                         // attempts answered with first, then success
		token     string
		create    bool
		wantCalls int
		wantCode  string
		wantClass Class
		ambiguous bool
	}{
		{name: "rate limit ridden out", first: func(w http.ResponseWriter) { envelopeError(w, "RequestLimitExceeded") }, failures: 3, wantCalls: 4},
		{name: "rate limit sub-code", first: func(w http.ResponseWriter) { envelopeError(w, "RequestLimitExceeded.UinLimitExceeded") }, failures: 2, wantCalls: 3},
		{name: "rate limit IP sub-code", first: func(w http.ResponseWriter) { envelopeError(w, "RequestLimitExceeded.IPLimitExceeded") }, failures: 2, wantCalls: 3},
		{name: "LimitExceeded.RateLimitExceeded", first: func(w http.ResponseWriter) { envelopeError(w, "LimitExceeded.RateLimitExceeded") }, failures: 2, wantCalls: 3},
		{name: "ServiceUnavailable with HTTP 200", first: func(w http.ResponseWriter) { envelopeError(w, "ServiceUnavailable") }, failures: 2, wantCalls: 3},
		{name: "quota is not a rate limit", first: func(w http.ResponseWriter) { envelopeError(w, "LimitExceeded.InstanceQuotaLimitExceeded") }, failures: 100, wantCalls: 1, wantCode: "LimitExceeded.InstanceQuotaLimitExceeded", wantClass: Permanent},
		{name: "create without token retries LimitExceeded.RateLimitExceeded", create: true, first: func(w http.ResponseWriter) { envelopeError(w, "LimitExceeded.RateLimitExceeded") }, failures: 2, wantCalls: 3},
		{name: "create without token stops on ServiceUnavailable", create: true, first: func(w http.ResponseWriter) { envelopeError(w, "ServiceUnavailable") }, failures: 100, wantCalls: 1, wantCode: "ServiceUnavailable", wantClass: Permanent, ambiguous: true},
		{name: "internal error", first: func(w http.ResponseWriter) { envelopeError(w, "InternalError") }, failures: 2, wantCalls: 3},
		{name: "http 502", first: func(w http.ResponseWriter) { w.WriteHeader(502) }, failures: 2, wantCalls: 3},
		{name: "budget exhausted", first: func(w http.ResponseWriter) { envelopeError(w, "InternalError") }, failures: 100, wantCalls: 4, wantCode: "InternalError", wantClass: RetrySame},
		{name: "permanent", first: func(w http.ResponseWriter) { envelopeError(w, "InvalidParameterValue.InvalidZone") }, failures: 100, wantCalls: 1, wantCode: "InvalidParameterValue.InvalidZone", wantClass: Permanent},
		{name: "auth", first: func(w http.ResponseWriter) { envelopeError(w, "AuthFailure.SignatureFailure") }, failures: 100, wantCalls: 1, wantCode: "AuthFailure.SignatureFailure", wantClass: Permanent},
		{name: "retry later", first: func(w http.ResponseWriter) { envelopeError(w, "OperationDenied.InstanceCreating") }, failures: 100, wantCalls: 1, wantCode: "OperationDenied.InstanceCreating", wantClass: RetryLater},
		{name: "http 403", first: func(w http.ResponseWriter) { w.WriteHeader(403) }, failures: 100, wantCalls: 1, wantCode: CodeHTTPStatusError, wantClass: Permanent},
		{name: "garbage", first: func(w http.ResponseWriter) { io.WriteString(w, "<html>") }, failures: 100, wantCalls: 1, wantCode: CodeParseJSONError, wantClass: Permanent},
		{name: "create with token retries internal error", create: true, token: "t", first: func(w http.ResponseWriter) { envelopeError(w, "InternalError") }, failures: 2, wantCalls: 3},
		{name: "create without token retries rate limit", create: true, first: func(w http.ResponseWriter) { envelopeError(w, "RequestLimitExceeded") }, failures: 2, wantCalls: 3},
		{name: "create without token stops on internal error", create: true, first: func(w http.ResponseWriter) { envelopeError(w, "InternalError") }, failures: 100, wantCalls: 1, wantCode: "InternalError", wantClass: Permanent, ambiguous: true},
		{name: "http 503 with an envelope", first: func(w http.ResponseWriter) { w.WriteHeader(503); envelopeError(w, "ServiceUnavailable") }, failures: 2, wantCalls: 3},
		{name: "create without token stops on 503 with an envelope", create: true, first: func(w http.ResponseWriter) { w.WriteHeader(503); envelopeError(w, "ServiceUnavailable") }, failures: 100, wantCalls: 1, wantCode: "ServiceUnavailable", wantClass: Permanent, ambiguous: true},
		{name: "create with token retries 500 with an envelope", create: true, token: "t", first: func(w http.ResponseWriter) { w.WriteHeader(500); envelopeError(w, "FailedOperation") }, failures: 100, wantCalls: 4, wantCode: "FailedOperation", wantClass: RetrySame, ambiguous: true},
		{name: "create without token stops on 502", create: true, first: func(w http.ResponseWriter) { w.WriteHeader(502) }, failures: 100, wantCalls: 1, wantCode: CodeHTTPStatusError, wantClass: Permanent, ambiguous: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
				if i < c.failures {
					c.first(w)
					return
				}
				if c.create {
					io.WriteString(w, okCreate)
				} else {
					io.WriteString(w, okDescribe)
				}
			})
			cl := newTestClient(t, srv.URL, testCred, func(o *Options) { o.RetryMax = 3 })
			var err error
			if c.create {
				_, err = cl.CreateInstances(ctx, "ap-guangzhou", createReq(c.token))
			} else {
				_, err = cl.DescribeInstancesPage(ctx, "ap-guangzhou", &DescribeInstancesRequest{})
			}
			if got := int(n.Load()); got != c.wantCalls {
				t.Errorf("server saw %d attempts, want %d", got, c.wantCalls)
			}
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *Error", err)
			}
			if e.Code != c.wantCode || e.Class() != c.wantClass || e.Attempts != c.wantCalls || e.Ambiguous != c.ambiguous {
				t.Fatalf("got code %s class %v attempts %d ambiguous %v; want %s %v %d %v (%v)", e.Code, e.Class(), e.Attempts, e.Ambiguous, c.wantCode, c.wantClass, c.wantCalls, c.ambiguous, err)
			}
			if e.Action == "" || e.Region != "ap-guangzhou" {
				t.Fatalf("error lacks action/region: %+v", e)
			}
		})
	}
}

// hijackDrop closes the connection without answering, as a lost response.
func hijackDrop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestLostResponse(t *testing.T) {
	ctx := context.Background()
	drops := func(k int) func(int, http.ResponseWriter, *http.Request) {
		return func(i int, w http.ResponseWriter, r *http.Request) {
			if i < k {
				hijackDrop(w)
				return
			}
			io.WriteString(w, okCreate)
		}
	}
	t.Run("with token: retried", func(t *testing.T) {
		srv, n := scriptServer(t, drops(2))
		cl := newTestClient(t, srv.URL, testCred)
		if _, err := cl.CreateInstances(ctx, "ap-guangzhou", createReq("tok")); err != nil {
			t.Fatal(err)
		}
		if n.Load() != 3 {
			t.Fatalf("%d attempts, want 3", n.Load())
		}
	})
	t.Run("without token: not retried", func(t *testing.T) {
		srv, n := scriptServer(t, drops(2))
		cl := newTestClient(t, srv.URL, testCred)
		_, err := cl.CreateInstances(ctx, "ap-guangzhou", createReq(""))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeNetworkError || !e.Ambiguous || e.Class() != Permanent {
			t.Fatalf("err = %v", err)
		}
		if n.Load() != 1 {
			t.Fatalf("%d attempts, want 1: a create without token must not be repeated once sent", n.Load())
		}
		if !strings.Contains(err.Error(), "ClientToken") {
			t.Fatalf("message does not say why: %v", err)
		}
	})
	t.Run("without token: retried when never sent", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // connection refused: the request cannot have reached anyone
		cl := newTestClient(t, "http://"+addr, testCred, func(o *Options) { o.RetryMax = 2 })
		_, err = cl.CreateInstances(ctx, "ap-guangzhou", createReq(""))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeNetworkError || e.Ambiguous || e.Attempts != 3 || e.Class() != RetrySame {
			t.Fatalf("err = %v (%+v)", err, e)
		}
	})
}

func TestCancelStopsBackoff(t *testing.T) {
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		envelopeError(w, "InternalError")
	})
	seen := make(chan struct{}, 10) // one per attempt checked by the client
	cl := newTestClient(t, srv.URL, testCred, func(o *Options) {
		o.RetryWaitMin, o.RetryWaitMax = time.Hour, time.Hour
		o.Logger = slog.New(notifyHandler{seen})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cl.CreateInstances(ctx, "ap-guangzhou", createReq("tok"))
		done <- err
	}()
	<-seen
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not return after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled inside", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "InternalError" || e.Attempts != 1 || ClassOf(err) != Permanent {
		t.Fatalf("err = %v; want the last attempt's InternalError after 1 attempt", err)
	}
	if n.Load() != 1 {
		t.Fatalf("%d attempts", n.Load())
	}
}

// notifyHandler signals once per log record.
type notifyHandler struct{ ch chan<- struct{} }

func (h notifyHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h notifyHandler) Handle(context.Context, slog.Record) error {
	h.ch <- struct{}{}
	return nil
}
func (h notifyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h notifyHandler) WithGroup(string) slog.Handler      { return h }

func TestRateLimitWaitHonoursDeadline(t *testing.T) {
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, okDescribe) })
	cl := newTestClient(t, srv.URL, testCred, func(o *Options) { o.RateLimits = map[string]float64{ActionDescribeInstances: 0.001} })
	if _, err := cl.DescribeInstancesPage(context.Background(), "ap-guangzhou", &DescribeInstancesRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := cl.DescribeInstancesPage(ctx, "ap-guangzhou", &DescribeInstancesRequest{})
	if !errors.Is(err, context.DeadlineExceeded) || n.Load() != 1 {
		t.Fatalf("err = %v after %d requests; want a deadline error without sending", err, n.Load())
	}
}

func TestEndpoints(t *testing.T) {
	for ep, ok := range map[string]bool{
		"":                                      true,
		EndpointDefault:                         true,
		EndpointRegional:                        true,
		EndpointIntl:                            true,
		"http://127.0.0.1:8080":                 true,
		"http://127.9.9.9:1/":                   true,
		"http://[::1]:8080":                     true,
		"http://localhost:8080":                 true,
		"http://lighthouse.tencentcloudapi.com": false,
		"http://10.0.0.1:8080":                  false,
		"http://localhost.evil.example":         false,
		"ftp://127.0.0.1":                       false,
		"https://host/path":                     false,
		"https://user:pw@host":                  false,
		"https://host?x=1":                      false,
		"127.0.0.1:8080":                        false,
	} {
		_, err := New(Options{Credential: testCred, Endpoint: ep})
		if (err == nil) != ok {
			t.Errorf("endpoint %q: err = %v, want ok=%v", ep, err, ok)
		}
	}
	c, _ := New(Options{Credential: testCred, Endpoint: EndpointRegional})
	if got := c.url("ap-singapore"); got != "https://lighthouse.ap-singapore.tencentcloudapi.com/" {
		t.Errorf("regional url = %s", got)
	}
	if got := c.url(""); got != EndpointDefault+"/" {
		t.Errorf("region-less url = %s", got)
	}
	if _, err := c.DescribeZones(context.Background(), "evil.example/x", nil); err == nil {
		t.Error("a region that is not a region name was accepted")
	}
	if _, err := New(Options{Endpoint: EndpointDefault}); err == nil {
		t.Error("a client without credentials was accepted")
	}
}

func TestLogsAndErrorsKeepSecrets(t *testing.T) {
	const password = "Pa55word-Never-Log-77"
	srv, _ := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			hijackDrop(w)
			return
		}
		envelopeError(w, "UnsupportedOperation.InstanceLinuxUnixCreatingNotSupportPassword")
	})
	var logs logBuffer
	cl := newTestClient(t, srv.URL, testCred, func(o *Options) { o.Logger = logs.logger() })
	req := createReq("tok-secret-scan")
	req.LoginConfiguration = &LoginConfiguration{Password: password}
	_, err := cl.CreateInstances(context.Background(), "ap-guangzhou", req)
	if err == nil {
		t.Fatal("want an error")
	}
	out := logs.String()
	for _, want := range []string{"action=CreateInstances", "region=ap-guangzhou", "attempt=1", "attempt=2", "code=ClientError.NetworkError", "code=UnsupportedOperation.", "request_id=req-", "latency="} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{testCred.SecretKey(), password} {
		if strings.Contains(out, secret) || strings.Contains(err.Error(), secret) {
			t.Fatalf("secret %q leaked:\nlog: %s\nerr: %v", secret, out, err)
		}
	}
}

func TestJitterBackoff(t *testing.T) {
	min, max := 500*time.Millisecond, 15*time.Second
	for n, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, max, max} {
		for range 200 {
			got := jitterBackoff(min, max, n, nil)
			if got < want/2 || got > want {
				t.Fatalf("retry %d: waited %v, want within [%v, %v]", n, got, want/2, want)
			}
		}
	}
	if got := jitterBackoff(10*time.Minute, time.Hour, 200, nil); got < 30*time.Minute || got > time.Hour {
		t.Fatalf("a late retry must stay capped, got %v", got)
	}
}

// TestAttemptTimeoutStartsAfterRateLimitWait: the per-attempt timeout
// bounds the HTTP exchange, not the queueing for the rate limit before it.
// A call queued behind the rate limit for longer than AttemptTimeout must
// still be sent (and get its whole AttemptTimeout), not fail unsent.
func TestAttemptTimeoutStartsAfterRateLimitWait(t *testing.T) {
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, okDescribe) })
	for _, viaHTTPClient := range []bool{false, true} {
		cl := newTestClient(t, srv.URL, testCred, func(o *Options) {
			o.RateLimits = map[string]float64{ActionDescribeInstances: 1 / 1.6} // the second call waits 1.6 s
			if viaHTTPClient {
				o.HTTPClient = &http.Client{Timeout: time.Second}
			} else {
				o.AttemptTimeout = time.Second
			}
		})
		for i := range 2 {
			if _, err := cl.DescribeInstancesPage(context.Background(), "ap-guangzhou", &DescribeInstancesRequest{}); err != nil {
				t.Fatalf("HTTPClient %v, call %d: %v", viaHTTPClient, i+1, err)
			}
		}
	}
	if n.Load() != 4 {
		t.Errorf("%d requests reached the server; want 4", n.Load())
	}
}

// TestUndecodableSuccessIsAmbiguous: a create answered with a success
// envelope (a RequestId, no Error) whose fields do not decode has been
// carried out; the error must say so, or a caller could buy again.
func TestUndecodableSuccessIsAmbiguous(t *testing.T) {
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Response":{"InstanceIdSet":"lhins-aaaaaaaa","RequestId":"req-odd"}}`)
	})
	cl := newTestClient(t, srv.URL, testCred)
	_, err := cl.CreateInstances(context.Background(), "ap-guangzhou", createReq(""))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeParseJSONError || !e.Ambiguous || e.RequestId != "req-odd" || n.Load() != 1 {
		t.Fatalf("err = %#v after %d attempts; want an ambiguous %s with the RequestId, not repeated", err, n.Load(), CodeParseJSONError)
	}
	if ClassOf(err) != Permanent {
		t.Fatalf("class %v; want permanent (repeating cannot help)", ClassOf(err))
	}
}

// TestAmbiguityOutlivesLaterAttempts: once an attempt of a mutating call
// may have been carried out, a later attempt's definite failure does not
// make the call's outcome definite: a create retried with its token after
// a lost response, then refused (quota, a busy instance), may still have
// bought the server on the first attempt.
func TestAmbiguityOutlivesLaterAttempts(t *testing.T) {
	for _, code := range []string{"LimitExceeded.InstanceQuotaLimitExceeded", "UnsupportedOperation.LatestOperationUnfinished"} {
		srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
			if i == 0 {
				hijackDrop(w)
				return
			}
			envelopeError(w, code)
		})
		cl := newTestClient(t, srv.URL, testCred)
		_, err := cl.CreateInstances(context.Background(), "ap-guangzhou", createReq("tok"))
		var e *Error
		if !errors.As(err, &e) || e.Code != code || !e.Ambiguous || n.Load() != 2 {
			t.Fatalf("%s: err = %v (ambiguous %v) after %d attempts; want %s, ambiguous, after 2", code, err, e != nil && e.Ambiguous, n.Load(), code)
		}
		if !strings.Contains(err.Error(), "may have been carried out") {
			t.Errorf("%s: the message does not warn: %v", code, err)
		}
	}
	// A read stays unambiguous, and a create whose every attempt was
	// definitely refused too.
	srv, _ := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			envelopeError(w, "RequestLimitExceeded")
			return
		}
		envelopeError(w, "LimitExceeded.InstanceQuotaLimitExceeded")
	})
	cl := newTestClient(t, srv.URL, testCred)
	_, err := cl.CreateInstances(context.Background(), "ap-guangzhou", createReq("tok"))
	var e *Error
	if !errors.As(err, &e) || e.Ambiguous {
		t.Fatalf("refused twice: err = %v; want unambiguous", err)
	}
}
