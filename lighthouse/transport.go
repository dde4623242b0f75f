package lighthouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxResponseBytes bounds a response body read into memory (a page of 100
// instances is about 200 KB).
const maxResponseBytes = 64 << 20

// callState is one logical call across its attempts. It travels in the
// request context, which go-retryablehttp hands to both the signing
// transport (once per attempt) and CheckRetry (after each attempt). The
// attempts of one call run one after another, so only sent, written by
// the HTTP transport's writer goroutine, needs to be atomic.
type callState struct {
	action, region string
	body           []byte
	mutating       bool // the action changes something in the account
	// unsafeRetry: repeating the request after the service may have acted
	// on it could buy servers twice (a create without a ClientToken).
	unsafeRetry bool
	// tokenTaken: the caller already waited for the rate limit of the
	// first attempt (see withToken); later attempts wait for their own.
	tokenTaken bool

	attempts  int
	inAttempt bool // an attempt was started and not yet checked
	start     time.Time
	sent      atomic.Bool // the current attempt's request was fully written

	status   int
	respBody []byte
	// page, for DescribeInstances, is decoded as the body is read
	// (decodePage) instead of read into respBody; decoded says the
	// current attempt's was.
	page      *DescribeInstancesResponse
	decoded   bool
	requestID string
	last      *Error // the current attempt's failure; nil after a success
	// mayHaveActed: some attempt's outcome was ambiguous, so the call may
	// have been carried out whatever later attempts answer.
	mayHaveActed bool
}

type stateKey struct{}

// tokenTakenKey marks a context whose call's first attempt needs no rate
// limit token: the caller took it (see withToken).
type tokenTakenKey struct{}

// withToken waits for a token of action's rate limit in region, then
// returns a context whose call skips that wait on its first attempt. Calls
// started one after another this way take their tokens in that order
// however their goroutines are scheduled.
func (c *Client) withToken(ctx context.Context, action, region string) (context.Context, error) {
	if err := c.limits.wait(ctx, action, c.accessPoint(region)); err != nil {
		return nil, fmt.Errorf("lighthouse: %s in %s: not sent: waiting for the rate limit: %w", action, region, err)
	}
	return context.WithValue(ctx, tokenTakenKey{}, true), nil
}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

// newRetryClient wires go-retryablehttp: the signing transport under the
// HTTP client, CheckRetry reading the envelope, jittered backoff.
func (c *Client) newRetryClient(opts Options) *retryablehttp.Client {
	// The attempt timeout is applied by the signer after the rate-limit
	// wait, not by http.Client.Timeout, which would also count the time
	// queued behind the limit: a call queued longer than the timeout would
	// fail unsent, and one queued nearly as long would be left too little
	// time for the exchange itself.
	hc := opts.HTTPClient
	var timeout time.Duration
	if hc == nil {
		timeout = opts.AttemptTimeout
		if timeout == 0 {
			timeout = DefaultAttemptTimeout
		}
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	} else {
		cp := *hc
		hc = &cp
		timeout, hc.Timeout = hc.Timeout, 0
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &signer{c: c, base: base, timeout: timeout}
	// A signed request must go only where it was addressed.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c.waitMin, c.waitMax, c.retryMax = opts.RetryWaitMin, opts.RetryWaitMax, opts.RetryMax
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	if c.waitMax < c.waitMin {
		c.waitMax = c.waitMin
	}
	switch {
	case c.retryMax == 0:
		c.retryMax = DefaultRetryMax
	case c.retryMax < 0:
		c.retryMax = 0
	}
	return &retryablehttp.Client{
		HTTPClient: hc,
		Logger:     nil, // each attempt is logged by checkRetry, with the envelope's code
		RetryMax:   c.retryMax,
		CheckRetry: c.checkRetry,
		// checkRetry waits before a retry itself (see backoff), after
		// telling Options.OnRetry how long, so go-retryablehttp does not.
		Backoff: func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		// Hand back the last attempt as is; call builds the error from callState.
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) { return resp, err },
	}
}

// jitterBackoff waits between d/2 and d before retry n (counted from 0),
// where d = waitMin·2ⁿ capped at waitMax: exponential so that a struggling
// service gets room, jittered so that many clients retrying at once spread
// out, and never below waitMin/2 so that a retry is never immediate.
func jitterBackoff(waitMin, waitMax time.Duration, n int, _ *http.Response) time.Duration {
	d := waitMin
	for i := 0; i < n && d < waitMax; i++ {
		d *= 2
	}
	if d > waitMax || d <= 0 {
		d = waitMax
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// signer is the HTTP transport under go-retryablehttp. For every attempt
// it waits for the action's rate-limit token, then stamps a fresh
// X-TC-Timestamp and signs the exact body for the Host the request goes
// to, so a retry never carries an expired signature.
type signer struct {
	c       *Client
	base    http.RoundTripper
	timeout time.Duration // of one attempt, from after the rate-limit wait to the body read; 0 = none
}

// cancelOnClose ends an attempt's context when its response body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (s *signer) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	st := stateFrom(ctx)
	if st == nil {
		return nil, errors.New("lighthouse: request sent outside Client.call")
	}
	if st.tokenTaken {
		st.tokenTaken = false
	} else if err := s.c.limits.wait(ctx, st.action, s.c.accessPoint(st.region)); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("waiting for the %s rate limit would pass the context deadline: %w", st.action, context.DeadlineExceeded)
	}
	if st.mutating && s.c.fence != nil {
		if err := s.c.fence(ctx, st.action); err != nil {
			// Not sent: checkRetry sees no attempt and retries nothing;
			// an earlier attempt's ambiguity stays in mayHaveActed.
			st.last = &Error{Action: st.action, Region: st.region, Code: CodeFenced, Message: "not sent: " + err.Error(), Err: err}
			return nil, err
		}
	}
	st.attempts++
	st.inAttempt = true
	st.last, st.status, st.requestID, st.respBody, st.decoded = nil, 0, "", nil, false
	st.sent.Store(false)
	st.start = time.Now()
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			st.sent.Store(true)
		}
	}}
	cancel := context.CancelFunc(func() {})
	if s.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
	}
	r = r.Clone(httptrace.WithClientTrace(ctx, trace))
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	ts := s.c.now().Unix()
	r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("Authorization", Authorization(s.c.cred.secretID, s.c.cred.secretKey, SignInput{
		Service:     Service,
		Host:        host,
		ContentType: r.Header.Get("Content-Type"),
		Timestamp:   ts,
		Body:        st.body,
	}))
	if s.c.cred.token != "" {
		r.Header.Set("X-TC-Token", s.c.cred.token)
	}
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// probe is the part of the envelope every response shares.
type probe struct {
	Response struct {
		Error     *ErrorBody `json:"Error"`
		RequestId string     `json:"RequestId"`
	} `json:"Response"`
}

