package lighthouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Endpoints of the Lighthouse API. An endpoint containing "{region}" is
// expanded with the region of each call (calls without a region, such as
// DescribeRegions, go to EndpointDefault instead).
const (
	// EndpointDefault is the public endpoint, routed to the nearest region.
	EndpointDefault = "https://lighthouse.tencentcloudapi.com"
	// EndpointRegional pins each call to its region's own host.
	EndpointRegional = "https://lighthouse.{region}.tencentcloudapi.com"
	// EndpointIntl is the international site's endpoint.
	EndpointIntl = "https://lighthouse.intl.tencentcloudapi.com"
)

// Defaults of Options fields left zero.
const (
	// DefaultAttemptTimeout bounds one HTTP attempt, as the SDK's 60 s.
	DefaultAttemptTimeout = 60 * time.Second
	// DefaultRetryMax is the number of retries after the first attempt:
	// with the waits below, about 30 s of trying before giving up, enough
	// to ride out a rate-limit storm or a short outage yet short enough
	// that a reconcile cycle reports a real outage promptly.
	DefaultRetryMax = 6
	// DefaultRetryWaitMin is the first backoff (before jitter); it doubles
	// on each retry.
	DefaultRetryWaitMin = 500 * time.Millisecond
	// DefaultRetryWaitMax caps one backoff wait.
	DefaultRetryWaitMax = 15 * time.Second
	// DefaultLanguage asks for English error messages.
	DefaultLanguage = "en-US"
)

// Options configures a Client. Only Credential is required.
type Options struct {
	// Credential signs every request; see FindCredential.
	Credential Credential
	// Endpoint is EndpointDefault (when ""), EndpointRegional, EndpointIntl
	// or the base URL of another server speaking the API, such as the
	// emulator ("http://127.0.0.1:8080"). Plain http is refused unless the
	// host is a loopback address (127.0.0.0/8, ::1, localhost).
	Endpoint string
	// HTTPClient sends the requests; nil means a new client with
	// AttemptTimeout. Its Transport is wrapped to sign each attempt, and
	// its Timeout, if set, is used as the attempt timeout instead of
	// AttemptTimeout.
	HTTPClient *http.Client
	// AttemptTimeout bounds one attempt (sending the request and reading
	// the response, not the wait for the rate limit before it) when
	// HTTPClient is nil; 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// RetryMax is the number of retries after the first attempt; 0 means
	// DefaultRetryMax, a negative value means no retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff; 0 means
	// DefaultRetryWaitMin and DefaultRetryWaitMax.
	RetryWaitMin, RetryWaitMax time.Duration
	// RateLimits overrides DefaultRateLimits per action, in requests per
	// second per access point (the endpoint's host, or the region for
	// EndpointRegional; see Client.accessPoint); a value <= 0 means
	// unlimited.
	RateLimits map[string]float64
	// RateBurst is the burst of every bucket; 0 means 1 (see limiters).
	RateBurst int
	// PageConcurrency is how many DescribeInstances pages a listing
	// (Instances, DescribeInstances) asks for at once once the first page
	// gave TotalCount; 0 means DefaultPageConcurrency, 1 one page at a
	// time. Every page still waits for the action's rate limit, so this
	// only lets the pages' round trips overlap: a sweep of N pages takes
	// about N / rate instead of N × round trip when the round trip is
	// longer than 1/rate.
	PageConcurrency int
	// Logger receives one debug line per attempt; nil means silent.
	Logger *slog.Logger
	// Now is the clock that timestamps signatures; nil means time.Now.
	Now func() time.Time
	// Language is X-TC-Language, the language of error messages; ""
	// means DefaultLanguage.
	Language string
	// OnRetry, if set, is called each time the transport is about to send
	// a request again after a failed attempt, before it waits: what
	// failed, which attempt, and the wait. Without it a call that keeps
	// failing (an endpoint that refuses connections, a service answering
	// 5xx) is quiet for the ~30 s its retries take; a command prints these
	// on a terminal (Retry.String). A host name that does not resolve is
	// not retried at all. It is called on the calling goroutine, between
	// attempts: keep it quick.
	OnRetry func(Retry)
	// Fence, if set, is asked right before each attempt of a mutating
	// action goes on the wire, after the rate-limit wait: an error stops
	// the call there, unsent, with the code CodeFenced (class RetryLater).
	// A daemon that must lead an election to act checks its lease here.
	Fence func(ctx context.Context, action string) error
}

