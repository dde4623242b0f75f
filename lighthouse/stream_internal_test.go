package lighthouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// pageBody is a DescribeInstances success envelope of n instances with
// every field filled as the service fills them.
func pageBody(t testing.TB, n int) []byte {
	t.Helper()
	ts := "2026-12-03T10:00:00Z"
	set := make([]Instance, n)
	for i := range set {
		set[i] = Instance{
			InstanceId: fmt.Sprintf("lhins-%08d", i), BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh", CPU: 2, Memory: 2,
			InstanceName: fmt.Sprintf("fleet-%04d-%d", i/10, i%10), InstanceChargeType: "PREPAID",
			SystemDisk:       SystemDisk{DiskType: "CLOUD_SSD", DiskSize: 50, DiskId: fmt.Sprintf("lhdisk-%08d", i)},
			PrivateAddresses: []string{"10.0.0.1"}, PublicAddresses: []string{"203.0.113.1"},
			InternetAccessible: InternetAccessible{InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR", InternetMaxBandwidthOut: 30, PublicIpAssigned: true},
			RenewFlag:          RenewNotifyManual, LoginSettings: LoginSettings{KeyIds: []string{"lhkp-00000001"}},
			InstanceState: StateRunning, Uuid: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			LatestOperation: "CreateInstances", LatestOperationState: OperationSuccess, LatestOperationRequestId: fmt.Sprintf("%08d-1111-4000-8000-000000000000", i),
			LatestOperationStartedTime: &ts, CreatedTime: &ts, ExpiredTime: &ts, PlatformType: "LINUX_UNIX", Platform: "UBUNTU", OsName: "Ubuntu Server 22.04 LTS 64bit",
			Zone: "ap-guangzhou-3", Tags: []Tag{{Key: "lightkeeper.io/fleet", Value: "web"}, {Key: "lightkeeper.io/slot", Value: "3"}},
			InstanceRestrictState: "NORMAL", SupportIpv6Detail: &SupportIpv6Detail{IsSupport: false, Detail: "EFFECTIVE_FAILED", Message: "not supported"},
		}
	}
	body, err := json.Marshal(map[string]any{"Response": DescribeInstancesResponse{TotalCount: 10000, InstanceSet: set, RequestId: "req-page"}})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestDecodePageAsUnmarshal checks that the streaming decoder of a page
// reads every envelope as json.Unmarshal reads it into the probe and the
// response: the same error, RequestId and instances, and a failure where
// Unmarshal fails.
func TestDecodePageAsUnmarshal(t *testing.T) {
	bodies := map[string]string{
		"page":            string(pageBody(t, 3)),
		"error":           `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"},"RequestId":"req-1"}}`,
		"keys any case":   `{"response":{"totalcount":2,"instanceSet":[{"instanceid":"lhins-1"}],"REQUESTID":"req-2"}}`,
		"unknown keys":    `{"Other":[1,{"a":2}],"Response":{"Extra":{"x":[1,2]},"TotalCount":1,"InstanceSet":[{"InstanceId":"lhins-1","Unknown":true}],"RequestId":"req-3"}}`,
		"null set":        `{"Response":{"TotalCount":0,"InstanceSet":null,"RequestId":"req-4"}}`,
		"empty set":       `{"Response":{"TotalCount":0,"InstanceSet":[],"RequestId":"req-5"}}`,
		"null response":   `{"Response":null}`,
		"no response":     `{}`,
		"error null":      `{"Response":{"Error":null,"RequestId":"req-6"}}`,
		"html":            `<html>bad gateway</html>`,
		"empty":           ``,
		"truncated":       `{"Response":{"TotalCount":2,"InstanceSet":[{"InstanceId":"lhins-1"},{"Insta`,
		"trailing":        `{"Response":{"RequestId":"req-7"}} x`,
		"set not array":   `{"Response":{"InstanceSet":{"InstanceId":"lhins-1"},"RequestId":"req-8"}}`,
		"count as string": `{"Response":{"TotalCount":"2","RequestId":"req-9"}}`,
		"top null":        `null`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			var wantP probe
			var wantPage DescribeInstancesResponse
			werr := json.Unmarshal([]byte(body), &wantP)
			if werr == nil {
				werr = json.Unmarshal([]byte(body), &envelope{Response: &wantPage})
			}
			page := DescribeInstancesResponse{TotalCount: 99, InstanceSet: []Instance{{InstanceId: "stale"}}}
			gotP, gerr := decodePage(strings.NewReader(body), &page)
			if (gerr == nil) != (werr == nil) {
				t.Fatalf("decodePage error %v, json.Unmarshal error %v", gerr, werr)
			}
			if werr != nil {
				return
			}
			if !reflect.DeepEqual(gotP, wantP) {
				t.Errorf("probe %+v, want %+v", gotP, wantP)
			}
			if len(page.InstanceSet) == 0 && len(wantPage.InstanceSet) == 0 {
				page.InstanceSet, wantPage.InstanceSet = nil, nil
			}
			if !reflect.DeepEqual(page, wantPage) {
				t.Errorf("page %+v, want %+v", page, wantPage)
			}
		})
	}
}

