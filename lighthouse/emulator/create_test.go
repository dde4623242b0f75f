package emulator_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestCreateInstancesParameterErrors(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) {
		cat := emulator.DefaultCatalog()
		cat.FirewallTemplates = []string{"lhft-aaaa1111"}
		c.Catalog = cat
	})
	charge := func(p int64, flag string) map[string]any {
		return map[string]any{"Period": p, "RenewFlag": flag}
	}
	login := func(m map[string]any) map[string]any { return map[string]any{"LoginConfiguration": m} }
	windows := func(extra map[string]any) map[string]any {
		m := map[string]any{"BlueprintId": "lhbp-w1n2022a"}
		for k, v := range extra {
			m[k] = v
		}
		return basicCreate(m)
	}
	container := func(c map[string]any) map[string]any {
		return map[string]any{"BlueprintId": "lhbp-dk3r8c2a", "Containers": []map[string]any{c}}
	}
	tags := func(n int) []lighthouse.Tag {
		var out []lighthouse.Tag
		for i := range n {
			out = append(out, lighthouse.Tag{Key: "k" + string(rune('a'+i)), Value: "v"})
		}
		return out
	}
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"missing BundleId", basicCreate(map[string]any{"BundleId": nil}), "MissingParameter"},
		{"missing BlueprintId", basicCreate(map[string]any{"BlueprintId": nil}), "MissingParameter"},
		{"missing InstanceChargePrepaid", basicCreate(map[string]any{"InstanceChargePrepaid": nil}), "MissingParameter"},
		{"missing Period", basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"RenewFlag": "NOTIFY_AND_AUTO_RENEW"}}), "MissingParameter"},
		{"Period 13", basicCreate(map[string]any{"InstanceChargePrepaid": charge(13, "")}), "InvalidParameterValue.OutOfRange"},
		{"Period 72", basicCreate(map[string]any{"InstanceChargePrepaid": charge(72, "")}), "InvalidParameterValue.OutOfRange"},
		{"bad RenewFlag", basicCreate(map[string]any{"InstanceChargePrepaid": charge(1, "AUTO")}), "InvalidParameterValue"},
		{"Period as a string", basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": "x"}}), "InvalidParameter"},
		{"unknown parameter", basicCreate(map[string]any{"ImageId": "img-1"}), "UnknownParameter"},
		{"unknown nested parameter", basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": 1, "Months": 1}}), "UnknownParameter"},
		{"InstanceCount 0", basicCreate(map[string]any{"InstanceCount": 0}), "InvalidParameterValue.OutOfRange"},
		{"InstanceCount 31", basicCreate(map[string]any{"InstanceCount": 31}), "InvalidParameterValue.OutOfRange"},
		{"InstanceCount negative", basicCreate(map[string]any{"InstanceCount": -1}), "InvalidParameter"},
		{"ClientToken 65", basicCreate(map[string]any{"ClientToken": strings.Repeat("t", 65)}), "InvalidParameterValue.ClientTokenTooLong"},
		{"ClientToken not ASCII", basicCreate(map[string]any{"ClientToken": "tök"}), "InvalidParameterValue"},
		{"InstanceName 61", basicCreate(map[string]any{"InstanceName": strings.Repeat("n", 61)}), "InvalidParameterValue.InstanceNameTooLong"},
		{"unknown bundle", basicCreate(map[string]any{"BundleId": "bundle_gen_99"}), "InvalidParameter.BundleIdNotFound"},
		{"malformed blueprint", basicCreate(map[string]any{"BlueprintId": "img-12345678"}), "InvalidParameterValue.BlueprintIdMalformed"},
		{"unknown blueprint", basicCreate(map[string]any{"BlueprintId": "lhbp-zzzzzzzz"}), "ResourceNotFound.BlueprintIdNotFound"},
		{"Windows on Linux-only bundle", basicCreate(map[string]any{"BundleId": "bundle_starter_01", "BlueprintId": "lhbp-w1n2022a"}), "InvalidParameterValue.BundleNotSupportBlueprintPlatform"},
		{"Docker needs 2 GB", basicCreate(map[string]any{"BundleId": "bundle_starter_01", "BlueprintId": "lhbp-dk3r8c2a"}), "InvalidParameter.BundleAndBlueprintNotMatch"},
		{"zone of another region", basicCreate(map[string]any{"Zones": []string{"ap-shanghai-2"}}), "InvalidParameterValue.ZoneInvalid"},
		{"unknown zone", basicCreate(map[string]any{"Zones": []string{"ap-guangzhou-9"}}), "InvalidParameterValue.ZoneInvalid"},
		{"duplicated zone", basicCreate(map[string]any{"Zones": []string{"ap-guangzhou-3", "ap-guangzhou-3"}}), "InvalidParameterValue.Duplicated"},
		{"Linux with password", basicCreate(login(map[string]any{"Password": "Abcdefgh1234!"})), "UnsupportedOperation.InstanceLinuxUnixCreatingNotSupportPassword"},
		{"Windows with key", windows(login(map[string]any{"KeyIds": []string{"lhkp-abcd1234"}})), "UnsupportedOperation.WindowsNotSupportKeyPair"},
		{"Windows short password", windows(login(map[string]any{"Password": "Ab1!short"})), "InvalidParameterValue.InvalidPassword"},
		{"Windows two classes", windows(login(map[string]any{"Password": "abcdefghijkl123"})), "InvalidParameterValue.InvalidPassword"},
		{"Windows password with space", windows(login(map[string]any{"Password": "Abcdef 1234567"})), "InvalidParameterValue.InvalidPassword"},
		{"Windows password leading slash", windows(login(map[string]any{"Password": "/Abcdef1234567"})), "InvalidParameterValue.InvalidPassword"},
		{"Windows password 31", windows(login(map[string]any{"Password": "Aa1" + strings.Repeat("x", 28)})), "InvalidParameterValue.InvalidPassword"},
		{"password and keys", basicCreate(login(map[string]any{"Password": "Abcdefgh1234!", "KeyIds": []string{"lhkp-abcd1234"}})), "InvalidParameter.ParameterConflict"},
		{"password and auto-generate", windows(login(map[string]any{"Password": "Abcdefgh1234!", "AutoGeneratePassword": "YES"})), "InvalidParameter.ParameterConflict"},
		{"bad AutoGeneratePassword", basicCreate(login(map[string]any{"AutoGeneratePassword": "MAYBE"})), "InvalidParameterValue"},
		{"unknown key pair", basicCreate(login(map[string]any{"KeyIds": []string{"lhkp-abcd1234"}})), "ResourceNotFound.KeyPairNotFound"},
		{"key pair of another region", basicCreate(login(map[string]any{"KeyIds": []string{"lhkp-api00001"}})), "ResourceNotFound.KeyPairNotFound"},
		{"six keys", basicCreate(login(map[string]any{"KeyIds": []string{"lhkp-aaaaaaa1", "lhkp-aaaaaaa2", "lhkp-aaaaaaa3", "lhkp-aaaaaaa4", "lhkp-aaaaaaa5", "lhkp-aaaaaaa6"}})), "InvalidParameterValue.LimitExceeded"},
		{"malformed key", basicCreate(login(map[string]any{"KeyIds": []string{"skey-123"}})), "InvalidParameterValue.KeyPairIdMalformed"},
		{"eleven tags", basicCreate(map[string]any{"Tags": tags(11)}), "InvalidParameterValue.LimitExceeded"},
		{"tag without key", basicCreate(map[string]any{"Tags": []lighthouse.Tag{{Value: "v"}}}), "MissingParameter"},
		{"duplicated tag", basicCreate(map[string]any{"Tags": []lighthouse.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}), "InvalidParameterValue.Duplicated"},
		{"container without image", basicCreate(container(map[string]any{"ContainerName": "web"})), "MissingParameter"},
		{"container restart policy", basicCreate(container(map[string]any{"ContainerImage": "nginx", "RestartPolicy": "sometimes"})), "InvalidParameterValue"},
		{"container port", basicCreate(container(map[string]any{"ContainerImage": "nginx", "PublishPorts": []map[string]any{{"HostPort": 0, "ContainerPort": 80}}})), "InvalidParameterValue.OutOfRange"},
		{"container protocol", basicCreate(container(map[string]any{"ContainerImage": "nginx", "PublishPorts": []map[string]any{{"HostPort": 80, "ContainerPort": 80, "Protocol": "http"}}})), "InvalidParameterValue"},
		{"container env without key", basicCreate(container(map[string]any{"ContainerImage": "nginx", "Envs": []map[string]any{{"Value": "1"}}})), "MissingParameter"},
		{"container volume", basicCreate(container(map[string]any{"ContainerImage": "nginx", "Volumes": []map[string]any{{"ContainerPath": "/data"}}})), "MissingParameter"},
		{"init command not base64", basicCreate(map[string]any{"InitCommand": map[string]any{"Content": "%%%"}}), "InvalidParameterValue"},
		{"init command too long", basicCreate(map[string]any{"InitCommand": map[string]any{"Content": base64.StdEncoding.EncodeToString(make([]byte, 65<<10))}}), "FailedOperation.InitCommandContentTooLong"},
		{"init command timeout", basicCreate(map[string]any{"InitCommand": map[string]any{"Content": "ZWNobw==", "Timeout": 86401}}), "InvalidParameterValue.OutOfRange"},
		{"domain with count 2", basicCreate(map[string]any{"DomainName": "example.com", "InstanceCount": 2}), "InvalidParameter.ParameterConflict"},
		{"malformed firewall", basicCreate(map[string]any{"FirewallTemplateId": "fw-1"}), "InvalidParameterValue.FirewallTemplateIdMalformed"},
		{"unknown firewall", basicCreate(map[string]any{"FirewallTemplateId": "lhft-bbbb2222"}), "ResourceNotFound.FirewallTemplateNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.wantCode("CreateInstances", tt.params, tt.want)
		})
	}
	if n := len(e.srv.Instances()); n != 0 {
		t.Errorf("%d instances created by refused requests", n)
	}
	if n := e.srv.Calls("CreateInstances", "MissingParameter"); n != 8 {
		t.Errorf("Calls(CreateInstances, MissingParameter) = %d, want 8", n)
	}
}

