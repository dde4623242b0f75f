package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.RateLimits = nil })
	for i := range 5 {
		e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "")
		_ = i
	}
	e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "RequestLimitExceeded")
	// Buckets are per action and SecretId, shared by every region: one
	// listener is one access point.
	e.wantCode("DescribeInstances", map[string]any{}, "")
	if _, code := e.call("CreateInstances", "ap-shanghai", basicCreate(map[string]any{"DryRun": true})); code != "RequestLimitExceeded" {
		t.Errorf("another region through the same access point: code %q, want RequestLimitExceeded (one shared bucket)", code)
	}
	e.clock.Advance(200 * time.Millisecond)
	e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "")
	e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "RequestLimitExceeded")
	if n := e.srv.Calls("CreateInstances", "RequestLimitExceeded"); n != 3 {
		t.Errorf("Calls(RequestLimitExceeded) = %d, want 3", n)
	}
	// PerRegionRateLimits: each region its own bucket.
	pr := newEnv(t, func(c *emulator.Config) { c.RateLimits = nil; c.PerRegionRateLimits = true })
	for range 5 {
		pr.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "")
	}
	pr.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "RequestLimitExceeded")
	if _, code := pr.call("CreateInstances", "ap-shanghai", basicCreate(map[string]any{"DryRun": true})); code != "" {
		t.Errorf("PerRegionRateLimits: another region limited: %s", code)
	}
	// Configured limits: 1/s for DescribeInstances, CreateInstances unlimited.
	c := newEnv(t, func(c *emulator.Config) {
		c.RateLimits = map[string]float64{"DescribeInstances": 1, "CreateInstances": 0}
	})
	c.wantCode("DescribeInstances", map[string]any{}, "")
	c.wantCode("DescribeInstances", map[string]any{}, "RequestLimitExceeded")
	for range 20 {
		c.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "")
	}
	// Through the SDK, the code is RequestLimitExceeded.
	err := sdkCall(c.sdkClient(region, testID, testKey), "DescribeInstances", map[string]any{}, nil)
	if got := sdkCode(t, err); got != "RequestLimitExceeded" {
		t.Errorf("SDK code %q", got)
	}
}

func TestFaultDropResponseCommits(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.InjectFault(emulator.Fault{Action: "CreateInstances", Kind: emulator.FaultDropResponse, Count: 1})
	err := sdkCall(e.sdkClient(region, testID, testKey), "CreateInstances", basicCreate(map[string]any{"ClientToken": "lost"}), nil)
	if err == nil {
		t.Fatal("dropped response: no error")
	}
	if code := sdkCode(t, err); code != "ClientError.NetworkError" {
		t.Errorf("dropped response: SDK code %q, want ClientError.NetworkError", code)
	}
	all := e.srv.Instances()
	if len(all) != 1 {
		t.Fatalf("dropped create made %d instances, want 1 (the action commits)", len(all))
	}
	// The retry with the same token gets the committed instance.
	ids := e.create(basicCreate(map[string]any{"ClientToken": "lost"}))
	if len(ids) != 1 || ids[0] != all[0].InstanceId {
		t.Errorf("retry got %v, want [%s]", ids, all[0].InstanceId)
	}
	if n := len(e.srv.Faults()); n != 0 {
		t.Errorf("Count 1 fault still active: %+v", e.srv.Faults())
	}
}

