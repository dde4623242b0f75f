package lighthouse

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// TestInstancesAcceptsSteadyMiscount: a service whose TotalCount does not
// match what it lists (say, instances the key may not see are counted) but
// answers the same on every sweep is steady, not changing: the listing is
// accepted after a second sweep confirms it, not failed.
func TestInstancesAcceptsSteadyMiscount(t *testing.T) {
	const page = `{"Response":{"TotalCount":5,"InstanceSet":[{"InstanceId":"lhins-aaaaaaa1"},{"InstanceId":"lhins-aaaaaaa2"},{"InstanceId":"lhins-aaaaaaa3"}],"RequestId":"r"}}`
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i%2 == 0 {
			io.WriteString(w, page)
			return
		}
		io.WriteString(w, `{"Response":{"TotalCount":5,"InstanceSet":[],"RequestId":"r"}}`)
	})
	cl := newTestClient(t, srv.URL, testCred)
	got, err := cl.DescribeInstances(context.Background(), "ap-guangzhou", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || n.Load() != 4 {
		t.Fatalf("%d instances in %d requests; want 3 in 2 sweeps of 2 pages", len(got), n.Load())
	}
}

// TestInstancesByIDIsOneSweepPerChunk: a chunk of IDs fits one page, so
// nothing can shift out of sight: it is swept once even if TotalCount
// disagrees with what comes back.
func TestInstancesByIDIsOneSweepPerChunk(t *testing.T) {
	srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Response":{"TotalCount":2,"InstanceSet":[{"InstanceId":"lhins-aaaaaaa1"}],"RequestId":"r"}}`)
	})
	cl := newTestClient(t, srv.URL, testCred)
	got, err := cl.DescribeInstances(context.Background(), "ap-guangzhou", &DescribeInstancesRequest{InstanceIds: []string{"lhins-aaaaaaa1", "lhins-aaaaaaa2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || n.Load() > 2 {
		t.Fatalf("%d instances in %d requests; want 1 in one sweep", len(got), n.Load())
	}
}

// TestInstancesHugeTotalCount: the room a listing makes at once for the
// IDs it yields follows the first page's TotalCount only up to
// maxPresized: a service that reports 2^40 instances and lists three is a
// steady miscount, not a reason to allocate for 2^40.
func TestInstancesHugeTotalCount(t *testing.T) {
	const page = `{"Response":{"TotalCount":1099511627776,"InstanceSet":[{"InstanceId":"lhins-aaaaaaa1"},{"InstanceId":"lhins-aaaaaaa2"},{"InstanceId":"lhins-aaaaaaa3"}],"RequestId":"r"}}`
	srv, _ := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i%2 == 0 {
			io.WriteString(w, page)
			return
		}
		io.WriteString(w, `{"Response":{"TotalCount":1099511627776,"InstanceSet":[],"RequestId":"r"}}`)
	})
	cl := newTestClient(t, srv.URL, testCred)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := cl.DescribeInstances(context.Background(), "ap-guangzhou", nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d instances, want 3", len(got))
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
		t.Errorf("listing 3 instances under a TotalCount of 2^40 allocated %d bytes", grown)
	}
}
