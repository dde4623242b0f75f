package emulator_test

import (
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

const (
	ubuntu  = "lhbp-g0tn7djh"
	debian  = "lhbp-d8pgvqz2"
	docker  = "lhbp-dk3r8c2a"
	windows = "lhbp-w1n2022a"
)

func (e *testEnv) resetBlueprints(reg, id string) map[string]lighthouse.ResetInstanceBlueprint {
	e.t.Helper()
	raw, code := e.call("DescribeResetInstanceBlueprints", reg, map[string]any{"InstanceId": id})
	if code != "" {
		e.t.Fatalf("DescribeResetInstanceBlueprints: %s %s", code, raw)
	}
	var out lighthouse.DescribeResetInstanceBlueprintsResponse
	decode(e.t, raw, &out)
	m := map[string]lighthouse.ResetInstanceBlueprint{}
	for _, b := range out.ResetInstanceBlueprintSet {
		m[b.BlueprintInfo.BlueprintId] = b
	}
	if int(out.TotalCount) != len(m) {
		e.t.Errorf("TotalCount %d, %d listed", out.TotalCount, len(m))
	}
	return m
}

// A reset keeps the instance's ID, addresses, disk and expiry, and changes
// its blueprint and login when the operation succeeds.
func TestResetInstance(t *testing.T) {
	e := dayTwoEnv(t, nil)
	id := e.create(basicCreate(map[string]any{"LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-ops00001"}}}))[0]
	before := e.get(id)
	var resp lighthouse.ResetInstanceResponse
	e.mustCall("ResetInstance", map[string]any{"InstanceId": id, "BlueprintId": debian,
		"LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-web00001"}}}, &resp)
	in := e.get(id)
	if in.LatestOperation != "ResetInstance" || in.LatestOperationState != "OPERATING" || in.LatestOperationRequestId != resp.RequestId || in.BlueprintId != ubuntu || in.InstanceState != "RUNNING" {
		t.Fatalf("during the reset: %s %s %s %s", in.LatestOperation, in.LatestOperationState, in.BlueprintId, in.InstanceState)
	}
	e.wantCode("ResetInstance", map[string]any{"InstanceId": id}, "UnsupportedOperation.LatestOperationUnfinished")
	e.clock.Advance(5 * time.Second)
	in = e.get(id)
	if in.LatestOperationState != "SUCCESS" || in.BlueprintId != debian || in.Platform != "DEBIAN" || in.OsName != "Debian 12 64bit" ||
		len(in.LoginSettings.KeyIds) != 1 || in.LoginSettings.KeyIds[0] != "lhkp-web00001" {
		t.Fatalf("after the reset: %s %s %s %v", in.LatestOperationState, in.BlueprintId, in.OsName, in.LoginSettings.KeyIds)
	}
	if in.InstanceId != before.InstanceId || in.PublicAddresses[0] != before.PublicAddresses[0] || in.PrivateAddresses[0] != before.PrivateAddresses[0] ||
		in.SystemDisk != before.SystemDisk || in.BundleId != before.BundleId || *in.ExpiredTime != *before.ExpiredTime || in.Uuid != before.Uuid {
		t.Errorf("identity changed: %+v -> %+v", before, in)
	}
	// Without a BlueprintId the current one is reinstalled; without a
	// LoginConfiguration the keys are gone with the disk.
	e.mustCall("ResetInstance", map[string]any{"InstanceId": id}, nil)
	e.clock.Advance(5 * time.Second)
	if in := e.get(id); in.BlueprintId != debian || len(in.LoginSettings.KeyIds) != 0 {
		t.Errorf("plain reset: %s %v", in.BlueprintId, in.LoginSettings.KeyIds)
	}
}

