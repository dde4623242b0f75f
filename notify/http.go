package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// permanentError is an error not worth another attempt.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth another attempt (the sink refused the
// event: another attempt gets the same answer).
func Permanent(err error) error { return &permanentError{err} }

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// statusError is an HTTP answer other than 2xx.
type statusError struct {
	sink       string
	status     int
	body       string
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.sink, e.status)
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

func retryAfter(err error) (time.Duration, bool) {
	var se *statusError
	if errors.As(err, &se) && se.retryAfter > 0 {
		return se.retryAfter, true
	}
	return 0, false
}

// HTTPOptions are what the HTTP sinks share.
type HTTPOptions struct {
	// Name names the sink in metrics and logs.
	Name string
	// URL is where the sink posts. It may hold a credential (a Slack
	// webhook's path does): it is never in an error or a log line.
	URL string
	// Client sends the requests; nil means one that follows no redirect
	// (a 3xx is an error: a redirect could carry the signature elsewhere).
	Client *http.Client
	// UserAgent is the User-Agent header (default "lightkeeper").
	UserAgent string
}

func (o *HTTPOptions) check(kind string) error {
	if o.Name == "" {
		return fmt.Errorf("notify: a %s sink has no name", kind)
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not quoted: it may be a credential.
		return fmt.Errorf("notify: sink %s: the URL is not an http:// or https:// URL with a host", o.Name)
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.UserAgent == "" {
		o.UserAgent = "lightkeeper"
	}
	return nil
}

// post sends body to url with the headers and judges the answer: nil for
// 2xx; a Permanent error for a 4xx but 408 and 429 (and a 3xx); another
// error, which is retried, for the rest. No error names the URL.
func (o *HTTPOptions) post(ctx context.Context, u string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: cannot make the request (the URL does not parse)", o.Name))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", o.UserAgent)
	resp, err := o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", o.Name, redact(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &statusError{sink: o.Name, status: resp.StatusCode, body: oneLine(string(snippet), 200)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.retryAfter = time.Duration(s) * time.Second
	}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return se
	}
	return Permanent(se)
}

// redact is the message of a client error without the URL it names.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return strings.ToLower(ue.Op) + ": timed out"
		}
		return strings.ToLower(ue.Op) + ": " + ue.Err.Error()
	}
	return err.Error()
}

// oneLine shortens s to one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