func TestCreateInstancesAccepts(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) {
		cat := emulator.DefaultCatalog()
		cat.FirewallTemplates = []string{"lhft-aaaa1111"}
		c.Catalog = cat
	})
	ok := []map[string]any{
		basicCreate(map[string]any{"InstanceCount": 30}),
		basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": 60}}),
		basicCreate(map[string]any{"BlueprintId": "lhbp-w1n2022a", "LoginConfiguration": map[string]any{"Password": "Abcdefgh1234!"}}),
		basicCreate(map[string]any{"LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-web00001", "lhkp-ops00001"}, "AutoGeneratePassword": "NO"}}),
		basicCreate(map[string]any{"BlueprintId": "lhbp-dk3r8c2a", "Containers": []map[string]any{{
			"ContainerImage": "nginx:1.27", "ContainerName": "web", "RestartPolicy": "on-failure:3",
			"Envs": []map[string]any{{"Key": "A", "Value": "1"}}, "PublishPorts": []map[string]any{{"HostPort": 80, "ContainerPort": 8080, "Protocol": "tcp"}},
			"Volumes": []map[string]any{{"ContainerPath": "/data", "HostPath": "/srv/data"}}}}}),
		basicCreate(map[string]any{"InitCommand": map[string]any{"Content": "ZWNobyBoaQ==", "Timeout": 60}, "FirewallTemplateId": "lhft-aaaa1111", "AutoVoucher": true, "DomainName": "example.com", "Subdomain": "www"}),
		basicCreate(map[string]any{"Zones": []string{"ap-guangzhou-3", "ap-guangzhou-6"}, "InstanceCount": 4}),
	}
	var total int
	for i, p := range ok {
		ids := e.create(p)
		if i == 0 && len(ids) != 30 {
			t.Errorf("InstanceCount 30 created %d", len(ids))
		}
		total += len(ids)
	}
	all := e.srv.Instances()
	if len(all) != total {
		t.Fatalf("Instances() = %d, want %d", len(all), total)
	}
	zones := map[string]int{}
	for _, in := range all[len(all)-4:] {
		zones[in.Zone]++
	}
	if zones["ap-guangzhou-3"] != 2 || zones["ap-guangzhou-6"] != 2 {
		t.Errorf("4 instances over 2 zones: %v", zones)
	}
	for _, in := range all {
		if !strings.HasPrefix(in.InstanceId, "lhins-") || len(in.InstanceId) != 14 || !strings.HasPrefix(in.SystemDisk.DiskId, "lhdisk-") || in.Uuid == "" {
			t.Errorf("malformed IDs: %s %s %q", in.InstanceId, in.SystemDisk.DiskId, in.Uuid)
		}
	}
	if w := all[31]; w.PlatformType != "WINDOWS" || w.Platform != "WINDOWS" {
		t.Errorf("windows instance: %+v", w)
	}
	if k := all[32]; len(k.LoginSettings.KeyIds) != 2 || k.LoginSettings.KeyIds[0] != "lhkp-web00001" {
		t.Errorf("key instance LoginSettings = %+v", k.LoginSettings)
	}
	if ic := all[34]; ic.InitInvocationId == nil {
		t.Errorf("instance with InitCommand has no InitInvocationId")
	}
}

