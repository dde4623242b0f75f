package reconciletest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// This file holds the Fake's operations on existing instances, with the
// emulator's rules (lighthouse/emulator: operations.go, reset.go, bundle.go,
// renew.go, denied.go): an operation shows LatestOperation, OPERATING, its
// RequestId and start time at once, ends after OperationDelay in SUCCESS
// with its effect or, where a FaultOperationFailure was injected, in FAILED
// with none; a second one meanwhile is refused with the emulator's codes.
// RunContract holds the two to the same behaviour.

// fakeOp is an operation in flight on an instance and what it does when
// it ends.
type fakeOp struct {
	end    time.Time
	fail   bool
	from   string // the state before, restored by a failure
	result string // the state after a success
	// bundle, blueprint and keys are what a bundle change or a reset
	// installs; months and renewFlag what a renewal adds.
	bundle, blueprint string
	keys              []string
	months            int64
	renewFlag         string
}

// requestID returns a new RequestId. f.mu held.
func (f *Fake) requestID() string {
	f.requests++
	return fmt.Sprintf("fake-%08d-0000-4000-8000-000000000000", f.requests)
}

// settle ends the launches and operations whose time has come. f.mu held.
func (f *Fake) settle(now time.Time) {
	for _, in := range f.instances {
		if !in.launched && !now.Before(in.launchEnd) {
			in.launch()
		}
		if in.op != nil && !now.Before(in.op.end) {
			in.finish()
		}
	}
}

// launch ends the instance's launch: RUNNING, or LAUNCH_FAILED.
func (in *fakeInstance) launch() {
	in.launched = true
	if in.failed {
		in.InstanceState, in.LatestOperationState = lighthouse.StateLaunchFailed, lighthouse.OperationFailed
		return
	}
	in.InstanceState, in.LatestOperationState = lighthouse.StateRunning, lighthouse.OperationSuccess
	in.PublicAddresses = []string{"43.0.0.1"}
}

// startOp starts an operation of action on the instance, drawing from the
// FaultOperationFailure faults whether it fails. f.mu held.
func (f *Fake) startOp(in *fakeInstance, action, requestID string, now time.Time, op *fakeOp) {
	op.from = in.InstanceState
	if op.result == "" {
		op.result = in.InstanceState
	}
	op.end = now.Add(f.delay(f.OperationDelay, emulator.DefaultOperationDelay))
	op.fail = f.operationFails(action, in.InstanceId)
	in.op = op
	in.LatestOperation, in.LatestOperationState = action, lighthouse.OperationOperating
	in.LatestOperationRequestId, in.LatestOperationStartedTime = requestID, fmtTime(now)
	if !op.end.After(now) {
		in.finish()
	}
}

// operationFails uses up a FaultOperationFailure matching action and id,
// if any. f.mu held.
func (f *Fake) operationFails(action, id string) bool {
	for i, ft := range f.faults {
		if ft.kind != emulator.FaultOperationFailure || ft.action != "" && ft.action != action || ft.instance != "" && ft.instance != id {
			continue
		}
		ft.left--
		if ft.left <= 0 {
			f.faults = slices.Delete(f.faults, i, i+1)
		}
		return true
	}
	return false
}

