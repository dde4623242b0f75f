package reconciletest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// RunContract holds a cloud to the behaviour the reconciler depends on. Run
// it against both the Fake (FakeEnv) and the emulator over HTTP
// (EmulatorEnv): whatever passes for one must pass for the other. newEnv
// returns a fresh cloud configured as cfg says, with nothing in it.
func RunContract(t *testing.T, newEnv func(t *testing.T, cfg Config) Env) {
	ctx := context.Background()

	t.Run("SameTokenBuysOnce", func(t *testing.T) {
		env := newEnv(t, Config{})
		first := mustCreate(t, env, request("web-0", "tok-a"))
		again := mustCreate(t, env, request("web-0", "tok-a"))
		if again != first {
			t.Fatalf("same token: %s then %s", first, again)
		}
		if all := env.All(); len(all) != 1 {
			t.Fatalf("%d instances after two creates with one token, want 1", len(all))
		}
		other := mustCreate(t, env, request("web-1", "tok-b"))
		if other == first || len(env.All()) != 2 {
			t.Fatalf("another token: %s, %d instances", other, len(env.All()))
		}
	})

	t.Run("InstancesListsEachOnceAcrossPages", func(t *testing.T) {
		env := newEnv(t, Config{Quota: -1})
		const n = 105 // over one page of 100
		want := map[string]bool{}
		for i := range n {
			want[mustCreate(t, env, request(fmt.Sprintf("web-%d", i), fmt.Sprintf("tok-%d", i)))] = true
		}
		got := list(t, env)
		if len(got) != n {
			t.Fatalf("listed %d instances, want %d", len(got), n)
		}
		for id := range got {
			if !want[id] {
				t.Errorf("listed %s, which was not created", id)
			}
		}
		if other := list(t, Env{Cloud: env.Cloud, Region: "ap-shanghai"}); len(other) != 0 {
			t.Errorf("another region lists %d instances", len(other))
		}
	})

	t.Run("PendingThenRunning", func(t *testing.T) {
		env := newEnv(t, Config{LaunchDelay: 20 * time.Second})
		id := mustCreate(t, env, request("web-0", "tok"))
		in := list(t, env)[id]
		if in.InstanceState != lighthouse.StatePending || in.InstanceName != "web-0" || in.BundleId != "bundle_gen_01" || in.Zone != "ap-guangzhou-3" {
			t.Fatalf("new instance: %s %q %s %s", in.InstanceState, in.InstanceName, in.BundleId, in.Zone)
		}
		if in.CreatedTime == nil || *in.CreatedTime != "2026-03-01T12:00:00Z" || in.ExpiredTime == nil || *in.ExpiredTime != "2026-04-01T12:00:00Z" {
			t.Errorf("times %v %v", in.CreatedTime, in.ExpiredTime)
		}
		env.Advance(19 * time.Second)
		if s := list(t, env)[id].InstanceState; s != lighthouse.StatePending {
			t.Errorf("before the launch delay: %s", s)
		}
		env.Advance(time.Second)
		if s := list(t, env)[id].InstanceState; s != lighthouse.StateRunning {
			t.Errorf("after the launch delay: %s", s)
		}
	})

	t.Run("LaunchFailedKeepsItsToken", func(t *testing.T) {
		env := newEnv(t, Config{LaunchFails: true, TokenGone: emulator.TokenCreateNew})
		id := mustCreate(t, env, request("web-0", "tok"))
		env.Advance(emulator.DefaultLaunchDelay)
		if s := list(t, env)[id].InstanceState; s != lighthouse.StateLaunchFailed {
			t.Fatalf("state %s, want LAUNCH_FAILED", s)
		}
		if again := mustCreate(t, env, request("web-0", "tok")); again != id || len(env.All()) != 1 {
			t.Errorf("a LAUNCH_FAILED instance's token created %s (first %s), %d instances", again, id, len(env.All()))
		}
	})

	t.Run("IsolateToShutdown", func(t *testing.T) {
		env := newEnv(t, Config{})
		id := mustCreate(t, env, request("web-0", "tok"))
		_, err := env.Cloud.IsolateInstances(ctx, env.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{id}})
		if code := lighthouse.ErrorCode(err); code != "OperationDenied.InstanceCreating" || lighthouse.ClassOf(err) != lighthouse.RetryLater {
			t.Errorf("isolating a PENDING instance: %v", err)
		}
		env.Advance(emulator.DefaultLaunchDelay)
		if _, err := env.Cloud.IsolateInstances(ctx, env.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{id}}); err != nil {
			t.Fatal(err)
		}
		if in := list(t, env)[id]; in.InstanceState != lighthouse.StateRunning || in.LatestOperationState != lighthouse.OperationOperating {
			t.Errorf("isolating: %s %s", in.InstanceState, in.LatestOperationState)
		}
		env.Advance(emulator.DefaultOperationDelay)
		if s := list(t, env)[id].InstanceState; s != lighthouse.StateShutdown {
			t.Errorf("isolated: %s, want SHUTDOWN", s)
		}
		_, err = env.Cloud.IsolateInstances(ctx, env.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{id}})
		if code := lighthouse.ErrorCode(err); code != "UnsupportedOperation.InvalidInstanceState" {
			t.Errorf("isolating a SHUTDOWN instance: %v", err)
		}
		_, err = env.Cloud.IsolateInstances(ctx, env.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{"lhins-zzzzzzzz"}})
		if code := lighthouse.ErrorCode(err); code != "ResourceNotFound.InstanceIdNotFound" {
			t.Errorf("isolating an unknown instance: %v", err)
		}
	})

	t.Run("TokenMismatch", func(t *testing.T) {
		for _, tc := range []struct {
			policy emulator.TokenPolicy
			want   string // "same", "new" or an error code
		}{
			{emulator.TokenReturnOriginal, "same"},
			{emulator.TokenReject, "UnsupportedOperation.IdempotentParameterMismatch"},
			{emulator.TokenCreateNew, "new"},
		} {
			t.Run(string(tc.policy), func(t *testing.T) {
				env := newEnv(t, Config{TokenMismatch: tc.policy})
				first := mustCreate(t, env, request("web-0", "tok"))
				changed := request("web-0", "tok")
				changed.BundleId = "bundle_gen_02"
				checkReuse(t, env, changed, first, tc.want)
			})
		}
	})

	t.Run("TokenGone", func(t *testing.T) {
		for _, tc := range []struct {
			policy emulator.TokenPolicy
			want   string
		}{
			{emulator.TokenReturnOriginal, "same"},
			{emulator.TokenReject, "UnsupportedOperation.IdempotentParameterMismatch"},
			{emulator.TokenCreateNew, "new"},
		} {
			t.Run(string(tc.policy), func(t *testing.T) {
				env := newEnv(t, Config{TokenGone: tc.policy})
				first := mustCreate(t, env, request("web-0", "tok"))
				if err := env.Delete(first); err != nil {
					t.Fatal(err)
				}
				if _, ok := list(t, env)[first]; ok {
					t.Fatal("a deleted instance is listed")
				}
				checkReuse(t, env, request("web-0", "tok"), first, tc.want)
			})
		}
	})

	t.Run("TokenWindow", func(t *testing.T) {
		env := newEnv(t, Config{TokenWindow: time.Minute})
		first := mustCreate(t, env, request("web-0", "tok"))
		env.Advance(59 * time.Second)
		if again := mustCreate(t, env, request("web-0", "tok")); again != first {
			t.Fatalf("inside the window: %s then %s", first, again)
		}
		env.Advance(time.Second)
		if again := mustCreate(t, env, request("web-0", "tok")); again == first || len(env.All()) != 2 {
			t.Fatalf("past the window the token must be forgotten: %s then %s, %d instances", first, again, len(env.All()))
		}
	})

	t.Run("DescribeLag", func(t *testing.T) {
		env := newEnv(t, Config{DescribeLag: 30 * time.Second})
		id := mustCreate(t, env, request("web-0", "tok"))
		if _, ok := list(t, env)[id]; ok || len(env.All()) != 1 {
			t.Fatal("listed inside the Describe lag")
		}
		env.Advance(30 * time.Second)
		if _, ok := list(t, env)[id]; !ok {
			t.Fatal("not listed after the Describe lag")
		}
	})

	t.Run("Quota", func(t *testing.T) {
		env := newEnv(t, Config{Quota: 2})
		mustCreate(t, env, request("web-0", "t0"))
		mustCreate(t, env, request("web-1", "t1"))
		_, err := env.Cloud.CreateInstances(ctx, env.Region, request("web-2", "t2"))
		var le *lighthouse.Error
		if !errors.As(err, &le) || le.Code != "LimitExceeded.InstanceQuotaLimitExceeded" || le.Ambiguous || le.Class() != lighthouse.Permanent {
			t.Fatalf("over the quota: %#v", err)
		}
		if n := len(env.All()); n != 2 {
			t.Errorf("%d instances", n)
		}
		dry := request("web-2", "t2")
		dry.DryRun = true
		if _, err := env.Cloud.CreateInstances(ctx, env.Region, dry); lighthouse.ErrorCode(err) != "LimitExceeded.InstanceQuotaLimitExceeded" {
			t.Errorf("a DryRun over the quota: %v", err)
		}
	})

	t.Run("DryRunBuysNothing", func(t *testing.T) {
		env := newEnv(t, Config{})
		dry := request("web-0", "tok")
		dry.DryRun = true
		resp, err := env.Cloud.CreateInstances(ctx, env.Region, dry)
		if err != nil || len(resp.InstanceIdSet) != 0 || len(env.All()) != 0 {
			t.Fatalf("DryRun: %v %+v, %d instances", err, resp, len(env.All()))
		}
		// The DryRun did not spend the token.
		if id := mustCreate(t, env, request("web-0", "tok")); id == "" || len(env.All()) != 1 {
			t.Fatalf("create after DryRun: %q", id)
		}
	})

	t.Run("Faults", func(t *testing.T) {
		for _, tc := range []struct {
			kind      emulator.FaultKind
			code      string
			ambiguous bool
			acted     bool
		}{
			{emulator.FaultDropResponse, lighthouse.CodeNetworkError, true, true},
			{emulator.FaultInternalError, "InternalError", true, false},
			{emulator.FaultHTTP5xx, lighthouse.CodeHTTPStatusError, true, false},
			{emulator.FaultRequestLimitExceeded, "RequestLimitExceeded", false, false},
		} {
			t.Run(string(tc.kind), func(t *testing.T) {
				env := newEnv(t, Config{})
				env.Fail(lighthouse.ActionCreateInstances, tc.kind, 1)
				_, err := env.Cloud.CreateInstances(ctx, env.Region, request("web-0", "tok"))
				var le *lighthouse.Error
				if !errors.As(err, &le) || le.Code != tc.code || le.Ambiguous != tc.ambiguous || le.Class() != lighthouse.RetrySame {
					t.Fatalf("got %#v, want code %s ambiguous %v retry-same", err, tc.code, tc.ambiguous)
				}
				if n := len(env.All()); n != map[bool]int{true: 1, false: 0}[tc.acted] {
					t.Fatalf("%d instances after the fault", n)
				}
				id := mustCreate(t, env, request("web-0", "tok"))
				if all := env.All(); len(all) != 1 || all[0].InstanceId != id {
					t.Errorf("the same token again: %s, instances %d", id, len(all))
				}
				env.Fail(lighthouse.ActionDescribeInstances, tc.kind, 1)
				for _, err := range env.Cloud.Instances(ctx, env.Region, nil) {
					if lighthouse.ErrorCode(err) != tc.code || lighthouse.ClassOf(err) != lighthouse.RetrySame {
						t.Errorf("listing: %v", err)
					}
					break
				}
			})
		}
		t.Run("isolate lost", func(t *testing.T) {
			env := newEnv(t, Config{})
			id := mustCreate(t, env, request("web-0", "tok"))
			env.Advance(emulator.DefaultLaunchDelay)
			env.Fail(lighthouse.ActionIsolateInstances, emulator.FaultDropResponse, 1)
			_, err := env.Cloud.IsolateInstances(ctx, env.Region, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{id}})
			var le *lighthouse.Error
			if !errors.As(err, &le) || !le.Ambiguous {
				t.Fatalf("lost isolate: %v", err)
			}
			env.Advance(emulator.DefaultOperationDelay)
			if s := list(t, env)[id].InstanceState; s != lighthouse.StateShutdown {
				t.Errorf("a lost isolate was carried out: %s", s)
			}
		})
	})

	t.Run("Tags", func(t *testing.T) {
		tagged := request("web-0", "tok")
		tagged.Tags = []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}, {Key: "lightkeeper-slot", Value: "0"}}
		env := newEnv(t, Config{Site: emulator.SiteChina})
		id := mustCreate(t, env, tagged)
		if tags := list(t, env)[id].Tags; len(tags) != 2 || tags[0] != tagged.Tags[0] || tags[1] != tagged.Tags[1] {
			t.Errorf("China site: tags %+v", tags)
		}
		env = newEnv(t, Config{Site: emulator.SiteIntl})
		_, err := env.Cloud.CreateInstances(ctx, env.Region, tagged)
		var le *lighthouse.Error
		if !errors.As(err, &le) || le.Code != "UnknownParameter" || le.Ambiguous || le.Class() != lighthouse.Permanent || len(env.All()) != 0 {
			t.Fatalf("international site, tags: %#v, %d instances", err, len(env.All()))
		}
		if id := mustCreate(t, env, request("web-0", "tok")); len(list(t, env)[id].Tags) != 0 {
			t.Errorf("international site: an instance created without tags has some")
		}
	})

	t.Run("Price", func(t *testing.T) {
		env := newEnv(t, Config{})
		resp, err := env.Cloud.InquirePriceCreateInstances(ctx, env.Region, &lighthouse.InquirePriceCreateInstancesRequest{
			BundleId: "bundle_gen_02", BlueprintId: "lhbp-g0tn7djh", InstanceCount: 1,
			InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 3},
		})
		if err != nil {
			t.Fatal(err)
		}
		if p := resp.Price.InstancePrice; p.DiscountPrice != 240 || p.Currency != "CNY" {
			t.Errorf("price %+v", p)
		}
		_, err = env.Cloud.InquirePriceCreateInstances(ctx, env.Region, &lighthouse.InquirePriceCreateInstancesRequest{
			BundleId: "bundle_nope", InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}})
		if lighthouse.ErrorCode(err) != "InvalidParameter.BundleIdNotFound" {
			t.Errorf("unknown bundle: %v", err)
		}
	})

	runDayTwo(t, newEnv)
}

