package lighthouse_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

// A lookup by IDs leaves out the instances that are gone, whether the
// service omits them (the emulator's default) or refuses the whole call with
// ResourceNotFound.InstanceIdNotFound (DescribeMissingAsError).
func TestLookupByIDsTreatsNotFoundAsGone(t *testing.T) {
	for _, asError := range []bool{false, true} {
		h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), DescribeMissingAsError: asError, LaunchDelay: -1,
			Quotas: map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}})
		ctx := context.Background()
		var ids []string
		for i := range 5 {
			resp, err := h.Client.CreateInstances(ctx, emuRegion, newCreate("gone-"+string(rune('a'+i)), 30))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, resp.InstanceIdSet...)
		}
		// 150 IDs: two chunks; remove three, in both chunks.
		gone := []string{ids[3], ids[120], ids[149]}
		for _, id := range gone {
			if err := h.Server.DeleteInstance(id); err != nil {
				t.Fatal(err)
			}
		}
		got, err := h.Client.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: ids})
		if err != nil {
			t.Fatalf("DescribeMissingAsError=%v: %v", asError, err)
		}
		if len(got) != len(ids)-len(gone) {
			t.Fatalf("DescribeMissingAsError=%v: %d instances, want %d", asError, len(got), len(ids)-len(gone))
		}
		for _, in := range got {
			if slices.Contains(gone, in.InstanceId) {
				t.Fatalf("DescribeMissingAsError=%v: gone instance %s listed", asError, in.InstanceId)
			}
		}
		refused := h.Server.Calls(lighthouse.ActionDescribeInstances, lighthouse.CodeInstanceIdNotFound)
		if asError != (refused > 0) {
			t.Errorf("DescribeMissingAsError=%v: %d InstanceIdNotFound answers", asError, refused)
		}
		// Every ID gone: an empty answer, not an error.
		got, err = h.Client.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: gone})
		if err != nil || len(got) != 0 {
			t.Fatalf("DescribeMissingAsError=%v: all gone: %v, %v", asError, got, err)
		}
	}
}

// Other failures of a lookup by IDs are still failures.
func TestLookupByIDsOtherErrorsFail(t *testing.T) {
	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits(), DescribeMissingAsError: true},
		emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = -1 }))
	h.Server.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultInternalError})
	_, err := h.Client.DescribeInstances(context.Background(), emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: []string{"lhins-abcd1234"}})
	if lighthouse.ErrorCode(err) != "InternalError" {
		t.Fatalf("err %v, want InternalError", err)
	}
}