// checkRetry is go-retryablehttp's CheckRetry. Service errors arrive as
// HTTP 200 with an error envelope, so it reads the body (kept in callState
// for the caller), classifies the outcome, logs the attempt and says
// whether to send the same request again.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateFrom(ctx)
	if st == nil {
		return false, err
	}
	if !st.inAttempt {
		// Nothing was sent: the rate-limit wait failed because the context
		// ended or would end first. The previous attempt's failure stays.
		return false, err
	}
	st.inAttempt = false
	var p probe
	var jerr error
	if err == nil {
		st.status = resp.StatusCode
		var rerr error
		if st.page != nil {
			body := &readErrs{r: io.LimitReader(resp.Body, maxResponseBytes)}
			p, jerr = decodePage(body, st.page)
			rerr = body.err
			st.decoded = rerr == nil
		} else {
			st.respBody, rerr = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
			if rerr == nil {
				jerr = json.Unmarshal(st.respBody, &p)
			}
		}
		resp.Body.Close()
		resp.Body = http.NoBody
		if rerr != nil {
			st.respBody = nil
			err = fmt.Errorf("read response: %w", rerr)
		}
	}
	if err != nil {
		st.last = &Error{Code: CodeNetworkError, Message: "request failed", Err: err, Ambiguous: st.mutating && st.sent.Load()}
		if isNoSuchHost(err) {
			// The name will not resolve on the next attempt either: a
			// DNS "no such host" is an answer, not a failure to get one
			// (a DNS timeout or a temporary failure is retried).
			st.last.class, st.last.classSet = Permanent, true
		}
	} else {
		st.last = parseOutcome(st, p, jerr)
	}
	if st.last != nil && st.last.Ambiguous {
		st.mayHaveActed = true
	}
	retry := false
	if e := st.last; e != nil {
		e.Action, e.Region, e.HTTPStatus, e.RequestId = st.action, st.region, st.status, st.requestID
		switch e.Class() {
		case RetrySame:
			retry = true
			if st.unsafeRetry && !refusedUnacted(e, st.sent.Load()) {
				e.Ambiguous = true
				e.class, e.classSet = Permanent, true
				retry = false
			}
		}
	}
	c.logAttempt(st, retry)
	if st.last != nil && ctx.Err() != nil {
		// A success is kept even if the context ended meanwhile: a create's
		// IDs must not be lost.
		return false, ctx.Err()
	}
	if retry && st.attempts <= c.retryMax {
		if err := c.backoff(ctx, st); err != nil {
			return false, err
		}
	}
	return retry, nil
}