// request is a create of one bundle_gen_01 Ubuntu instance for a month.
func request(name, token string) *lighthouse.CreateInstancesRequest {
	return &lighthouse.CreateInstancesRequest{
		BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh", InstanceName: name, InstanceCount: 1,
		Zones: []string{"ap-guangzhou-3"}, ClientToken: token,
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1, RenewFlag: lighthouse.RenewNotifyManual},
	}
}

func mustCreate(t *testing.T, env Env, req *lighthouse.CreateInstancesRequest) string {
	t.Helper()
	resp, err := env.Cloud.CreateInstances(context.Background(), env.Region, req)
	if err != nil {
		t.Fatalf("create %s: %v", req.InstanceName, err)
	}
	if len(resp.InstanceIdSet) != 1 {
		t.Fatalf("create %s: IDs %v", req.InstanceName, resp.InstanceIdSet)
	}
	return resp.InstanceIdSet[0]
}

// list lists env's region and fails on an instance listed twice.
func list(t *testing.T, env Env) map[string]lighthouse.Instance {
	t.Helper()
	out := map[string]lighthouse.Instance{}
	for in, err := range env.Cloud.Instances(context.Background(), env.Region, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[in.InstanceId]; dup {
			t.Fatalf("%s listed twice", in.InstanceId)
		}
		out[in.InstanceId] = in
	}
	return out
}

// checkReuse sends req, whose token first created instance first, and
// checks the answer: "same" (first again, nothing bought), "new" (another
// instance bought) or an error code (nothing bought).
func checkReuse(t *testing.T, env Env, req *lighthouse.CreateInstancesRequest, first, want string) {
	t.Helper()
	before := len(env.All())
	resp, err := env.Cloud.CreateInstances(context.Background(), env.Region, req)
	switch want {
	case "same", "new":
		if err != nil {
			t.Fatalf("reuse: %v", err)
		}
		got := resp.InstanceIdSet[0]
		if (got == first) != (want == "same") {
			t.Fatalf("reuse answered %s (first %s), want %s", got, first, want)
		}
		if bought := len(env.All()) - before; bought != map[string]int{"same": 0, "new": 1}[want] {
			t.Fatalf("reuse bought %d", bought)
		}
	default:
		var le *lighthouse.Error
		if !errors.As(err, &le) || le.Code != want || le.Ambiguous || le.Class() != lighthouse.Permanent {
			t.Fatalf("reuse: %#v, want %s", err, want)
		}
		if len(env.All()) != before {
			t.Fatal("a refused reuse bought an instance")
		}
	}
}
