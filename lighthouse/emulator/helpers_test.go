package emulator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

const (
	testID  = "AKIDemulatortest0001"
	testKey = "emulator-test-secret-key"
	region  = "ap-guangzhou"
)

type testEnv struct {
	t     testing.TB
	srv   *emulator.Server
	hs    *httptest.Server
	clock *emulator.ManualClock
}

// newEnv starts an emulator through the emulatortest harness, with a
// manual clock set to the wall clock (the SDK signs with the wall clock),
// no rate limits and seed 1; mut adjusts the config.
func newEnv(t testing.TB, mut func(*emulator.Config)) *testEnv {
	t.Helper()
	cfg := emulator.Config{
		Credentials: map[string]string{testID: testKey},
		Seed:        1,
		RateLimits:  emulator.NoRateLimits(),
	}
	if mut != nil {
		mut(&cfg)
	}
	h := emulatortest.New(t, cfg, emulatortest.WithStart(time.Now().Truncate(time.Second)))
	return &testEnv{t: t, srv: h.Server, hs: h.HTTP, clock: h.Clock}
}

// rawRequest builds a signed API request. ts is the X-TC-Timestamp.
func (e *testEnv) rawRequest(action, reg string, body []byte, id, key string, ts int64) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.hs.URL+"/", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	host := strings.TrimPrefix(e.hs.URL, "http://")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", lighthouse.Version)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	if reg != "" {
		req.Header.Set("X-TC-Region", reg)
	}
	req.Header.Set("Authorization", lighthouse.Authorization(id, key, lighthouse.SignInput{
		Service: lighthouse.Service, Host: host, ContentType: "application/json", Timestamp: ts, Body: body,
	}))
	return req
}

type envelope struct {
	Response json.RawMessage
}

type errorPart struct {
	Error     *lighthouse.ErrorBody
	RequestId string
}

// do sends req and returns the Response object and the error code ("" on
// success).
func (e *testEnv) do(req *http.Request) (json.RawMessage, string) {
	e.t.Helper()
	resp, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s: %v", req.Header.Get("X-TC-Action"), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d: %s", req.Header.Get("X-TC-Action"), resp.StatusCode, b)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		e.t.Fatalf("%s: decode envelope: %v: %s", req.Header.Get("X-TC-Action"), err, b)
	}
	var ep errorPart
	if err := json.Unmarshal(env.Response, &ep); err != nil {
		e.t.Fatalf("decode response: %v", err)
	}
	if ep.RequestId == "" {
		e.t.Errorf("%s: response without RequestId: %s", req.Header.Get("X-TC-Action"), b)
	}
	if ep.Error != nil {
		return env.Response, ep.Error.Code
	}
	return env.Response, ""
}

// call signs params at the emulator's time and returns (Response, code).
func (e *testEnv) call(action, reg string, params any) (json.RawMessage, string) {
	e.t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(e.rawRequest(action, reg, body, testID, testKey, e.clock.Now().Unix()))
}

// mustCall is call that fails the test on an error code and decodes into out.
func (e *testEnv) mustCall(action string, params, out any) {
	e.t.Helper()
	raw, code := e.call(action, region, params)
	if code != "" {
		e.t.Fatalf("%s: unexpected error %s: %s", action, code, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s: decode: %v", action, err)
		}
	}
}

// wantCode calls and checks the error code.
func (e *testEnv) wantCode(action string, params any, want string) {
	e.t.Helper()
	raw, code := e.call(action, region, params)
	if code != want {
		e.t.Errorf("%s: code %q, want %q (%s)", action, code, want, raw)
	}
}

func (e *testEnv) create(params map[string]any) []string {
	e.t.Helper()
	var out lighthouse.CreateInstancesResponse
	e.mustCall("CreateInstances", params, &out)
	return out.InstanceIdSet
}

func (e *testEnv) describe(params any) lighthouse.DescribeInstancesResponse {
	e.t.Helper()
	var out lighthouse.DescribeInstancesResponse
	e.mustCall("DescribeInstances", params, &out)
	return out
}

func (e *testEnv) get(id string) lighthouse.Instance {
	e.t.Helper()
	out := e.describe(map[string]any{"InstanceIds": []string{id}})
	if len(out.InstanceSet) != 1 {
		e.t.Fatalf("describe %s: %d instances", id, len(out.InstanceSet))
	}
	return out.InstanceSet[0]
}

// basicCreate is a valid create body; extra keys override.
func basicCreate(extra map[string]any) map[string]any {
	m := map[string]any{
		"BundleId":              "bundle_gen_03",
		"BlueprintId":           "lhbp-g0tn7djh",
		"InstanceChargePrepaid": map[string]any{"Period": 1, "RenewFlag": "NOTIFY_AND_MANUAL_RENEW"},
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// sdkClient is the official SDK's generic client pointed at the emulator.
func (e *testEnv) sdkClient(reg, id, key string) *common.Client {
	return e.sdkClientWith(reg, common.NewCredential(id, key))
}

// sdkClientWith is sdkClient for any SDK credential, such as a temporary
// key (common.NewTokenCredential).
func (e *testEnv) sdkClientWith(reg string, cred common.CredentialIface) *common.Client {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(e.hs.URL, "http://")
	cpf.HttpProfile.Scheme = "http"
	return common.NewCommonClient(cred, reg, cpf)
}

// sdkCall sends one action through the SDK and decodes the Response into
// out.
func sdkCall(c *common.Client, action string, params, out any) error {
	req := tchttp.NewCommonRequest(lighthouse.Service, lighthouse.Version, action)
	if err := req.SetActionParameters(params); err != nil {
		return err
	}
	resp := tchttp.NewCommonResponse()
	if err := c.Send(req, resp); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	var env envelope
	if err := json.Unmarshal(resp.GetBody(), &env); err != nil {
		return err
	}
	return json.Unmarshal(env.Response, out)
}

// sdkCode returns the TencentCloudSDKError code of err, failing if err is
// not one.
func sdkCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var se *sdkerrors.TencentCloudSDKError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a TencentCloudSDKError", err, err)
	}
	if se.GetRequestId() == "" && !strings.HasPrefix(se.GetCode(), "ClientError") {
		t.Errorf("SDK error %s has no RequestId", se.GetCode())
	}
	return se.GetCode()
}

func decode(t testing.TB, raw json.RawMessage, out any) {
	t.Helper()
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// recorder is a minimal http.ResponseWriter for handler-level tests.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func httptestRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}
