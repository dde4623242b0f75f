package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// A filtered observation lists, in one region, only the instances that can
// fill a slot below the count of a few fleets, instead of sweeping every
// page of the region (docs/design.md section 5.10). It is what a push
// acts on first; the full sweep follows.

// maxFilterValues is the most values one DescribeInstances filter takes.
const maxFilterValues = 100

// FocusQueries are the DescribeInstances requests of a filtered
// observation of focus: the instance-name filter with the exact name of
// every slot below each fleet's count (at most 100 values a call), with
// tags the tag:lightkeeper-fleet filter with the fleets' names (renamed
// instances that keep their tags), and InstanceIds for ids (expectations
// the state holds for the fleets). The filters of one request are ANDed
// by the service, so each is a request of its own and the observation is
// their union.
func FocusQueries(focus []*spec.Fleet, ids []string, tags bool) []*lighthouse.DescribeInstancesRequest {
	var qs []*lighthouse.DescribeInstancesRequest
	var names []string
	flush := func() {
		if len(names) > 0 {
			qs = append(qs, &lighthouse.DescribeInstancesRequest{Filters: []lighthouse.Filter{{Name: "instance-name", Values: names}}})
			names = nil
		}
	}
	for _, f := range focus {
		for slot := range f.Spec.Count {
			names = append(names, f.InstanceName(slot))
			if len(names) == maxFilterValues {
				flush()
			}
		}
	}
	flush()
	if tags {
		for chunk := range slices.Chunk(fleetNames(focus), maxFilterValues) {
			qs = append(qs, &lighthouse.DescribeInstancesRequest{Filters: []lighthouse.Filter{{Name: "tag:" + spec.TagFleet, Values: chunk}}})
		}
	}
	for chunk := range slices.Chunk(ids, lighthouse.MaxPageSize) {
		qs = append(qs, &lighthouse.DescribeInstancesRequest{InstanceIds: chunk})
	}
	return qs
}

func fleetNames(fleets []*spec.Fleet) []string {
	out := make([]string, len(fleets))
	for i, f := range fleets {
		out[i] = f.Name()
	}
	return out
}

// ObserveFleets is Observe for the fleets focus only: it sends the
// FocusQueries of focus, ids and tags, all at once (the client's rate
// limit paces them), groups what they list, in the queries' order, with
// the NameIndex of all (every fleet of region, as Observe would; built
// while the calls are out) and the tag fallback, and keeps only the
// instances that group into a fleet of focus. An instance that a fuzzy
// name match or a tag brings in but that groups into another fleet is
// dropped: that fleet is not being planned, and a part of it would be a
// wrong view of it. Seen holds every ID listed. The observation is
// Partial. Any failed call fails it: a filtered view is never guessed at.
func ObserveFleets(ctx context.Context, cloud Cloud, region string, all, focus []*spec.Fleet, ids []string, tags bool, now time.Time) (*Observation, error) {
	qs := FocusQueries(focus, ids, tags)
	lists := make([][]lighthouse.Instance, len(qs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, q := range qs {
		wg.Go(func() {
			for li, err := range cloud.Instances(ctx, region, q) {
				if err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
				lists[i] = append(lists[i], li)
			}
		})
	}
	ix := spec.NewNameIndex(all)
	in := map[string]bool{}
	for _, f := range focus {
		in[f.Name()] = true
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("observe %s (filtered): %w", region, first)
	}
	obs := &Observation{Region: region, At: now, Fleets: map[string][]Instance{}, Seen: map[string]string{}, Partial: true}
	for _, list := range lists {
		for i := range list {
			li := &list[i]
			if _, dup := obs.Seen[li.InstanceId]; dup {
				continue
			}
			obs.Seen[li.InstanceId] = li.InstanceState
			if c, ok := claim(ix, li); ok && in[c.Fleet] {
				obs.Fleets[c.Fleet] = append(obs.Fleets[c.Fleet], c)
			}
		}
	}
	obs.sort()
	return obs, nil
}
