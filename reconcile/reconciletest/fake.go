// Package reconciletest holds what tests of reconcile and of its users
// share: Fake, an in-memory reconcile.Cloud with knobs for the behaviours the
// reconciler depends on, and RunContract, the one suite that holds the Fake
// and the emulator (over HTTP) to the same observable behaviour, so that the
// fake cannot drift from the wire.
package reconciletest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// Clock is the fake's time; *emulator.ManualClock is one.
type Clock interface{ Now() time.Time }

// Fake is an in-memory reconcile.Cloud. It keeps instances and ClientTokens
// as the emulator does (the same defaults, the same token policies, the
// same error codes) but speaks no wire protocol and never retries: each
// call is one attempt, answered at the fake's clock. Instances move from
// PENDING to RUNNING (or LAUNCH_FAILED) when the clock passes LaunchDelay;
// an operation on an existing instance (IsolateInstances, ResetInstance,
// ModifyInstancesBundle, RenewInstances) shows LatestOperationState
// OPERATING for OperationDelay, then SUCCESS with its effect, or FAILED
// with none where a FaultOperationFailure was injected (see fake_ops.go).
//
// Set the knobs before the first call; the methods are safe for concurrent
// use.
type Fake struct {
	// Clock is required.
	Clock Clock
	// LaunchDelay, OperationDelay, DescribeLag, TokenWindow, TokenMismatch
	// and TokenGone mean what the emulator.Config fields of the same name
	// mean, with the same defaults for zero values.
	LaunchDelay    time.Duration
	OperationDelay time.Duration
	DescribeLag    time.Duration
	TokenWindow    time.Duration
	TokenMismatch  emulator.TokenPolicy
	TokenGone      emulator.TokenPolicy
	// Quota is the number of instances (of any bundle) allowed per region;
	// 0 means emulator.DefaultQuota, negative unlimited. LAUNCH_FAILED
	// instances do not count.
	Quota int
	// Intl makes the fake the international site, which refuses Tags on
	// create (UnknownParameter).
	Intl bool
	// LaunchFails, if set, decides for each new instance (by name) whether
	// it ends in LAUNCH_FAILED.
	LaunchFails func(name string) bool

	mu        sync.Mutex
	instances []*fakeInstance // creation order
	tokens    map[string]*fakeToken
	faults    []*fakeFault
	calls     map[string]int
	seq       int
	requests  int
}

// fakeInstance is an instance as the fake keeps it: the API view (its
// InstanceState and LatestOperation* as of the last settle) and what its
// launch and operation in flight do when they end.
type fakeInstance struct {
	lighthouse.Instance
	region    string
	created   time.Time
	launchEnd time.Time
	launched  bool // the launch ended (RUNNING or LAUNCH_FAILED)
	failed    bool // the launch ends in LAUNCH_FAILED
	op        *fakeOp
}

type fakeToken struct {
	fp      [32]byte
	ids     []string
	created time.Time
}

type fakeFault struct {
	action   string
	kind     emulator.FaultKind
	left     int
	instance string // FaultOperationFailure: this instance only ("" any)
}

// NewFake returns a Fake on clock with the emulator's defaults.
func NewFake(clock Clock) *Fake { return &Fake{Clock: clock} }

var _ reconcile.Cloud = (*Fake)(nil)

// Fail makes the next n calls of action (lighthouse.Action*) fail as the
// client reports that fault of the emulator after a single attempt:
// FaultDropResponse carries the action out and loses the answer (a
// network error, ambiguous for a mutating action); FaultInternalError,
// FaultHTTP5xx and FaultRequestLimitExceeded refuse it without acting.
func (f *Fake) Fail(action string, kind emulator.FaultKind, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fakeFault{action: action, kind: kind, left: n})
}

// Calls returns how many calls of action reached the fake, faults included.
func (f *Fake) Calls(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

// All returns every instance, oldest first, as it is now (ignoring the
// Describe lag).
func (f *Fake) All() []lighthouse.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Clock.Now()
	f.settle(now)
	out := make([]lighthouse.Instance, 0, len(f.instances))
	for _, in := range f.instances {
		out = append(out, in.view(f.Intl))
	}
	return out
}

// DeleteInstance removes an instance at once, as a person deleting it in
// the console would; its token stays remembered.
func (f *Fake) DeleteInstance(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.instances, func(in *fakeInstance) bool { return in.InstanceId == id })
	if i < 0 {
		return fmt.Errorf("fake: delete instance %q: no such instance", id)
	}
	f.instances = slices.Delete(f.instances, i, i+1)
	return nil
}

