package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// FuzzRequestBody sends arbitrary, correctly signed bodies to every action:
// the emulator must never panic and must always answer HTTP 200 with an
// envelope carrying a RequestId, and either an error code or a result.
func FuzzRequestBody(f *testing.F) {
	actions := []string{
		"CreateInstances", "DescribeInstances", "DescribeBundles", "DescribeBlueprints", "DescribeZones",
		"DescribeRegions", "DescribeGeneralResourceQuotas", "InquirePriceCreateInstances",
		"IsolateInstances", "TerminateInstances",
	}
	for i, seed := range []string{
		`{}`, ``, `null`, `[]`, `"x"`, `{"Limit":"100","Offset":"1"}`,
		`{"BundleId":"bundle_gen_01","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":"1"},"ClientToken":"t"}`,
		`{"InstanceIds":["lhins-aaaaaaaa"],"Filters":[{"Name":"zone","Values":["ap-guangzhou-3"]}]}`,
		`{"Filters":[{"Name":"tag:k","Values":["v"]}],"OrderField":"EXPIRED_TIME","Order":"DESC"}`,
		`{"ResourceNames":["GENERAL_BUNDLE_INSTANCE"]}`, `{"Zones":["ap-guangzhou-3"],"Limit":9223372036854775807,"Offset":9223372036854775807}`,
		`{"InstanceChargePrepaid":{"Period":1e400}}`, `{"InstanceIds":[null]}`, `{"Filters":[null]}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	clock := emulator.NewManualClock(time.Unix(1700000000, 0))
	srv, err := emulator.New(emulator.Config{
		Credentials: map[string]string{testID: testKey},
		Clock:       clock,
		Seed:        1,
		RateLimits:  emulator.NoRateLimits(),
		LaunchDelay: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		action := actions[int(which)%len(actions)]
		ts := clock.Now().Unix()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-TC-Action", action)
		r.Header.Set("X-TC-Version", lighthouse.Version)
		r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-TC-Region", region)
		r.Header.Set("Authorization", lighthouse.Authorization(testID, testKey, lighthouse.SignInput{
			Service: lighthouse.Service, Host: r.Host, ContentType: "application/json", Timestamp: ts, Body: body,
		}))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s %q: HTTP %d", action, body, w.Code)
		}
		var env struct {
			Response map[string]json.RawMessage
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Response == nil {
			t.Fatalf("%s %q: not an envelope (%v): %s", action, body, err, w.Body.Bytes())
		}
		var id string
		if json.Unmarshal(env.Response["RequestId"], &id) != nil || id == "" {
			t.Fatalf("%s %q: no RequestId: %s", action, body, w.Body.Bytes())
		}
		if e, ok := env.Response["Error"]; ok {
			var eb lighthouse.ErrorBody
			if json.Unmarshal(e, &eb) != nil || eb.Code == "" || eb.Message == "" {
				t.Fatalf("%s %q: malformed Error: %s", action, body, e)
			}
			if eb.Code == "InternalError" {
				t.Fatalf("%s %q: InternalError on client input: %s", action, body, eb.Message)
			}
		}
	})
}
