package daemon

import (
	"context"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// The day-two actions: countingCloud counts each, and mutationGate gates
// each that changes the account as creates and isolations are (no new one
// once the daemon is stopping, none by a daemon that no longer leads);
// reads always pass.

// counted sends and counts one call.
func counted[Req, Resp any](c *countingCloud, ctx context.Context, action, region string, req Req, call func(context.Context, string, Req) (Resp, error)) (Resp, error) {
	resp, err := call(ctx, region, req)
	c.count(action, err)
	return resp, err
}

// gated sends one mutating call unless the gate refuses it.
func gated[Req, Resp any](g *mutationGate, ctx context.Context, action, region string, req Req, call func(context.Context, string, Req) (Resp, error)) (Resp, error) {
	if err := g.refuse(action, region); err != nil {
		var zero Resp
		return zero, err
	}
	return call(ctx, region, req)
}

// ResetInstance counts a reset.
func (c *countingCloud) ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error) {
	return counted(c, ctx, lighthouse.ActionResetInstance, region, req, c.Cloud.ResetInstance)
}

// ModifyInstancesBundle counts a bundle change.
func (c *countingCloud) ModifyInstancesBundle(ctx context.Context, region string, req *lighthouse.ModifyInstancesBundleRequest) (*lighthouse.ModifyInstancesBundleResponse, error) {
	return counted(c, ctx, lighthouse.ActionModifyInstancesBundle, region, req, c.Cloud.ModifyInstancesBundle)
}

// ModifyInstancesRenewFlag counts a renew flag change.
func (c *countingCloud) ModifyInstancesRenewFlag(ctx context.Context, region string, req *lighthouse.ModifyInstancesRenewFlagRequest) (*lighthouse.ModifyInstancesRenewFlagResponse, error) {
	return counted(c, ctx, lighthouse.ActionModifyInstancesRenewFlag, region, req, c.Cloud.ModifyInstancesRenewFlag)
}

// RenewInstances counts a renewal.
func (c *countingCloud) RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error) {
	return counted(c, ctx, lighthouse.ActionRenewInstances, region, req, c.Cloud.RenewInstances)
}

// DescribeModifyInstanceBundles counts a lookup.
func (c *countingCloud) DescribeModifyInstanceBundles(ctx context.Context, region string, req *lighthouse.DescribeModifyInstanceBundlesRequest) (*lighthouse.DescribeModifyInstanceBundlesResponse, error) {
	return counted(c, ctx, lighthouse.ActionDescribeModifyInstanceBundles, region, req, c.Cloud.DescribeModifyInstanceBundles)
}

// DescribeResetInstanceBlueprints counts a lookup.
func (c *countingCloud) DescribeResetInstanceBlueprints(ctx context.Context, region string, req *lighthouse.DescribeResetInstanceBlueprintsRequest) (*lighthouse.DescribeResetInstanceBlueprintsResponse, error) {
	return counted(c, ctx, lighthouse.ActionDescribeResetInstanceBlueprints, region, req, c.Cloud.DescribeResetInstanceBlueprints)
}

// DescribeInstancesDeniedActions counts a lookup.
func (c *countingCloud) DescribeInstancesDeniedActions(ctx context.Context, region string, req *lighthouse.DescribeInstancesDeniedActionsRequest) (*lighthouse.DescribeInstancesDeniedActionsResponse, error) {
	return counted(c, ctx, lighthouse.ActionDescribeInstancesDeniedActions, region, req, c.Cloud.DescribeInstancesDeniedActions)
}

// InquirePriceRenewInstances counts a price inquiry.
func (c *countingCloud) InquirePriceRenewInstances(ctx context.Context, region string, req *lighthouse.InquirePriceRenewInstancesRequest) (*lighthouse.InquirePriceRenewInstancesResponse, error) {
	return counted(c, ctx, lighthouse.ActionInquirePriceRenewInstances, region, req, c.Cloud.InquirePriceRenewInstances)
}

// ResetInstance starts a reset unless refused.
func (g *mutationGate) ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error) {
	return gated(g, ctx, lighthouse.ActionResetInstance, region, req, g.cloud.ResetInstance)
}

// ModifyInstancesBundle starts a bundle change unless refused.
func (g *mutationGate) ModifyInstancesBundle(ctx context.Context, region string, req *lighthouse.ModifyInstancesBundleRequest) (*lighthouse.ModifyInstancesBundleResponse, error) {
	return gated(g, ctx, lighthouse.ActionModifyInstancesBundle, region, req, g.cloud.ModifyInstancesBundle)
}

// ModifyInstancesRenewFlag sets the renew flag unless refused.
func (g *mutationGate) ModifyInstancesRenewFlag(ctx context.Context, region string, req *lighthouse.ModifyInstancesRenewFlagRequest) (*lighthouse.ModifyInstancesRenewFlagResponse, error) {
	return gated(g, ctx, lighthouse.ActionModifyInstancesRenewFlag, region, req, g.cloud.ModifyInstancesRenewFlag)
}

// RenewInstances starts a renewal unless refused.
func (g *mutationGate) RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error) {
	return gated(g, ctx, lighthouse.ActionRenewInstances, region, req, g.cloud.RenewInstances)
}

// DescribeModifyInstanceBundles always passes: a read.
func (g *mutationGate) DescribeModifyInstanceBundles(ctx context.Context, region string, req *lighthouse.DescribeModifyInstanceBundlesRequest) (*lighthouse.DescribeModifyInstanceBundlesResponse, error) {
	return g.cloud.DescribeModifyInstanceBundles(ctx, region, req)
}

// DescribeResetInstanceBlueprints always passes: a read.
func (g *mutationGate) DescribeResetInstanceBlueprints(ctx context.Context, region string, req *lighthouse.DescribeResetInstanceBlueprintsRequest) (*lighthouse.DescribeResetInstanceBlueprintsResponse, error) {
	return g.cloud.DescribeResetInstanceBlueprints(ctx, region, req)
}

// DescribeInstancesDeniedActions always passes: a read.
func (g *mutationGate) DescribeInstancesDeniedActions(ctx context.Context, region string, req *lighthouse.DescribeInstancesDeniedActionsRequest) (*lighthouse.DescribeInstancesDeniedActionsResponse, error) {
	return g.cloud.DescribeInstancesDeniedActions(ctx, region, req)
}

// InquirePriceRenewInstances always passes: it buys nothing.
func (g *mutationGate) InquirePriceRenewInstances(ctx context.Context, region string, req *lighthouse.InquirePriceRenewInstancesRequest) (*lighthouse.InquirePriceRenewInstancesResponse, error) {
	return g.cloud.InquirePriceRenewInstances(ctx, region, req)
}