func TestCreateDryRun(t *testing.T) {
	e := newEnv(t, nil)
	var out lighthouse.CreateInstancesResponse
	e.mustCall("CreateInstances", basicCreate(map[string]any{"DryRun": true, "ClientToken": "dry"}), &out)
	if len(out.InstanceIdSet) != 0 || out.RequestId == "" {
		t.Errorf("dry run = %+v", out)
	}
	e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true, "BundleId": "bundle_x"}), "InvalidParameter.BundleIdNotFound")
	e.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true, "InstanceCount": 30, "Zones": []string{"ap-guangzhou-3"}}), "")
	if n := len(e.srv.Instances()); n != 0 {
		t.Fatalf("dry runs created %d instances", n)
	}
	// The token of a dry run is not consumed.
	if ids := e.create(basicCreate(map[string]any{"ClientToken": "dry"})); len(ids) != 1 {
		t.Errorf("create after dry run with the same token: %v", ids)
	}
	strict := newEnv(t, func(c *emulator.Config) { c.DryRunAsError = true })
	strict.wantCode("CreateInstances", basicCreate(map[string]any{"DryRun": true}), "DryRunOperation")
}

func TestCreateCapacityMoneyQuota(t *testing.T) {
	cat := emulator.DefaultCatalog()
	for i := range cat.Bundles {
		if cat.Bundles[i].BundleId == "bundle_gen_01" {
			cat.Bundles[i].SoldOutZones = []string{"ap-guangzhou-3", "ap-guangzhou-4"}
		}
		if cat.Bundles[i].BundleId == "bundle_gen_02" {
			cat.Bundles[i].SoldOutZones = []string{"ap-guangzhou-3", "ap-guangzhou-4", "ap-guangzhou-6"}
		}
	}
	e := newEnv(t, func(c *emulator.Config) {
		c.Catalog = cat
		c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": 3}
		c.Balance = 1000
	})
	e.wantCode("CreateInstances", basicCreate(map[string]any{"BundleId": "bundle_gen_01", "Zones": []string{"ap-guangzhou-4"}}), "ResourcesSoldOut.BundleSoldOut")
	e.wantCode("CreateInstances", basicCreate(map[string]any{"BundleId": "bundle_gen_02"}), "ResourcesSoldOut.BundleSoldOut")
	// Without zones, a zone where the bundle is still sold is picked.
	id := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	if z := e.get(id).Zone; z != "ap-guangzhou-6" {
		t.Errorf("zone picked = %s, want ap-guangzhou-6", z)
	}
	// Quota 3 per region: 1 used, 3 more is too many, 2 more fit.
	e.wantCode("CreateInstances", basicCreate(map[string]any{"InstanceCount": 3}), "LimitExceeded.InstanceQuotaLimitExceeded")
	var q lighthouse.DescribeGeneralResourceQuotasResponse
	e.mustCall("DescribeGeneralResourceQuotas", map[string]any{"ResourceNames": []string{"GENERAL_BUNDLE_INSTANCE", "STARTER_BUNDLE_INSTANCE"}}, &q)
	if g := q.GeneralResourceQuotaSet[0]; g.ResourceQuotaTotal != 3 || g.ResourceQuotaAvailable != 2 {
		t.Errorf("general quota = %+v", g)
	}
	if s := q.GeneralResourceQuotaSet[1]; s.ResourceQuotaTotal != emulator.DefaultQuota || s.ResourceQuotaAvailable != emulator.DefaultQuota {
		t.Errorf("starter quota = %+v", s)
	}
	e.wantCode("DescribeGeneralResourceQuotas", map[string]any{"ResourceNames": []string{"GPU_INSTANCE"}}, "InvalidParameterValue.InvalidResourceQuotaResourceName")
	// Quota is per region.
	if _, code := e.call("CreateInstances", "ap-shanghai", basicCreate(map[string]any{"InstanceCount": 3})); code != "" {
		t.Errorf("create in another region: %s", code)
	}
	// Balance 1000: 60 + 450 (3 x 150) spent; 2 x 150 more fits, then nothing.
	e.create(basicCreate(map[string]any{"InstanceCount": 2, "BundleId": "bundle_gen_03"}))
	e.wantCode("CreateInstances", basicCreate(map[string]any{"BundleId": "bundle_starter_01", "InstanceChargePrepaid": map[string]any{"Period": 12}}), "FailedOperation.InsufficientBalance")
}

// The documented example sends Period as a string; the service takes it.
func TestCreateDocumentedExample(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte(`{
    "BundleId": "bundle_gen_03",
    "BlueprintId": "lhbp-g0tn7djh",
    "InstanceChargePrepaid": {
        "Period": "1",
        "RenewFlag": "NOTIFY_AND_MANUAL_RENEW"
    },
    "InstanceCount": "2",
    "DryRun": "false"
}`)
	raw, code := e.do(e.rawRequest("CreateInstances", region, body, testID, testKey, e.clock.Now().Unix()))
	var out lighthouse.CreateInstancesResponse
	decode(t, raw, &out)
	if code != "" || len(out.InstanceIdSet) != 2 {
		t.Fatalf("documented example: %s %s", code, raw)
	}
	e.wantCode("CreateInstances", basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": "one"}}), "InvalidParameter")
}