// TestDecodePageHoldsNoBody bounds what decoding a page of 100 instances
// allocates: the instances decoded and the decoder's buffer of about one
// instance, not the page's JSON (about 200 KB here) read whole and then
// decoded, as io.ReadAll and json.Unmarshal did (which the test measures
// beside it).
func TestDecodePageHoldsNoBody(t *testing.T) {
	body := pageBody(t, MaxPageSize)
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var page DescribeInstancesResponse
	streamed := allocated(func() {
		if _, err := decodePage(bytes.NewReader(body), &page); err != nil {
			t.Fatal(err)
		}
	})
	if len(page.InstanceSet) != MaxPageSize {
		t.Fatalf("%d instances decoded, want %d", len(page.InstanceSet), MaxPageSize)
	}
	whole := allocated(func() {
		var p probe
		read, err := io.ReadAll(io.LimitReader(bytes.NewReader(body), maxResponseBytes))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(read, &p); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(read, &envelope{Response: &page}); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("a page of %d bytes: %d bytes allocated streamed, %d read whole", len(body), streamed, whole)
	if streamed+uint64(len(body)) > whole {
		t.Errorf("decoding a page of %d bytes allocated %d bytes, not a body's size less than reading it whole (%d)", len(body), streamed, whole)
	}
}

// TestPageArrayReused: once a sweep has handed a page over, reusePage
// clears its array (so that it keeps no instance's strings alive) before
// the next page is decoded into it, and the next page decodes as
// json.Unmarshal reads it; an array a service grew past MaxPageSize is not
// kept.
func TestPageArrayReused(t *testing.T) {
	var page DescribeInstancesResponse
	if _, err := decodePage(bytes.NewReader(pageBody(t, MaxPageSize)), &page); err != nil {
		t.Fatal(err)
	}
	arr := page.InstanceSet[:MaxPageSize]
	reusePage(&page)
	if page.InstanceSet != nil {
		t.Fatalf("the page still holds %d instances after reusePage", len(page.InstanceSet))
	}
	for i := range arr {
		if !reflect.DeepEqual(arr[i], Instance{}) {
			t.Fatalf("instance %d of the array given back is not cleared: %+v", i, arr[i])
		}
	}

	// The next page, whichever array it gets, is what Unmarshal reads.
	next := pageBody(t, 3)
	if _, err := decodePage(bytes.NewReader(next), &page); err != nil {
		t.Fatal(err)
	}
	var want DescribeInstancesResponse
	if err := json.Unmarshal(next, &envelope{Response: &want}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(page.InstanceSet, want.InstanceSet) {
		t.Fatalf("a page decoded after reusePage differs from Unmarshal's:\n%+v\n%+v", page.InstanceSet, want.InstanceSet)
	}

	// A page longer than MaxPageSize grew its own array: left alone.
	if _, err := decodePage(bytes.NewReader(pageBody(t, MaxPageSize+1)), &page); err != nil {
		t.Fatal(err)
	}
	long := page.InstanceSet
	reusePage(&page)
	if len(page.InstanceSet) != MaxPageSize+1 || long[MaxPageSize].InstanceId == "" {
		t.Fatalf("reusePage took an array of %d instances (left %d)", cap(long), len(page.InstanceSet))
	}
}