// finish ends the instance's operation: FAILED as before, or SUCCESS with
// its effect.
func (in *fakeInstance) finish() {
	op := in.op
	in.op = nil
	if op.fail {
		in.InstanceState, in.LatestOperationState = op.from, lighthouse.OperationFailed
		return
	}
	in.InstanceState, in.LatestOperationState = op.result, lighthouse.OperationSuccess
	switch in.LatestOperation {
	case lighthouse.ActionIsolateInstances:
		in.IsolatedTime = fmtTime(op.end)
	case lighthouse.ActionModifyInstancesBundle:
		if b, ok := bundleOf(op.bundle); ok {
			in.BundleId, in.CPU, in.Memory = b.BundleId, b.CPU, b.Memory
		}
	case lighthouse.ActionResetInstance:
		if bp, ok := blueprintOf(op.blueprint); ok {
			in.BlueprintId, in.PlatformType = bp.BlueprintId, bp.PlatformType
		}
		in.LoginSettings.KeyIds = append([]string{}, op.keys...)
	case lighthouse.ActionRenewInstances:
		if exp, err := time.Parse(lighthouse.TimeLayout, deref(in.ExpiredTime)); err == nil {
			in.ExpiredTime = fmtTime(exp.AddDate(0, int(op.months), 0))
		}
		if op.renewFlag != "" {
			in.RenewFlag = op.renewFlag
		}
		if op.from == lighthouse.StateShutdown {
			in.IsolatedTime = nil
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// FailOperations makes the next n operations of action (any action when "")
// on the instance id (any when "") end in LatestOperationState FAILED, as
// the emulator's FaultOperationFailure does: the call succeeds, the
// operation runs its time, then the instance is as before.
func (f *Fake) FailOperations(action, id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fakeFault{action: action, kind: emulator.FaultOperationFailure, left: n, instance: id})
}

// operate is a call that starts an operation on instances, all or none:
// the fault drawn for the call, then each ID looked up, allowed the action
// now (see deny) and passed by check (nil: no check), then start on each.
// drop-response answers with a lost response whatever the call did (it
// acts first). It returns the call's RequestId.
func (f *Fake) operate(ctx context.Context, action, region string, ids []string, maxIDs int, tooMany string, check func(*fakeInstance) error, start func(in *fakeInstance, rid string, now time.Time)) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("lighthouse: %s in %s: not sent: %w", action, region, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := f.begin(action)
	if kind != emulator.FaultDropResponse {
		if e := faultError(action, region, kind, true); e != nil {
			return "", e
		}
	}
	now := f.Clock.Now()
	f.settle(now)
	rid := f.requestID()
	ins, err := f.allowed(action, region, ids, maxIDs, tooMany)
	for i := 0; err == nil && check != nil && i < len(ins); i++ {
		err = check(ins[i])
	}
	if err == nil {
		for _, in := range ins {
			start(in, rid, now)
		}
	}
	if kind == emulator.FaultDropResponse {
		return "", faultError(action, region, kind, true)
	}
	return rid, err
}

// lookup finds the instances of a call by ID: at least one, at most maxIDs
// (else tooMany), each existing in region. f.mu held.
func (f *Fake) lookup(action, region string, ids []string, maxIDs int, tooMany string) ([]*fakeInstance, error) {
	if len(ids) == 0 {
		return nil, apiError(action, region, "MissingParameter", "%s: InstanceIds is required", action)
	}
	if len(ids) > maxIDs {
		return nil, apiError(action, region, tooMany, "%s: InstanceIds has %d IDs; at most %d per call", action, len(ids), maxIDs)
	}
	out := make([]*fakeInstance, 0, len(ids))
	for _, id := range ids {
		in := f.instance(region, id)
		if in == nil {
			return nil, apiError(action, region, "ResourceNotFound.InstanceIdNotFound", "%s: instance %q does not exist in %s", action, id, region)
		}
		out = append(out, in)
	}
	return out, nil
}

// allowed is lookup, then deny for each instance. f.mu held.
func (f *Fake) allowed(action, region string, ids []string, maxIDs int, tooMany string) ([]*fakeInstance, error) {
	ins, err := f.lookup(action, region, ids, maxIDs, tooMany)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if code, msg := deny(action, in); code != "" {
			return nil, apiError(action, region, code, "%s", msg)
		}
	}
	return ins, nil
}

func (f *Fake) instance(region, id string) *fakeInstance {
	for _, in := range f.instances {
		if in.InstanceId == id && in.region == region {
			return in
		}
	}
	return nil
}

// deny says why in may not do action now, with the emulator's codes: an
// operation in progress first, then the states the action takes.
func deny(action string, in *fakeInstance) (code, msg string) {
	if in.op != nil || in.InstanceState == lighthouse.StatePending {
		switch {
		case in.InstanceState == lighthouse.StatePending && action != lighthouse.ActionModifyInstancesRenewFlag:
			return "OperationDenied.InstanceCreating", fmt.Sprintf("%s: instance %s is still being created; retry when it is RUNNING", action, in.InstanceId)
		case action == lighthouse.ActionModifyInstancesBundle:
			return "OperationDenied.InstanceOperationInProgress", fmt.Sprintf("%s: the latest operation %s of instance %s is unfinished", action, in.LatestOperation, in.InstanceId)
		}
		return "UnsupportedOperation.LatestOperationUnfinished", fmt.Sprintf("%s: the latest operation %s of instance %s is unfinished", action, in.LatestOperation, in.InstanceId)
	}
	states := []string{lighthouse.StateRunning, lighthouse.StateStopped}
	switch action {
	case lighthouse.ActionModifyInstancesRenewFlag:
		states = append(states, lighthouse.StateShutdown)
	case lighthouse.ActionRenewInstances:
		switch {
		case slices.Contains(states, in.InstanceState):
			return "", ""
		case in.InstanceState == lighthouse.StateShutdown && in.ShutDownByExpiry():
			return "", ""
		}
		return "FailedOperation.RenewResourcesFailed", fmt.Sprintf("%s: instance %s is %s and cannot be renewed", action, in.InstanceId, in.InstanceState)
	}
	if !slices.Contains(states, in.InstanceState) {
		return "UnsupportedOperation.InvalidInstanceState", fmt.Sprintf("%s: instance %s is %s", action, in.InstanceId, in.InstanceState)
	}
	return "", ""
}

// ResetInstance reinstalls an instance with the emulator's rules.
func (f *Fake) ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error) {
	const a = lighthouse.ActionResetInstance
	if f.Intl && req.LoginConfiguration != nil {
		return nil, apiError(a, region, "UnknownParameter", "%s: the parameter LoginConfiguration is not recognized (the international site does not take it)", a)
	}
	if lc := req.LoginConfiguration; lc != nil && lc.AutoGeneratePassword == "YES" {
		return nil, apiError(a, region, "UnsupportedOperation.OperationNotSupportAutoGeneratePassword", "%s: LoginConfiguration.AutoGeneratePassword YES is not supported for a reset", a)
	}
	var bp emulator.CatalogBlueprint
	check := func(in *fakeInstance) error {
		id := req.BlueprintId
		if id == "" {
			id = in.BlueprintId
		}
		var ok bool
		if bp, ok = blueprintOf(id); !ok {
			return apiError(a, region, "ResourceNotFound.BlueprintIdNotFound", "%s: blueprint %q does not exist", a, id)
		}
		if code, msg := f.resettable(in, bp); code != "" {
			return apiError(a, region, code, "%s: instance %s cannot be reset to %s: %s", a, in.InstanceId, bp.BlueprintId, msg)
		}
		if len(req.Containers) > 0 && bp.BlueprintType != "DOCKER" {
			return apiError(a, region, "InvalidParameterValue.InvalidParameterCombination", "%s: Containers need a DOCKER blueprint; %s is %s", a, bp.BlueprintId, bp.BlueprintType)
		}
		return nil
	}
	rid, err := f.operate(ctx, a, region, []string{req.InstanceId}, 1, "InvalidParameterValue.LimitExceeded", check, func(in *fakeInstance, rid string, now time.Time) {
		var keys []string
		if lc := req.LoginConfiguration; lc != nil {
			keys = slices.Clone(lc.KeyIds)
		}
		f.startOp(in, a, rid, now, &fakeOp{blueprint: bp.BlueprintId, keys: keys})
	})
	if err != nil {
		return nil, err
	}
	return &lighthouse.ResetInstanceResponse{RequestId: rid}, nil
}

