package emulator_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestLoadCatalogFiles(t *testing.T) {
	for _, tc := range []struct {
		file, region, bundle, blueprint string
	}{
		{"testdata/catalog.yaml", "ap-singapore", "bundle_gen_sg_01", "lhbp-g0tn7djh"},
		{"testdata/catalog.json", "eu-frankfurt", "bundle_eu_01", "lhbp-d8pgvqz2"},
	} {
		cat, err := emulator.LoadCatalogFile(tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		e := newEnv(t, func(c *emulator.Config) { c.Catalog = cat })
		if _, code := e.call("CreateInstances", tc.region, basicCreate(map[string]any{"BundleId": tc.bundle, "BlueprintId": tc.blueprint})); code != "" {
			t.Errorf("%s: create: %s", tc.file, code)
		}
		if _, code := e.call("DescribeInstances", region, map[string]any{}); code != "AuthFailure.InvalidRegion" {
			t.Errorf("%s: built-in region still served: %q", tc.file, code)
		}
	}
	cat, _ := emulator.LoadCatalogFile("testdata/catalog.yaml")
	e := newEnv(t, func(c *emulator.Config) { c.Catalog = cat })
	sg := "ap-singapore"
	if _, code := e.call("CreateInstances", sg, basicCreate(map[string]any{"BundleId": "bundle_gen_sg_01", "Zones": []string{"ap-singapore-3"}})); code != "ResourcesSoldOut.BundleSoldOut" {
		t.Errorf("sold-out zone: %q", code)
	}
	if _, code := e.call("CreateInstances", sg, basicCreate(map[string]any{"BundleId": "bundle_old_01"})); code != "ResourceUnavailable.BundleUnavailable" {
		t.Errorf("offline bundle: %q", code)
	}
	if _, code := e.call("CreateInstances", sg, basicCreate(map[string]any{"BundleId": "bundle_gen_sg_01", "FirewallTemplateId": "lhft-web00001"})); code != "" {
		t.Errorf("known firewall template: %q", code)
	}
	raw, code := e.call("InquirePriceCreateInstances", sg, map[string]any{"BundleId": "bundle_gen_sg_01", "InstanceChargePrepaid": map[string]any{"Period": 12}, "InstanceCount": 2})
	var price lighthouse.InquirePriceCreateInstancesResponse
	decode(t, raw, &price)
	if p := price.Price.InstancePrice; code != "" || p.OriginalPrice != 300 || p.DiscountPrice != 240 || p.Discount != 80 || p.OriginalBundlePrice != 12.5 {
		t.Errorf("price: %s %+v", code, p)
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "regions: []\ncolour: red\n", "colour"},
		{"no regions", "bundles: []\n", "at least one region"},
		{"bad bundle type", `{"regions":[{"region":"r","zones":[{"zone":"z"}]}],"bundles":[{"bundleId":"b","bundleType":"GPU","cpu":1,"memory":1,"systemDiskSize":1,"platforms":["LINUX_UNIX"]}]}`, `bundleType "GPU"`},
		{"unknown sold-out zone", `{"regions":[{"region":"r","zones":[{"zone":"z"}]}],"bundles":[{"bundleId":"b","bundleType":"GENERAL_BUNDLE","cpu":1,"memory":1,"systemDiskSize":1,"platforms":["LINUX_UNIX"],"soldOutZones":["y"]}]}`, `unknown zone "y"`},
		{"malformed blueprint", `{"regions":[{"region":"r","zones":[{"zone":"z"}]}],"blueprints":[{"blueprintId":"img-1","platformType":"LINUX_UNIX"}]}`, `"img-1" is malformed`},
		{"duplicated zone", `{"regions":[{"region":"r","zones":[{"zone":"z"},{"zone":"z"}]}]}`, "duplicated"},
	}
	for _, tt := range tests {
		_, err := emulator.LoadCatalog(strings.NewReader(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	if err := emulator.DefaultCatalog().Validate(); err != nil {
		t.Errorf("built-in catalog: %v", err)
	}
}

func TestCatalogActions(t *testing.T) {
	e := newEnv(t, nil)
	var bundles lighthouse.DescribeBundlesResponse
	e.mustCall("DescribeBundles", map[string]any{}, &bundles)
	if bundles.TotalCount != 6 || len(bundles.BundleSet) != 6 {
		t.Fatalf("DescribeBundles: %d", bundles.TotalCount)
	}
	b := bundles.BundleSet[2]
	if b.BundleId != "bundle_gen_03" || b.CPU != 2 || b.Memory != 8 || !b.SupportWindowsPlatform || b.BundleSalesState != "AVAILABLE" || b.Price.InstancePrice.Currency != "CNY" || b.Price.InstancePrice.OriginalPrice <= 0 {
		t.Errorf("bundle_gen_03 = %+v", b)
	}
	e.mustCall("DescribeBundles", map[string]any{"Filters": []lighthouse.Filter{{Name: "support-platform-type", Values: []string{"WINDOWS"}}}}, &bundles)
	if bundles.TotalCount != 4 {
		t.Errorf("Windows bundles: %d, want 4", bundles.TotalCount)
	}
	e.mustCall("DescribeBundles", map[string]any{"BundleIds": []string{"bundle_starter_01"}, "Zones": []string{"ap-guangzhou-3"}}, &bundles)
	if bundles.TotalCount != 1 || bundles.BundleSet[0].BundleType != "STARTER_BUNDLE" {
		t.Errorf("by ID: %+v", bundles)
	}
	e.wantCode("DescribeBundles", map[string]any{"Zones": []string{"ap-beijing-3"}}, "InvalidParameterValue.ZoneInvalid")
	e.wantCode("DescribeBundles", map[string]any{"BundleIds": []string{"a"}, "Filters": []lighthouse.Filter{{Name: "bundle-id", Values: []string{"a"}}}}, "InvalidParameter.ParameterConflict")
	e.wantCode("DescribeBundles", map[string]any{"Filters": []lighthouse.Filter{{Name: "bundle-type", Values: []string{"1", "2", "3", "4", "5", "6"}}}}, "InvalidParameter.FilterValueLimitExceeded")

	var bps lighthouse.DescribeBlueprintsResponse
	e.mustCall("DescribeBlueprints", map[string]any{"Filters": []lighthouse.Filter{{Name: "blueprint-type", Values: []string{"DOCKER"}}}}, &bps)
	if bps.TotalCount != 1 || bps.BlueprintSet[0].BlueprintId != "lhbp-dk3r8c2a" || bps.BlueprintSet[0].DockerVersion == nil {
		t.Errorf("docker blueprints: %+v", bps)
	}
	e.mustCall("DescribeBlueprints", map[string]any{"Limit": 2, "Offset": 4}, &bps)
	if bps.TotalCount != 5 || len(bps.BlueprintSet) != 1 || bps.BlueprintSet[0].PlatformType != "WINDOWS" {
		t.Errorf("blueprint page: %+v", bps)
	}
	e.wantCode("DescribeBlueprints", map[string]any{"BlueprintIds": []string{"lhbp-1"}}, "InvalidParameterValue.BlueprintIdMalformed")

	var zones lighthouse.DescribeZonesResponse
	e.mustCall("DescribeZones", map[string]any{"Order": "DESC"}, &zones)
	if zones.TotalCount != 3 || zones.ZoneInfoSet[0].Zone != "ap-guangzhou-6" {
		t.Errorf("zones DESC: %+v", zones)
	}
	e.wantCode("DescribeZones", map[string]any{"OrderField": "NAME"}, "InvalidParameterValue")

	var regions lighthouse.DescribeRegionsResponse
	e.mustCall("DescribeRegions", map[string]any{}, &regions)
	if regions.TotalCount != 5 || regions.RegionSet[3].Region != "ap-hongkong" || regions.RegionSet[3].IsChinaMainland || regions.RegionSet[0].RegionState != "AVAILABLE" {
		t.Errorf("regions: %+v", regions)
	}
	e.wantCode("DescribeRegions", map[string]any{"Region": "x"}, "UnknownParameter")

	e.wantCode("InquirePriceCreateInstances", map[string]any{"InstanceChargePrepaid": map[string]any{"Period": 1}}, "MissingParameter")
	e.wantCode("InquirePriceCreateInstances", map[string]any{"BundleId": "bundle_gen_01"}, "MissingParameter")
	e.wantCode("InquirePriceCreateInstances", map[string]any{"BundleId": "bundle_gen_01", "InstanceChargePrepaid": map[string]any{"Period": 1}, "InstanceCount": 31}, "InvalidParameterValue.OutOfRange")
	e.wantCode("InquirePriceCreateInstances", map[string]any{"BundleId": "bundle_starter_01", "BlueprintId": "lhbp-w1n2022a", "InstanceChargePrepaid": map[string]any{"Period": 1}}, "InvalidParameterValue.BundleNotSupportBlueprintPlatform")
}

func TestStateRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.create(basicCreate(map[string]any{"ClientToken": "persist", "InstanceCount": 2, "Tags": []lighthouse.Tag{{Key: "a", Value: "b"}}}))
	var buf bytes.Buffer
	if err := e.srv.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(testKey)) {
		t.Error("state contains the SecretKey")
	}
	before := e.srv.Instances()

	// A new emulator, same seed, on the same clock.
	f := newEnv(t, func(c *emulator.Config) { c.Clock = e.clock })
	if err := f.srv.LoadState(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	after := f.srv.Instances()
	if len(after) != 2 || after[0].InstanceId != before[0].InstanceId || after[1].Tags[0] != before[1].Tags[0] || *after[0].CreatedTime != *before[0].CreatedTime {
		t.Fatalf("after load: %+v", after)
	}
	// Pending launches finish on the loaded side, the token is remembered,
	// quota usage is restored, and new IDs do not repeat old ones.
	e.clock.Advance(emulator.DefaultLaunchDelay)
	if s := f.get(ids[0]).InstanceState; s != lighthouse.StateRunning {
		t.Errorf("loaded pending instance: %s", s)
	}
	if again := f.create(basicCreate(map[string]any{"ClientToken": "persist", "InstanceCount": 2, "Tags": []lighthouse.Tag{{Key: "a", Value: "b"}}})); again[0] != ids[0] {
		t.Errorf("token forgotten across save/load: %v vs %v", again, ids)
	}
	fresh := f.create(basicCreate(nil))[0]
	if fresh == ids[0] || fresh == ids[1] {
		t.Errorf("ID %s reused after load", fresh)
	}
	var q lighthouse.DescribeGeneralResourceQuotasResponse
	f.mustCall("DescribeGeneralResourceQuotas", map[string]any{"ResourceNames": []string{"GENERAL_BUNDLE_INSTANCE"}}, &q)
	if q.GeneralResourceQuotaSet[0].ResourceQuotaAvailable != emulator.DefaultQuota-3 {
		t.Errorf("quota after load: %+v", q.GeneralResourceQuotaSet[0])
	}
	if err := f.srv.LoadState(strings.NewReader(`{"version":1,"instances":[{"InstanceId":"bad"}]}`)); err == nil {
		t.Error("malformed state accepted")
	}
}

// Key pairs are per region and well formed; the example fleets' keys are in
// the built-in catalog where their fleets need them.
func TestCatalogKeyPairs(t *testing.T) {
	cat := emulator.DefaultCatalog()
	has := map[string]map[string]bool{}
	for _, r := range cat.Regions {
		has[r.Region] = map[string]bool{}
		for _, k := range r.KeyPairs {
			has[r.Region][k] = true
		}
	}
	for region, keys := range map[string][]string{
		"ap-guangzhou": {"lhkp-ops00001", "lhkp-web00001"},
		"ap-shanghai":  {"lhkp-ops00001", "lhkp-api00001"},
	} {
		for _, k := range keys {
			if !has[region][k] {
				t.Errorf("built-in catalog: %s lacks key pair %s", region, k)
			}
		}
	}
	bad := emulator.DefaultCatalog()
	bad.Regions[0].KeyPairs = append(bad.Regions[0].KeyPairs, "my-key", "lhkp-ops00001")
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), `"my-key"`) || !strings.Contains(err.Error(), `"lhkp-ops00001"`) {
		t.Errorf("malformed and duplicated key pairs: %v", err)
	}
}
