package emulator_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func (e *testEnv) denied(ids ...string) map[string]map[string]string {
	e.t.Helper()
	var out lighthouse.DescribeInstancesDeniedActionsResponse
	e.mustCall("DescribeInstancesDeniedActions", map[string]any{"InstanceIds": ids}, &out)
	if len(out.InstanceDeniedActionSet) != len(ids) {
		e.t.Fatalf("%d answers for %d instances", len(out.InstanceDeniedActionSet), len(ids))
	}
	m := map[string]map[string]string{}
	for i, d := range out.InstanceDeniedActionSet {
		if d.InstanceId != ids[i] {
			e.t.Errorf("answer %d is for %s, want %s (request order)", i, d.InstanceId, ids[i])
		}
		m[d.InstanceId] = map[string]string{}
		for _, a := range d.DeniedActions {
			if a.Message == "" {
				e.t.Errorf("%s %s: %s without a message", d.InstanceId, a.Action, a.Code)
			}
			m[d.InstanceId][a.Action] = a.Code
		}
	}
	return m
}

// actionParams are valid parameters of each action on instance id.
func actionParams(action, id string) map[string]any {
	switch action {
	case "ResetInstance":
		return map[string]any{"InstanceId": id}
	case "ModifyInstancesBundle":
		return map[string]any{"InstanceIds": []string{id}, "BundleId": "bundle_gen_04"}
	case "RenewInstances":
		return renewParams(1, id)
	case "ModifyInstancesRenewFlag":
		return map[string]any{"InstanceIds": []string{id}, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}
	}
	return map[string]any{"InstanceIds": []string{id}}
}

var deniable = []string{"ResetInstance", "ModifyInstancesBundle", "RenewInstances", "ModifyInstancesRenewFlag", "IsolateInstances", "TerminateInstances"}

// DescribeInstancesDeniedActions lists per instance what it may not do now,
// with the code the action answers: the list agrees with the actions in
// every state an instance passes through.
func TestDeniedActionsAgreeWithActions(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.MaxClockSkew = -1; c.ExpiredRetention = -1 })
	running := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	largest := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_04"}))[0]
	busy := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	isolated := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	e.clock.Advance(emulator.DefaultLaunchDelay)
	pending := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceChargePrepaid": map[string]any{"Period": 2}}))[0]
	e.mustCall("IsolateInstances", map[string]any{"InstanceIds": []string{isolated}}, nil)
	e.clock.Advance(emulator.DefaultOperationDelay)
	e.mustCall("ResetInstance", map[string]any{"InstanceId": busy}, nil)

	states := map[string]string{pending: "PENDING", running: "RUNNING", largest: "RUNNING, largest bundle", busy: "resetting", isolated: "isolated"}
	want := map[string]map[string]string{
		pending: {"ResetInstance": "OperationDenied.InstanceCreating", "ModifyInstancesBundle": "OperationDenied.InstanceCreating",
			"RenewInstances": "OperationDenied.InstanceCreating", "ModifyInstancesRenewFlag": "UnsupportedOperation.LatestOperationUnfinished",
			"IsolateInstances": "OperationDenied.InstanceCreating", "TerminateInstances": "OperationDenied.InstanceCreating"},
		running: {"TerminateInstances": "UnsupportedOperation.InvalidInstanceState"},
		largest: {"TerminateInstances": "UnsupportedOperation.InvalidInstanceState", "ModifyInstancesBundle": "OperationDenied.BundleNotSupportModify"},
		busy: {"ResetInstance": "UnsupportedOperation.LatestOperationUnfinished", "ModifyInstancesBundle": "OperationDenied.InstanceOperationInProgress",
			"RenewInstances": "UnsupportedOperation.LatestOperationUnfinished", "ModifyInstancesRenewFlag": "UnsupportedOperation.LatestOperationUnfinished",
			"IsolateInstances": "UnsupportedOperation.LatestOperationUnfinished", "TerminateInstances": "UnsupportedOperation.LatestOperationUnfinished"},
		isolated: {"ResetInstance": "UnsupportedOperation.InvalidInstanceState", "ModifyInstancesBundle": "UnsupportedOperation.InvalidInstanceState",
			"RenewInstances": "FailedOperation.RenewResourcesFailed", "IsolateInstances": "UnsupportedOperation.InvalidInstanceState"},
	}
	ids := []string{pending, running, largest, busy, isolated}
	got := e.denied(ids...)
	for _, id := range ids {
		if fmt.Sprint(got[id]) != fmt.Sprint(want[id]) {
			t.Errorf("%s (%s): denied %v\n want %v", id, states[id], got[id], want[id])
		}
	}
	// Every action answers what the listing says: the code listed, or
	// success where nothing is listed (tried on a copy of the emulator,
	// so that one success does not make the instance busy for the next;
	// the bundle listing aside, which is about every target, the call
	// about one).
	var snapshot bytes.Buffer
	if err := e.srv.SaveState(&snapshot); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		for _, a := range deniable {
			code, isDenied := got[id][a]
			if code == "OperationDenied.BundleNotSupportModify" {
				continue
			}
			try := e
			if !isDenied {
				try = newEnv(t, func(c *emulator.Config) { c.Clock = e.clock; c.MaxClockSkew = -1 })
				if err := try.srv.LoadState(bytes.NewReader(snapshot.Bytes())); err != nil {
					t.Fatal(err)
				}
			}
			if _, c := try.call(a, region, actionParams(a, id)); c != code {
				t.Errorf("%s (%s): %s answers %q, the listing says %q", id, states[id], a, c, code)
			}
		}
	}
	// Expired: renewal and termination remain.
	exp := expiredAt(t, e.get(running))
	e.clock.Set(exp)
	got = e.denied(running)
	if _, ok := got[running]["RenewInstances"]; ok || got[running]["IsolateInstances"] != "UnsupportedOperation.ResourceNotReturnable" || got[running]["ResetInstance"] != "UnsupportedOperation.InvalidInstanceState" {
		t.Errorf("expired: denied %v", got[running])
	}
	if _, ok := got[running]["TerminateInstances"]; ok {
		t.Errorf("expired (SHUTDOWN): termination denied %v", got[running])
	}
}

// The request's limits: at most 100 IDs, each well formed, once, existing.
func TestDeniedActionsParameters(t *testing.T) {
	e := dayTwoEnv(t, nil)
	id := e.create(basicCreate(nil))[0]
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("lhins-zz%06d", i)
	}
	e.wantCode("DescribeInstancesDeniedActions", map[string]any{"InstanceIds": many}, "InvalidParameterValue.LimitExceeded")
	e.wantCode("DescribeInstancesDeniedActions", map[string]any{"InstanceIds": []string{id, id}}, "InvalidParameterValue.Duplicated")
	e.wantCode("DescribeInstancesDeniedActions", map[string]any{"InstanceIds": []string{"lhins-x"}}, "InvalidParameterValue.InstanceIdMalformed")
	e.wantCode("DescribeInstancesDeniedActions", map[string]any{"InstanceIds": []string{"lhins-nothere1"}}, "ResourceNotFound.InstanceIdNotFound")
	e.wantCode("DescribeInstancesDeniedActions", map[string]any{}, "MissingParameter")
}