// A reset switches between Linux and Windows only in mainland China on the
// China site; DescribeResetInstanceBlueprints says so per blueprint, and
// ResetInstance refuses what it lists as not resettable.
func TestResetPlatformSwitch(t *testing.T) {
	for _, tc := range []struct {
		site     emulator.Site
		region   string
		switches bool
	}{
		{emulator.SiteChina, "ap-guangzhou", true},
		{emulator.SiteChina, "ap-hongkong", false},
		{emulator.SiteIntl, "ap-guangzhou", false},
	} {
		t.Run(string(tc.site)+"/"+tc.region, func(t *testing.T) {
			e := dayTwoEnv(t, func(c *emulator.Config) { c.Site = tc.site })
			var out lighthouse.CreateInstancesResponse
			raw, code := e.call("CreateInstances", tc.region, basicCreate(nil))
			if code != "" {
				t.Fatal(code)
			}
			decode(t, raw, &out)
			id := out.InstanceIdSet[0]
			bps := e.resetBlueprints(tc.region, id)
			if len(bps) != 5 || !bps[debian].IsResettable || !bps[ubuntu].IsResettable || bps[debian].NonResettableMessage != "" {
				t.Fatalf("listed %+v", bps)
			}
			if w := bps[windows]; w.IsResettable != tc.switches || (w.NonResettableMessage == "") != tc.switches {
				t.Errorf("Windows listed resettable %v %q; want %v", w.IsResettable, w.NonResettableMessage, tc.switches)
			}
			want := "InvalidParameterValue.NotAllowToChangePlatformType"
			if tc.switches {
				want = ""
			}
			if _, code := e.call("ResetInstance", tc.region, map[string]any{"InstanceId": id, "BlueprintId": windows}); code != want {
				t.Errorf("reset to Windows: %q, want %q", code, want)
			}
		})
	}
}

// Parameters: a blueprint the bundle cannot run, containers on a blueprint
// that is not DOCKER, an automatically generated password, and the
// international site's missing LoginConfiguration.
func TestResetRefusals(t *testing.T) {
	e := dayTwoEnv(t, nil)
	starter := e.create(basicCreate(map[string]any{"BundleId": "bundle_starter_01"}))[0]
	id := e.create(basicCreate(nil))[0]
	bps := e.resetBlueprints(region, starter)
	if w := bps[windows]; w.IsResettable || w.NonResettableMessage == "" {
		t.Errorf("a Linux-only bundle lists Windows as resettable: %+v", w)
	}
	if d := bps[docker]; d.IsResettable || d.NonResettableMessage == "" {
		t.Errorf("Docker CE (needs 2 GB) on a 1 GB bundle listed resettable: %+v", d)
	}
	if d := bps[debian]; !d.IsResettable {
		t.Errorf("Debian on a Linux bundle listed not resettable: %+v", d)
	}
	ct := []map[string]any{{"ContainerImage": "nginx:1.27"}}
	for _, tc := range []struct {
		params map[string]any
		code   string
	}{
		{map[string]any{"InstanceId": starter, "BlueprintId": windows}, "InvalidParameterValue.BlueprintConfigNotMatch"},
		{map[string]any{"InstanceId": id, "BlueprintId": "lhbp-nothere1"}, "ResourceNotFound.BlueprintIdNotFound"},
		{map[string]any{"InstanceId": id, "BlueprintId": "ubuntu"}, "InvalidParameterValue.BlueprintIdMalformed"},
		{map[string]any{"InstanceId": id, "Containers": ct}, "InvalidParameterValue.InvalidParameterCombination"},
		{map[string]any{"InstanceId": id, "LoginConfiguration": map[string]any{"AutoGeneratePassword": "YES"}}, "UnsupportedOperation.OperationNotSupportAutoGeneratePassword"},
		{map[string]any{"InstanceId": id, "LoginConfiguration": map[string]any{"Password": "short"}}, "InvalidParameterValue.InvalidPassword"},
		{map[string]any{"InstanceId": id, "LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-nothere1"}}}, "ResourceNotFound.KeyPairNotFound"},
		{map[string]any{"InstanceId": "lhins-nothere1"}, "ResourceNotFound.InstanceIdNotFound"},
		{map[string]any{"InstanceId": "i-123"}, "InvalidParameterValue.InstanceIdMalformed"},
		{map[string]any{}, "MissingParameter"},
		{map[string]any{"InstanceId": id, "Containers": []map[string]any{{"ContainerImage": ""}}, "BlueprintId": docker}, "MissingParameter"},
	} {
		e.wantCode("ResetInstance", tc.params, tc.code)
	}
	if in := e.get(id); in.LatestOperation != "CreateInstances" {
		t.Fatalf("refused resets started %s", in.LatestOperation)
	}
	// A Linux password is fine for a reset (the create-only refusal does
	// not apply), and containers go with a DOCKER blueprint.
	e.mustCall("ResetInstance", map[string]any{"InstanceId": id, "BlueprintId": docker, "Containers": ct,
		"LoginConfiguration": map[string]any{"Password": "Reset-Passw0rd"}}, nil)

	intl := dayTwoEnv(t, func(c *emulator.Config) { c.Site = emulator.SiteIntl })
	iid := intl.create(basicCreate(nil))[0]
	intl.wantCode("ResetInstance", map[string]any{"InstanceId": iid, "LoginConfiguration": map[string]any{"KeyIds": []string{"lhkp-ops00001"}}}, "UnknownParameter")
	intl.wantCode("ResetInstance", map[string]any{"InstanceId": iid, "BlueprintId": docker, "Containers": []map[string]any{{"ContainerImage": "nginx", "RestartPolicy": "always"}}}, "UnknownParameter")
	intl.mustCall("ResetInstance", map[string]any{"InstanceId": iid, "BlueprintId": debian}, nil)
}

