package emulator_test

import (
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func TestLifecycle(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) {
		c.LaunchDelay = 30 * time.Second
		c.OperationDelay = 10 * time.Second
	})
	id := e.create(basicCreate(nil))[0]
	ids := map[string]any{"InstanceIds": []string{id}}

	// PENDING: isolate and terminate are refused with retry-later codes.
	e.wantCode("IsolateInstances", ids, "OperationDenied.InstanceCreating")
	e.wantCode("TerminateInstances", ids, "OperationDenied.InstanceCreating")
	e.clock.Advance(29 * time.Second)
	if s := e.get(id).InstanceState; s != lighthouse.StatePending {
		t.Fatalf("state after 29s = %s, want PENDING", s)
	}
	e.clock.Advance(time.Second)
	if s := e.get(id).InstanceState; s != lighthouse.StateRunning {
		t.Fatalf("state after 30s = %s, want RUNNING", s)
	}

	// RUNNING cannot be terminated.
	e.wantCode("TerminateInstances", ids, "UnsupportedOperation.InvalidInstanceState")
	var iso lighthouse.IsolateInstancesResponse
	e.mustCall("IsolateInstances", ids, &iso)
	in := e.get(id)
	if in.LatestOperation != "IsolateInstances" || in.LatestOperationState != lighthouse.OperationOperating || in.LatestOperationRequestId != iso.RequestId {
		t.Errorf("isolating: %s %s %s", in.LatestOperation, in.LatestOperationState, in.LatestOperationRequestId)
	}
	e.wantCode("IsolateInstances", ids, "UnsupportedOperation.LatestOperationUnfinished")
	e.wantCode("TerminateInstances", ids, "UnsupportedOperation.LatestOperationUnfinished")
	e.clock.Advance(10 * time.Second)
	in = e.get(id)
	if in.InstanceState != lighthouse.StateShutdown || in.LatestOperationState != lighthouse.OperationSuccess || in.IsolatedTime == nil {
		t.Fatalf("after isolate: %s %s %v", in.InstanceState, in.LatestOperationState, in.IsolatedTime)
	}
	e.wantCode("IsolateInstances", ids, "UnsupportedOperation.InvalidInstanceState")

	e.mustCall("TerminateInstances", ids, nil)
	if s := e.get(id).InstanceState; s != lighthouse.StateTerminating {
		t.Errorf("terminating state = %s", s)
	}
	e.clock.Advance(10 * time.Second)
	if got := e.describe(ids); got.TotalCount != 0 {
		t.Errorf("terminated instance still listed: %+v", got.InstanceSet)
	}
	e.wantCode("TerminateInstances", ids, "ResourceNotFound.InstanceIdNotFound")
}

func TestLaunchFailure(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchFailureProbability = 1 })
	id := e.create(basicCreate(nil))[0]
	e.clock.Advance(emulator.DefaultLaunchDelay)
	in := e.get(id)
	if in.InstanceState != lighthouse.StateLaunchFailed || in.LatestOperationState != lighthouse.OperationFailed || len(in.PublicAddresses) != 0 {
		t.Fatalf("failed launch: %+v", in)
	}
	// A LAUNCH_FAILED instance frees its quota; it is not terminable (only
	// SHUTDOWN ones are) unless TerminateLaunchFailed.
	var q lighthouse.DescribeGeneralResourceQuotasResponse
	e.mustCall("DescribeGeneralResourceQuotas", map[string]any{"ResourceNames": []string{"GENERAL_BUNDLE_INSTANCE"}}, &q)
	if q.GeneralResourceQuotaSet[0].ResourceQuotaAvailable != emulator.DefaultQuota {
		t.Errorf("quota after launch failure: %+v", q.GeneralResourceQuotaSet[0])
	}
	e.wantCode("TerminateInstances", map[string]any{"InstanceIds": []string{id}}, "UnsupportedOperation.InvalidInstanceState")
	lenient := newEnv(t, func(c *emulator.Config) { c.LaunchFailureProbability = 1; c.TerminateLaunchFailed = true })
	id = lenient.create(basicCreate(nil))[0]
	lenient.clock.Advance(emulator.DefaultLaunchDelay)
	lenient.mustCall("TerminateInstances", map[string]any{"InstanceIds": []string{id}}, nil)
}

func TestLaunchFailureSeeded(t *testing.T) {
	outcome := func(seed int64) []string {
		e := newEnv(t, func(c *emulator.Config) { c.Seed = seed; c.LaunchFailureProbability = 0.5; c.LaunchDelay = -1 })
		e.create(basicCreate(map[string]any{"InstanceCount": 20}))
		var states []string
		for _, in := range e.srv.Instances() {
			states = append(states, in.InstanceState)
		}
		return states
	}
	a, b := outcome(7), outcome(7)
	failed := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcomes at %d: %s vs %s", i, a[i], b[i])
		}
		if a[i] == lighthouse.StateLaunchFailed {
			failed++
		}
	}
	if failed == 0 || failed == 20 {
		t.Errorf("probability 0.5 gave %d failures of 20", failed)
	}
}

func TestIsolateTerminateErrors(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1 })
	ids := e.create(basicCreate(map[string]any{"InstanceCount": 21}))
	e.wantCode("IsolateInstances", map[string]any{}, "MissingParameter")
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": ids}, "LimitExceeded.IsolateResourcesLimitExceeded")
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{"lhins-1"}}, "InvalidParameterValue.InstanceIdMalformed")
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{ids[0], ids[0]}}, "InvalidParameterValue.Duplicated")
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{ids[0], "lhins-zzzzzzzz"}}, "ResourceNotFound.InstanceIdNotFound")
	// All or nothing: the valid ID of a refused call is untouched.
	if s := e.get(ids[0]).LatestOperation; s != "CreateInstances" {
		t.Errorf("refused isolate touched %s: LatestOperation %s", ids[0], s)
	}
	// Instances of another region are not found.
	if _, code := e.call("IsolateInstances", "ap-shanghai", map[string]any{"InstanceIds": []string{ids[0]}}); code != "ResourceNotFound.InstanceIdNotFound" {
		t.Errorf("isolate from another region: %s", code)
	}
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": ids[:20], "IsolateDataDisk": true}, "")
}

func TestDeleteInstanceOutOfBand(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create(basicCreate(map[string]any{"ClientToken": "tok"}))[0]
	if err := e.srv.DeleteInstance(id); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.DeleteInstance(id); err == nil {
		t.Error("deleting a missing instance succeeded")
	}
	if got := e.describe(map[string]any{}); got.TotalCount != 0 {
		t.Errorf("deleted instance listed")
	}
}