func TestFaultKinds(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.InjectFault(emulator.Fault{Action: "DescribeInstances", Kind: emulator.FaultHTTP5xx, Count: 1})
	e.srv.InjectFault(emulator.Fault{Action: "DescribeInstances", Kind: emulator.FaultInternalError, Count: 1})
	e.srv.InjectFault(emulator.Fault{Action: "DescribeInstances", Kind: emulator.FaultRequestLimitExceeded, Count: 1})
	c := e.sdkClient(region, testID, testKey)
	var codes []string
	for range 4 {
		codes = append(codes, sdkCode(t, sdkCall(c, "DescribeInstances", map[string]any{}, nil)))
	}
	// The SDK parses the body before the status, so a gateway's HTML page
	// comes back as ClientError.ParseJsonError.
	want := []string{"ClientError.ParseJsonError", "InternalError", "RequestLimitExceeded", ""}
	if strings.Join(codes, ",") != strings.Join(want, ",") {
		t.Errorf("codes %v, want %v", codes, want)
	}
	req := e.rawRequest("DescribeRegions", "", []byte("{}"), testID, testKey, e.clock.Now().Unix())
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultHTTP5xx, Status: 503, Count: 1})
	if resp, err := e.hs.Client().Do(req); err != nil || resp.StatusCode != 503 {
		t.Errorf("http-5xx with status 503: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := e.srv.Calls("DescribeInstances", "HTTP502"); n != 1 {
		t.Errorf("Calls(HTTP502) = %d", n)
	}
	// Faults limited to one action leave others alone; InternalError does not run the action.
	e.srv.InjectFault(emulator.Fault{Action: "CreateInstances", Kind: emulator.FaultInternalError})
	e.wantCode("DescribeInstances", map[string]any{}, "")
	e.wantCode("CreateInstances", basicCreate(nil), "InternalError")
	e.wantCode("CreateInstances", basicCreate(nil), "InternalError")
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("InternalError fault ran the action: %d instances", n)
	}
	e.srv.ClearFaults()
	e.wantCode("CreateInstances", basicCreate(nil), "")

	// A delay holds the answer back; a client timeout fires after the create.
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultDelay, Delay: 300 * time.Millisecond, Count: 1})
	req = e.rawRequest("CreateInstances", region, mustJSON(basicCreate(nil)), testID, testKey, e.clock.Now().Unix())
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := client.Do(req); err == nil {
		t.Error("delayed response arrived within the client timeout")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.srv.Instances()) != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.srv.Instances()); n != 2 {
		t.Errorf("delayed create: %d instances, want 2", n)
	}
}

func TestFaultProbabilitySeeded(t *testing.T) {
	run := func() []string {
		e := newEnv(t, func(c *emulator.Config) {
			c.Seed = 42
			c.Faults = []emulator.Fault{{Kind: emulator.FaultInternalError, Probability: 0.3}}
		})
		var codes []string
		for range 30 {
			_, code := e.call("DescribeZones", region, map[string]any{})
			codes = append(codes, code)
		}
		return codes
	}
	a, b := run(), run()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	n := 0
	for _, c := range a {
		if c == "InternalError" {
			n++
		}
	}
	if n == 0 || n == 30 {
		t.Errorf("probability 0.3 fired %d of 30 times", n)
	}
	if _, err := emulator.New(emulator.Config{Credentials: map[string]string{"a": "b"}, Faults: []emulator.Fault{{Kind: "explode"}}}); err == nil {
		t.Error("unknown fault kind accepted")
	}
}

