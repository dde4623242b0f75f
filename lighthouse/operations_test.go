package lighthouse_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

// dayTwo is an emulator whose creates are RUNNING at once and whose
// operations on instances take 5 s of its manual clock, with n instances
// of bundle_gen_01 (60 CNY a month).
func dayTwo(t *testing.T, n int, edit func(*emulator.Config), opts ...emulatortest.Option) (*emulatortest.Harness, []string) {
	t.Helper()
	cfg := emulator.Config{RateLimits: emulator.NoRateLimits(), LaunchDelay: -1}
	if edit != nil {
		edit(&cfg)
	}
	h := emulatortest.New(t, cfg, opts...)
	req := newCreate("day-two", uint64(n))
	req.Tags = nil
	resp, err := h.Client.CreateInstances(context.Background(), emuRegion, req)
	if err != nil {
		t.Fatal(err)
	}
	return h, resp.InstanceIdSet
}

func describeOne(t *testing.T, c *lighthouse.Client, id string) lighthouse.Instance {
	t.Helper()
	got, err := c.DescribeInstances(context.Background(), emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: []string{id}})
	if err != nil || len(got) != 1 {
		t.Fatalf("describe %s: %v (%d)", id, err, len(got))
	}
	return got[0]
}

// TestClientDayTwoRoundTrip: every day-two method speaks to the emulator
// over HTTP and decodes its answer; an operation shows on the instance
// as LatestOperation* with the call's RequestId, refuses a second one with
// a retry-later error the transport does not repeat, and ends on the
// emulator's clock.
func TestClientDayTwoRoundTrip(t *testing.T) {
	h, ids := dayTwo(t, 2, nil)
	c, ctx := h.Client, context.Background()

	bundles, err := c.ModifyInstanceBundles(ctx, emuRegion, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	available := map[string]float64{}
	for _, b := range bundles {
		if b.ModifyBundleState == lighthouse.ModifyBundleAvailable {
			available[b.Bundle.BundleId] = b.ModifyPrice.InstancePrice.DiscountPrice
		}
	}
	if len(bundles) != 5 || len(available) != 3 || available["bundle_gen_02"] <= 0 {
		t.Fatalf("ModifyInstanceBundles: %d bundles, available %v", len(bundles), available)
	}
	page, err := c.DescribeModifyInstanceBundles(ctx, emuRegion, &lighthouse.DescribeModifyInstanceBundlesRequest{InstanceId: ids[0], Limit: 2, Offset: 4})
	if err != nil || page.TotalCount != 5 || len(page.ModifyBundleSet) != 1 {
		t.Fatalf("a page of DescribeModifyInstanceBundles: %v, %+v", err, page)
	}
	mod, err := c.ModifyInstancesBundle(ctx, emuRegion, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: ids[:1], BundleId: "bundle_gen_02"})
	if err != nil {
		t.Fatal(err)
	}
	in := describeOne(t, c, ids[0])
	if !in.OperationInProgress() || in.LatestOperation != lighthouse.ActionModifyInstancesBundle || in.LatestOperationRequestId != mod.RequestId {
		t.Fatalf("after ModifyInstancesBundle: %s %s %s (RequestId %s)", in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestId, mod.RequestId)
	}
	_, err = c.ResetInstance(ctx, emuRegion, &lighthouse.ResetInstanceRequest{InstanceId: ids[0]})
	if lighthouse.ClassOf(err) != lighthouse.RetryLater || lighthouse.ErrorCode(err) != "UnsupportedOperation.LatestOperationUnfinished" {
		t.Fatalf("reset during the bundle change: %v", err)
	}
	if n := h.Server.Calls(lighthouse.ActionResetInstance, "UnsupportedOperation.LatestOperationUnfinished"); n != 1 {
		t.Errorf("the busy refusal was sent %d times; retry-later is not the transport's to repeat", n)
	}
	h.Advance(emulator.DefaultOperationDelay)
	if in := describeOne(t, c, ids[0]); in.OperationInProgress() || in.LatestOperationState != lighthouse.OperationSuccess || in.BundleId != "bundle_gen_02" {
		t.Fatalf("after the operation delay: %s %s", in.LatestOperationState, in.BundleId)
	}

	blueprints, err := c.ResetInstanceBlueprints(ctx, emuRegion, ids[1], lighthouse.Filter{Name: "platform-type", Values: []string{"LINUX_UNIX"}})
	if err != nil || len(blueprints) != 4 {
		t.Fatalf("ResetInstanceBlueprints: %v, %d", err, len(blueprints))
	}
	reset, err := c.ResetInstance(ctx, emuRegion, &lighthouse.ResetInstanceRequest{InstanceId: ids[1], BlueprintId: "lhbp-d8pgvqz2",
		LoginConfiguration: &lighthouse.LoginConfiguration{KeyIds: []string{"lhkp-ops00001"}}})
	if err != nil {
		t.Fatal(err)
	}
	denied, err := c.DescribeInstancesDeniedActions(ctx, emuRegion, &lighthouse.DescribeInstancesDeniedActionsRequest{InstanceIds: ids})
	if err != nil || len(denied.InstanceDeniedActionSet) != 2 || len(denied.InstanceDeniedActionSet[1].DeniedActions) != 6 {
		t.Fatalf("DescribeInstancesDeniedActions during a reset: %v, %+v", err, denied)
	}
	h.Advance(emulator.DefaultOperationDelay)
	if in := describeOne(t, c, ids[1]); in.LatestOperationRequestId != reset.RequestId || in.BlueprintId != "lhbp-d8pgvqz2" || in.LatestOperationState != lighthouse.OperationSuccess {
		t.Fatalf("after the reset: %s %s %s", in.LatestOperationRequestId, in.BlueprintId, in.LatestOperationState)
	}

	price, err := c.InquirePriceRenewInstances(ctx, emuRegion, &lighthouse.InquirePriceRenewInstancesRequest{InstanceIds: ids, InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 3}})
	if err != nil || price.TotalPrice.DiscountPrice != 3*80+3*60 || len(price.InstancePriceDetailSet) != 2 {
		t.Fatalf("InquirePriceRenewInstances: %v, %+v", err, price)
	}
	before := describeOne(t, c, ids[1])
	if _, err := c.RenewInstances(ctx, emuRegion, &lighthouse.RenewInstancesRequest{InstanceIds: ids[1:], InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 3}}); err != nil {
		t.Fatal(err)
	}
	h.Advance(emulator.DefaultOperationDelay)
	oldExp, _ := time.Parse(lighthouse.TimeLayout, *before.ExpiredTime)
	after := describeOne(t, c, ids[1])
	if *after.ExpiredTime != oldExp.AddDate(0, 3, 0).Format(lighthouse.TimeLayout) {
		t.Fatalf("renewed 3 months from %s to %s", *before.ExpiredTime, *after.ExpiredTime)
	}
	if _, err := c.ModifyInstancesRenewFlag(ctx, emuRegion, &lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: ids, RenewFlag: lighthouse.RenewNotifyAuto}); err != nil {
		t.Fatal(err)
	}
	if in := describeOne(t, c, ids[0]); in.RenewFlag != lighthouse.RenewNotifyAuto {
		t.Fatalf("renew flag %s", in.RenewFlag)
	}

	// Requests missing what identifies them fail before anything is sent.
	for name, err := range map[string]error{
		"ResetInstance": func() error {
			_, err := c.ResetInstance(ctx, emuRegion, &lighthouse.ResetInstanceRequest{})
			return err
		}(),
		"ModifyInstancesBundle": func() error { _, err := c.ModifyInstancesBundle(ctx, emuRegion, nil); return err }(),
		"RenewInstances": func() error {
			_, err := c.RenewInstances(ctx, emuRegion, &lighthouse.RenewInstancesRequest{InstanceIds: ids})
			return err
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "required") || h.Server.Calls(name, "MissingParameter") != 0 {
			t.Errorf("%s with a missing field: %v", name, err)
		}
	}
}

