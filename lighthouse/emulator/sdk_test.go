package emulator_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestSDKCreateDescribe(t *testing.T) {
	e := newEnv(t, nil)
	c := e.sdkClient(region, testID, testKey)
	var created lighthouse.CreateInstancesResponse
	err := sdkCall(c, "CreateInstances", basicCreate(map[string]any{
		"InstanceName": "web-0",
		"ClientToken":  "lk-web-0-0",
		"Zones":        []string{"ap-guangzhou-4"},
		"Tags":         []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}, {Key: "lightkeeper-slot", Value: "0"}},
	}), &created)
	if err != nil {
		t.Fatalf("CreateInstances: %v", err)
	}
	if len(created.InstanceIdSet) != 1 || created.RequestId == "" {
		t.Fatalf("CreateInstances = %+v, want one ID and a RequestId", created)
	}
	id := created.InstanceIdSet[0]
	var got lighthouse.DescribeInstancesResponse
	if err := sdkCall(c, "DescribeInstances", map[string]any{
		"Filters": []lighthouse.Filter{{Name: "tag:lightkeeper-fleet", Values: []string{"web"}}},
	}, &got); err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if got.TotalCount != 1 || len(got.InstanceSet) != 1 {
		t.Fatalf("DescribeInstances = %d/%d instances, want 1", got.TotalCount, len(got.InstanceSet))
	}
	in := got.InstanceSet[0]
	if in.InstanceId != id || in.InstanceState != lighthouse.StatePending || in.Zone != "ap-guangzhou-4" ||
		in.InstanceName != "web-0" || in.LatestOperation != "CreateInstances" || in.LatestOperationState != lighthouse.OperationOperating {
		t.Errorf("new instance = %+v", in)
	}
	if in.CPU != 2 || in.Memory != 8 || in.SystemDisk.DiskSize != 80 || in.PlatformType != "LINUX_UNIX" || in.InstanceChargeType != "PREPAID" {
		t.Errorf("bundle/blueprint fields = %+v", in)
	}
	if len(in.PublicAddresses) != 0 || len(in.PrivateAddresses) != 1 {
		t.Errorf("PENDING addresses: public %v private %v", in.PublicAddresses, in.PrivateAddresses)
	}
	created1, _ := time.Parse("2006-01-02T15:04:05Z", *in.CreatedTime)
	expired, _ := time.Parse("2006-01-02T15:04:05Z", *in.ExpiredTime)
	if !created1.Equal(e.clock.Now().UTC()) || expired.Sub(created1) < 28*24*time.Hour {
		t.Errorf("CreatedTime %s ExpiredTime %s", *in.CreatedTime, *in.ExpiredTime)
	}

	e.clock.Advance(15 * time.Second)
	if err := sdkCall(c, "DescribeInstances", map[string]any{"InstanceIds": []string{id}}, &got); err != nil {
		t.Fatal(err)
	}
	in = got.InstanceSet[0]
	if in.InstanceState != lighthouse.StateRunning || in.LatestOperationState != lighthouse.OperationSuccess || len(in.PublicAddresses) != 1 || !in.InternetAccessible.PublicIpAssigned {
		t.Errorf("after launch delay: %+v", in)
	}
	if n := e.srv.Calls("CreateInstances", ""); n != 1 {
		t.Errorf("Calls(CreateInstances, ok) = %d", n)
	}
}