// backoff waits before the next attempt of st (see jitterBackoff), after
// telling Options.OnRetry what is retried and how long it waits. It
// returns the context's error if the context ends first, or a deadline
// error at once if the wait would outlast the context's deadline.
func (c *Client) backoff(ctx context.Context, st *callState) error {
	wait := jitterBackoff(c.waitMin, c.waitMax, st.attempts-1, nil)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return fmt.Errorf("the next attempt in %s would pass the context deadline: %w", wait.Round(time.Millisecond), context.DeadlineExceeded)
	}
	if c.onRetry != nil {
		e := *st.last
		c.onRetry(Retry{Action: st.action, Region: st.region, Attempt: st.attempts, MaxAttempts: c.retryMax + 1, Wait: wait, Err: &e})
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry describes a failed attempt that the transport is about to repeat;
// see Options.OnRetry.
type Retry struct {
	Action string // e.g. "DescribeInstances"
	Region string // "" for region-less actions
	// Attempt is the attempt that failed, counted from 1; MaxAttempts is
	// the most the call makes (1 + Options.RetryMax).
	Attempt, MaxAttempts int
	// Wait is how long the transport waits before the next attempt.
	Wait time.Duration
	// Err is the attempt's failure: its Code, Message and cause (Err).
	Err *Error
}

// String describes the retry in one line for a terminal, e.g.
// "DescribeInstances in ap-guangzhou: ClientError.NetworkError: request
// failed: dial tcp 127.0.0.1:9100: connect: connection refused; attempt 2
// of 7 in 1.2s".
func (r Retry) String() string {
	var b strings.Builder
	b.WriteString(r.Action)
	if r.Region != "" {
		b.WriteString(" in ")
		b.WriteString(r.Region)
	}
	if r.Err != nil {
		b.WriteString(": ")
		b.WriteString(r.Err.Code)
		if r.Err.Message != "" {
			b.WriteString(": ")
			b.WriteString(r.Err.Message)
		}
		if r.Err.Err != nil {
			b.WriteString(": ")
			b.WriteString(r.Err.Err.Error())
		}
	}
	fmt.Fprintf(&b, "; attempt %d of %d in %s", r.Attempt+1, r.MaxAttempts, r.Wait.Round(100*time.Millisecond))
	return b.String()
}

// isNoSuchHost reports whether err is a DNS answer that the name does not
// exist (NXDOMAIN), as opposed to a DNS failure that may pass.
func isNoSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// parseOutcome judges the attempt's response from its envelope p (and
// jerr, the error of decoding it); nil means success.
func parseOutcome(st *callState, p probe, jerr error) *Error {
	st.requestID = p.Response.RequestId
	switch {
	case jerr == nil && p.Response.Error != nil:
		e := &Error{Code: p.Response.Error.Code, Message: p.Response.Error.Message, HTTPStatus: st.status}
		e.Ambiguous = st.mutating && e.Class() == RetrySame && !IsRateLimited(e.Code)
		return e
	case st.status != http.StatusOK:
		return &Error{Code: CodeHTTPStatusError, Message: fmt.Sprintf("HTTP %d %s without an error envelope", st.status, http.StatusText(st.status)), Ambiguous: st.mutating}
	case jerr != nil || p.Response.RequestId == "":
		return &Error{Code: CodeParseJSONError, Message: "HTTP 200 without a valid response envelope", Err: jerr, Ambiguous: st.mutating}
	}
	return nil
}

// refusedUnacted reports whether a retry-same failure proves that the
// service did not act on the request: it was never fully sent, or the
// service refused it for the rate limit before doing anything.
func refusedUnacted(e *Error, sent bool) bool {
	if e.Code == CodeNetworkError {
		return !sent
	}
	return IsRateLimited(e.Code)
}

// logAttempt writes one debug line per attempt. It never logs a body: a
// create's body may carry a login password.
func (c *Client) logAttempt(st *callState, retry bool) {
	if !c.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("action", st.action),
		slog.String("region", st.region),
		slog.Int("attempt", st.attempts),
		slog.Duration("latency", time.Since(st.start)),
		slog.Int("status", st.status),
		slog.String("request_id", st.requestID),
	}
	if e := st.last; e != nil {
		attrs = append(attrs, slog.String("code", e.Code), slog.String("class", e.Class().String()), slog.Bool("retry", retry))
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
	} else {
		attrs = append(attrs, slog.String("code", ""))
	}
	c.log.LogAttrs(context.Background(), slog.LevelDebug, "lighthouse call", attrs...)
}

