package emulator_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestDescribeInstancesParameterErrors(t *testing.T) {
	e := newEnv(t, nil)
	ids := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("lhins-%08d", i))
		}
		return out
	}
	filters := func(n int) []lighthouse.Filter {
		var out []lighthouse.Filter
		for range n {
			out = append(out, lighthouse.Filter{Name: "zone", Values: []string{"ap-guangzhou-3"}})
		}
		return out
	}
	values := make([]string, 101)
	for i := range values {
		values[i] = fmt.Sprint(i)
	}
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"ids and filters", map[string]any{"InstanceIds": ids(1), "Filters": filters(1)}, "InvalidParameter.ParameterConflict"},
		{"101 ids", map[string]any{"InstanceIds": ids(101)}, "InvalidParameterValue.LimitExceeded"},
		{"malformed id", map[string]any{"InstanceIds": []string{"ins-12345678"}}, "InvalidParameterValue.InstanceIdMalformed"},
		{"uppercase id", map[string]any{"InstanceIds": []string{"lhins-ABCDEFGH"}}, "InvalidParameterValue.InstanceIdMalformed"},
		{"duplicated id", map[string]any{"InstanceIds": []string{"lhins-aaaaaaaa", "lhins-aaaaaaaa"}}, "InvalidParameterValue.Duplicated"},
		{"11 filters", map[string]any{"Filters": filters(11)}, "InvalidParameterValue.LimitExceeded"},
		{"101 values", map[string]any{"Filters": []lighthouse.Filter{{Name: "zone", Values: values}}}, "InvalidParameter.FilterValueLimitExceeded"},
		{"instance-id filter", map[string]any{"Filters": []lighthouse.Filter{{Name: "instance-id", Values: []string{"lhins-aaaaaaaa"}}}}, "InvalidParameter.InvalidFilterNotSupportedName"},
		{"empty tag filter", map[string]any{"Filters": []lighthouse.Filter{{Name: "tag:", Values: []string{"x"}}}}, "InvalidParameter.InvalidFilterNotSupportedName"},
		{"filter without values", map[string]any{"Filters": []lighthouse.Filter{{Name: "zone", Values: []string{}}}}, "InvalidParameter.InvalidFilter"},
		{"filter with unknown field", map[string]any{"Filters": []map[string]any{{"Name": "zone", "Values": []string{"a"}, "Op": "eq"}}}, "UnknownParameter"},
		{"filters not a list", map[string]any{"Filters": "zone"}, "InvalidParameter"},
		{"negative offset", map[string]any{"Offset": -1}, "InvalidParameterValue.Negative"},
		{"limit 101", map[string]any{"Limit": 101}, "InvalidParameterValue.OutOfRange"},
		{"negative limit", map[string]any{"Limit": -5}, "InvalidParameterValue.OutOfRange"},
		{"order field", map[string]any{"OrderField": "CREATED_TIME"}, "InvalidParameterValue"},
		{"order", map[string]any{"OrderField": "EXPIRED_TIME", "Order": "UP"}, "InvalidParameterValue"},
		{"DESC without field", map[string]any{"Order": "DESC"}, "MissingParameter.OrderFieldRequired"},
		{"ASC without field", map[string]any{"Order": "ASC"}, "MissingParameter.OrderFieldRequired"},
		{"unknown parameter", map[string]any{"PageSize": 10}, "UnknownParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.wantCode("DescribeInstances", tt.params, tt.want)
		})
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	e := newEnv(t, nil)
	web := e.create(basicCreate(map[string]any{"InstanceName": "web", "InstanceCount": 2, "Zones": []string{"ap-guangzhou-3"},
		"Tags": []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}, {Key: "team", Value: "payments"}}}))
	e.clock.Advance(time.Second)
	api := e.create(basicCreate(map[string]any{"InstanceName": "api", "BundleId": "bundle_gen_01", "Zones": []string{"ap-guangzhou-4"},
		"Tags": []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "api"}}}))
	e.clock.Advance(time.Second)
	bare := e.create(basicCreate(map[string]any{"InstanceName": "bare", "Zones": []string{"ap-guangzhou-6"}}))
	e.clock.Advance(20 * time.Second) // all RUNNING
	all := e.srv.Instances()
	byID := map[string]lighthouse.Instance{}
	for _, in := range all {
		byID[in.InstanceId] = in
	}
	f := func(name string, values ...string) map[string]any {
		return map[string]any{"Filters": []lighthouse.Filter{{Name: name, Values: values}}}
	}
	tests := []struct {
		name   string
		params map[string]any
		want   []string // newest first
	}{
		{"tag:fleet", f("tag:lightkeeper-fleet", "web"), []string{web[1], web[0]}},
		{"tag:fleet two values", f("tag:lightkeeper-fleet", "web", "api"), []string{api[0], web[1], web[0]}},
		{"tag-key", f("tag-key", "lightkeeper-fleet"), []string{api[0], web[1], web[0]}},
		{"tag-value", f("tag-value", "payments"), []string{web[1], web[0]}},
		{"instance-name", f("instance-name", "bare"), []string{bare[0]}},
		{"zone", f("zone", "ap-guangzhou-4", "ap-guangzhou-6"), []string{bare[0], api[0]}},
		{"bundle-id", f("bundle-id", "bundle_gen_01"), []string{api[0]}},
		{"instance-state", f("instance-state", "RUNNING"), []string{bare[0], api[0], web[1], web[0]}},
		{"instance-state pending", f("instance-state", "PENDING"), nil},
		{"private ip", f("private-ip-address", byID[api[0]].PrivateAddresses[0]), []string{api[0]}},
		{"public ip", f("public-ip-address", byID[bare[0]].PublicAddresses[0]), []string{bare[0]}},
		{"filters ANDed", map[string]any{"Filters": []lighthouse.Filter{
			{Name: "tag-key", Values: []string{"lightkeeper-fleet"}}, {Name: "zone", Values: []string{"ap-guangzhou-3"}}}}, []string{web[1], web[0]}},
		{"ids", map[string]any{"InstanceIds": []string{web[0], bare[0]}}, []string{bare[0], web[0]}},
		{"unknown well-formed id", map[string]any{"InstanceIds": []string{"lhins-zzzzzzzz"}}, nil},
		{"no filter", map[string]any{}, []string{bare[0], api[0], web[1], web[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.describe(tt.params)
			var ids []string
			for _, in := range got.InstanceSet {
				ids = append(ids, in.InstanceId)
			}
			if !slices.Equal(ids, tt.want) || got.TotalCount != int64(len(tt.want)) {
				t.Errorf("got %v (total %d), want %v", ids, got.TotalCount, tt.want)
			}
		})
	}
}