func TestSDKPaginate(t *testing.T) {
	e := newEnv(t, nil)
	c := e.sdkClient(region, testID, testKey)
	var want []string
	for range 3 {
		var r lighthouse.CreateInstancesResponse
		if err := sdkCall(c, "CreateInstances", basicCreate(map[string]any{"InstanceCount": 15}), &r); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		want = append(want, r.InstanceIdSet...)
	}
	// Another region's instance must not show up.
	other := e.sdkClient("ap-shanghai", testID, testKey)
	if err := sdkCall(other, "CreateInstances", basicCreate(nil), nil); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for offset := 0; ; offset += 20 {
		var page lighthouse.DescribeInstancesResponse
		if err := sdkCall(c, "DescribeInstances", map[string]any{"Offset": offset, "Limit": 20}, &page); err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 45 {
			t.Fatalf("TotalCount = %d, want 45", page.TotalCount)
		}
		for _, in := range page.InstanceSet {
			seen = append(seen, in.InstanceId)
		}
		if len(page.InstanceSet) < 20 {
			break
		}
	}
	if len(seen) != 45 {
		t.Fatalf("paged through %d instances, want 45", len(seen))
	}
	// Newest first: the last create's instances lead.
	if !slices.Contains(want[30:], seen[0]) || !slices.Contains(want[:15], seen[44]) {
		t.Errorf("order is not CreatedTime descending: first %s last %s", seen[0], seen[44])
	}
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("paged IDs differ from created IDs")
	}
}

func TestSDKErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, reg, id, key, action string
		params                     map[string]any
		want                       string
	}{
		{"unknown action", region, testID, testKey, "RunInstances", map[string]any{}, "InvalidAction"},
		{"wrong key", region, testID, "not-the-key", "DescribeInstances", map[string]any{}, "AuthFailure.SignatureFailure"},
		{"unknown secret id", region, "AKIDnobody", testKey, "DescribeInstances", map[string]any{}, "AuthFailure.SecretIdNotFound"},
		{"unknown region", "ap-mars", testID, testKey, "DescribeInstances", map[string]any{}, "AuthFailure.InvalidRegion"},
		{"missing region", "", testID, testKey, "DescribeInstances", map[string]any{}, "MissingParameter"},
		{"unknown parameter", region, testID, testKey, "DescribeInstances", map[string]any{"InstanceId": "lhins-aaaaaaaa"}, "UnknownParameter"},
		{"parameter error", region, testID, testKey, "DescribeInstances", map[string]any{"Limit": 101}, "InvalidParameterValue.OutOfRange"},
		{"business error", region, testID, testKey, "CreateInstances", basicCreate(map[string]any{"BundleId": "bundle_nope"}), "InvalidParameter.BundleIdNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdkCall(e.sdkClient(tt.reg, tt.id, tt.key), tt.action, tt.params, nil)
			if got := sdkCode(t, err); got != tt.want {
				t.Errorf("code %q, want %q (%v)", got, tt.want, err)
			}
		})
	}
	// DescribeRegions needs no region.
	var regions lighthouse.DescribeRegionsResponse
	if err := sdkCall(e.sdkClient("", testID, testKey), "DescribeRegions", map[string]any{}, &regions); err != nil || regions.TotalCount != 5 {
		t.Errorf("DescribeRegions without region: %v, %d regions", err, regions.TotalCount)
	}
}

func TestTamperedBody(t *testing.T) {
	e := newEnv(t, nil)
	signed := []byte(`{"BundleId":"bundle_gen_01","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1}}`)
	req := e.rawRequest("CreateInstances", region, signed, testID, testKey, e.clock.Now().Unix())
	// Same length, different body: 30 instances instead of one.
	tampered := []byte(`{"BundleId":"bundle_gen_04","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1}}`)
	req2 := e.rawRequest("CreateInstances", region, tampered, testID, testKey, e.clock.Now().Unix())
	req2.Header.Set("Authorization", req.Header.Get("Authorization"))
	if _, code := e.do(req2); code != "AuthFailure.SignatureFailure" {
		t.Errorf("tampered body: code %q, want AuthFailure.SignatureFailure", code)
	}
	// A changed Host is also covered by the signature.
	req3 := e.rawRequest("CreateInstances", region, signed, testID, testKey, e.clock.Now().Unix())
	req3.Host = "lighthouse.tencentcloudapi.com"
	if _, code := e.do(req3); code != "AuthFailure.SignatureFailure" {
		t.Errorf("changed host: code %q, want AuthFailure.SignatureFailure", code)
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("%d instances created by refused requests", n)
	}
	// The untouched request passes.
	if _, code := e.do(e.rawRequest("CreateInstances", region, signed, testID, testKey, e.clock.Now().Unix())); code != "" {
		t.Errorf("signed request refused: %s", code)
	}
}