// Client calls the Lighthouse API. It is safe for concurrent use; all its
// callers share its rate limits.
type Client struct {
	cred     Credential
	endpoint string // validated; may contain "{region}"
	rc       *retryablehttp.Client
	limits   *limiters
	log      *slog.Logger
	now      func() time.Time
	lang     string
	fence    func(ctx context.Context, action string) error
	onRetry  func(Retry)
	// pageConcurrency: see Options.PageConcurrency.
	pageConcurrency int

	retryMax         int // retries after the first attempt
	waitMin, waitMax time.Duration
}

// New returns a Client, or an error naming the invalid option.
func New(opts Options) (*Client, error) {
	if opts.Credential.SecretID() == "" || opts.Credential.SecretKey() == "" {
		return nil, errors.New("lighthouse: Options.Credential: a SecretId and a SecretKey are required (see FindCredential)")
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = EndpointDefault
	}
	if err := checkEndpoint(endpoint); err != nil {
		return nil, err
	}
	limits, err := newLimiters(opts.RateLimits, opts.RateBurst)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cred:     opts.Credential,
		endpoint: strings.TrimSuffix(endpoint, "/"),
		limits:   limits,
		log:      opts.Logger,
		now:      opts.Now,
		lang:     opts.Language,
		fence:    opts.Fence,
		onRetry:  opts.OnRetry,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.lang == "" {
		c.lang = DefaultLanguage
	}
	switch c.pageConcurrency = opts.PageConcurrency; {
	case c.pageConcurrency == 0:
		c.pageConcurrency = DefaultPageConcurrency
	case c.pageConcurrency < 0:
		return nil, fmt.Errorf("lighthouse: Options.PageConcurrency: %d is negative (0 means %d, 1 one page at a time)", opts.PageConcurrency, DefaultPageConcurrency)
	}
	c.rc = c.newRetryClient(opts)
	return c, nil
}

// checkEndpoint accepts an https URL, or an http URL on a loopback host,
// with no path beyond "/", no query and no user info.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(strings.ReplaceAll(endpoint, "{region}", "region"))
	if err != nil {
		return fmt.Errorf("lighthouse: Options.Endpoint %q: %w", endpoint, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("lighthouse: Options.Endpoint %q: want a URL such as %s", endpoint, EndpointDefault)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return fmt.Errorf("lighthouse: Options.Endpoint %q: want scheme and host only (the API is served at \"/\")", endpoint)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("lighthouse: Options.Endpoint %q: plain http is allowed only for a loopback address (127.0.0.0/8, ::1, localhost); use https", endpoint)
	}
	return fmt.Errorf("lighthouse: Options.Endpoint %q: scheme must be https", endpoint)
}

// IsLoopbackHost reports whether host (a name or an address, without a
// port; an IPv6 address with or without brackets) is a loopback host:
// localhost, 127.0.0.0/8 or ::1. Plain http is allowed to such a host only.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// url returns the URL a call to region goes to.
func (c *Client) url(region string) string {
	if !strings.Contains(c.endpoint, "{region}") {
		return c.endpoint + "/"
	}
	if region == "" {
		return EndpointDefault + "/"
	}
	return strings.ReplaceAll(c.endpoint, "{region}", region) + "/"
}

// accessPoint is what the service counts a rate limit against, besides the
// action and the SecretId: the access region the request arrives at. For
// EndpointRegional that is the call's region (calls without a region go to
// EndpointDefault's host); for every other endpoint (EndpointDefault,
// EndpointIntl, a custom one such as the emulator) it is the endpoint's host,
// whatever X-TC-Region says, since one host is one access point however
// many product regions it serves. See limiters for the sources.
func (c *Client) accessPoint(region string) string {
	if strings.Contains(c.endpoint, "{region}") && region != "" {
		return "region:" + region
	}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(c.url(region), "https://"), "http://"), "/")
	return "host:" + strings.ToLower(host)
}