func TestDescribeInstancesOrder(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.OperationDelay = -1 })
	var ids []string
	for i := range 4 {
		period := []int{12, 1, 6, 3}[i]
		ids = append(ids, e.create(basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": period}}))...)
		e.clock.Advance(time.Minute)
	}
	e.mustCall("IsolateInstances", map[string]any{"InstanceIds": []string{ids[1]}}, nil)
	got := e.describe(map[string]any{})
	var order []string
	for _, in := range got.InstanceSet {
		order = append(order, in.InstanceId)
	}
	// SHUTDOWN first, then CreatedTime descending.
	if want := []string{ids[1], ids[3], ids[2], ids[0]}; !slices.Equal(order, want) {
		t.Errorf("default order %v, want %v", order, want)
	}
	if got.InstanceSet[0].InstanceState != lighthouse.StateShutdown || got.InstanceSet[0].IsolatedTime == nil {
		t.Errorf("isolated instance: %+v", got.InstanceSet[0])
	}
	asc := e.describe(map[string]any{"OrderField": "EXPIRED_TIME"})
	desc := e.describe(map[string]any{"OrderField": "EXPIRED_TIME", "Order": "DESC", "Limit": 2, "Offset": 1})
	var a, d []string
	for _, in := range asc.InstanceSet {
		a = append(a, in.InstanceId)
	}
	for _, in := range desc.InstanceSet {
		d = append(d, in.InstanceId)
	}
	if want := []string{ids[1], ids[3], ids[2], ids[0]}; !slices.Equal(a, want) {
		t.Errorf("EXPIRED_TIME ASC %v, want %v", a, want)
	}
	if want := []string{ids[2], ids[3]}; !slices.Equal(d, want) || desc.TotalCount != 4 {
		t.Errorf("EXPIRED_TIME DESC page %v (total %d), want %v", d, desc.TotalCount, want)
	}
	// Default Limit is 20.
	e.create(basicCreate(map[string]any{"InstanceCount": 25}))
	if p := e.describe(map[string]any{}); len(p.InstanceSet) != 20 || p.TotalCount != 29 {
		t.Errorf("default page: %d of %d", len(p.InstanceSet), p.TotalCount)
	}
}

func TestDescribeLag(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.DescribeLag = 10 * time.Second })
	id := e.create(basicCreate(nil))[0]
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 0 {
		t.Errorf("instance visible during describe lag")
	}
	if n := len(e.srv.Instances()); n != 1 {
		t.Errorf("Instances() ignores lag: got %d", n)
	}
	e.clock.Advance(10 * time.Second)
	if got := e.describe(map[string]any{}); got.TotalCount != 1 {
		t.Errorf("instance still invisible after the lag")
	}
}