// callOpts says how a call may be retried.
type callOpts struct {
	mutating    bool
	unsafeRetry bool
}

// call sends action with body req to region and decodes the success
// response into out (a pointer to the action's response type).
func (c *Client) call(ctx context.Context, action, region string, req, out any, o callOpts) error {
	if !validRegion(region) {
		return fmt.Errorf("lighthouse: %s: invalid region %q (want lowercase letters, digits and '-', e.g. ap-guangzhou)", action, region)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("lighthouse: %s: encode request: %w", action, err)
	}
	if string(body) == "null" {
		body = []byte("{}") // a nil request is the empty request; null is not a request
	}
	st := &callState{action: action, region: region, body: body, mutating: o.mutating, unsafeRetry: o.unsafeRetry}
	st.page, _ = out.(*DescribeInstancesResponse)
	st.tokenTaken, _ = ctx.Value(tokenTakenKey{}).(bool)
	ctx = context.WithValue(ctx, stateKey{}, st)
	rreq, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.url(region), body)
	if err != nil {
		return fmt.Errorf("lighthouse: %s: %w", action, err)
	}
	h := rreq.Header
	h.Set("Content-Type", "application/json")
	h.Set("X-TC-Action", action)
	h.Set("X-TC-Version", Version)
	if region != "" {
		h.Set("X-TC-Region", region)
	}
	h.Set("X-TC-Language", c.lang)
	h.Set("X-TC-RequestClient", "lightkeeper")

	resp, doErr := c.rc.Do(rreq)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if st.last == nil && st.decoded {
		return nil // decoded into out (st.page) as it was read
	}
	if st.last == nil && st.respBody != nil {
		if err := json.Unmarshal(st.respBody, &envelope{Response: out}); err != nil {
			// The service answered success: a mutating action was carried out.
			return &Error{Action: action, Region: region, Code: CodeParseJSONError, Message: "decode response", RequestId: st.requestID, HTTPStatus: st.status, Attempts: st.attempts, Ambiguous: o.mutating, Err: err}
		}
		return nil
	}
	if st.last == nil {
		// Nothing was answered: the context ended (or the rate-limit wait
		// would have outlasted it) before a request was sent.
		if doErr == nil {
			doErr = errors.New("no response")
		}
		return fmt.Errorf("lighthouse: %s in %s: not sent: %w", action, region, doErr)
	}
	e := *st.last
	e.Attempts = st.attempts
	e.Ambiguous = e.Ambiguous || st.mayHaveActed
	// The call may have ended between attempts: the context was cancelled
	// during the backoff, or the next rate-limit wait would outlast it.
	stop := ctx.Err()
	if stop == nil && errors.Is(doErr, context.DeadlineExceeded) {
		stop = doErr
	}
	if stop != nil && !errors.Is(e.Err, stop) {
		if e.Err != nil {
			e.Err = fmt.Errorf("%w; then %w", e.Err, stop)
		} else {
			e.Err = stop
		}
	}
	return &e
}

// envelope wraps a success response.
type envelope struct {
	Response any `json:"Response"`
}

func validRegion(r string) bool {
	for i := 0; i < len(r); i++ {
		ch := r[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}