func TestFaultDescribeLag(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create(basicCreate(nil))[0]
	e.clock.Advance(5 * time.Second)
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultDescribeLag, Delay: 10 * time.Second, Count: 1})
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 0 {
		t.Errorf("lagging describe shows the new instance")
	}
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 1 {
		t.Errorf("describe after the lag fault was used up misses the instance")
	}
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create(basicCreate(nil))[0]
	admin := func(method, path, body string) (int, []byte) {
		t.Helper()
		var header map[string]string
		if method != http.MethodGet {
			header = map[string]string{"Content-Type": "application/json"}
		}
		status, b := e.admin(method, path, "", body, header)
		return status, []byte(b)
	}
	status, body := admin("GET", "/_emulator/instances", "")
	var list struct{ Instances []lighthouse.Instance }
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.Instances) != 1 || list.Instances[0].InstanceId != id {
		t.Fatalf("GET instances: %d %s", status, body)
	}
	if status, body = admin("POST", "/_emulator/faults", `{"action":"CreateInstances","kind":"drop-response","count":2}`); status != 201 {
		t.Fatalf("POST fault: %d %s", status, body)
	}
	if status, body = admin("POST", "/_emulator/faults", `{"kind":"delay","delay":"soon"}`); status != 400 {
		t.Errorf("bad fault: %d %s", status, body)
	}
	if status, body = admin("POST", "/_emulator/faults", `{"kind":"delay"}`); status != 400 || !bytes.Contains(body, []byte("positive delay")) {
		t.Errorf("delay fault without delay: %d %s", status, body)
	}
	if status, body = admin("POST", "/_emulator/faults", `{"kind":"describe-lag","delay":"1m30s"}`); status != 201 {
		t.Errorf("describe-lag fault: %d %s", status, body)
	}
	if f := e.srv.Faults(); len(f) != 2 || f[0].Kind != emulator.FaultDropResponse || f[0].Count != 2 || f[1].Delay != 90*time.Second {
		t.Errorf("faults = %+v", f)
	}
	if status, _ = admin("DELETE", "/_emulator/faults", ""); status != 204 || len(e.srv.Faults()) != 0 {
		t.Errorf("DELETE faults: %d, %d left", status, len(e.srv.Faults()))
	}
	if status, body = admin("POST", "/_emulator/clock/advance", `{"duration":"20s"}`); status != 200 {
		t.Errorf("advance: %d %s", status, body)
	}
	if s := e.get(id).InstanceState; s != lighthouse.StateRunning {
		t.Errorf("after advancing the clock over the admin API: %s", s)
	}
	if status, _ = admin("DELETE", "/_emulator/instances/"+id, ""); status != 204 {
		t.Errorf("DELETE instance: %d", status)
	}
	if status, _ = admin("DELETE", "/_emulator/instances/"+id, ""); status != 404 {
		t.Errorf("DELETE missing instance: %d", status)
	}
	status, body = admin("GET", "/_emulator/stats", "")
	var stats struct{ Calls map[string]map[string]int }
	if status != 200 || json.Unmarshal(body, &stats) != nil || stats.Calls["CreateInstances"]["OK"] != 1 {
		t.Errorf("stats: %d %s", status, body)
	}
	status, state := admin("GET", "/_emulator/state", "")
	if status != 200 || !bytes.Contains(state, []byte(`"instances": []`)) {
		t.Errorf("state: %d %s", status, state)
	}
	if status, body = admin("PUT", "/_emulator/state", `{"version":99}`); status != 400 {
		t.Errorf("PUT bad state: %d %s", status, body)
	}
	// A real-time emulator refuses to advance.
	rt, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{header: http.Header{}}
	req := httptestRequest("POST", "/_emulator/clock/advance", `{"duration":"1s"}`)
	req.Header.Set(emulator.AdminHeader, "1")
	rt.ServeHTTP(rec, req)
	if rec.status != http.StatusConflict {
		t.Errorf("advance on real time: %d", rec.status)
	}
	closed, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}, DisableAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{header: http.Header{}}
	closed.ServeHTTP(rec, httptestRequest("GET", "/_emulator/instances", ""))
	if rec.status != http.StatusNotFound {
		t.Errorf("admin API with DisableAdmin: %d", rec.status)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseFault(t *testing.T) {
	good := map[string]emulator.Fault{
		"drop-response,action=CreateInstances,count=1": {Kind: emulator.FaultDropResponse, Action: "CreateInstances", Count: 1},
		"internal-error,probability=0.2":               {Kind: emulator.FaultInternalError, Probability: 0.2},
		"delay,delay=3s":                               {Kind: emulator.FaultDelay, Delay: 3 * time.Second},
		"http-5xx,status=503,count=2":                  {Kind: emulator.FaultHTTP5xx, Status: 503, Count: 2},
		"describe-lag,delay=30s":                       {Kind: emulator.FaultDescribeLag, Delay: 30 * time.Second},
		"request-limit-exceeded":                       {Kind: emulator.FaultRequestLimitExceeded},
		"operation-failure,action=ResetInstance,instance=lhins-abcd1234,count=1": {Kind: emulator.FaultOperationFailure, Action: "ResetInstance", InstanceId: "lhins-abcd1234", Count: 1},
		"operation-failure,probability=0.5":                                      {Kind: emulator.FaultOperationFailure, Probability: 0.5},
		"internal-error,action=RenewInstances":                                   {Kind: emulator.FaultInternalError, Action: "RenewInstances"},
	}
	for in, want := range good {
		got, err := emulator.ParseFault(in)
		if err != nil || got != want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "explode", "delay", "delay,delay=soon", "http-5xx,status=404", "internal-error,probability=2",
		"drop-response,count=-1", "drop-response,action=RunInstances", "drop-response,colour=red", "drop-response,count",
		"operation-failure,action=DescribeInstances", "operation-failure,instance=i-123", "drop-response,instance=lhins-abcd1234"} {
		if f, err := emulator.ParseFault(in); err == nil {
			t.Errorf("ParseFault(%q) = %+v, want an error", in, f)
		}
	}
}

func TestNonAPIRequests(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.hs.Client().Get(e.hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Response errorPart }
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if env.Response.Error == nil || env.Response.Error.Code != "InvalidRequest" {
		t.Errorf("GET /: %+v", env.Response)
	}
	resp, err = e.hs.Client().Post(e.hs.URL+"/v2/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /v2/: %d", resp.StatusCode)
	}
	big := append([]byte(`{"InstanceName":"`), bytes.Repeat([]byte("x"), 11<<20)...)
	big = append(big, `"}`...)
	if _, code := e.do(e.rawRequest("CreateInstances", region, big, testID, testKey, e.clock.Now().Unix())); code != "RequestSizeLimitExceeded" {
		t.Errorf("11 MB body: %q", code)
	}
}

