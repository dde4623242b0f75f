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
}

var _ Cloud = (*lighthouse.Client)(nil)
