package emulator_test

import (
	"encoding/json"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// The international site refuses what its SDK and CreateInstances page do
// not take, with UnknownParameter, and creates nothing; the China site
// takes the same requests.
func TestSiteIntlRefusesChinaOnlyCreateParameters(t *testing.T) {
	intl := newEnv(t, func(c *emulator.Config) { c.Site = emulator.SiteIntl; c.LaunchDelay = -1 })
	china := newEnv(t, func(c *emulator.Config) {
		c.LaunchDelay = -1
		c.Catalog = emulator.DefaultCatalog()
		c.Catalog.FirewallTemplates = []string{"lhft-abcd1234"}
	})
	for name, extra := range map[string]map[string]any{
		"Tags":                       {"Tags": []map[string]string{{"Key": "lightkeeper-fleet", "Value": "web"}}},
		"FirewallTemplateId":         {"FirewallTemplateId": "lhft-abcd1234"},
		"InitCommand":                {"InitCommand": map[string]any{"Content": "ZWNobyBoaQ=="}},
		"DomainName":                 {"DomainName": "example.com"},
		"Subdomain":                  {"Subdomain": "www"},
		"Containers[].RestartPolicy": {"BlueprintId": "lhbp-dk3r8c2a", "Containers": []map[string]any{{"ContainerImage": "nginx", "RestartPolicy": "always"}}},
	} {
		intl.wantCode("CreateInstances", basicCreate(extra), "UnknownParameter")
		if _, code := china.call("CreateInstances", region, basicCreate(extra)); code != "" {
			t.Errorf("china site: %s refused with %s", name, code)
		}
	}
	if n := len(intl.srv.Instances()); n != 0 {
		t.Fatalf("intl site: %d instances created by refused requests", n)
	}
	// What the international page documents is taken.
	ids := intl.create(basicCreate(map[string]any{"InstanceName": "web-0", "ClientToken": "intl-0", "Zones": []string{"ap-guangzhou-3"},
		"BlueprintId": "lhbp-dk3r8c2a", "Containers": []map[string]any{{"ContainerImage": "nginx", "ContainerName": "edge"}}}))
	if len(ids) != 1 {
		t.Fatalf("intl create: %v", ids)
	}
}

// The international DescribeInstances has no OrderField/Order and returns
// no field its SDK's Instance lacks; the China site returns them.
func TestSiteIntlDescribeInstances(t *testing.T) {
	intl := newEnv(t, func(c *emulator.Config) { c.Site = emulator.SiteIntl; c.LaunchDelay = -1 })
	intl.create(basicCreate(nil))
	intl.wantCode("DescribeInstances", map[string]any{"OrderField": "EXPIRED_TIME"}, "UnknownParameter")
	intl.wantCode("DescribeInstances", map[string]any{"Order": "ASC"}, "UnknownParameter")
	intl.wantCode("DescribeInstances", map[string]any{"Filters": []map[string]any{{"Name": "bundle-id", "Values": []string{"bundle_gen_03"}}}}, "InvalidParameter.InvalidFilterNotSupportedName")
	if got := intl.describe(map[string]any{"Filters": []map[string]any{{"Name": "zone", "Values": []string{"ap-guangzhou-3", "ap-guangzhou-4", "ap-guangzhou-6"}}}}); got.TotalCount != 1 {
		t.Errorf("intl zone filter: %d instances", got.TotalCount)
	}
	absent := []string{"LatestOperationStartedTime", "SupportIpv6Detail", "PublicIpv6Addresses", "InitInvocationId", "InstanceViolationDetail"}
	fields := func(e *testEnv) map[string]json.RawMessage {
		raw, code := e.call("DescribeInstances", region, map[string]any{})
		if code != "" {
			t.Fatalf("describe: %s", code)
		}
		var out struct{ InstanceSet []map[string]json.RawMessage }
		decode(t, raw, &out)
		if len(out.InstanceSet) != 1 {
			t.Fatalf("describe: %d instances", len(out.InstanceSet))
		}
		return out.InstanceSet[0]
	}
	got := fields(intl)
	for _, f := range absent {
		if _, ok := got[f]; ok {
			t.Errorf("intl site: instance has %s, which the international SDK lacks", f)
		}
	}
	for _, f := range []string{"InstanceId", "InstanceState", "ExpiredTime", "Tags", "LatestOperationRequestId", "InstanceRestrictState"} {
		if _, ok := got[f]; !ok {
			t.Errorf("intl site: instance lacks %s", f)
		}
	}
	china := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1 })
	china.create(basicCreate(nil))
	if _, ok := fields(china)["LatestOperationStartedTime"]; !ok {
		t.Error("china site: instance lacks LatestOperationStartedTime")
	}
}

func TestSiteUnknownRefused(t *testing.T) {
	_, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}, Site: "mars"})
	if err == nil {
		t.Fatal("unknown site accepted")
	}
}

func TestConfigNegativeLimitsRefused(t *testing.T) {
	for _, cfg := range []emulator.Config{{IsolateBatchLimit: -1}, {ReturnQuota: -1}} {
		cfg.Credentials = map[string]string{testID: testKey}
		if _, err := emulator.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
