package lighthouse

import (
	"context"
	"fmt"
	"time"
)

// Names of the day-two actions (X-TC-Action): changes to existing
// instances and their renewal.
const (
	ActionResetInstance                   = "ResetInstance"
	ActionModifyInstancesBundle           = "ModifyInstancesBundle"
	ActionDescribeModifyInstanceBundles   = "DescribeModifyInstanceBundles"
	ActionDescribeResetInstanceBlueprints = "DescribeResetInstanceBlueprints"
	ActionDescribeInstancesDeniedActions  = "DescribeInstancesDeniedActions"
	ActionModifyInstancesRenewFlag        = "ModifyInstancesRenewFlag"
	ActionRenewInstances                  = "RenewInstances"
	ActionInquirePriceRenewInstances      = "InquirePriceRenewInstances"
)

// notIdempotent are the call options of a mutating action without a
// ClientToken whose repetition acts again (a second reset wipes the disk
// again, a second bundle change or renewal is charged again): the transport
// repeats it only when the service cannot have acted on it (not sent, or
// refused for the rate limit). Any other failure comes back with Class
// Permanent and Ambiguous set.
var notIdempotent = callOpts{mutating: true, unsafeRetry: true}

// The mutating day-two actions are asynchronous and take no ClientToken:
// a success means the operation started. DescribeInstances then shows it
// on the instance: LatestOperation is the action's name,
// LatestOperationState OPERATING until it ends in SUCCESS or FAILED,
// LatestOperationRequestId the RequestId of the call that started it and
// LatestOperationStartedTime when it started (the China site only: the
// international SDK's Instance has no LatestOperationStartedTime). While an
// operation runs, other operations on the instance are refused with a
// RetryLater code (OperationDenied.InstanceOperationInProgress or
// UnsupportedOperation.LatestOperationUnfinished, per action).
//
// When a call of ResetInstance, ModifyInstancesBundle or RenewInstances
// fails with Ambiguous set (its answer was lost, or the service answered a
// 5xx or InternalError after it may have acted), do not send it again
// before DescribeInstances proves the first attempt did not happen: the
// instance's LatestOperation is not the action with a
// LatestOperationStartedTime at or after the call, and the effect (the
// BlueprintId, the BundleId, the ExpiredTime) is not there.

// ResetInstance reinstalls an instance (see ResetInstanceRequest). The
// instance must be RUNNING or STOPPED with no operation in progress; outside
// mainland China (and on the international site everywhere) it cannot
// switch between LINUX_UNIX and WINDOWS blueprints; see
// DescribeResetInstanceBlueprints for the blueprints it can take. Not
// idempotent: a repetition wipes the system disk again, so the transport
// never repeats it after the service may have acted (see notIdempotent).
// Documented rate: 10 requests/s.
func (c *Client) ResetInstance(ctx context.Context, region string, req *ResetInstanceRequest) (*ResetInstanceResponse, error) {
	if req == nil || req.InstanceId == "" {
		return nil, fmt.Errorf("lighthouse: %s: InstanceId is required", ActionResetInstance)
	}
	return send[ResetInstanceResponse](ctx, c, ActionResetInstance, region, req, notIdempotent)
}

// ModifyInstancesBundle changes the bundle of up to MaxModifyBundleIDs
// RUNNING or STOPPED instances, charging the price difference on the
// account (FailedOperation.InsufficientBalance when it does not cover it).
// Only changes DescribeModifyInstanceBundles lists as AVAILABLE for the
// instance succeed: the service sells upgrades only. Not idempotent: each
// change is charged, so the transport never repeats it after the service
// may have acted. Documented rate: 20 requests/s.
func (c *Client) ModifyInstancesBundle(ctx context.Context, region string, req *ModifyInstancesBundleRequest) (*ModifyInstancesBundleResponse, error) {
	if req == nil || len(req.InstanceIds) == 0 || req.BundleId == "" {
		return nil, fmt.Errorf("lighthouse: %s: InstanceIds and BundleId are required", ActionModifyInstancesBundle)
	}
	return send[ModifyInstancesBundleResponse](ctx, c, ActionModifyInstancesBundle, region, req, notIdempotent)
}