// dayTwoCall makes one call of action on the instances ids.
func dayTwoCall(c *lighthouse.Client, action string, ids []string) error {
	ctx := context.Background()
	var err error
	switch action {
	case lighthouse.ActionResetInstance:
		_, err = c.ResetInstance(ctx, emuRegion, &lighthouse.ResetInstanceRequest{InstanceId: ids[0]})
	case lighthouse.ActionModifyInstancesBundle:
		_, err = c.ModifyInstancesBundle(ctx, emuRegion, &lighthouse.ModifyInstancesBundleRequest{InstanceIds: ids, BundleId: "bundle_gen_02"})
	case lighthouse.ActionRenewInstances:
		_, err = c.RenewInstances(ctx, emuRegion, &lighthouse.RenewInstancesRequest{InstanceIds: ids, InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}})
	case lighthouse.ActionModifyInstancesRenewFlag:
		_, err = c.ModifyInstancesRenewFlag(ctx, emuRegion, &lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: ids, RenewFlag: lighthouse.RenewNotifyAuto})
	case lighthouse.ActionDescribeModifyInstanceBundles:
		_, err = c.DescribeModifyInstanceBundles(ctx, emuRegion, &lighthouse.DescribeModifyInstanceBundlesRequest{InstanceId: ids[0]})
	case lighthouse.ActionDescribeResetInstanceBlueprints:
		_, err = c.DescribeResetInstanceBlueprints(ctx, emuRegion, &lighthouse.DescribeResetInstanceBlueprintsRequest{InstanceId: ids[0]})
	case lighthouse.ActionDescribeInstancesDeniedActions:
		_, err = c.DescribeInstancesDeniedActions(ctx, emuRegion, &lighthouse.DescribeInstancesDeniedActionsRequest{InstanceIds: ids})
	case lighthouse.ActionInquirePriceRenewInstances:
		_, err = c.InquirePriceRenewInstances(ctx, emuRegion, &lighthouse.InquirePriceRenewInstancesRequest{InstanceIds: ids, InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}})
	default:
		panic(action)
	}
	return err
}