func TestTimestampSkew(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now().Unix()
	for _, tc := range []struct {
		skew int64
		want string
	}{
		{-6 * 60, "AuthFailure.SignatureExpire"},
		{+6 * 60, "AuthFailure.SignatureExpire"},
		{-4 * 60, ""},
		{+4 * 60, ""},
	} {
		req := e.rawRequest("DescribeInstances", region, []byte(`{}`), testID, testKey, now+tc.skew)
		if _, code := e.do(req); code != tc.want {
			t.Errorf("skew %ds: code %q, want %q", tc.skew, code, tc.want)
		}
	}
	// A stale request through the SDK: the server clock moved 6 minutes on.
	e.clock.Advance(6 * time.Minute)
	err := sdkCall(e.sdkClient(region, testID, testKey), "DescribeInstances", map[string]any{}, nil)
	if got := sdkCode(t, err); got != "AuthFailure.SignatureExpire" {
		t.Errorf("SDK after 6 minutes of skew: %q", got)
	}

	// Configurable skew: 1 minute, or off.
	strict := newEnv(t, func(c *emulator.Config) { c.MaxClockSkew = time.Minute })
	if _, code := strict.do(strict.rawRequest("DescribeInstances", region, []byte(`{}`), testID, testKey, now-90)); code != "AuthFailure.SignatureExpire" {
		t.Errorf("skew 90s with MaxClockSkew 1m: %q", code)
	}
	off := newEnv(t, func(c *emulator.Config) { c.MaxClockSkew = -1 })
	off.clock.Advance(48 * time.Hour)
	if err := sdkCall(off.sdkClient(region, testID, testKey), "DescribeInstances", map[string]any{}, nil); err != nil {
		t.Errorf("skew check off, clock 48h ahead: %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	e := newEnv(t, nil)
	ts := e.clock.Now().Unix()
	cases := []struct {
		name string
		mod  func(r *http.Request)
		want string
	}{
		{"no action", func(r *http.Request) { r.Header.Del("X-TC-Action") }, "MissingParameter"},
		{"no version", func(r *http.Request) { r.Header.Del("X-TC-Version") }, "MissingParameter"},
		{"old version", func(r *http.Request) { r.Header.Set("X-TC-Version", "2017-03-12") }, "NoSuchVersion"},
		{"no timestamp", func(r *http.Request) { r.Header.Del("X-TC-Timestamp") }, "MissingParameter"},
		{"bad timestamp", func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "yesterday") }, "InvalidParameter"},
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, "AuthFailure.InvalidAuthorization"},
		{"garbled authorization", func(r *http.Request) { r.Header.Set("Authorization", "HMAC abc") }, "AuthFailure.InvalidAuthorization"},
		{"other timestamp", func(r *http.Request) { r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts+1, 10)) }, "AuthFailure.SignatureFailure"},
	}
	for _, tc := range cases {
		req := e.rawRequest("DescribeInstances", region, []byte(`{}`), testID, testKey, ts)
		tc.mod(req)
		if _, code := e.do(req); code != tc.want {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.want)
		}
	}
}

