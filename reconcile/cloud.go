package reconcile

import (
	"context"
	"iter"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Cloud is what reconcile needs from the Lighthouse API. *lighthouse.Client
// satisfies it; reconciletest.Fake is an in-memory one for unit tests, held
// to the same contract as the emulator by reconciletest.RunContract.
//
// Errors must be (or wrap) *lighthouse.Error so that lighthouse.ClassOf and
// Ambiguous tell what to do about them.
type Cloud interface {
	// Instances lists the instances of region matching req (nil: all),
	// every page, each instance once.
	Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error]
	// CreateInstances buys instances; reconcile always sends
	// InstanceCount 1 and a ClientToken.
	CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error)
	// InquirePriceCreateInstances prices a create.
	InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error)
	// IsolateInstances returns instances (they go to SHUTDOWN).
	IsolateInstances(ctx context.Context, region string, req *lighthouse.IsolateInstancesRequest) (*lighthouse.IsolateInstancesResponse, error)

	// The day-two actions (docs/design.md section 11). ResetInstance,
	// ModifyInstancesBundle and RenewInstances take no ClientToken and act
	// again when repeated: reconcile sends them only through the intent
	// journal and the judge of operation.go, never twice for one change.

	// ResetInstance reinstalls one instance (its system disk is wiped).
	ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error)
	// ModifyInstancesBundle changes instances' bundle, charging the price
	// difference.
	ModifyInstancesBundle(ctx context.Context, region string, req *lighthouse.ModifyInstancesBundleRequest) (*lighthouse.ModifyInstancesBundleResponse, error)
	// DescribeModifyInstanceBundles lists, one page at a time, the bundles
	// an instance could change to, with their state and price difference.
	DescribeModifyInstanceBundles(ctx context.Context, region string, req *lighthouse.DescribeModifyInstanceBundlesRequest) (*lighthouse.DescribeModifyInstanceBundlesResponse, error)
	// DescribeResetInstanceBlueprints lists, one page at a time, the
	// blueprints a reset of an instance may target.
	DescribeResetInstanceBlueprints(ctx context.Context, region string, req *lighthouse.DescribeResetInstanceBlueprintsRequest) (*lighthouse.DescribeResetInstanceBlueprintsResponse, error)
	// DescribeInstancesDeniedActions tells the actions instances may not
	// do now, with the code each would answer.
	DescribeInstancesDeniedActions(ctx context.Context, region string, req *lighthouse.DescribeInstancesDeniedActionsRequest) (*lighthouse.DescribeInstancesDeniedActionsResponse, error)
	// ModifyInstancesRenewFlag sets instances' renew flag (repeat-safe).
	ModifyInstancesRenewFlag(ctx context.Context, region string, req *lighthouse.ModifyInstancesRenewFlagRequest) (*lighthouse.ModifyInstancesRenewFlagResponse, error)
	// RenewInstances buys more time for instances.
	RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error)
	// InquirePriceRenewInstances prices a renewal.
	InquirePriceRenewInstances(ctx context.Context, region string, req *lighthouse.InquirePriceRenewInstancesRequest) (*lighthouse.InquirePriceRenewInstancesResponse, error)
}

var _ Cloud = (*lighthouse.Client)(nil)