var dayTwoActions = []string{
	lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle, lighthouse.ActionRenewInstances,
	lighthouse.ActionModifyInstancesRenewFlag, lighthouse.ActionDescribeModifyInstanceBundles,
	lighthouse.ActionDescribeResetInstanceBlueprints, lighthouse.ActionDescribeInstancesDeniedActions,
	lighthouse.ActionInquirePriceRenewInstances,
}

// notIdempotent are the actions whose repetition acts again.
var notIdempotent = map[string]bool{lighthouse.ActionResetInstance: true, lighthouse.ActionModifyInstancesBundle: true, lighthouse.ActionRenewInstances: true}

// TestClientDayTwoFaults: every fault the emulator injects works on every
// day-two action, and the client handles each as the action allows: a
// read or a value set (the renew flag) is repeated until it succeeds; a
// reset, a bundle change or a renewal is repeated only after a refusal
// for the rate limit (the service did nothing), and after a lost answer,
// a timeout, a 5xx or an InternalError it comes back ambiguous and
// permanent, after one attempt, while the service did act exactly once
// (lost answer, timeout) or not at all (5xx, InternalError before the
// action).
func TestClientDayTwoFaults(t *testing.T) {
	for _, action := range dayTwoActions {
		for _, kind := range []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultDelay, emulator.FaultHTTP5xx, emulator.FaultInternalError, emulator.FaultRequestLimitExceeded} {
			t.Run(action+"/"+string(kind), func(t *testing.T) {
				h, ids := dayTwo(t, 1, nil)
				f := emulator.Fault{Action: action, Kind: kind, Count: 1}
				if kind == emulator.FaultDelay {
					f.Delay = time.Second
				}
				h.Server.InjectFault(f)
				c := h.NewClient(t, func(o *lighthouse.Options) { o.AttemptTimeout = 200 * time.Millisecond })
				before := h.Server.Account().Spent
				err := dayTwoCall(c, action, ids)
				acted := kind == emulator.FaultDropResponse || kind == emulator.FaultDelay
				repeated := !notIdempotent[action] || kind == emulator.FaultRequestLimitExceeded
				want := btoi(acted) // attempts the action ran in (answer lost or not)
				if repeated {
					want++
				}
				if kind == emulator.FaultDelay {
					// The held-back attempt is counted when its handler
					// sees the client hang up, which may be after the
					// client returned (and after the repeat was counted).
					waitFor(t, func() bool { return h.Server.Calls(action, "") >= want })
				}
				answered := h.Server.Calls(action, "")
				switch {
				case repeated:
					if err != nil {
						t.Fatalf("err = %v; want the transport to repeat it to success", err)
					}
					if answered != want {
						t.Errorf("the action ran %d times, want %d", answered, want)
					}
				default:
					var le *lighthouse.Error
					if !errors.As(err, &le) || !le.Ambiguous || le.Class() != lighthouse.Permanent || le.Attempts != 1 ||
						!strings.Contains(err.Error(), "not idempotent") {
						t.Fatalf("err = %v; want ambiguous, permanent, after 1 attempt, saying why it was not repeated", err)
					}
					if answered != want {
						t.Errorf("the action ran %d times, want %d", answered, want)
					}
				}
				h.Advance(emulator.DefaultOperationDelay)
				in := describeOne(t, h.Client, ids[0])
				ran := answered > 0
				if notIdempotent[action] && (in.LatestOperation == action) != ran {
					t.Errorf("LatestOperation %s after the action ran %d times", in.LatestOperation, answered)
				}
				spent := h.Server.Account().Spent - before
				switch {
				case action == lighthouse.ActionRenewInstances && spent != 60*float64(answered):
					t.Errorf("charged %.2f for %d renewals of 60", spent, answered)
				case action != lighthouse.ActionRenewInstances && action != lighthouse.ActionModifyInstancesBundle && spent != 0:
					t.Errorf("%s charged %.2f", action, spent)
				}
			})
		}
	}
}

