package election

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// etcd speaks the part of etcd's v3 API the election needs as JSON over
// HTTP: the gRPC gateway every etcd member serves on its client port since
// 3.3 (/v3/kv/range, /v3/lease/grant, …). The election does not link etcd's
// gRPC client: the daemon's net/http does the work, and a daemon without
// `ha` does not carry gRPC, the etcd client and zap in its memory (see
// docs/benchmarks.md, "The binary's pages").
//
// Keys and values travel base64-encoded, 64-bit integers as JSON strings,
// as the gateway's protobuf mapping has them. A lease keep-alive is one
// request with one message: the gateway ends the stream once the request
// body has, so the connection is reused. Watches are long responses, one
// JSON message per line.
//
// With a user name, each request carries the token that
// /v3/auth/authenticate gave for it (the gateway cannot pass a client
// certificate's CN on: it reaches etcd's gRPC server with the member's own
// certificate). A token etcd no longer takes (a restart forgets simple
// tokens; JWTs expire) is dropped, and the next request authenticates again.
type etcd struct {
	endpoints []string
	hosts     []string // of the endpoints
	http      *http.Client
	next      atomic.Int32 // the endpoint to try first: the last that answered

	user, password string
	timeout        time.Duration // of an authentication
	mu             sync.Mutex
	token          string        // "" until authenticated
	authing        chan struct{} // closed when the authentication under way ends
}

// maxResponse bounds the body of a unary response: the election's keys
// are a few hundred bytes.
const maxResponse = 4 << 20

// drainWait bounds how long a keep-alive waits for the end of its stream
// after the answer, to keep the connection; a third of the shortest TTL
// is 667 ms.
const drainWait = 50 * time.Millisecond

// newEtcd returns a client of the members at endpoints (host:port takes
// http://, or https:// with tlsCfg), dialling within dialTimeout and
// probing an idle connection every probe (so that a dead peer is noticed
// in about four probes).
func newEtcd(o Options, probe time.Duration) (*etcd, error) {
	scheme := "http://"
	if o.TLS != nil {
		scheme = "https://"
	}
	var eps, hosts []string
	for _, ep := range o.Endpoints {
		u := strings.TrimSuffix(ep, "/")
		if !strings.Contains(u, "://") {
			u = scheme + u
		}
		parsed, err := url.Parse(u)
		if err != nil || parsed.Host == "" || parsed.Scheme != "http" && parsed.Scheme != "https" {
			return nil, fmt.Errorf("election: etcd endpoint %q: want a client URL such as https://etcd-1:2379", ep)
		}
		eps, hosts = append(eps, u), append(hosts, parsed.Host)
	}
	dialer := &net.Dialer{Timeout: o.DialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: probe, Interval: probe, Count: 3}}
	tr := &http.Transport{
		// etcd is reached directly: a proxy for the cloud API is not one
		// for the cluster, and a forwarding proxy could hold a watch.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       o.TLS,
		TLSHandshakeTimeout:   o.DialTimeout,
		ResponseHeaderTimeout: o.DialTimeout,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &etcd{endpoints: eps, hosts: hosts, http: &http.Client{Transport: tr},
		user: o.Username, password: o.Password, timeout: o.DialTimeout}, nil
}

// close lets go of the idle connections.
func (c *etcd) close() { c.http.CloseIdleConnections() }

// post sends body to path, authenticated if the client has a user; a
// request refused for its token is sent once more with a new one.
func (c *etcd) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	if c.user == "" {
		return c.send(ctx, path, body, "")
	}
	for try := 0; ; try++ {
		token, err := c.authToken(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, path, body, token)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || try > 0 {
			return resp, err
		}
		resp.Body.Close()
		c.dropToken(token)
	}
}