// TestAdminRefusesWebPages: the unauthenticated admin API refuses what a
// web page in a browser on the same machine can send: a cross-origin
// "simple" write (text/plain or a form, no custom header), and, on a
// loopback listener, any request addressed to a host that is not loopback
// (DNS rebinding).
func TestAdminRefusesWebPages(t *testing.T) {
	e := newEnv(t, nil)
	e.create(basicCreate(nil))
	do := e.admin
	fault := `{"kind":"internal-error"}`
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if status, body := do("POST", "/_emulator/faults", "", fault, map[string]string{"Content-Type": ct}); status != http.StatusUnsupportedMediaType || !strings.Contains(body, emulator.AdminHeader) {
			t.Errorf("POST with Content-Type %q: %d %s; want 415 naming %s", ct, status, body, emulator.AdminHeader)
		}
	}
	if status, body := do("DELETE", "/_emulator/instances/"+e.srv.Instances()[0].InstanceId, "", "", nil); status != http.StatusUnsupportedMediaType {
		t.Errorf("DELETE without the header: %d %s", status, body)
	}
	if n := len(e.srv.Faults()); n != 0 || len(e.srv.Instances()) != 1 {
		t.Fatalf("refused writes acted: %d faults, %d instances", n, len(e.srv.Instances()))
	}
	if status, body := do("POST", "/_emulator/faults", "", fault, map[string]string{"Content-Type": "application/json; charset=utf-8"}); status != http.StatusCreated {
		t.Errorf("POST as JSON: %d %s", status, body)
	}
	if status, body := do("DELETE", "/_emulator/faults", "", "", map[string]string{emulator.AdminHeader: "1"}); status != http.StatusNoContent {
		t.Errorf("DELETE with the header: %d %s", status, body)
	}
	port := e.hs.URL[strings.LastIndex(e.hs.URL, ":"):]
	for _, host := range []string{"attacker.example" + port, "attacker.example", "127.0.0.1.nip.io" + port, "lighthouse.tencentcloudapi.com"} {
		if status, body := do("GET", "/_emulator/state", host, "", nil); status != http.StatusForbidden || strings.Contains(body, "instances") {
			t.Errorf("GET state with Host %q: %d %s; want 403", host, status, body)
		}
		if status, _ := do("POST", "/_emulator/faults", host, fault, map[string]string{"Content-Type": "application/json"}); status != http.StatusForbidden {
			t.Errorf("POST fault with Host %q: %d; want 403", host, status)
		}
	}
	for _, host := range []string{"localhost" + port, "LOCALHOST", "127.0.0.1" + port, "127.1.2.3", "[::1]" + port} {
		if status, body := do("GET", "/_emulator/state", host, "", nil); status != http.StatusOK {
			t.Errorf("GET state with Host %q: %d %s; want 200", host, status, body)
		}
	}
	// The Lighthouse API itself is not the admin API: a signed request
	// goes through whatever the rules above say.
	e.wantCode("DescribeInstances", map[string]any{}, "")
}

