package emulator

import (
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// operationActions are the actions that start an operation on existing
// instances: asynchronous, shown by DescribeInstances as LatestOperation
// with LatestOperationState OPERATING until it ends in SUCCESS or FAILED
// (client.go on each: "本接口为异步接口 ... 如果实例的最新操作状态
// （LatestOperationState）为“SUCCESS”，则代表操作成功").
var operationActions = []string{
	lighthouse.ActionIsolateInstances,
	lighthouse.ActionTerminateInstances,
	lighthouse.ActionResetInstance,
	lighthouse.ActionModifyInstancesBundle,
	lighthouse.ActionRenewInstances,
}

// change is what an operation on an existing instance does when it ends
// (see finish), saved with the instance while the operation runs.
type change struct {
	// Fail makes the operation end FAILED (a FaultOperationFailure drawn
	// when it started): the instance goes back to From, nothing changes,
	// the Charge is refunded.
	Fail bool `json:"fail,omitempty"`
	// From is the instance's state when the operation started.
	From string `json:"from,omitempty"`
	// Charge is what the operation cost, charged when it started.
	Charge float64 `json:"charge,omitempty"`
	// BundleId is the bundle a ModifyInstancesBundle changes to.
	BundleId string `json:"bundleId,omitempty"`
	// BlueprintId and KeyIds are the blueprint and login keys a
	// ResetInstance installs.
	BlueprintId string   `json:"blueprintId,omitempty"`
	KeyIds      []string `json:"keyIds,omitempty"`
	// Months is what a RenewInstances adds to the ExpiredTime, RenewFlag
	// the flag it sets ("" keeps it).
	Months    int64  `json:"months,omitempty"`
	RenewFlag string `json:"renewFlag,omitempty"`
	// ReclaimAt is the removal time of an expired instance being renewed,
	// put back if the renewal fails.
	ReclaimAt time.Time `json:"reclaimAt,omitzero"`
}

// begin starts the call's operation on an existing instance: it shows
// state while it runs and ends in result ("" removes the instance) after
// the action's operation delay, applying ch (see finish). Whether it fails
// is drawn now from the FaultOperationFailure faults. s.mu held.
func (s *Server) begin(in *instance, c *call, state, result string, ch *change) {
	ch.From = in.InstanceState
	ch.Fail = s.operationFails(c.action, in.InstanceId)
	in.Change = ch
	delay := s.cfg.OperationDelay
	if d, ok := s.cfg.OperationDelays[c.action]; ok {
		delay = d
	}
	s.startOp(in, c, state, result, delay)
}

// fail ends an operation in FAILED: the instance is as it was before. s.mu
// held.
func (s *Server) fail(in *instance, ch *change) {
	in.InstanceState = ch.From
	in.LatestOperationState = lighthouse.OperationFailed
	s.spent -= ch.Charge
	switch in.LatestOperation {
	case lighthouse.ActionIsolateInstances:
		s.returned--
	case lighthouse.ActionRenewInstances:
		if !ch.ReclaimAt.IsZero() {
			in.ReclaimAt = ch.ReclaimAt
			s.scheduleReclaim(in)
		}
	}
}

// apply makes the change of a successful operation. s.mu held.
func (s *Server) apply(in *instance, ch *change) {
	switch in.LatestOperation {
	case lighthouse.ActionModifyInstancesBundle:
		if b, ok := s.catalog.bundles[ch.BundleId]; ok {
			in.BundleId = b.BundleId
			in.CPU, in.Memory = b.CPU, b.Memory
			in.SystemDisk.DiskType, in.SystemDisk.DiskSize = b.SystemDiskType, b.SystemDiskSize
			in.InternetAccessible.InternetMaxBandwidthOut = b.Bandwidth
		}
	case lighthouse.ActionResetInstance:
		if bp, ok := s.catalog.blueprints[ch.BlueprintId]; ok {
			in.BlueprintId = bp.BlueprintId
			in.Platform, in.PlatformType, in.OsName = bp.Platform, bp.PlatformType, bp.OsName
		}
		// The disk is wiped: the keys are those the reset named, none
		// when it named none ("默认缺失情况下代表用户选择实例创建后设置登录密码或绑定密钥",
		// absent means the login is set later; models.go).
		in.LoginSettings.KeyIds = append([]string{}, ch.KeyIds...)
	case lighthouse.ActionRenewInstances:
		if exp, ok := parseTime(in.ExpiredTime); ok {
			in.ExpiredTime = fmtTime(addMonths(exp, ch.Months))
			s.scheduleExpiry(in)
			started, _ := parseTime(in.LatestOperationStartedTime)
			s.renewed = append(s.renewed, Renewal{InstanceId: in.InstanceId, From: exp, To: addMonths(exp, ch.Months),
				RequestId: in.LatestOperationRequestId, Started: started, Charge: ch.Charge})
		}
		if ch.RenewFlag != "" {
			in.RenewFlag = ch.RenewFlag
		}
		if ch.From == lighthouse.StateShutdown {
			in.IsolatedTime = nil
			in.ReclaimAt = time.Time{}
		}
	}
}

// operationFails draws whether an operation of action on the instance id
// fails, from the FaultOperationFailure faults, using them up like the
// other faults.
func (s *Server) operationFails(action, id string) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	fails := false
	for _, f := range s.faults {
		if f.Kind != FaultOperationFailure || (f.InstanceId != "" && f.InstanceId != id) {
			continue
		}
		if s.fires(f, action) {
			fails = true
			break
		}
	}
	s.pruneFaults()
	return fails
}

