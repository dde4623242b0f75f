package emulator_test

import (
	"testing"
)

// TestParameterNamesAreExact: parameter names are matched exactly, as the
// API defines them, at every depth. Go's encoding/json alone would accept
// "limit" for Limit or "clienttoken" for ClientToken, which would let a
// client pass against the emulator with a body the service refuses (or,
// for a token, reads differently). A key given twice is refused too: which
// of the two values counts is not defined. So is a body that is not an
// object, null included.
func TestParameterNamesAreExact(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		action string
		body   string
		want   string
	}{
		{"lowercase top-level", "DescribeInstances", `{"limit":1}`, "UnknownParameter"},
		{"lowercase in a filter", "DescribeInstances", `{"Filters":[{"name":"zone","Values":["ap-guangzhou-3"]}]}`, "UnknownParameter"},
		{"camel-case token", "CreateInstances", `{"BundleId":"bundle_gen_03","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1},"clientToken":"t1"}`, "UnknownParameter"},
		{"lowercase nested", "CreateInstances", `{"BundleId":"bundle_gen_03","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"period":1}}`, "UnknownParameter"},
		{"lowercase in a list of structs", "CreateInstances", `{"BundleId":"bundle_gen_03","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1},"Tags":[{"key":"a","Value":"b"}]}`, "UnknownParameter"},
		{"duplicated key", "CreateInstances", `{"BundleId":"bundle_gen_03","BlueprintId":"lhbp-g0tn7djh","InstanceChargePrepaid":{"Period":1},"ClientToken":"a","ClientToken":"b"}`, "InvalidParameter"},
		{"duplicated nested key", "DescribeInstances", `{"Filters":[{"Name":"zone","Name":"instance-name","Values":["x"]}]}`, "InvalidParameter"},
		{"null body", "DescribeInstances", `null`, "InvalidParameter"},
		{"array body", "DescribeInstances", `[]`, "InvalidParameter"},
		{"string body", "DescribeRegions", `"x"`, "InvalidParameter"},
		{"exact names pass", "DescribeInstances", `{"Limit":1,"Filters":[{"Name":"zone","Values":["ap-guangzhou-3"]}]}`, ""},
		{"numbers as strings still pass", "DescribeInstances", `{"Limit":"1","Offset":"0"}`, ""},
	} {
		raw, code := e.do(e.rawRequest(tc.action, region, []byte(tc.body), testID, testKey, e.clock.Now().Unix()))
		if code != tc.want {
			t.Errorf("%s: code %q, want %q (%s)", tc.name, code, tc.want, raw)
		}
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("%d instances created by refused requests", n)
	}
}
