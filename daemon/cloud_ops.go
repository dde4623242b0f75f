package daemon

import (
	"context"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// The day-two actions of countingCloud: each is counted, and each that
// changes the account is gated as creates and isolations are (no new one
// once the daemon is stopping, none by a daemon that no longer leads).

// mutate gates, sends and counts one mutating call.
func mutate[Req, Resp any](c *countingCloud, ctx context.Context, action, region string, req Req, call func(context.Context, string, Req) (Resp, error)) (Resp, error) {
	if err := c.gate(action, region); err != nil {
		var zero Resp
		return zero, err
	}
	resp, err := call(ctx, region, req)
	c.count(action, err)
	return resp, err
}

// read sends and counts one read-only call.
func read[Req, Resp any](c *countingCloud, ctx context.Context, action, region string, req Req, call func(context.Context, string, Req) (Resp, error)) (Resp, error) {
	resp, err := call(ctx, region, req)
	c.count(action, err)
	return resp, err
}

// ResetInstance gates and counts a reset.
func (c *countingCloud) ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error) {
	return mutate(c, ctx, lighthouse.ActionResetInstance, region, req, c.Cloud.ResetInstance)
}

// ModifyInstancesBundle gates and counts a bundle change.
func (c *countingCloud) ModifyInstancesBundle(ctx context.Context, region string, req *lighthouse.ModifyInstancesBundleRequest) (*lighthouse.ModifyInstancesBundleResponse, error) {
	return mutate(c, ctx, lighthouse.ActionModifyInstancesBundle, region, req, c.Cloud.ModifyInstancesBundle)
}

// ModifyInstancesRenewFlag gates and counts a renew flag change.
func (c *countingCloud) ModifyInstancesRenewFlag(ctx context.Context, region string, req *lighthouse.ModifyInstancesRenewFlagRequest) (*lighthouse.ModifyInstancesRenewFlagResponse, error) {
	return mutate(c, ctx, lighthouse.ActionModifyInstancesRenewFlag, region, req, c.Cloud.ModifyInstancesRenewFlag)
}

// RenewInstances gates and counts a renewal.
func (c *countingCloud) RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error) {
	return mutate(c, ctx, lighthouse.ActionRenewInstances, region, req, c.Cloud.RenewInstances)
}

// DescribeModifyInstanceBundles counts a lookup.
func (c *countingCloud) DescribeModifyInstanceBundles(ctx context.Context, region string, req *lighthouse.DescribeModifyInstanceBundlesRequest) (*lighthouse.DescribeModifyInstanceBundlesResponse, error) {
	return read(c, ctx, lighthouse.ActionDescribeModifyInstanceBundles, region, req, c.Cloud.DescribeModifyInstanceBundles)
}

// DescribeResetInstanceBlueprints counts a lookup.
func (c *countingCloud) DescribeResetInstanceBlueprints(ctx context.Context, region string, req *lighthouse.DescribeResetInstanceBlueprintsRequest) (*lighthouse.DescribeResetInstanceBlueprintsResponse, error) {
	return read(c, ctx, lighthouse.ActionDescribeResetInstanceBlueprints, region, req, c.Cloud.DescribeResetInstanceBlueprints)
}

// DescribeInstancesDeniedActions counts a lookup.
func (c *countingCloud) DescribeInstancesDeniedActions(ctx context.Context, region string, req *lighthouse.DescribeInstancesDeniedActionsRequest) (*lighthouse.DescribeInstancesDeniedActionsResponse, error) {
	return read(c, ctx, lighthouse.ActionDescribeInstancesDeniedActions, region, req, c.Cloud.DescribeInstancesDeniedActions)
}

// InquirePriceRenewInstances counts a price inquiry.
func (c *countingCloud) InquirePriceRenewInstances(ctx context.Context, region string, req *lighthouse.InquirePriceRenewInstancesRequest) (*lighthouse.InquirePriceRenewInstancesResponse, error) {
	return read(c, ctx, lighthouse.ActionInquirePriceRenewInstances, region, req, c.Cloud.InquirePriceRenewInstances)
}