// resettable is the emulator's rule for a reset of in to bp: the code and
// message of a refusal, "" when it may.
func (f *Fake) resettable(in *fakeInstance, bp emulator.CatalogBlueprint) (code, msg string) {
	if bp.PlatformType != in.PlatformType && f.Intl {
		return "InvalidParameterValue.NotAllowToChangePlatformType", fmt.Sprintf("switching between %s and %s is not supported", in.PlatformType, bp.PlatformType)
	}
	b, ok := bundleOf(in.BundleId)
	switch {
	case !ok:
		return "InvalidParameterValue.BlueprintConfigNotMatch", fmt.Sprintf("the instance's bundle %s is no longer sold", in.BundleId)
	case !slices.Contains(b.Platforms, bp.PlatformType):
		return "InvalidParameterValue.BlueprintConfigNotMatch", fmt.Sprintf("bundle %s does not support the %s platform of blueprint %s", b.BundleId, bp.PlatformType, bp.BlueprintId)
	case b.Memory < bp.RequiredMemorySize || b.SystemDiskSize < bp.RequiredSystemDiskSize:
		return "InvalidParameterValue.BlueprintConfigNotMatch", fmt.Sprintf("blueprint %s needs %d GB memory and a %d GB disk", bp.BlueprintId, bp.RequiredMemorySize, bp.RequiredSystemDiskSize)
	}
	return "", ""
}