// waitFor waits until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10 s")
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestClientOperationFailureVisible: an operation that fails on the
// service (the emulator's operation-failure fault) succeeds as a call and
// shows as LatestOperationState FAILED, with nothing changed.
func TestClientOperationFailureVisible(t *testing.T) {
	h, ids := dayTwo(t, 1, func(c *emulator.Config) {
		c.Faults = []emulator.Fault{{Kind: emulator.FaultOperationFailure, Action: lighthouse.ActionResetInstance}}
	})
	resp, err := h.Client.ResetInstance(context.Background(), emuRegion, &lighthouse.ResetInstanceRequest{InstanceId: ids[0], BlueprintId: "lhbp-d8pgvqz2"})
	if err != nil {
		t.Fatal(err)
	}
	h.Advance(emulator.DefaultOperationDelay)
	in := describeOne(t, h.Client, ids[0])
	if in.LatestOperationState != lighthouse.OperationFailed || in.LatestOperationRequestId != resp.RequestId || in.BlueprintId != "lhbp-g0tn7djh" || in.InstanceState != lighthouse.StateRunning {
		t.Fatalf("failed reset: %s %s %s %s", in.LatestOperationState, in.LatestOperationRequestId, in.BlueprintId, in.InstanceState)
	}
}

// TestDayTwoRateLimits: the client's default buckets hold the documented
// limits of the day-two actions, which the emulator enforces by default:
// a burst over one is refused with RequestLimitExceeded.
func TestDayTwoRateLimits(t *testing.T) {
	want := map[string]float64{
		lighthouse.ActionResetInstance: 10, lighthouse.ActionDescribeResetInstanceBlueprints: 20,
		lighthouse.ActionModifyInstancesBundle: 20, lighthouse.ActionDescribeModifyInstanceBundles: 20,
		lighthouse.ActionDescribeInstancesDeniedActions: 10, lighthouse.ActionModifyInstancesRenewFlag: 20,
		lighthouse.ActionRenewInstances: 20, lighthouse.ActionInquirePriceRenewInstances: 10,
	}
	limits := lighthouse.DefaultRateLimits()
	for a, r := range want {
		if limits[a] != r {
			t.Errorf("DefaultRateLimits[%s] = %v, want %v", a, limits[a], r)
		}
	}
	h, ids := dayTwo(t, 1, func(c *emulator.Config) { c.RateLimits = nil })
	c := h.NewClient(t, func(o *lighthouse.Options) { o.RetryMax = -1 })
	for _, a := range []string{lighthouse.ActionDescribeInstancesDeniedActions, lighthouse.ActionInquirePriceRenewInstances} {
		for i := range 11 {
			err := dayTwoCall(c, a, ids)
			if i < 10 && err != nil {
				t.Fatalf("%s call %d: %v", a, i+1, err)
			}
			if i == 10 && lighthouse.ErrorCode(err) != "RequestLimitExceeded" {
				t.Fatalf("%s call 11 in one instant: %v; want RequestLimitExceeded", a, err)
			}
		}
	}
	h.Advance(time.Second)
	if err := dayTwoCall(c, lighthouse.ActionInquirePriceRenewInstances, ids); err != nil {
		t.Fatalf("a second later: %v", err)
	}
}

