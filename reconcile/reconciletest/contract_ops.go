package reconciletest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// runDayTwo is the part of RunContract that covers the day-two actions:
// operations on the clock with their LatestOperation* fields, refusals
// while one runs, the rules of resets and bundle changes, failures, faults,
// the renew flag, renewals and their price, and denied actions.
func runDayTwo(t *testing.T, newEnv func(t *testing.T, cfg Config) Env) {
	ctx := context.Background()
	const centos, windows = "lhbp-a7oxy2bx", "lhbp-w1n2022a"

	t.Run("ResetRunsThenShows", func(t *testing.T) {
		env := newEnv(t, Config{})
		id := runningInstance(t, env, request("web-0", "tok"))
		before := list(t, env)[id]
		resp, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos,
			LoginConfiguration: &lighthouse.LoginConfiguration{KeyIds: []string{"lhkp-web00001"}}})
		if err != nil || resp.RequestId == "" {
			t.Fatalf("reset: %v %+v", err, resp)
		}
		in := list(t, env)[id]
		if in.LatestOperation != lighthouse.ActionResetInstance || in.LatestOperationState != lighthouse.OperationOperating ||
			in.LatestOperationRequestId != resp.RequestId || in.LatestOperationRequestId == before.LatestOperationRequestId ||
			in.InstanceState != lighthouse.StateRunning || in.BlueprintId != "lhbp-g0tn7djh" {
			t.Fatalf("resetting: %s %s %q (before %q) %s %s", in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestId, before.LatestOperationRequestId, in.InstanceState, in.BlueprintId)
		}
		if in.LatestOperationStartedTime == nil || *in.LatestOperationStartedTime != env.Now().UTC().Format(lighthouse.TimeLayout) {
			t.Errorf("LatestOperationStartedTime %v, want now", in.LatestOperationStartedTime)
		}
		_, err = env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos})
		if code := lighthouse.ErrorCode(err); code != "UnsupportedOperation.LatestOperationUnfinished" || lighthouse.ClassOf(err) != lighthouse.RetryLater {
			t.Errorf("a second reset while one runs: %v", err)
		}
		_, err = env.Cloud.ModifyInstancesBundle(ctx, env.Region, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: []string{id}, BundleId: "bundle_gen_02"})
		if code := lighthouse.ErrorCode(err); code != "OperationDenied.InstanceOperationInProgress" {
			t.Errorf("a bundle change while a reset runs: %v", err)
		}
		env.Advance(emulator.DefaultOperationDelay - time.Second)
		if in := list(t, env)[id]; in.LatestOperationState != lighthouse.OperationOperating {
			t.Errorf("before the operation delay: %s", in.LatestOperationState)
		}
		env.Advance(time.Second)
		in = list(t, env)[id]
		if in.LatestOperationState != lighthouse.OperationSuccess || in.BlueprintId != centos || in.InstanceId != id ||
			len(in.LoginSettings.KeyIds) != 1 || in.LoginSettings.KeyIds[0] != "lhkp-web00001" || in.LatestOperationRequestId != resp.RequestId {
			t.Errorf("after the reset: %s %s %v %q", in.LatestOperationState, in.BlueprintId, in.LoginSettings.KeyIds, in.LatestOperationRequestId)
		}
	})

	t.Run("ResetRefusals", func(t *testing.T) {
		env := newEnv(t, Config{})
		pending := mustCreate(t, env, request("web-0", "tok-p"))
		_, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: pending, BlueprintId: centos})
		if code := lighthouse.ErrorCode(err); code != "OperationDenied.InstanceCreating" {
			t.Errorf("resetting a PENDING instance: %v", err)
		}
		env.Advance(emulator.DefaultLaunchDelay)
		_, err = env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: pending, BlueprintId: "lhbp-zzzzzzzz"})
		if code := lighthouse.ErrorCode(err); code != "ResourceNotFound.BlueprintIdNotFound" {
			t.Errorf("an unknown blueprint: %v", err)
		}
		starter := request("web-1", "tok-s")
		starter.BundleId = "bundle_starter_01"
		sid := runningInstance(t, env, starter)
		_, err = env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: sid, BlueprintId: windows})
		if code := lighthouse.ErrorCode(err); code != "InvalidParameterValue.BlueprintConfigNotMatch" || lighthouse.ClassOf(err) != lighthouse.Permanent {
			t.Errorf("a Windows reset of a Linux-only bundle: %v", err)
		}
		page, err := env.Cloud.DescribeResetInstanceBlueprints(ctx, env.Region, &lighthouse.DescribeResetInstanceBlueprintsRequest{InstanceId: sid,
			Filters: []lighthouse.Filter{{Name: "blueprint-id", Values: []string{windows, centos}}}})
		if err != nil || page.TotalCount != 2 || len(page.ResetInstanceBlueprintSet) != 2 {
			t.Fatalf("DescribeResetInstanceBlueprints: %v %+v", err, page)
		}
		for _, b := range page.ResetInstanceBlueprintSet {
			if want := b.BlueprintInfo.BlueprintId == centos; b.IsResettable != want || (b.NonResettableMessage == "") != want {
				t.Errorf("DescribeResetInstanceBlueprints says of %s: %v %q", b.BlueprintInfo.BlueprintId, b.IsResettable, b.NonResettableMessage)
			}
		}
		if all := list(t, env); all[sid].LatestOperation != lighthouse.ActionCreateInstances || all[pending].LatestOperation != lighthouse.ActionCreateInstances {
			t.Errorf("a refused reset changed the latest operation: %s %s", all[sid].LatestOperation, all[pending].LatestOperation)
		}
	})

	t.Run("ResetIntlSite", func(t *testing.T) {
		env := newEnv(t, Config{Site: emulator.SiteIntl})
		id := runningInstance(t, env, request("web-0", "tok"))
		_, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos,
			LoginConfiguration: &lighthouse.LoginConfiguration{KeyIds: []string{"lhkp-web00001"}}})
		if code := lighthouse.ErrorCode(err); code != "UnknownParameter" {
			t.Errorf("a reset with a login on the international site: %v", err)
		}
		_, err = env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: windows})
		if code := lighthouse.ErrorCode(err); code != "InvalidParameterValue.NotAllowToChangePlatformType" {
			t.Errorf("a Linux to Windows reset on the international site: %v", err)
		}
		if _, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos}); err != nil {
			t.Fatal(err)
		}
		if in := list(t, env)[id]; in.LatestOperationStartedTime != nil || in.LatestOperationState != lighthouse.OperationOperating {
			t.Errorf("the international site shows LatestOperationStartedTime %v, state %s", in.LatestOperationStartedTime, in.LatestOperationState)
		}
	})

	t.Run("BundleUpgradeOnly", func(t *testing.T) {
		env := newEnv(t, Config{})
		id := runningInstance(t, env, request("web-0", "tok"))
		page, err := env.Cloud.DescribeModifyInstanceBundles(ctx, env.Region, &lighthouse.DescribeModifyInstanceBundlesRequest{InstanceId: id,
			Filters: []lighthouse.Filter{{Name: "bundle-id", Values: []string{"bundle_gen_02", "bundle_starter_01"}}}})
		if err != nil || page.TotalCount != 2 {
			t.Fatalf("DescribeModifyInstanceBundles: %v %+v", err, page)
		}
		for _, b := range page.ModifyBundleSet {
			switch b.Bundle.BundleId {
			case "bundle_gen_02":
				// 20 more a month for the 31 days to the expiry.
				if b.ModifyBundleState != lighthouse.ModifyBundleAvailable || b.ModifyPrice.InstancePrice.DiscountPrice != 20.67 {
					t.Errorf("an upgrade: %s %+v", b.ModifyBundleState, b.ModifyPrice.InstancePrice)
				}
			case "bundle_starter_01":
				if b.ModifyBundleState != lighthouse.ModifyBundleUnavailable || b.NotSupportModifyMessage == "" {
					t.Errorf("a change of type: %s %q", b.ModifyBundleState, b.NotSupportModifyMessage)
				}
			}
		}
		_, err = env.Cloud.ModifyInstancesBundle(ctx, env.Region, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: []string{id}, BundleId: "bundle_starter_01"})
		if code := lighthouse.ErrorCode(err); code != "InvalidParameterValue.NotSupportModifyInstanceBundleType" {
			t.Errorf("a change to another type: %v", err)
		}
		resp, err := env.Cloud.ModifyInstancesBundle(ctx, env.Region, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: []string{id}, BundleId: "bundle_gen_02"})
		if err != nil {
			t.Fatal(err)
		}
		in := list(t, env)[id]
		if in.LatestOperation != lighthouse.ActionModifyInstancesBundle || in.LatestOperationState != lighthouse.OperationOperating || in.LatestOperationRequestId != resp.RequestId || in.BundleId != "bundle_gen_01" {
			t.Errorf("changing: %s %s %s", in.LatestOperation, in.LatestOperationState, in.BundleId)
		}
		env.Advance(emulator.DefaultOperationDelay)
		if in := list(t, env)[id]; in.LatestOperationState != lighthouse.OperationSuccess || in.BundleId != "bundle_gen_02" || in.Memory != 4 {
			t.Errorf("changed: %s %s %d GB", in.LatestOperationState, in.BundleId, in.Memory)
		}
		ids := make([]string, lighthouse.MaxModifyBundleIDs+1)
		for i := range ids {
			ids[i] = id
		}
		_, err = env.Cloud.ModifyInstancesBundle(ctx, env.Region, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: ids, BundleId: "bundle_gen_03"})
		if code := lighthouse.ErrorCode(err); code != "InvalidParameterValue.LimitExceeded" {
			t.Errorf("%d IDs in one bundle change: %v", len(ids), err)
		}
	})

	t.Run("OperationFailure", func(t *testing.T) {
		env := newEnv(t, Config{})
		id := runningInstance(t, env, request("web-0", "tok"))
		env.FailOperations(lighthouse.ActionResetInstance, 1)
		resp, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos})
		if err != nil {
			t.Fatalf("a reset that will fail is accepted: %v", err)
		}
		env.Advance(emulator.DefaultOperationDelay)
		in := list(t, env)[id]
		if in.LatestOperation != lighthouse.ActionResetInstance || in.LatestOperationState != lighthouse.OperationFailed ||
			in.LatestOperationRequestId != resp.RequestId || in.BlueprintId != "lhbp-g0tn7djh" || in.InstanceState != lighthouse.StateRunning {
			t.Errorf("a failed reset: %s %s %s %s", in.LatestOperation, in.LatestOperationState, in.BlueprintId, in.InstanceState)
		}
		if _, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos}); err != nil {
			t.Errorf("a reset after a failed one: %v", err)
		}
		env.Advance(emulator.DefaultOperationDelay)
		if in := list(t, env)[id]; in.LatestOperationState != lighthouse.OperationSuccess || in.BlueprintId != centos {
			t.Errorf("the fault was used up: %s %s", in.LatestOperationState, in.BlueprintId)
		}
	})

	t.Run("FaultsOnOperations", func(t *testing.T) {
		for _, tc := range []struct {
			kind  emulator.FaultKind
			acted bool
		}{{emulator.FaultDropResponse, true}, {emulator.FaultInternalError, false}, {emulator.FaultHTTP5xx, false}} {
			t.Run(string(tc.kind), func(t *testing.T) {
				env := newEnv(t, Config{})
				id := runningInstance(t, env, request("web-0", "tok"))
				env.Fail(lighthouse.ActionResetInstance, tc.kind, 1)
				_, err := env.Cloud.ResetInstance(ctx, env.Region, &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: centos})
				var le *lighthouse.Error
				if !errors.As(err, &le) || !le.Ambiguous {
					t.Fatalf("a reset under %s: %#v, want an ambiguous error", tc.kind, err)
				}
				in := list(t, env)[id]
				if acted := in.LatestOperation == lighthouse.ActionResetInstance; acted != tc.acted {
					t.Errorf("under %s the reset acted: %v, want %v", tc.kind, acted, tc.acted)
				}
			})
		}
	})

	t.Run("RenewFlagAndRenewal", func(t *testing.T) {
		env := newEnv(t, Config{})
		id := runningInstance(t, env, request("web-0", "tok"))
		before := list(t, env)[id]
		if _, err := env.Cloud.ModifyInstancesRenewFlag(ctx, env.Region, &lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: []string{id}, RenewFlag: lighthouse.RenewNotifyAuto}); err != nil {
			t.Fatal(err)
		}
		in := list(t, env)[id]
		if in.RenewFlag != lighthouse.RenewNotifyAuto || in.LatestOperationRequestId != before.LatestOperationRequestId || in.LatestOperationState != lighthouse.OperationSuccess {
			t.Errorf("renew flag: %s, latest operation %s %s", in.RenewFlag, in.LatestOperation, in.LatestOperationState)
		}
		price, err := env.Cloud.InquirePriceRenewInstances(ctx, env.Region, &lighthouse.InquirePriceRenewInstancesRequest{InstanceIds: []string{id},
			InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 3}})
		if err != nil || price.Price.InstancePrice.DiscountPrice != 180 || price.TotalPrice.DiscountPrice != 180 || len(price.InstancePriceDetailSet) != 1 {
			t.Fatalf("renewal price: %v %+v", err, price)
		}
		resp, err := env.Cloud.RenewInstances(ctx, env.Region, &lighthouse.RenewInstancesRequest{InstanceIds: []string{id},
			InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}})
		if err != nil {
			t.Fatal(err)
		}
		in = list(t, env)[id]
		if in.LatestOperation != lighthouse.ActionRenewInstances || in.LatestOperationState != lighthouse.OperationOperating || in.LatestOperationRequestId != resp.RequestId ||
			*in.ExpiredTime != *before.ExpiredTime {
			t.Errorf("renewing: %s %s %s", in.LatestOperation, in.LatestOperationState, *in.ExpiredTime)
		}
		env.Advance(emulator.DefaultOperationDelay)
		if in := list(t, env)[id]; in.LatestOperationState != lighthouse.OperationSuccess || *in.ExpiredTime != "2026-05-01T12:00:00Z" {
			t.Errorf("renewed: %s, expires %s", in.LatestOperationState, *in.ExpiredTime)
		}
		_, err = env.Cloud.RenewInstances(ctx, env.Region, &lighthouse.RenewInstancesRequest{InstanceIds: []string{id},
			InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 48}})
		if code := lighthouse.ErrorCode(err); code != "InvalidParameterValue.OutOfRange" {
			t.Errorf("a 48-month renewal: %v", err)
		}
	})

	t.Run("DeniedActions", func(t *testing.T) {
		env := newEnv(t, Config{})
		top := request("web-1", "tok-t")
		top.BundleId = "bundle_gen_04"
		topID := mustCreate(t, env, top)
		env.Advance(time.Second)
		pending := mustCreate(t, env, request("web-0", "tok-p"))
		env.Advance(emulator.DefaultLaunchDelay - time.Second)
		resp, err := env.Cloud.DescribeInstancesDeniedActions(ctx, env.Region, &lighthouse.DescribeInstancesDeniedActionsRequest{InstanceIds: []string{pending, topID}})
		if err != nil || len(resp.InstanceDeniedActionSet) != 2 {
			t.Fatalf("DescribeInstancesDeniedActions: %v %+v", err, resp)
		}
		denied := map[string]map[string]string{}
		for _, ia := range resp.InstanceDeniedActionSet {
			denied[ia.InstanceId] = map[string]string{}
			for _, d := range ia.DeniedActions {
				denied[ia.InstanceId][d.Action] = d.Code
			}
		}
		if code := denied[pending][lighthouse.ActionResetInstance]; code != "OperationDenied.InstanceCreating" {
			t.Errorf("a PENDING instance's reset: %q", code)
		}
		if code := denied[topID][lighthouse.ActionModifyInstancesBundle]; code != "OperationDenied.BundleNotSupportModify" {
			t.Errorf("the largest bundle's upgrade: %q", code)
		}
		if code, ok := denied[topID][lighthouse.ActionResetInstance]; ok {
			t.Errorf("a RUNNING instance's reset is denied: %q", code)
		}
	})
}

// runningInstance creates an instance with req and lets it launch.
func runningInstance(t *testing.T, env Env, req *lighthouse.CreateInstancesRequest) string {
	t.Helper()
	id := mustCreate(t, env, req)
	env.Advance(emulator.DefaultLaunchDelay)
	if s := list(t, env)[id].InstanceState; s != lighthouse.StateRunning {
		t.Fatalf("%s is %s after the launch delay", id, s)
	}
	return id
}