// authToken returns the token of the client's user, authenticating first
// if it has none. One request authenticates at a time; the others wait
// for it as long as their own context lets them, and try themselves if it
// failed. No lock is held over the network: a keep-alive never waits for
// a watch's authentication beyond its own deadline.
func (c *etcd) authToken(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if c.token != "" {
			token := c.token
			c.mu.Unlock()
			return token, nil
		}
		if wait := c.authing; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("authenticate to etcd as %q: %w", c.user, ctx.Err())
			}
		}
		done := make(chan struct{})
		c.authing = done
		c.mu.Unlock()
		token, err := c.authenticate(ctx)
		c.mu.Lock()
		c.authing = nil
		if err == nil {
			c.token = token
		}
		c.mu.Unlock()
		close(done)
		return token, err
	}
}

// authenticate asks etcd for a token of the client's user.
func (c *etcd) authenticate(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, _ := json.Marshal(struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}{c.user, c.password})
	var out struct {
		Token string `json:"token"`
	}
	resp, err := c.send(ctx, "/v3/auth/authenticate", body, "")
	if err == nil {
		err = c.decodeResponse("/v3/auth/authenticate", resp, &out)
	}
	if err != nil {
		return "", fmt.Errorf("authenticate to etcd as %q: %w", c.user, err)
	}
	if out.Token == "" {
		return "", fmt.Errorf("authenticate to etcd as %q: etcd answered without a token: is authentication enabled (etcdctl auth enable)?", c.user)
	}
	return out.Token, nil
}

// dropToken forgets token, if it is still the client's, so that the next
// request authenticates again.
func (c *etcd) dropToken(token string) {
	c.mu.Lock()
	if c.token == token {
		c.token = ""
	}
	c.mu.Unlock()
}

// send posts body to path, to the endpoint that answered last, or to the
// next ones while a connection cannot be made (a request that may have
// reached a member is never sent again).
func (c *etcd) send(ctx context.Context, path string, body []byte, token string) (*http.Response, error) {
	n := len(c.endpoints)
	first := int(c.next.Load())
	var err error
	for i := range n {
		k := (first + i) % n
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoints[k]+path, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("etcd %s at %s: %w", path, c.endpoints[k], err)
		}
		req.Header.Set("Content-Type", "application/json")
		// The member refuses the call, and ends a watch, while it has no
		// raft leader (gRPC metadata through the gateway).
		req.Header.Set("Grpc-Metadata-Hasleader", "true")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		var resp *http.Response
		resp, err = c.http.Do(req)
		if err == nil {
			c.next.Store(int32(k))
			return resp, nil
		}
		err = fmt.Errorf("etcd %s at %s: %w", path, c.endpoints[k], err)
		var op *net.OpError
		if ctx.Err() == nil && errors.As(err, &op) && op.Op == "dial" {
			continue
		}
		if !errors.Is(ctx.Err(), context.Canceled) { // no answer in time counts
			c.failed(c.hosts[k], err)
		}
		break
	}
	return nil, err
}

// call is one unary request: in as JSON to path, the answer into out.
func (c *etcd) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", path, err)
	}
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return err
	}
	return c.decodeResponse(path, resp, out)
}

