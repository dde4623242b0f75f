package daemon

import (
	"context"
	"iter"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// CodeShuttingDown is the error code of a mutating call that the daemon
// did not send because it was stopping. Nothing was sent, so nothing can
// have been bought.
const CodeShuttingDown = "ClientError.ShuttingDown"

// mutationGate is the reconcile.Cloud the engine is given: it starts no
// mutating call (a create that is not a DryRun, an isolation) once the
// daemon is stopping, or while it does not lead its election. Calls that
// have started finish; reads always pass. A refused call fails with a
// *lighthouse.Error whose code is CodeShuttingDown or
// lighthouse.CodeFenced, so the engine reports it as not sent.
//
// It wraps the cloud by name, not by embedding, so that a method added to
// reconcile.Cloud does not compile until it is written here: every
// mutating call must pass the gate, and nothing passes by accident.
type mutationGate struct {
	cloud reconcile.Cloud
	// stopping returns a channel closed once no new mutating call may
	// start (nil, which never closes, before Run).
	stopping func() <-chan struct{}
	// leading, if set, reports whether this daemon leads its election.
	leading func() bool
}

var _ reconcile.Cloud = (*mutationGate)(nil)

// refuse returns the error of a mutating call that must not start, or nil.
func (g *mutationGate) refuse(action, region string) error {
	if g.leading != nil && !g.leading() {
		return &lighthouse.Error{Action: action, Region: region, Code: lighthouse.CodeFenced,
			Message: "not sent: this daemon no longer leads the election; the leader sends it"}
	}
	if g.stopping == nil {
		return nil
	}
	select {
	case <-g.stopping():
		return &lighthouse.Error{Action: action, Region: region, Code: CodeShuttingDown,
			Message: "not sent: lightkeeper is shutting down; the next run sends it"}
	default:
		return nil
	}
}

// Instances always passes: reads are never gated.
func (g *mutationGate) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return g.cloud.Instances(ctx, region, req)
}

// InquirePriceCreateInstances always passes: it buys nothing.
func (g *mutationGate) InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	return g.cloud.InquirePriceCreateInstances(ctx, region, req)
}

// CreateInstances starts a create unless refused; a DryRun always passes.
func (g *mutationGate) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	if err := g.refuse(lighthouse.ActionCreateInstances, region); err != nil && !req.DryRun {
		return nil, err
	}
	return g.cloud.CreateInstances(ctx, region, req)
}

// IsolateInstances starts an isolation unless refused.
func (g *mutationGate) IsolateInstances(ctx context.Context, region string, req *lighthouse.IsolateInstancesRequest) (*lighthouse.IsolateInstancesResponse, error) {
	if err := g.refuse(lighthouse.ActionIsolateInstances, region); err != nil {
		return nil, err
	}
	return g.cloud.IsolateInstances(ctx, region, req)
}