// TestAdminAccountAndExpiry: the admin API sets the balance (in all, or
// what is left) and moves an instance's expiry, as tests of renewals need.
func TestAdminAccountAndExpiry(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1; c.MaxClockSkew = -1 })
	id := e.create(basicCreate(nil))[0]
	admin := func(method, path, body string) (int, string) {
		t.Helper()
		return e.admin(method, path, "", body, map[string]string{"Content-Type": "application/json"})
	}
	if status, body := admin("GET", "/_emulator/account", ""); status != 200 || !strings.Contains(body, `"spent": 150`) || !strings.Contains(body, `"balance": 0`) {
		t.Errorf("GET account: %d %s", status, body)
	}
	if status, body := admin("POST", "/_emulator/account", `{"available": 100}`); status != 200 || !strings.Contains(body, `"balance": 250`) {
		t.Errorf("POST available: %d %s", status, body)
	}
	e.wantCode("RenewInstances", renewParams(1, id), "FailedOperation.InsufficientBalance")
	if status, body := admin("POST", "/_emulator/account", `{"balance": 0}`); status != 200 || !strings.Contains(body, `"available": 0`) {
		t.Errorf("POST unlimited: %d %s", status, body)
	}
	for _, bad := range []string{`{}`, `{"balance": 1, "available": 1}`, `{"balance": -1}`, `{"colour": 1}`} {
		if status, body := admin("POST", "/_emulator/account", bad); status != 400 {
			t.Errorf("POST account %s: %d %s", bad, status, body)
		}
	}
	soon := e.clock.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if status, body := admin("POST", "/_emulator/instances/"+id+"/expired-time", `{"expiredTime":"`+soon.Format(time.RFC3339)+`"}`); status != 204 {
		t.Fatalf("POST expired-time: %d %s", status, body)
	}
	if got := expiredAt(t, e.get(id)); !got.Equal(soon) {
		t.Fatalf("ExpiredTime %v, want %v", got, soon)
	}
	e.clock.Advance(time.Hour)
	if in := e.get(id); in.InstanceState != "SHUTDOWN" || !in.ShutDownByExpiry() {
		t.Errorf("at the moved expiry: %s", in.InstanceState)
	}
	if status, _ := admin("POST", "/_emulator/instances/lhins-nothere1/expired-time", `{"expiredTime":"`+soon.Format(time.RFC3339)+`"}`); status != 404 {
		t.Errorf("expired-time of a missing instance: %d", status)
	}
	if status, _ := admin("POST", "/_emulator/instances/"+id+"/expired-time", `{"expiredTime":"tomorrow"}`); status != 400 {
		t.Errorf("expired-time not a time: %d", status)
	}
}

// admin sends a request to the admin API with header and, unless "", host
// as the Host header, and returns the status and the body.
func (e *testEnv) admin(method, path, host, body string, header map[string]string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
