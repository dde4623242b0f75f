package emulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// dayTwoEnv is an emulator whose creates are RUNNING at once, operations on
// instances take 5 s, and whose clock may move far from the wall clock.
func dayTwoEnv(t *testing.T, mut func(*emulator.Config)) *testEnv {
	return newEnv(t, func(c *emulator.Config) {
		c.LaunchDelay, c.MaxClockSkew = -1, -1
		if mut != nil {
			mut(c)
		}
	})
}

func (e *testEnv) modifyBundles(id string, extra map[string]any) lighthouse.DescribeModifyInstanceBundlesResponse {
	e.t.Helper()
	params := map[string]any{"InstanceId": id}
	for k, v := range extra {
		params[k] = v
	}
	var out lighthouse.DescribeModifyInstanceBundlesResponse
	e.mustCall("DescribeModifyInstanceBundles", params, &out)
	return out
}

func byBundle(set []lighthouse.ModifyBundle) map[string]lighthouse.ModifyBundle {
	m := map[string]lighthouse.ModifyBundle{}
	for _, b := range set {
		m[b.Bundle.BundleId] = b
	}
	return m
}

// A bundle upgrade is listed AVAILABLE with its price difference, charged
// when asked for, runs as an operation that refuses a second one, and
// changes the bundle (and nothing that identifies the instance) when it
// succeeds.
func TestModifyBundleUpgrade(t *testing.T) {
	e := dayTwoEnv(t, nil)
	id := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	before := e.get(id)
	days := 0
	for exp := expiredAt(t, before); e.clock.Now().Add(time.Duration(days) * 24 * time.Hour).Before(exp); days++ {
	}
	got := byBundle(e.modifyBundles(id, nil).ModifyBundleSet)
	if _, listed := got["bundle_gen_01"]; listed || len(got) != 5 {
		t.Fatalf("listed %v; want the 5 other bundles", got)
	}
	for _, want := range []struct {
		id, state string
		monthly   float64
	}{
		{"bundle_gen_02", "AVAILABLE", 80}, {"bundle_gen_03", "AVAILABLE", 150}, {"bundle_gen_04", "AVAILABLE", 300},
		{"bundle_starter_01", "UNAVAILABLE", 35}, {"bundle_storage_01", "UNAVAILABLE", 120},
	} {
		b := got[want.id]
		if b.ModifyBundleState != want.state || (want.state == "AVAILABLE") != (b.NotSupportModifyMessage == "") {
			t.Errorf("%s: %s %q; want %s", want.id, b.ModifyBundleState, b.NotSupportModifyMessage, want.state)
		}
		if want.state == "AVAILABLE" {
			price := float64(int((want.monthly-60)*float64(days)/30*100+0.5)) / 100
			if p := b.ModifyPrice.InstancePrice; p.DiscountPrice != price || p.OriginalBundlePrice != want.monthly || p.Currency != "CNY" {
				t.Errorf("%s: ModifyPrice %+v; want %.2f for %d days", want.id, p, price, days)
			}
		}
	}
	spent := e.srv.Spent()
	var resp lighthouse.ModifyInstancesBundleResponse
	e.mustCall("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_02"}, &resp)
	if d := e.srv.Spent() - spent; d != got["bundle_gen_02"].ModifyPrice.InstancePrice.DiscountPrice {
		t.Errorf("charged %.2f, want the listed %.2f", d, got["bundle_gen_02"].ModifyPrice.InstancePrice.DiscountPrice)
	}
	in := e.get(id)
	if in.LatestOperation != "ModifyInstancesBundle" || in.LatestOperationState != "OPERATING" || in.LatestOperationRequestId != resp.RequestId ||
		in.LatestOperationStartedTime == nil || *in.LatestOperationStartedTime != e.clock.Now().UTC().Format(lighthouse.TimeLayout) || in.BundleId != "bundle_gen_01" {
		t.Fatalf("during the change: %s %s %s %v %s", in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestId, in.LatestOperationStartedTime, in.BundleId)
	}
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_03"}, "OperationDenied.InstanceOperationInProgress")
	e.wantCode("ResetInstance", map[string]any{"InstanceId": id}, "UnsupportedOperation.LatestOperationUnfinished")
	e.clock.Advance(5 * time.Second)
	in = e.get(id)
	if in.LatestOperationState != "SUCCESS" || in.BundleId != "bundle_gen_02" || in.Memory != 4 || in.SystemDisk.DiskSize != 60 || in.InstanceState != "RUNNING" {
		t.Fatalf("after the change: %s %s %d GB %d GB %s", in.LatestOperationState, in.BundleId, in.Memory, in.SystemDisk.DiskSize, in.InstanceState)
	}
	if in.InstanceId != before.InstanceId || in.PublicAddresses[0] != before.PublicAddresses[0] || in.SystemDisk.DiskId != before.SystemDisk.DiskId || *in.ExpiredTime != *before.ExpiredTime {
		t.Errorf("identity changed: %+v -> %+v", before, in)
	}
}