// begin counts a call and picks its fault, if any. f.mu held.
func (f *Fake) begin(action string) emulator.FaultKind {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[action]++
	for i, ft := range f.faults {
		if ft.action != "" && ft.action != action || ft.kind == emulator.FaultOperationFailure {
			continue
		}
		ft.left--
		if ft.left <= 0 {
			f.faults = slices.Delete(f.faults, i, i+1)
		}
		return ft.kind
	}
	return ""
}

// faultError is the error the client returns for kind after one attempt.
// drop-response is handled by the caller (it acts first).
func faultError(action, region string, kind emulator.FaultKind, mutating bool) *lighthouse.Error {
	e := &lighthouse.Error{Action: action, Region: region, Attempts: 1, RequestId: "fake"}
	switch kind {
	case emulator.FaultDropResponse:
		e.Code, e.Message, e.RequestId, e.Ambiguous = lighthouse.CodeNetworkError, "request failed", "", mutating
		e.Err = fmt.Errorf("fake: response lost: %w", errUnexpectedEOF)
	case emulator.FaultInternalError:
		e.Code, e.Message, e.HTTPStatus, e.Ambiguous = "InternalError", "an internal error occurred (injected fault); retry the request", http.StatusOK, mutating
	case emulator.FaultHTTP5xx:
		e.Code, e.Message, e.HTTPStatus, e.RequestId, e.Ambiguous = lighthouse.CodeHTTPStatusError, "HTTP 502 Bad Gateway without an error envelope", http.StatusBadGateway, "", mutating
	case emulator.FaultRequestLimitExceeded:
		e.Code, e.Message, e.HTTPStatus = "RequestLimitExceeded", action+": the request rate limit was exceeded (injected fault)", http.StatusOK
	default:
		return nil
	}
	return e
}

var errUnexpectedEOF = fmt.Errorf("unexpected EOF")

func apiError(action, region, code, format string, args ...any) *lighthouse.Error {
	return &lighthouse.Error{Action: action, Region: region, Code: code, Message: fmt.Sprintf(format, args...), RequestId: "fake", HTTPStatus: http.StatusOK, Attempts: 1}
}

// view is the instance as DescribeInstances shows it (settle first): the
// international site's has no LatestOperationStartedTime.
func (in *fakeInstance) view(intl bool) lighthouse.Instance {
	v := in.Instance
	v.Tags = slices.Clone(in.Tags)
	v.PublicAddresses = slices.Clone(in.PublicAddresses)
	v.LoginSettings.KeyIds = slices.Clone(in.LoginSettings.KeyIds)
	if intl {
		v.LatestOperationStartedTime = nil
	}
	return v
}

func (f *Fake) delay(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return max(d, 0)
}