// deny says why the instance may not do the call's action now, or nil:
// the precondition each action documents, checked in the order the service
// reports them (an operation in progress first). pending is the number of
// instances of the same call accepted before this one. It is the one place
// that knows the preconditions: the actions use it, and
// DescribeInstancesDeniedActions reports it. s.mu held.
func (s *Server) deny(c *call, in *instance, pending int) *apiError {
	if !in.OpEnd.IsZero() {
		return s.busyError(c, in)
	}
	a := c.action
	switch a {
	case lighthouse.ActionIsolateInstances:
		if aerr := s.returnable(c, in, pending); aerr != nil {
			return aerr
		}
		return needState(c, in, "only RUNNING or STOPPED instances can be isolated", lighthouse.StateRunning, lighthouse.StateStopped)
	case lighthouse.ActionTerminateInstances:
		// "处于 SHUTDOWN 状态的实例，可通过本接口销毁" (instances in
		// SHUTDOWN can be destroyed with this action; China SDK client.go
		// on TerminateInstances): LAUNCH_FAILED is not terminable unless
		// Config.TerminateLaunchFailed says so.
		if s.cfg.TerminateLaunchFailed {
			return needState(c, in, "isolate it first (only SHUTDOWN or LAUNCH_FAILED instances can be terminated)", lighthouse.StateShutdown, lighthouse.StateLaunchFailed)
		}
		return needState(c, in, "only SHUTDOWN instances can be terminated (isolate a RUNNING or STOPPED one first)", lighthouse.StateShutdown)
	case lighthouse.ActionResetInstance:
		// "仅`RUNNING`，`STOPPED`状态的机器，且当前机器无变更中的操作，才支持重装系统"
		// (client.go on ResetInstance).
		return needState(c, in, "only RUNNING or STOPPED instances can be reset", lighthouse.StateRunning, lighthouse.StateStopped)
	case lighthouse.ActionModifyInstancesBundle:
		// "只有状态为 RUNNING，STOPPED的实例才可以进行此操作" (client.go).
		return needState(c, in, "only RUNNING or STOPPED instances can change bundles", lighthouse.StateRunning, lighthouse.StateStopped)
	case lighthouse.ActionModifyInstancesRenewFlag:
		return needState(c, in, "only RUNNING, STOPPED or SHUTDOWN instances have a renew flag to set", lighthouse.StateRunning, lighthouse.StateStopped, lighthouse.StateShutdown)
	case lighthouse.ActionRenewInstances:
		// "只有状态为 RUNNING，STOPPED 或 SHUTDOWN 的实例才可以进行此操作"
		// (client.go). Its error list has no InvalidInstanceState: a
		// refused renewal is FailedOperation.RenewResourcesFailed.
		switch {
		case in.InstanceState == lighthouse.StateRunning, in.InstanceState == lighthouse.StateStopped:
			return nil
		case in.InstanceState == lighthouse.StateShutdown && (in.ShutDownByExpiry() || s.cfg.RenewIsolated):
			return nil
		case in.InstanceState == lighthouse.StateShutdown:
			return errf(codeRenewFailed, "%s: instance %s was isolated (returned) before its expiry and cannot be renewed; only RUNNING, STOPPED and expired SHUTDOWN instances can", a, in.InstanceId)
		}
		return errf(codeRenewFailed, "%s: instance %s is %s; only RUNNING, STOPPED or SHUTDOWN instances can be renewed", a, in.InstanceId, in.InstanceState)
	}
	return nil
}

// needState refuses an instance whose state is not one of states, with
// UnsupportedOperation.InvalidInstanceState and hint.
func needState(c *call, in *instance, hint string, states ...string) *apiError {
	if slices.Contains(states, in.InstanceState) {
		return nil
	}
	return errf(codeInvalidInstanceState, "%s: instance %s is %s; %s", c.action, in.InstanceId, in.InstanceState, hint)
}

// busyError is the retry-later answer for an instance in an operation,
// with the code the action's error list (client.go) has: a PENDING
// instance is OperationDenied.InstanceCreating where listed; otherwise
// ModifyInstancesBundle lists only OperationDenied.InstanceOperationInProgress,
// ModifyInstancesRenewFlag only UnsupportedOperation.LatestOperationUnfinished
// (and not InstanceCreating), and the others both, of which
// Config.BusyAsOperationDenied picks.
func (s *Server) busyError(c *call, in *instance) *apiError {
	if in.InstanceState == lighthouse.StatePending && c.action != lighthouse.ActionModifyInstancesRenewFlag {
		return errf(codeInstanceCreating, "%s: instance %s is still being created; retry when it is RUNNING", c.action, in.InstanceId)
	}
	code := codeLatestOpUnfinished
	switch {
	case c.action == lighthouse.ActionModifyInstancesBundle:
		code = codeOperationInProgress
	case c.action == lighthouse.ActionModifyInstancesRenewFlag:
	case s.cfg.BusyAsOperationDenied:
		code = codeOperationInProgress
	}
	return errf(code, "%s: the latest operation %s of instance %s is unfinished; retry when LatestOperationState is not OPERATING", c.action, in.LatestOperation, in.InstanceId)
}