// Only upgrades are sold: a downgrade, a change of bundle type, the same
// bundle, a bundle sold out in the instance's zone are refused with the
// documented codes, and nothing is charged.
func TestModifyBundleRefusals(t *testing.T) {
	cat := emulator.DefaultCatalog()
	for i := range cat.Bundles {
		if cat.Bundles[i].BundleId == "bundle_gen_04" {
			cat.Bundles[i].SoldOutZones = []string{"ap-guangzhou-3"}
		}
	}
	e := dayTwoEnv(t, func(c *emulator.Config) { c.Catalog = cat })
	id := e.create(basicCreate(map[string]any{"Zones": []string{"ap-guangzhou-3"}}))[0] // bundle_gen_03
	spent := e.srv.Spent()
	got := byBundle(e.modifyBundles(id, nil).ModifyBundleSet)
	if b := got["bundle_gen_04"]; b.ModifyBundleState != "SOLD_OUT" || b.NotSupportModifyMessage == "" {
		t.Errorf("sold-out upgrade listed %s %q", b.ModifyBundleState, b.NotSupportModifyMessage)
	}
	if b := got["bundle_gen_01"]; b.ModifyBundleState != "UNAVAILABLE" || b.ModifyPrice.InstancePrice.DiscountPrice != 0 {
		t.Errorf("downgrade listed %s at %v", b.ModifyBundleState, b.ModifyPrice.InstancePrice.DiscountPrice)
	}
	for _, tc := range []struct{ bundle, code string }{
		{"bundle_gen_01", "InvalidParameterValue.NotSupportModifyInstanceBundleType"},
		{"bundle_gen_03", "InvalidParameterValue.NotSupportModifyInstanceBundleType"},
		{"bundle_storage_01", "InvalidParameterValue.NotSupportModifyInstanceBundleType"},
		{"bundle_gen_04", "FailedOperation.ModifyInstancesBundleFailed"},
		{"bundle_nope", "InvalidParameter.BundleIdNotFound"},
	} {
		e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": tc.bundle}, tc.code)
	}
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}}, "MissingParameter")
	e.wantCode("ModifyInstancesBundle", map[string]any{"BundleId": "bundle_gen_04"}, "MissingParameter")
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id, id}, "BundleId": "bundle_gen_04"}, "InvalidParameterValue.Duplicated")
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{"lhins-nothere1"}, "BundleId": "bundle_gen_04"}, "ResourceNotFound.InstanceIdNotFound")
	e.wantCode("DescribeModifyInstanceBundles", map[string]any{"InstanceId": "lhins-nothere1"}, "ResourceNotFound.InstanceIdNotFound")
	e.wantCode("DescribeModifyInstanceBundles", map[string]any{}, "MissingParameter")
	e.wantCode("DescribeModifyInstanceBundles", map[string]any{"InstanceId": id, "Filters": []lighthouse.Filter{{Name: "bundle-type", Values: []string{"a", "b", "c", "d", "e", "f"}}}}, "InvalidParameter.FilterValueLimitExceeded")
	e.wantCode("DescribeModifyInstanceBundles", map[string]any{"InstanceId": id, "Filters": []lighthouse.Filter{{Name: "zone", Values: []string{"x"}}}}, "InvalidParameter.InvalidFilterNotSupportedName")
	if f := e.modifyBundles(id, map[string]any{"Filters": []lighthouse.Filter{{Name: "bundle-type", Values: []string{"GENERAL_BUNDLE"}}}, "Limit": 2}); f.TotalCount != 3 || len(f.ModifyBundleSet) != 2 {
		t.Errorf("filtered page: %d of %d, want 2 of 3", len(f.ModifyBundleSet), f.TotalCount)
	}
	if e.srv.Spent() != spent {
		t.Errorf("refusals charged %.2f", e.srv.Spent()-spent)
	}
	if in := e.get(id); in.LatestOperation != "CreateInstances" || in.BundleId != "bundle_gen_03" {
		t.Errorf("refusals changed the instance: %s %s", in.LatestOperation, in.BundleId)
	}
}