// TestShutDownByExpiry: the derived readings of an instance's expiry.
func TestShutDownByExpiry(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		in               lighthouse.Instance
		byExpiry, failed bool
	}{
		{lighthouse.Instance{InstanceState: "SHUTDOWN", IsolatedTime: s("2026-02-05T09:00:00Z"), ExpiredTime: s("2026-02-05T09:00:00Z"), RenewFlag: lighthouse.RenewNotifyAuto}, true, true},
		{lighthouse.Instance{InstanceState: "SHUTDOWN", IsolatedTime: s("2026-02-06T09:00:00Z"), ExpiredTime: s("2026-02-05T09:00:00Z"), RenewFlag: lighthouse.RenewNotifyManual}, true, false},
		{lighthouse.Instance{InstanceState: "SHUTDOWN", IsolatedTime: s("2026-01-10T09:00:00Z"), ExpiredTime: s("2026-02-05T09:00:00Z"), RenewFlag: lighthouse.RenewNotifyAuto}, false, false},
		{lighthouse.Instance{InstanceState: "RUNNING", ExpiredTime: s("2026-02-05T09:00:00Z"), RenewFlag: lighthouse.RenewNotifyAuto}, false, false},
		{lighthouse.Instance{InstanceState: "SHUTDOWN", ExpiredTime: s("2026-02-05T09:00:00Z")}, false, false},
	} {
		if got := tc.in.ShutDownByExpiry(); got != tc.byExpiry {
			t.Errorf("%s isolated %v expired %v: ShutDownByExpiry %v", tc.in.InstanceState, tc.in.IsolatedTime, tc.in.ExpiredTime, got)
		}
		if got := tc.in.AutoRenewFailed(); got != tc.failed {
			t.Errorf("%s %s: AutoRenewFailed %v", tc.in.InstanceState, tc.in.RenewFlag, got)
		}
	}
	for p, ok := range map[int64]bool{0: false, 1: true, 12: true, 13: false, 24: true, 36: true, 48: false, 60: false} {
		if lighthouse.ValidRenewPeriod(p) != ok {
			t.Errorf("ValidRenewPeriod(%d) = %v", p, !ok)
		}
	}

}
