package reconcile

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// stubCloud answers every create with a new ID and every isolation with
// success; a sweep lists nothing, a look by ID lists what it created; the
// day-two actions are the embedded nil Cloud's (a call panics: this apply
// makes none).
type stubCloud struct {
	Cloud
	mu      sync.Mutex
	n       int
	created map[string]string // ID -> name
}

func (c *stubCloud) Instances(_ context.Context, _ string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		if req == nil {
			return
		}
		c.mu.Lock()
		var out []lighthouse.Instance
		for _, id := range req.InstanceIds {
			if name, ok := c.created[id]; ok {
				out = append(out, lighthouse.Instance{InstanceId: id, InstanceName: name, InstanceState: lighthouse.StatePending})
			}
		}
		c.mu.Unlock()
		for _, in := range out {
			if !yield(in, nil) {
				return
			}
		}
	}
}

func (c *stubCloud) CreateInstances(_ context.Context, _ string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	id := fmt.Sprintf("lhins-stub%04d", c.n)
	if c.created == nil {
		c.created = map[string]string{}
	}
	c.created[id] = req.InstanceName
	return &lighthouse.CreateInstancesResponse{InstanceIdSet: []string{id}}, nil
}

func (c *stubCloud) InquirePriceCreateInstances(context.Context, string, *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	return &lighthouse.InquirePriceCreateInstancesResponse{}, nil
}

func (c *stubCloud) IsolateInstances(context.Context, string, *lighthouse.IsolateInstancesRequest) (*lighthouse.IsolateInstancesResponse, error) {
	return &lighthouse.IsolateInstancesResponse{}, nil
}

// The progress of an apply counts every create and isolation in its total,
// also those of a fleet that only isolates, so it ends at Done == Total.
func TestApplyProgressCountsIsolations(t *testing.T) {
	p := renderPlan(t) // web: 2 creates; api: 1 isolation only; batch: 1 create
	var mu sync.Mutex
	var last Progress
	r := New(&stubCloud{}, nil, Options{
		Getenv: func(string) string { return "Stub-Passw0rd-2026" },
		Progress: func(pr Progress) {
			mu.Lock()
			defer mu.Unlock()
			if pr.Done > last.Done {
				last = pr
			}
		},
	})
	res, err := r.Apply(context.Background(), p, true)
	if err != nil || res.Created != 3 || res.Isolated != 1 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if last.Done != 4 || last.Total != 4 {
		t.Errorf("last progress %+v, want 4 of 4", last)
	}
}