// The price difference is charged on the balance, all instances of a call
// or none: FailedOperation.InsufficientBalance when it does not cover them.
func TestModifyBundleBalance(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) { c.Balance = 2*60 + 30 })
	ids := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceCount": 2}))
	one := byBundle(e.modifyBundles(ids[0], nil).ModifyBundleSet)["bundle_gen_02"].ModifyPrice.InstancePrice.DiscountPrice
	if one > 30 || 2*one <= 30 {
		t.Fatalf("test premise: one change costs %.2f, want it to fit 30 once but not twice", one)
	}
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": ids, "BundleId": "bundle_gen_02"}, "FailedOperation.InsufficientBalance")
	if e.srv.Spent() != 120 || e.get(ids[0]).LatestOperation != "CreateInstances" {
		t.Fatalf("refused change acted: spent %.2f", e.srv.Spent())
	}
	e.mustCall("ModifyInstancesBundle", map[string]any{"InstanceIds": ids[:1], "BundleId": "bundle_gen_02"}, nil)
	if e.srv.Spent() != 120+one {
		t.Fatalf("spent %.2f, want %.2f", e.srv.Spent(), 120+one)
	}
}

// ModifyInstancesBundle's batch limit is 15 by default (models.go) and
// 30 with Config.ModifyBundleBatchLimit (client.go's comment).
func TestModifyBundleBatchLimit(t *testing.T) {
	for _, limit := range []int{0, 30} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			e := dayTwoEnv(t, func(c *emulator.Config) { c.ModifyBundleBatchLimit = limit })
			ids := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceCount": 16}))
			code := ""
			if limit == 0 {
				code = "InvalidParameterValue.LimitExceeded"
			}
			e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": ids, "BundleId": "bundle_gen_02"}, code)
		})
	}
}

// An instance in another state than RUNNING or STOPPED cannot change
// bundles: PENDING is OperationDenied.InstanceCreating, an expired one
// UnsupportedOperation.InstanceExpired (listing) or InvalidInstanceState.
func TestModifyBundleStates(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.MaxClockSkew = -1 })
	id := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_02"}, "OperationDenied.InstanceCreating")
	e.clock.Set(expiredAt(t, e.get(id)))
	if s := e.get(id).InstanceState; s != "SHUTDOWN" {
		t.Fatalf("at expiry: %s", s)
	}
	e.wantCode("DescribeModifyInstanceBundles", map[string]any{"InstanceId": id}, "UnsupportedOperation.InstanceExpired")
	e.wantCode("ModifyInstancesBundle", map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_02"}, "UnsupportedOperation.InvalidInstanceState")
}

// An operation-failure fault ends the change FAILED: the bundle stays and
// the charge is refunded.
func TestModifyBundleOperationFailure(t *testing.T) {
	e := dayTwoEnv(t, nil)
	ids := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceCount": 2}))
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultOperationFailure, Action: "ModifyInstancesBundle", InstanceId: ids[1]})
	spent := e.srv.Spent()
	e.mustCall("ModifyInstancesBundle", map[string]any{"InstanceIds": ids, "BundleId": "bundle_gen_02"}, nil)
	charged := e.srv.Spent() - spent
	e.clock.Advance(5 * time.Second)
	ok, failed := e.get(ids[0]), e.get(ids[1])
	if ok.LatestOperationState != "SUCCESS" || ok.BundleId != "bundle_gen_02" {
		t.Errorf("unfaulted: %s %s", ok.LatestOperationState, ok.BundleId)
	}
	if failed.LatestOperationState != "FAILED" || failed.BundleId != "bundle_gen_01" || failed.InstanceState != "RUNNING" || failed.LatestOperation != "ModifyInstancesBundle" {
		t.Errorf("faulted: %s %s %s", failed.LatestOperationState, failed.BundleId, failed.InstanceState)
	}
	if got := e.srv.Spent() - spent; got != charged/2 {
		t.Errorf("kept %.2f of %.2f charged; want the failed half refunded", got, charged)
	}
	// A failed operation is over: the instance takes the next one.
	e.mustCall("ModifyInstancesBundle", map[string]any{"InstanceIds": ids[1:], "BundleId": "bundle_gen_02"}, nil)
}
