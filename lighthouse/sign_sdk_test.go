package lighthouse

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// captured is one request as a server saw it.
type captured struct {
	host, contentType, authorization, timestamp, action, region, token string
	body                                                               []byte
}

// captureServer records every request and answers with a fixed body.
func captureServer(t *testing.T, answer string) (*httptest.Server, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{
			host: r.Host, contentType: r.Header.Get("Content-Type"),
			authorization: r.Header.Get("Authorization"), timestamp: r.Header.Get("X-TC-Timestamp"),
			action: r.Header.Get("X-TC-Action"), region: r.Header.Get("X-TC-Region"),
			token: r.Header.Get("X-TC-Token"), body: body,
		})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

// TestSignatureMatchesOfficialSDK sends a request with the official SDK's
// common client to a local server, then recomputes the Authorization header
// from what the server received (Host with port, Content-Type, timestamp,
// body). Both implementations must produce the same header byte for byte.
func TestSignatureMatchesOfficialSDK(t *testing.T) {
	srv, got := captureServer(t, `{"Response":{"TotalCount":0,"InstanceSet":[],"RequestId":"r-1"}}`)
	const id, key = "AKIDsdkcompare0001", "sdk-compare-secret-key"
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	sdk := common.NewCommonClient(common.NewCredential(id, key), "ap-guangzhou", cpf)
	for _, params := range []map[string]any{
		{"Limit": 1},
		{"InstanceIds": []string{"lhins-abcdefgh"}, "Offset": 0, "Limit": 100},
		{"Filters": []map[string]any{{"Name": "tag:lightkeeper-fleet", "Values": []string{"web", "名前"}}}},
	} {
		req := tchttp.NewCommonRequest(Service, Version, ActionDescribeInstances)
		if err := req.SetActionParameters(params); err != nil {
			t.Fatal(err)
		}
		if err := sdk.Send(req, tchttp.NewCommonResponse()); err != nil {
			t.Fatalf("SDK send: %v", err)
		}
	}
	reqs := got()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		ts, err := strconv.ParseInt(r.timestamp, 10, 64)
		if err != nil {
			t.Fatalf("request %d: X-TC-Timestamp %q: %v", i, r.timestamp, err)
		}
		if !strings.Contains(r.host, ":") {
			t.Fatalf("request %d: Host %q has no port; the test must cover host:port", i, r.host)
		}
		ours := Authorization(id, key, SignInput{Service: Service, Host: r.host, ContentType: r.contentType, Timestamp: ts, Body: r.body})
		if ours != r.authorization {
			t.Errorf("request %d (body %s):\n SDK  %s\n ours %s", i, r.body, r.authorization, ours)
		}
	}
}

// TestClientRequestsVerify checks the client's own requests: the server
// recomputes each signature over the Host it was sent to (with port), and
// every attempt of a retried call carries a fresh timestamp, the same body
// and a valid signature.
func TestClientRequestsVerify(t *testing.T) {
	var mu sync.Mutex
	n := 0
	var seen []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		first := n == 1
		seen = append(seen, captured{host: r.Host, contentType: r.Header.Get("Content-Type"),
			authorization: r.Header.Get("Authorization"), timestamp: r.Header.Get("X-TC-Timestamp"),
			action: r.Header.Get("X-TC-Action"), region: r.Header.Get("X-TC-Region"),
			token: r.Header.Get("X-TC-Token"), body: body})
		mu.Unlock()
		if first {
			io.WriteString(w, `{"Response":{"Error":{"Code":"InternalError","Message":"boom"},"RequestId":"r-1"}}`)
			return
		}
		io.WriteString(w, `{"Response":{"InstanceIdSet":["lhins-00000001"],"RequestId":"r-2"}}`)
	}))
	defer srv.Close()
	clock := newStepClock(1700000000)
	cred := NewCredential("AKIDverify", "verify-secret", "session-tok", "test")
	c := newTestClient(t, srv.URL, cred, func(o *Options) { o.Now = clock.Now })
	resp, err := c.CreateInstances(context.Background(), "ap-guangzhou", &CreateInstancesRequest{
		BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh",
		InstanceChargePrepaid: &InstanceChargePrepaid{Period: 1}, ClientToken: "tok-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.InstanceIdSet) != 1 || resp.RequestId != "r-2" {
		t.Fatalf("response %+v", resp)
	}
	if len(seen) != 2 {
		t.Fatalf("server saw %d attempts, want 2", len(seen))
	}
	for i, r := range seen {
		ts, _ := strconv.ParseInt(r.timestamp, 10, 64)
		want := Authorization(cred.SecretID(), cred.SecretKey(), SignInput{Service: Service, Host: r.host, ContentType: r.contentType, Timestamp: ts, Body: r.body})
		if r.authorization != want {
			t.Errorf("attempt %d: signature does not verify for Host %q", i+1, r.host)
		}
		if r.host != strings.TrimPrefix(srv.URL, "http://") {
			t.Errorf("attempt %d: Host %q, want %q", i+1, r.host, strings.TrimPrefix(srv.URL, "http://"))
		}
		if r.action != ActionCreateInstances || r.region != "ap-guangzhou" || r.token != "session-tok" {
			t.Errorf("attempt %d: headers action=%q region=%q token=%q", i+1, r.action, r.region, r.token)
		}
	}
	if seen[0].timestamp == seen[1].timestamp {
		t.Errorf("both attempts carry timestamp %s; each attempt must be re-signed with a fresh one", seen[0].timestamp)
	}
	if string(seen[0].body) != string(seen[1].body) || !strings.Contains(string(seen[0].body), `"ClientToken":"tok-1"`) {
		t.Errorf("bodies differ or lack the token:\n%s\n%s", seen[0].body, seen[1].body)
	}
}

// stepClock returns a time one minute later on every call.
type stepClock struct {
	mu sync.Mutex
	t  int64
}

func newStepClock(unix int64) *stepClock { return &stepClock{t: unix} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t += 60
	return time.Unix(c.t, 0)
}