// TestSDKDayTwoActions: the official SDK's signed requests of the day-two
// actions pass, their answers decode into the SDK's shapes (by field
// name), and refusals reach the SDK as TencentCloudSDKErrors with the
// documented codes.
func TestSDKDayTwoActions(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay, c.OperationDelay = -1, -1 })
	c := e.sdkClient(region, testID, testKey)
	var created lighthouse.CreateInstancesResponse
	if err := sdkCall(c, "CreateInstances", basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceCount": 2}), &created); err != nil {
		t.Fatal(err)
	}
	ids := created.InstanceIdSet
	var bundles lighthouse.DescribeModifyInstanceBundlesResponse
	if err := sdkCall(c, "DescribeModifyInstanceBundles", map[string]any{"InstanceId": ids[0], "Limit": 100}, &bundles); err != nil || bundles.TotalCount != 5 {
		t.Fatalf("DescribeModifyInstanceBundles: %v, %d bundles", err, bundles.TotalCount)
	}
	var blueprints lighthouse.DescribeResetInstanceBlueprintsResponse
	if err := sdkCall(c, "DescribeResetInstanceBlueprints", map[string]any{"InstanceId": ids[0], "Filters": []lighthouse.Filter{{Name: "platform-type", Values: []string{"LINUX_UNIX"}}}}, &blueprints); err != nil || blueprints.TotalCount != 4 {
		t.Fatalf("DescribeResetInstanceBlueprints: %v, %d blueprints", err, blueprints.TotalCount)
	}
	var denied lighthouse.DescribeInstancesDeniedActionsResponse
	if err := sdkCall(c, "DescribeInstancesDeniedActions", map[string]any{"InstanceIds": ids}, &denied); err != nil || len(denied.InstanceDeniedActionSet) != 2 {
		t.Fatalf("DescribeInstancesDeniedActions: %v, %+v", err, denied)
	}
	var price lighthouse.InquirePriceRenewInstancesResponse
	if err := sdkCall(c, "InquirePriceRenewInstances", renewParams(2, ids...), &price); err != nil || price.TotalPrice.DiscountPrice != 240 {
		t.Fatalf("InquirePriceRenewInstances: %v, %+v", err, price.TotalPrice)
	}
	for _, call := range []struct {
		action string
		params map[string]any
	}{
		{"ModifyInstancesRenewFlag", map[string]any{"InstanceIds": ids, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}},
		{"RenewInstances", map[string]any{"InstanceIds": ids, "InstanceChargePrepaid": map[string]any{"Period": 2}, "RenewDataDisk": true, "AutoVoucher": false}},
		{"ModifyInstancesBundle", map[string]any{"InstanceIds": ids[:1], "BundleId": "bundle_gen_02", "AutoVoucher": false}},
		{"ResetInstance", map[string]any{"InstanceId": ids[1], "BlueprintId": "lhbp-d8pgvqz2", "LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-ops00001"}}}},
	} {
		var resp struct{ RequestId string }
		if err := sdkCall(c, call.action, call.params, &resp); err != nil || resp.RequestId == "" {
			t.Fatalf("%s: %v", call.action, err)
		}
	}
	a, b := e.get(ids[0]), e.get(ids[1])
	if a.BundleId != "bundle_gen_02" || a.RenewFlag != "NOTIFY_AND_AUTO_RENEW" || b.BlueprintId != "lhbp-d8pgvqz2" || b.LoginSettings.KeyIds[0] != "lhkp-ops00001" {
		t.Errorf("after the SDK's changes: %s %s / %s %v", a.BundleId, a.RenewFlag, b.BlueprintId, b.LoginSettings.KeyIds)
	}
	err := sdkCall(c, "ModifyInstancesBundle", map[string]any{"InstanceIds": ids[:1], "BundleId": "bundle_gen_01"}, nil)
	if code := sdkCode(t, err); code != "InvalidParameterValue.NotSupportModifyInstanceBundleType" {
		t.Errorf("a downgrade through the SDK: %v", err)
	}
	err = sdkCall(c, "RenewInstances", map[string]any{"InstanceIds": ids, "InstanceChargePrepaid": map[string]any{"Period": 48}}, nil)
	if code := sdkCode(t, err); code != "InvalidParameterValue.OutOfRange" {
		t.Errorf("a 48-month renewal through the SDK: %v", err)
	}
}