// Config.BusyAsOperationDenied picks the other documented code where an
// action lists both; actions that list one keep it.
func TestBusyCodes(t *testing.T) {
	for _, alt := range []bool{false, true} {
		e := dayTwoEnv(t, func(c *emulator.Config) { c.BusyAsOperationDenied = alt })
		id := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
		e.mustCall("ResetInstance", map[string]any{"InstanceId": id}, nil)
		both := "UnsupportedOperation.LatestOperationUnfinished"
		if alt {
			both = "OperationDenied.InstanceOperationInProgress"
		}
		e.wantCode("ResetInstance", map[string]any{"InstanceId": id}, both)
		e.wantCode("RenewInstances", map[string]any{"InstanceIds": []string{id}, "InstanceChargePrepaid": map[string]any{"Period": 1}}, both)
		e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{id}}, both)
		e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_02"}, "OperationDenied.InstanceOperationInProgress")
		e.wantCode("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": []string{id}, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}, "UnsupportedOperation.LatestOperationUnfinished")
	}
}

// Config.OperationDelays sets an action's operation time on the
// emulator's clock.
func TestOperationDelays(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) {
		c.OperationDelays = map[string]time.Duration{"ResetInstance": 2 * time.Minute, "RenewInstances": -1}
	})
	id := e.create(basicCreate(nil))[0]
	e.mustCall("RenewInstances", map[string]any{"InstanceIds": []string{id}, "InstanceChargePrepaid": map[string]any{"Period": 1}}, nil)
	if s := e.get(id).LatestOperationState; s != "SUCCESS" {
		t.Fatalf("renewal with a negative delay: %s, want SUCCESS at once", s)
	}
	e.mustCall("ResetInstance", map[string]any{"InstanceId": id}, nil)
	e.clock.Advance(2*time.Minute - time.Second)
	if s := e.get(id).LatestOperationState; s != "OPERATING" {
		t.Fatalf("reset after 1m59s: %s", s)
	}
	e.clock.Advance(time.Second)
	if s := e.get(id).LatestOperationState; s != "SUCCESS" {
		t.Fatalf("reset after 2m: %s", s)
	}
	if _, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}, OperationDelays: map[string]time.Duration{"DescribeInstances": 1}}); err == nil {
		t.Error("a delay for an action without operations was accepted")
	}
}
