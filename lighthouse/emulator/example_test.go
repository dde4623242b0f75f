package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// An emulator on a test server, called with the official SDK's generic
// client. The manual clock starts at the wall clock because the SDK signs
// requests with it.
func Example() {
	clock := emulator.NewManualClock(time.Now())
	srv, err := emulator.New(emulator.Config{
		Credentials: map[string]string{"AKIDexample": "example-key"},
		Clock:       clock,
		LaunchDelay: 20 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(hs.URL, "http://")
	cpf.HttpProfile.Scheme = "http"
	client := common.NewCommonClient(common.NewCredential("AKIDexample", "example-key"), "ap-guangzhou", cpf)

	send := func(action string, params map[string]any) map[string]any {
		req := tchttp.NewCommonRequest("lighthouse", "2020-03-24", action)
		req.SetActionParameters(params)
		resp := tchttp.NewCommonResponse()
		if err := client.Send(req, resp); err != nil {
			panic(err)
		}
		var out struct{ Response map[string]any }
		json.Unmarshal(resp.GetBody(), &out)
		return out.Response
	}
	send("CreateInstances", map[string]any{
		"BundleId":              "bundle_gen_03",
		"BlueprintId":           "lhbp-g0tn7djh",
		"InstanceChargePrepaid": map[string]any{"Period": 1},
		"ClientToken":           "web-0",
		"Tags":                  []map[string]string{{"Key": "lightkeeper-fleet", "Value": "web"}},
	})
	state := func() any {
		out := send("DescribeInstances", map[string]any{
			"Filters": []map[string]any{{"Name": "tag:lightkeeper-fleet", "Values": []string{"web"}}},
		})
		return out["InstanceSet"].([]any)[0].(map[string]any)["InstanceState"]
	}
	fmt.Println(state())
	clock.Advance(20 * time.Second)
	fmt.Println(state())
	fmt.Println(len(srv.Instances()), srv.Calls("CreateInstances", ""))
	// Output:
	// PENDING
	// RUNNING
	// 1 1
}