// decodeResponse reads a unary answer into out, or the error it is.
func (c *etcd) decodeResponse(path string, resp *http.Response, out any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return c.failed(resp.Request.URL.Host, fmt.Errorf("etcd %s at %s: read the answer: %w", path, resp.Request.URL.Host, err))
	}
	if len(data) > maxResponse {
		return fmt.Errorf("etcd %s at %s: the answer is over %d bytes", path, resp.Request.URL.Host, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return c.failed(resp.Request.URL.Host, statusError(path, resp, data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("etcd %s at %s: the answer is not the JSON of the v3 API (is this an etcd client URL?): %w", path, resp.Request.URL.Host, err)
	}
	return nil
}

// apiError is a call etcd answered with an error.
type apiError struct {
	Path    string
	Host    string
	Status  int
	Code    int    // the gRPC code
	Message string // etcd's, such as "etcdserver: requested lease not found"
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("etcd %s at %s: HTTP %d: %s (gRPC code %d)", e.Path, e.Host, e.Status, e.Message, e.Code)
	for _, h := range hints {
		if strings.Contains(e.Message, h.message) {
			return msg + ": " + h.hint
		}
	}
	return msg
}

// hints say what to do about the errors of etcd's authentication, by
// etcd's message.
var hints = []struct{ message, hint string }{
	{"user name is empty", "etcd has authentication enabled: set ha.etcd.username and ha.etcd.passwordFile"},
	{"authentication failed, invalid user ID or password", "check ha.etcd.username and the password in ha.etcd.passwordFile"},
	{"permission denied", "give the user read-write on the election's prefix (etcdctl role grant-permission ROLE readwrite PREFIX --prefix=true)"},
}

// gRPC codes the client acts on: a lease etcd does not know, a member
// that cannot serve (no raft leader, stopping), a token it does not take.
const (
	grpcNotFound        = 5
	grpcUnavailable     = 14
	grpcUnauthenticated = 16
)

// failed takes note of a request to host that failed with err, and
// returns err: a token etcd refused is dropped, so that the next request
// authenticates again; a member that did not answer, or cannot serve, is
// asked after the others from then on. An answer about the request itself
// (a lease not found, a permission) changes nothing.
func (c *etcd) failed(host string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.Code == grpcUnauthenticated {
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
		}
		if ae.Status < 500 && ae.Code != grpcUnavailable {
			return err
		}
	}
	n := len(c.hosts)
	for i, h := range c.hosts {
		if h == host {
			c.next.CompareAndSwap(int32(i), int32((i+1)%n))
		}
	}
	return err
}

// gatewayError is the error body of the gateway: grpc-gateway v2 (etcd
// 3.5 on) writes code and message, v1 (3.4) error too, and grpc_code in a
// stream.
type gatewayError struct {
	Code     int    `json:"code"`
	GRPCCode int    `json:"grpc_code"`
	Message  string `json:"message"`
	Error    string `json:"error"`
}

func (g gatewayError) err(path, host string, status int) *apiError {
	e := &apiError{Path: path, Host: host, Status: status, Code: max(g.Code, g.GRPCCode), Message: g.Message}
	if e.Message == "" {
		e.Message = g.Error
	}
	return e
}

func statusError(path string, resp *http.Response, data []byte) error {
	var g gatewayError
	if json.Unmarshal(data, &g) != nil || g.Message == "" && g.Error == "" {
		g.Message = strings.TrimSpace(string(data[:min(len(data), 200)]))
		if g.Message == "" {
			g.Message = http.StatusText(resp.StatusCode)
		}
	}
	return g.err(path, resp.Request.URL.Host, resp.StatusCode)
}

// header is a response's header: the store's revision when it answered.
type header struct {
	Revision int64 `json:"revision,string"`
}

// keyValue is a key as etcd holds it.
type keyValue struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
	Lease          int64  `json:"lease,string"`
}

type rangeRequest struct {
	Key               []byte `json:"key"`
	RangeEnd          []byte `json:"range_end,omitempty"`
	Limit             int64  `json:"limit,omitempty,string"`
	SortOrder         string `json:"sort_order,omitempty"`
	SortTarget        string `json:"sort_target,omitempty"`
	MaxCreateRevision int64  `json:"max_create_revision,omitempty,string"`
}

type rangeResponse struct {
	Header header     `json:"header"`
	Kvs    []keyValue `json:"kvs"`
}

type putRequest struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value,omitempty"`
	Lease int64  `json:"lease,omitempty,string"`
}

// get reads the keys of r (linearizable: etcd's default).
func (c *etcd) get(ctx context.Context, r rangeRequest) (rangeResponse, error) {
	var out rangeResponse
	err := c.call(ctx, "/v3/kv/range", r, &out)
	return out, err
}

// put writes a key.
func (c *etcd) put(ctx context.Context, key string, value []byte) error {
	var out struct{}
	return c.call(ctx, "/v3/kv/put", putRequest{Key: []byte(key), Value: value}, &out)
}

// compare is a condition of a transaction on a key's create revision.
type compare struct {
	Target         string `json:"target"` // "CREATE"
	Key            []byte `json:"key"`
	CreateRevision int64  `json:"create_revision,string"`
}