// A describe naming a vanished ID: left out by default, refused with
// ResourceNotFound.InstanceIdNotFound with DescribeMissingAsError.
func TestDescribeVanishedID(t *testing.T) {
	for _, asError := range []bool{false, true} {
		e := newEnv(t, func(c *emulator.Config) { c.DescribeMissingAsError = asError })
		ids := e.create(basicCreate(map[string]any{"InstanceCount": 2}))
		if err := e.srv.DeleteInstance(ids[0]); err != nil {
			t.Fatal(err)
		}
		want := ""
		if asError {
			want = "ResourceNotFound.InstanceIdNotFound"
		}
		raw, code := e.call("DescribeInstances", region, map[string]any{"InstanceIds": ids})
		if code != want {
			t.Fatalf("DescribeMissingAsError=%v: code %q, want %q", asError, code, want)
		}
		if !asError {
			var out lighthouse.DescribeInstancesResponse
			decode(t, raw, &out)
			if out.TotalCount != 1 || len(out.InstanceSet) != 1 || out.InstanceSet[0].InstanceId != ids[1] {
				t.Fatalf("default: %+v, want only %s", out, ids[1])
			}
		}
		// Only the live ID: no error either way.
		if got := e.describe(map[string]any{"InstanceIds": ids[1:]}); got.TotalCount != 1 {
			t.Fatalf("DescribeMissingAsError=%v: live ID: %+v", asError, got)
		}
	}
}

// The instance-name filter matches exactly by default (the SDK marks the
// filters that match fuzzily, and not this one) and by substring with
// Config.InstanceNameMatch; there is no instance-id filter (InstanceIds
// looks up by ID).
func TestDescribeInstanceNameMatch(t *testing.T) {
	for _, tc := range []struct {
		match emulator.NameMatch
		want  map[string]int // filter value -> instances matched
	}{
		{"", map[string]int{"web-1": 1, "web": 0, "eb-1": 0, "WEB-1": 0}},
		{emulator.NameSubstring, map[string]int{"web-1": 2, "web": 3, "eb-1": 2, "WEB-1": 0}},
	} {
		t.Run(string(tc.match), func(t *testing.T) {
			e := newEnv(t, func(c *emulator.Config) { c.InstanceNameMatch = tc.match })
			for _, name := range []string{"web-1", "web-10", "web-2", "api-1"} {
				e.create(basicCreate(map[string]any{"InstanceName": name}))
			}
			for v, n := range tc.want {
				got := e.describe(map[string]any{"Filters": []lighthouse.Filter{{Name: "instance-name", Values: []string{v}}}})
				if int(got.TotalCount) != n {
					t.Errorf("instance-name %q matched %d, want %d", v, got.TotalCount, n)
				}
			}
			e.wantCode("DescribeInstances", map[string]any{"Filters": []lighthouse.Filter{{Name: "instance-id", Values: []string{"lhins-aaaaaaaa"}}}}, "InvalidParameter.InvalidFilterNotSupportedName")
		})
	}
	if _, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}, InstanceNameMatch: "fuzzy"}); err == nil {
		t.Error("an unknown InstanceNameMatch was accepted")
	}
}
