package daemon

import (
	"context"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/prom"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
)

// The day-two actions that change the account pass the same gate as
// creates: a follower, and a daemon that is stopping, send none.
func TestDayTwoActionsAreGated(t *testing.T) {
	ctx := context.Background()
	calls := prom.NewCounterVec("calls", "", "action", "code")
	for _, tc := range []struct {
		name    string
		leading bool
		stopped bool
		code    string
	}{
		{"follower", false, false, lighthouse.CodeFenced},
		{"stopping", true, true, CodeShuttingDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := reconciletest.NewFake(emulator.NewManualClock(reconciletest.Epoch))
			stop := make(chan struct{})
			if tc.stopped {
				close(stop)
			}
			c := &mutationGate{cloud: &countingCloud{Cloud: fake, calls: calls}, stopping: func() <-chan struct{} { return stop }, leading: func() bool { return tc.leading }}
			ids := []string{"lhins-aaaaaaaa"}
			_, e1 := c.ResetInstance(ctx, "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: ids[0]})
			_, e2 := c.ModifyInstancesBundle(ctx, "ap-guangzhou", &lighthouse.ModifyInstancesBundleRequest{InstanceIds: ids, BundleId: "bundle_gen_02"})
			_, e3 := c.RenewInstances(ctx, "ap-guangzhou", &lighthouse.RenewInstancesRequest{InstanceIds: ids, InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}})
			_, e4 := c.ModifyInstancesRenewFlag(ctx, "ap-guangzhou", &lighthouse.ModifyInstancesRenewFlagRequest{InstanceIds: ids, RenewFlag: lighthouse.RenewNotifyAuto})
			for i, err := range []error{e1, e2, e3, e4} {
				if code := lighthouse.ErrorCode(err); code != tc.code {
					t.Errorf("call %d: %v, want %s", i, err, tc.code)
				}
			}
			for _, a := range []string{lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle, lighthouse.ActionRenewInstances, lighthouse.ActionModifyInstancesRenewFlag} {
				if n := fake.Calls(a); n != 0 {
					t.Errorf("%s reached the cloud %d times", a, n)
				}
			}
			if _, err := c.DescribeModifyInstanceBundles(ctx, "ap-guangzhou", &lighthouse.DescribeModifyInstanceBundlesRequest{InstanceId: ids[0]}); lighthouse.ErrorCode(err) != "ResourceNotFound.InstanceIdNotFound" {
				t.Errorf("a read is not gated: %v", err)
			}
		})
	}
}
