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
		req, _ := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
		resp, err := e.hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
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
	rt.ServeHTTP(rec, httptestRequest("POST", "/_emulator/clock/advance", `{"duration":"1s"}`))
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
	}
	for in, want := range good {
		got, err := emulator.ParseFault(in)
		if err != nil || got != want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "explode", "delay", "delay,delay=soon", "http-5xx,status=404", "internal-error,probability=2",
		"drop-response,count=-1", "drop-response,action=RunInstances", "drop-response,colour=red", "drop-response,count"} {
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