// DescribeModifyInstanceBundles makes one DescribeModifyInstanceBundles
// call: one page of the bundles the instance could be changed to, each
// with its state (ModifyBundleAvailable, ...), the price difference and,
// when not available, the reason. Documented rate: 20 requests/s.
func (c *Client) DescribeModifyInstanceBundles(ctx context.Context, region string, req *DescribeModifyInstanceBundlesRequest) (*DescribeModifyInstanceBundlesResponse, error) {
	return send[DescribeModifyInstanceBundlesResponse](ctx, c, ActionDescribeModifyInstanceBundles, region, req, readOnly)
}

// ModifyInstanceBundles returns every bundle instanceID could be changed
// to: all pages of DescribeModifyInstanceBundles.
func (c *Client) ModifyInstanceBundles(ctx context.Context, region, instanceID string, filters ...Filter) ([]ModifyBundle, error) {
	req := DescribeModifyInstanceBundlesRequest{InstanceId: instanceID, Filters: filters, Limit: MaxPageSize}
	return allPages(func(offset int64) ([]ModifyBundle, int64, error) {
		req.Offset = offset
		resp, err := c.DescribeModifyInstanceBundles(ctx, region, &req)
		if err != nil {
			return nil, 0, err
		}
		return resp.ModifyBundleSet, resp.TotalCount, nil
	})
}

// DescribeResetInstanceBlueprints makes one DescribeResetInstanceBlueprints
// call: one page of blueprints, each with whether the instance can be reset
// to it and, if not, why. Documented rate: 20 requests/s.
func (c *Client) DescribeResetInstanceBlueprints(ctx context.Context, region string, req *DescribeResetInstanceBlueprintsRequest) (*DescribeResetInstanceBlueprintsResponse, error) {
	return send[DescribeResetInstanceBlueprintsResponse](ctx, c, ActionDescribeResetInstanceBlueprints, region, req, readOnly)
}

// ResetInstanceBlueprints returns every blueprint listed for a reset of
// instanceID: all pages of DescribeResetInstanceBlueprints.
func (c *Client) ResetInstanceBlueprints(ctx context.Context, region, instanceID string, filters ...Filter) ([]ResetInstanceBlueprint, error) {
	req := DescribeResetInstanceBlueprintsRequest{InstanceId: instanceID, Filters: filters, Limit: MaxPageSize}
	return allPages(func(offset int64) ([]ResetInstanceBlueprint, int64, error) {
		req.Offset = offset
		resp, err := c.DescribeResetInstanceBlueprints(ctx, region, &req)
		if err != nil {
			return nil, 0, err
		}
		return resp.ResetInstanceBlueprintSet, resp.TotalCount, nil
	})
}

// DescribeInstancesDeniedActions tells, for up to MaxDeniedActionsIDs
// instances, the actions each may not do now, with the code and message the
// action would answer: the preflight of a plan. Documented rate: 10
// requests/s.
func (c *Client) DescribeInstancesDeniedActions(ctx context.Context, region string, req *DescribeInstancesDeniedActionsRequest) (*DescribeInstancesDeniedActionsResponse, error) {
	return send[DescribeInstancesDeniedActionsResponse](ctx, c, ActionDescribeInstancesDeniedActions, region, req, readOnly)
}

// ModifyInstancesRenewFlag sets the renew flag of up to MaxRenewFlagIDs
// instances. It sets a value, so the transport repeats it freely.
// Documented rate: 20 requests/s.
func (c *Client) ModifyInstancesRenewFlag(ctx context.Context, region string, req *ModifyInstancesRenewFlagRequest) (*ModifyInstancesRenewFlagResponse, error) {
	return send[ModifyInstancesRenewFlagResponse](ctx, c, ActionModifyInstancesRenewFlag, region, req, callOpts{mutating: true})
}