type requestOp struct {
	Put   *putRequest   `json:"request_put,omitempty"`
	Range *rangeRequest `json:"request_range,omitempty"`
}

type txnRequest struct {
	Compare []compare   `json:"compare"`
	Success []requestOp `json:"success"`
	Failure []requestOp `json:"failure,omitempty"`
}

type txnResponse struct {
	Header    header `json:"header"`
	Succeeded bool   `json:"succeeded"`
	Responses []struct {
		Range *rangeResponse `json:"response_range"`
	} `json:"responses"`
}

// putIf writes put if key's create revision is rev (0: the key does not
// exist), else reads key (get's answer in the failure's response).
func (c *etcd) putIf(ctx context.Context, key []byte, rev int64, put putRequest, get bool) (txnResponse, error) {
	r := txnRequest{Compare: []compare{{Target: "CREATE", Key: key, CreateRevision: rev}}, Success: []requestOp{{Put: &put}}}
	if get {
		r.Failure = []requestOp{{Range: &rangeRequest{Key: key}}}
	}
	var out txnResponse
	err := c.call(ctx, "/v3/kv/txn", r, &out)
	return out, err
}

// grant creates a lease of ttl seconds, and returns it and the TTL etcd
// gave (it raises one below its minimum).
func (c *etcd) grant(ctx context.Context, ttl int64) (id, granted int64, err error) {
	var out struct {
		ID    int64  `json:"ID,string"`
		TTL   int64  `json:"TTL,string"`
		Error string `json:"error"`
	}
	if err := c.call(ctx, "/v3/lease/grant", struct {
		TTL int64 `json:"TTL,string"`
	}{ttl}, &out); err != nil {
		return 0, 0, err
	}
	if out.Error != "" || out.ID == 0 {
		return 0, 0, fmt.Errorf("etcd /v3/lease/grant: no lease granted: %q", out.Error)
	}
	return out.ID, out.TTL, nil
}

type leaseID struct {
	ID int64 `json:"ID,string"`
}

// keepAlive renews lease once and returns its new TTL in seconds: 0 when
// etcd no longer knows the lease (it expired or was revoked).
func (c *etcd) keepAlive(ctx context.Context, lease int64) (int64, error) {
	const path = "/v3/lease/keepalive"
	resp, err := c.openStream(ctx, path, leaseID{lease})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var line struct {
		Result *struct {
			TTL int64 `json:"TTL,string"`
		} `json:"result"`
		Error *gatewayError `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&line); err != nil {
		return 0, c.failed(resp.Request.URL.Host, fmt.Errorf("etcd %s at %s: read the answer: %w", path, resp.Request.URL.Host, err))
	}
	// The stream ends right after its one answer: read it to its end, so
	// that the connection serves the next renewal, but wait no longer than
	// drainWait for that end.
	stop := time.AfterFunc(drainWait, func() { resp.Body.Close() })
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	stop.Stop()
	switch {
	case line.Error != nil:
		return 0, c.failed(resp.Request.URL.Host, line.Error.err(path, resp.Request.URL.Host, resp.StatusCode))
	case line.Result == nil:
		return 0, fmt.Errorf("etcd %s at %s: an answer without a result", path, resp.Request.URL.Host)
	}
	return line.Result.TTL, nil
}

// openStream sends in to a streaming path and returns the answer once it
// is a stream (HTTP 200), or the error it is. The caller closes the body.
func (c *etcd) openStream(ctx context.Context, path string, in any) (*http.Response, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", path, err)
	}
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return nil, c.failed(resp.Request.URL.Host, statusError(path, resp, data))
	}
	return resp, nil
}

// revoke ends lease: etcd deletes its keys at once. A lease etcd does not
// know is not an error.
func (c *etcd) revoke(ctx context.Context, lease int64) error {
	var out struct{}
	err := c.call(ctx, "/v3/lease/revoke", leaseID{lease}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == grpcNotFound {
		return nil
	}
	return err
}

// prefixEnd is the end of the range of the keys that start with prefix.
func prefixEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0} // every key
}