// Instances lists the instances of region (req is ignored but for
// InstanceIds), SHUTDOWN first, then the rest, each newest first, as the
// emulator orders them.
func (f *Fake) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		f.mu.Lock()
		kind := f.begin(lighthouse.ActionDescribeInstances)
		if e := faultError(lighthouse.ActionDescribeInstances, region, kind, false); e != nil {
			f.mu.Unlock()
			yield(lighthouse.Instance{}, e)
			return
		}
		now := f.Clock.Now()
		f.settle(now)
		var want map[string]bool
		if req != nil && len(req.InstanceIds) > 0 {
			want = map[string]bool{}
			for _, id := range req.InstanceIds {
				want[id] = true
			}
		}
		var out []lighthouse.Instance
		for _, shutdown := range []bool{true, false} {
			for i := len(f.instances) - 1; i >= 0; i-- {
				in := f.instances[i]
				if in.region != region || in.created.After(now.Add(-f.DescribeLag)) && f.DescribeLag > 0 || want != nil && !want[in.InstanceId] {
					continue
				}
				v := in.view(f.Intl)
				if (v.InstanceState == lighthouse.StateShutdown) == shutdown {
					out = append(out, v)
				}
			}
		}
		f.mu.Unlock()
		for _, v := range out {
			if ctx.Err() != nil {
				yield(lighthouse.Instance{}, ctx.Err())
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// CreateInstances buys InstanceCount instances (default 1), deduplicated by
// ClientToken as the emulator does it.
func (f *Fake) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	const a = lighthouse.ActionCreateInstances
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lighthouse: %s in %s: not sent: %w", a, region, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := f.begin(a)
	if kind != emulator.FaultDropResponse {
		if e := faultError(a, region, kind, true); e != nil {
			return nil, e
		}
	}
	resp, err := f.create(region, req)
	if kind == emulator.FaultDropResponse {
		return nil, faultError(a, region, kind, true)
	}
	return resp, err
}

func (f *Fake) create(region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	const a = lighthouse.ActionCreateInstances
	now := f.Clock.Now()
	f.settle(now)
	if f.Intl && len(req.Tags) > 0 {
		return nil, apiError(a, region, "UnknownParameter", "%s: the parameter Tags is not recognized (the international site does not take it)", a)
	}
	bundle, ok := bundleOf(req.BundleId)
	if !ok {
		return nil, apiError(a, region, "InvalidParameter.BundleIdNotFound", "%s: bundle %q does not exist; see DescribeBundles", a, req.BundleId)
	}
	if req.InstanceChargePrepaid == nil || req.InstanceChargePrepaid.Period == 0 {
		return nil, apiError(a, region, "MissingParameter", "%s: InstanceChargePrepaid.Period is required", a)
	}
	count := max(req.InstanceCount, 1)
	fp := fingerprint(*req, count)
	window := f.TokenWindow
	if window == 0 {
		window = emulator.DefaultTokenWindow
	}
	if f.tokens == nil {
		f.tokens = map[string]*fakeToken{}
	}
	key := region + "\x00" + req.ClientToken
	if tk, ok := f.tokens[key]; ok && !req.DryRun && req.ClientToken != "" && window > 0 {
		policy := emulator.TokenReturnOriginal
		switch {
		case now.Sub(tk.created) >= window:
			policy = emulator.TokenCreateNew
		case tk.fp != fp:
			policy = f.TokenMismatch
		case f.allGone(tk.ids):
			policy = f.TokenGone
		}
		switch policy {
		case emulator.TokenReject:
			return nil, apiError(a, region, "UnsupportedOperation.IdempotentParameterMismatch", "%s: ClientToken %q was already used with other parameters or for instances that are gone; use a new token", a, req.ClientToken)
		case emulator.TokenCreateNew:
			delete(f.tokens, key)
		default:
			return &lighthouse.CreateInstancesResponse{InstanceIdSet: slices.Clone(tk.ids), RequestId: "fake"}, nil
		}
	}
	quota := f.Quota
	if quota == 0 {
		quota = emulator.DefaultQuota
	}
	if quota > 0 {
		used := 0
		for _, in := range f.instances {
			if in.region == region && in.InstanceState != lighthouse.StateLaunchFailed {
				used++
			}
		}
		if used+int(count) > quota {
			return nil, apiError(a, region, "LimitExceeded.InstanceQuotaLimitExceeded", "%s: quota in %s is %d instances, %d in use; %d more requested", a, region, quota, used, count)
		}
	}
	if req.DryRun {
		return &lighthouse.CreateInstancesResponse{InstanceIdSet: []string{}, RequestId: "fake"}, nil
	}
	ids := make([]string, 0, count)
	requestID := f.requestID()
	for range count {
		f.seq++
		zone := region + "-1"
		if len(req.Zones) > 0 {
			zone = req.Zones[0]
		}
		renew := req.InstanceChargePrepaid.RenewFlag
		if renew == "" {
			renew = lighthouse.RenewNotifyManual
		}
		tags := slices.Clone(req.Tags)
		if tags == nil {
			tags = []lighthouse.Tag{}
		}
		keys := []string{}
		if lc := req.LoginConfiguration; lc != nil {
			keys = append(keys, lc.KeyIds...)
		}
		platform := ""
		if bp, ok := blueprintOf(req.BlueprintId); ok {
			platform = bp.PlatformType
		}
		in := &fakeInstance{
			Instance: lighthouse.Instance{
				InstanceId: fmt.Sprintf("lhins-%08x", f.seq), BundleId: req.BundleId, BlueprintId: req.BlueprintId,
				CPU: bundle.CPU, Memory: bundle.Memory, InstanceName: req.InstanceName, InstanceChargeType: "PREPAID",
				RenewFlag: renew, Zone: zone, Tags: tags, InstanceRestrictState: "NORMAL", PlatformType: platform,
				InstanceState: lighthouse.StatePending, LatestOperation: a, LatestOperationState: lighthouse.OperationOperating,
				LatestOperationRequestId: requestID, LatestOperationStartedTime: fmtTime(now),
				CreatedTime: fmtTime(now), ExpiredTime: fmtTime(now.AddDate(0, int(req.InstanceChargePrepaid.Period), 0)),
				PrivateAddresses: []string{"10.0.0.2"}, PublicAddresses: []string{}, LoginSettings: lighthouse.LoginSettings{KeyIds: keys},
			},
			region: region, created: now, launchEnd: now.Add(f.delay(f.LaunchDelay, emulator.DefaultLaunchDelay)),
			failed: f.LaunchFails != nil && f.LaunchFails(req.InstanceName),
		}
		f.instances = append(f.instances, in)
		if !in.launchEnd.After(now) {
			in.launch()
		}
		ids = append(ids, in.InstanceId)
	}
	if req.ClientToken != "" && window > 0 {
		f.tokens[key] = &fakeToken{fp: fp, ids: ids, created: now}
	}
	return &lighthouse.CreateInstancesResponse{InstanceIdSet: slices.Clone(ids), RequestId: requestID}, nil
}

func (f *Fake) allGone(ids []string) bool {
	for _, in := range f.instances {
		if slices.Contains(ids, in.InstanceId) {
			return false
		}
	}
	return true
}

// fingerprint hashes what a token stands for: everything but the token and
// DryRun, as the emulator does.
func fingerprint(req lighthouse.CreateInstancesRequest, count uint64) [32]byte {
	req.ClientToken, req.DryRun, req.InstanceCount = "", false, count
	b, _ := json.Marshal(req)
	return sha256.Sum256(b)
}

func fmtTime(t time.Time) *string {
	s := t.UTC().Format("2006-01-02T15:04:05Z")
	return &s
}

func bundleOf(id string) (emulator.CatalogBundle, bool) {
	for _, b := range catalog.Bundles {
		if b.BundleId == id && !b.Offline {
			return b, true
		}
	}
	return emulator.CatalogBundle{}, false
}

// InquirePriceCreateInstances prices a create from the emulator's default
// catalog.
func (f *Fake) InquirePriceCreateInstances(ctx context.Context, region string, req *lighthouse.InquirePriceCreateInstancesRequest) (*lighthouse.InquirePriceCreateInstancesResponse, error) {
	const a = lighthouse.ActionInquirePriceCreateInstances
	f.mu.Lock()
	kind := f.begin(a)
	f.mu.Unlock()
	if e := faultError(a, region, kind, false); e != nil {
		return nil, e
	}
	b, ok := bundleOf(req.BundleId)
	if !ok {
		return nil, apiError(a, region, "InvalidParameter.BundleIdNotFound", "%s: bundle %q does not exist", a, req.BundleId)
	}
	if req.InstanceChargePrepaid == nil || req.InstanceChargePrepaid.Period == 0 {
		return nil, apiError(a, region, "MissingParameter", "%s: InstanceChargePrepaid is required", a)
	}
	discount := b.Discount
	if discount == 0 {
		discount = 100
	}
	orig := math.Round(b.MonthlyPrice*float64(req.InstanceChargePrepaid.Period*max(req.InstanceCount, 1))*100) / 100
	disc := math.Round(orig*discount) / 100
	p := lighthouse.InstancePrice{OriginalBundlePrice: b.MonthlyPrice, OriginalPrice: orig, Discount: discount, DiscountPrice: disc, Currency: "CNY",
		DetailPrices: []lighthouse.DetailPrice{{PriceName: "Instance", OriginUnitPrice: b.MonthlyPrice, OriginalPrice: orig, Discount: discount, DiscountPrice: disc}}}
	return &lighthouse.InquirePriceCreateInstancesResponse{Price: lighthouse.Price{InstancePrice: p}, RequestId: "fake"}, nil
}

// IsolateInstances starts returning instances, all or none: each must exist
// in region, be RUNNING or STOPPED and have no operation in progress.
func (f *Fake) IsolateInstances(ctx context.Context, region string, req *lighthouse.IsolateInstancesRequest) (*lighthouse.IsolateInstancesResponse, error) {
	const a = lighthouse.ActionIsolateInstances
	rid, err := f.operate(ctx, a, region, req.InstanceIds, 20, "LimitExceeded.IsolateResourcesLimitExceeded", nil, func(in *fakeInstance, rid string, now time.Time) {
		f.startOp(in, a, rid, now, &fakeOp{result: lighthouse.StateShutdown})
	})
	if err != nil {
		return nil, err
	}
	return &lighthouse.IsolateInstancesResponse{RequestId: rid}, nil
}