// DescribeResetInstanceBlueprints lists the catalog's blueprints with
// whether in can be reset to each; filter blueprint-id only.
func (f *Fake) DescribeResetInstanceBlueprints(ctx context.Context, region string, req *lighthouse.DescribeResetInstanceBlueprintsRequest) (*lighthouse.DescribeResetInstanceBlueprintsResponse, error) {
	const a = lighthouse.ActionDescribeResetInstanceBlueprints
	var all []lighthouse.ResetInstanceBlueprint
	err := f.read(a, region, req.InstanceId, func(in *fakeInstance) error {
		for _, bp := range catalog.Blueprints {
			if !matches(req.Filters, "blueprint-id", bp.BlueprintId) {
				continue
			}
			_, msg := f.resettable(in, bp)
			all = append(all, lighthouse.ResetInstanceBlueprint{
				BlueprintInfo: lighthouse.Blueprint{BlueprintId: bp.BlueprintId, OsName: bp.OsName, Platform: bp.Platform, PlatformType: bp.PlatformType, BlueprintType: bp.BlueprintType},
				IsResettable:  msg == "", NonResettableMessage: msg,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, total := pageOf(all, req.Offset, req.Limit)
	return &lighthouse.DescribeResetInstanceBlueprintsResponse{TotalCount: total, ResetInstanceBlueprintSet: page, RequestId: "fake"}, nil
}

// read is a read-only call about one instance: the fault drawn for the
// call, the instance looked up, then fn. f.mu held by read.
func (f *Fake) read(action, region, id string, fn func(*fakeInstance) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := faultError(action, region, f.begin(action), false); e != nil {
		return e
	}
	f.settle(f.Clock.Now())
	in := f.instance(region, id)
	if in == nil {
		return apiError(action, region, "ResourceNotFound.InstanceIdNotFound", "%s: instance %q does not exist in %s", action, id, region)
	}
	return fn(in)
}

// matches reports whether value passes the filters named name (any other
// filter is ignored).
func matches(filters []lighthouse.Filter, name, value string) bool {
	for _, fl := range filters {
		if fl.Name == name && !slices.Contains(fl.Values, value) {
			return false
		}
	}
	return true
}

func pageOf[T any](all []T, offset, limit int64) ([]T, int64) {
	if limit <= 0 {
		limit = 20
	}
	total := int64(len(all))
	start := min(max(offset, 0), total)
	return slices.Clone(all[start:min(start+limit, total)]), total
}

// modifyState is the emulator's rule for changing in to b: upgrades of the
// same bundle type and platform only.
func modifyState(in *fakeInstance, b emulator.CatalogBundle) (state, reason string) {
	cur, ok := bundleOf(in.BundleId)
	switch {
	case b.BundleId == in.BundleId:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("%s is the instance's current bundle", b.BundleId)
	case !ok:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("the instance's bundle %s is no longer sold, so it cannot be changed", in.BundleId)
	case b.Offline:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("bundle %s is offline", b.BundleId)
	case b.BundleType != cur.BundleType:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("a %s instance cannot change to a %s bundle", cur.BundleType, b.BundleType)
	case !slices.Contains(b.Platforms, in.PlatformType):
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("bundle %s does not support the instance's %s platform", b.BundleId, in.PlatformType)
	case b.CPU < cur.CPU || b.Memory < cur.Memory || b.SystemDiskSize < cur.SystemDiskSize || b.MonthlyPrice <= cur.MonthlyPrice:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("only upgrades are sold: %s is not larger than %s", b.BundleId, cur.BundleId)
	case slices.Contains(b.SoldOutZones, in.Zone):
		return lighthouse.ModifyBundleSoldOut, fmt.Sprintf("bundle %s is sold out in zone %s", b.BundleId, in.Zone)
	}
	return lighthouse.ModifyBundleAvailable, ""
}

// modifyPrice is the emulator's price of changing in to b at now: the
// monthly difference for the whole days left, 30 to a month.
func modifyPrice(in *fakeInstance, b emulator.CatalogBundle, now time.Time) lighthouse.InstancePrice {
	diff := 0.0
	if cur, ok := bundleOf(in.BundleId); ok {
		diff = max(b.MonthlyPrice-cur.MonthlyPrice, 0)
	}
	days := 0.0
	if exp, err := time.Parse(lighthouse.TimeLayout, deref(in.ExpiredTime)); err == nil && exp.After(now) {
		days = math.Ceil(exp.Sub(now).Hours() / 24)
	}
	discount := b.Discount
	if discount == 0 {
		discount = 100
	}
	orig := round2(diff * days / 30)
	return lighthouse.InstancePrice{OriginalBundlePrice: b.MonthlyPrice, OriginalPrice: orig, Discount: discount, DiscountPrice: round2(orig * discount / 100), Currency: "CNY"}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// DescribeModifyInstanceBundles lists the catalog's other bundles with
// whether in can change to each and the price difference; filter
// bundle-id only.
func (f *Fake) DescribeModifyInstanceBundles(ctx context.Context, region string, req *lighthouse.DescribeModifyInstanceBundlesRequest) (*lighthouse.DescribeModifyInstanceBundlesResponse, error) {
	const a = lighthouse.ActionDescribeModifyInstanceBundles
	var all []lighthouse.ModifyBundle
	err := f.read(a, region, req.InstanceId, func(in *fakeInstance) error {
		if in.InstanceState != lighthouse.StateRunning && in.InstanceState != lighthouse.StateStopped {
			return apiError(a, region, "UnsupportedOperation.InvalidInstanceState", "%s: instance %s is %s", a, in.InstanceId, in.InstanceState)
		}
		for _, b := range catalog.Bundles {
			if b.BundleId == in.BundleId || !matches(req.Filters, "bundle-id", b.BundleId) {
				continue
			}
			state, reason := modifyState(in, b)
			all = append(all, lighthouse.ModifyBundle{
				ModifyPrice:       lighthouse.Price{InstancePrice: modifyPrice(in, b, f.Clock.Now())},
				ModifyBundleState: state, NotSupportModifyMessage: reason,
				Bundle: lighthouse.Bundle{BundleId: b.BundleId, BundleType: b.BundleType, CPU: b.CPU, Memory: b.Memory, SystemDiskSize: b.SystemDiskSize},
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, total := pageOf(all, req.Offset, req.Limit)
	return &lighthouse.DescribeModifyInstanceBundlesResponse{TotalCount: total, ModifyBundleSet: page, RequestId: "fake"}, nil
}

// ModifyInstancesBundle changes the bundle of up to
// lighthouse.MaxModifyBundleIDs instances, all or none.
func (f *Fake) ModifyInstancesBundle(ctx context.Context, region string, req *lighthouse.ModifyInstancesBundleRequest) (*lighthouse.ModifyInstancesBundleResponse, error) {
	const a = lighthouse.ActionModifyInstancesBundle
	if req.BundleId == "" {
		return nil, apiError(a, region, "MissingParameter", "%s: BundleId is required", a)
	}
	b, ok := bundleOf(req.BundleId)
	check := func(in *fakeInstance) error {
		if !ok {
			return apiError(a, region, "InvalidParameter.BundleIdNotFound", "%s: bundle %q does not exist", a, req.BundleId)
		}
		switch state, reason := modifyState(in, b); state {
		case lighthouse.ModifyBundleSoldOut:
			return apiError(a, region, "FailedOperation.ModifyInstancesBundleFailed", "%s: instance %s: %s", a, in.InstanceId, reason)
		case lighthouse.ModifyBundleUnavailable:
			return apiError(a, region, "InvalidParameterValue.NotSupportModifyInstanceBundleType", "%s: instance %s cannot change to %s: %s", a, in.InstanceId, b.BundleId, reason)
		}
		return nil
	}
	rid, err := f.operate(ctx, a, region, req.InstanceIds, lighthouse.MaxModifyBundleIDs, "InvalidParameterValue.LimitExceeded", check, func(in *fakeInstance, rid string, now time.Time) {
		f.startOp(in, a, rid, now, &fakeOp{bundle: b.BundleId})
	})
	if err != nil {
		return nil, err
	}
	return &lighthouse.ModifyInstancesBundleResponse{RequestId: rid}, nil
}

// DescribeInstancesDeniedActions tells, per instance, the actions it may
// not do now (see deny), plus OperationDenied.BundleNotSupportModify when
// no bundle is an available upgrade.
func (f *Fake) DescribeInstancesDeniedActions(ctx context.Context, region string, req *lighthouse.DescribeInstancesDeniedActionsRequest) (*lighthouse.DescribeInstancesDeniedActionsResponse, error) {
	const a = lighthouse.ActionDescribeInstancesDeniedActions
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := faultError(a, region, f.begin(a), false); e != nil {
		return nil, e
	}
	f.settle(f.Clock.Now())
	ins, err := f.lookup(a, region, req.InstanceIds, lighthouse.MaxDeniedActionsIDs, "InvalidParameterValue.LimitExceeded")
	if err != nil {
		return nil, err
	}
	resp := &lighthouse.DescribeInstancesDeniedActionsResponse{InstanceDeniedActionSet: []lighthouse.InstanceDeniedActions{}, RequestId: "fake"}
	for _, in := range ins {
		out := lighthouse.InstanceDeniedActions{InstanceId: in.InstanceId, DeniedActions: []lighthouse.DeniedAction{}}
		for _, action := range []string{lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle, lighthouse.ActionRenewInstances,
			lighthouse.ActionModifyInstancesRenewFlag, lighthouse.ActionIsolateInstances, lighthouse.ActionTerminateInstances} {
			code, msg := deny(action, in)
			if action == lighthouse.ActionTerminateInstances && code == "" && in.InstanceState != lighthouse.StateShutdown {
				code, msg = "UnsupportedOperation.InvalidInstanceState", fmt.Sprintf("%s: instance %s is %s", action, in.InstanceId, in.InstanceState)
			}
			if code == "" && action == lighthouse.ActionModifyInstancesBundle && !canUpgrade(in) {
				code, msg = "OperationDenied.BundleNotSupportModify", fmt.Sprintf("%s: no bundle is an available upgrade for instance %s", action, in.InstanceId)
			}
			if code != "" {
				out.DeniedActions = append(out.DeniedActions, lighthouse.DeniedAction{Action: action, Code: code, Message: msg})
			}
		}
		resp.InstanceDeniedActionSet = append(resp.InstanceDeniedActionSet, out)
	}
	return resp, nil
}

func canUpgrade(in *fakeInstance) bool {
	for _, b := range catalog.Bundles {
		if st, _ := modifyState(in, b); st == lighthouse.ModifyBundleAvailable {
			return true
		}
	}
	return false
}

// catalog is the emulator's default catalog, which the Fake sells.
var catalog = emulator.DefaultCatalog()

func blueprintOf(id string) (emulator.CatalogBlueprint, bool) {
	for _, bp := range catalog.Blueprints {
		if bp.BlueprintId == id {
			return bp, true
		}
	}
	return emulator.CatalogBlueprint{}, false
}