// RenewInstances renews up to MaxRenewIDs RUNNING, STOPPED or SHUTDOWN
// instances for req.InstanceChargePrepaid.Period months, charged on the
// account; the new ExpiredTime shows once the operation succeeded. Price
// it first with InquirePriceRenewInstances. Not idempotent: each call buys
// time, so the transport never repeats it after the service may have
// acted; confirm through ExpiredTime and LatestOperation before sending it
// again. Documented rate: 20 requests/s.
func (c *Client) RenewInstances(ctx context.Context, region string, req *RenewInstancesRequest) (*RenewInstancesResponse, error) {
	if req == nil || len(req.InstanceIds) == 0 || req.InstanceChargePrepaid == nil {
		return nil, fmt.Errorf("lighthouse: %s: InstanceIds and InstanceChargePrepaid are required", ActionRenewInstances)
	}
	return send[RenewInstancesResponse](ctx, c, ActionRenewInstances, region, req, notIdempotent)
}

// InquirePriceRenewInstances returns what renewing up to
// MaxInquireRenewIDs instances would cost. Documented rate: 10 requests/s
// (cn:1207/55557).
func (c *Client) InquirePriceRenewInstances(ctx context.Context, region string, req *InquirePriceRenewInstancesRequest) (*InquirePriceRenewInstancesResponse, error) {
	return send[InquirePriceRenewInstancesResponse](ctx, c, ActionInquirePriceRenewInstances, region, req, readOnly)
}

// allPages collects the items of a paged Describe: fetch returns the items
// at offset and the TotalCount. It stops at TotalCount or at an empty page.
func allPages[T any](fetch func(offset int64) ([]T, int64, error)) ([]T, error) {
	var all []T
	for offset := int64(0); ; {
		items, total, err := fetch(offset)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		offset += int64(len(items))
		if len(items) == 0 || offset >= total {
			return all, nil
		}
	}
}

// OperationInProgress reports whether the instance's latest operation is
// still running (LatestOperationState OPERATING): the service refuses other
// operations on it until it ends.
func (in *Instance) OperationInProgress() bool {
	return in.LatestOperationState == OperationOperating
}

// ShutDownByExpiry reports whether the instance is SHUTDOWN because it
// reached its ExpiredTime unrenewed rather than because it was isolated
// (returned) before: its IsolatedTime is not before its ExpiredTime. Such an
// instance can still be renewed (RenewInstances takes SHUTDOWN instances)
// and keeps its ID, addresses and disk. The rule is derived, not
// documented: the API has no field naming why an instance shut down, and
// isolation is refused once an instance expired (UnsupportedOperation.
// ResourceNotReturnable, ReturnFailCode 2), so an isolated instance was
// shut down before its expiry.
func (in *Instance) ShutDownByExpiry() bool {
	if in.InstanceState != StateShutdown || in.IsolatedTime == nil || in.ExpiredTime == nil {
		return false
	}
	iso, err1 := time.Parse(TimeLayout, *in.IsolatedTime)
	exp, err2 := time.Parse(TimeLayout, *in.ExpiredTime)
	return err1 == nil && err2 == nil && !iso.Before(exp)
}

// AutoRenewFailed reports whether the instance shut down at its expiry
// although its renew flag is NOTIFY_AND_AUTO_RENEW: its automatic renewal
// failed, for lack of balance ("在账户余额充足的情况下，实例到期后将按月自动续费",
// renewal happens when the balance suffices; models.go,
// ModifyInstancesRenewFlagRequestParams). The API has no field or state
// that says so before or after; this is the only sign it gives.
func (in *Instance) AutoRenewFailed() bool {
	return in.RenewFlag == RenewNotifyAuto && in.ShutDownByExpiry()
}

// TimeLayout is the format of the API's times (CreatedTime, ExpiredTime,
// LatestOperationStartedTime, ...): UTC to the second, for time.Parse.
const TimeLayout = "2006-01-02T15:04:05Z"
