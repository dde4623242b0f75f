package emulator

import (
	"fmt"
	"math"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Bundle changes. The service sells upgrades only (the international
// billing page is "Configuration Adjustment (for Upgrade Only)"; the error
// OperationDenied.BundleNotSupportModify reads "该实例不支持升级套餐操作",
// this instance does not support the bundle upgrade). The emulator's rule
// for an upgrade, which the API does not spell out: a bundle of the same
// BundleType (a change of type is InvalidParameterValue.NotSupportModifyInstanceBundleType,
// "实例套餐的套餐类型不支持变更至新套餐"), supporting the instance's
// platform, with no less CPU, memory and system disk, and a higher monthly
// price.

// modifyState is what DescribeModifyInstanceBundles says of changing in to
// b: ModifyBundleAvailable, ModifyBundleSoldOut (an upgrade, sold out in
// the instance's zone) or ModifyBundleUnavailable, with the reason when
// not available.
func (s *Server) modifyState(in *instance, b *CatalogBundle) (state, reason string) {
	cur := s.catalog.bundles[in.BundleId]
	switch {
	case b.BundleId == in.BundleId:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("%s is the instance's current bundle", b.BundleId)
	case cur == nil:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("the instance's bundle %s is no longer sold, so it cannot be changed", in.BundleId)
	case b.Offline:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("bundle %s is offline", b.BundleId)
	case b.BundleType != cur.BundleType:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("a %s instance cannot change to a %s bundle", cur.BundleType, b.BundleType)
	case !b.supports(in.PlatformType):
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("bundle %s does not support the instance's %s platform", b.BundleId, in.PlatformType)
	case b.CPU < cur.CPU || b.Memory < cur.Memory || b.SystemDiskSize < cur.SystemDiskSize || b.MonthlyPrice <= cur.MonthlyPrice:
		return lighthouse.ModifyBundleUnavailable, fmt.Sprintf("only upgrades are sold: %s (%d CPU, %d GB, %d GB disk, %.2f a month) is not larger than %s (%d CPU, %d GB, %d GB disk, %.2f a month)",
			b.BundleId, b.CPU, b.Memory, b.SystemDiskSize, b.MonthlyPrice, cur.BundleId, cur.CPU, cur.Memory, cur.SystemDiskSize, cur.MonthlyPrice)
	case b.soldOutIn(in.Zone):
		return lighthouse.ModifyBundleSoldOut, fmt.Sprintf("bundle %s is sold out in zone %s", b.BundleId, in.Zone)
	}
	return lighthouse.ModifyBundleAvailable, ""
}

// modifyPrice is the price difference of changing in to b at now ("更改实例
// 套餐后需要补的差价", models.go ModifyBundle.ModifyPrice): the monthly
// difference for the time left until the ExpiredTime, by the day (whole
// days rounded up, 30 to a month), at b's discount; never negative. How the
// service prorates is not documented; this is the emulator's rule.
func (s *Server) modifyPrice(in *instance, b *CatalogBundle, now time.Time) lighthouse.InstancePrice {
	diff := 0.0
	if cur := s.catalog.bundles[in.BundleId]; cur != nil {
		diff = max(b.MonthlyPrice-cur.MonthlyPrice, 0)
	}
	days := 0.0
	if exp, ok := parseTime(in.ExpiredTime); ok && exp.After(now) {
		days = math.Ceil(exp.Sub(now).Hours() / 24)
	}
	discount := b.Discount
	if discount == 0 {
		discount = 100
	}
	orig := round2(diff * days / 30)
	return lighthouse.InstancePrice{
		OriginalBundlePrice: b.MonthlyPrice,
		OriginalPrice:       orig,
		Discount:            discount,
		DiscountPrice:       round2(orig * discount / 100),
		Currency:            "CNY",
	}
}

// canUpgrade reports whether some bundle is an AVAILABLE change for in.
func (s *Server) canUpgrade(in *instance) bool {
	for i := range s.catalog.Bundles {
		if st, _ := s.modifyState(in, &s.catalog.Bundles[i]); st == lighthouse.ModifyBundleAvailable {
			return true
		}
	}
	return false
}

// checkModifiable refuses DescribeModifyInstanceBundles for an instance
// that has no bundle to change from: expired (UnsupportedOperation.InstanceExpired,
// "实例已到期，不支持该操作") or in another state than RUNNING or STOPPED
// (UnsupportedOperation.InvalidInstanceState); both are in the action's
// error list (client.go).
func checkModifiable(c *call, in *instance) *apiError {
	if in.InstanceState == lighthouse.StateShutdown && in.ShutDownByExpiry() {
		return errf(codeInstanceExpired, "%s: instance %s expired at %s", c.action, in.InstanceId, deref(in.ExpiredTime))
	}
	return needState(c, in, "only RUNNING or STOPPED instances can change bundles", lighthouse.StateRunning, lighthouse.StateStopped)
}

func (s *Server) describeModifyBundles(c *call) (any, *apiError) {
	var req lighthouse.DescribeModifyInstanceBundlesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	items, total, aerr := optionsOf(s, c, req.InstanceId, req.Filters, bundleFilterNames, req.Offset, req.Limit, func(in *instance) ([]lighthouse.ModifyBundle, *apiError) {
		if aerr := checkModifiable(c, in); aerr != nil {
			return nil, aerr
		}
		var all []lighthouse.ModifyBundle
		for i := range s.catalog.Bundles {
			b := &s.catalog.Bundles[i]
			if b.BundleId == in.BundleId || !matchBundle(b, req.Filters) {
				continue
			}
			state, reason := s.modifyState(in, b)
			all = append(all, lighthouse.ModifyBundle{
				ModifyPrice:             lighthouse.Price{InstancePrice: s.modifyPrice(in, b, c.now)},
				ModifyBundleState:       state,
				Bundle:                  bundleView(b, []string{in.Zone}),
				NotSupportModifyMessage: reason,
			})
		}
		return all, nil
	})
	if aerr != nil {
		return nil, aerr
	}
	return &lighthouse.DescribeModifyInstanceBundlesResponse{TotalCount: total, ModifyBundleSet: items, RequestId: c.requestID}, nil
}

// optionsOf serves a Describe of what one instance may become
// (DescribeModifyInstanceBundles, DescribeResetInstanceBlueprints): it
// checks the Filters against names (at most 10, of at most 5 values each,
// as both document), Offset and Limit, looks the instance up, and returns
// the page of list(in) and its total.
func optionsOf[T any](s *Server, c *call, id string, filters []lighthouse.Filter, names []string, offset, limit int64, list func(*instance) ([]T, *apiError)) ([]T, int64, *apiError) {
	if aerr := checkFilters(c.action, filters, names, false, 5); aerr != nil {
		return nil, 0, aerr
	}
	limit, aerr := checkPage(c.action, offset, limit)
	if aerr != nil {
		return nil, 0, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	in, aerr := s.lookupInstance(c, "InstanceId", id)
	if aerr != nil {
		return nil, 0, aerr
	}
	all, aerr := list(in)
	if aerr != nil {
		return nil, 0, aerr
	}
	return page(all, offset, limit), int64(len(all)), nil
}

func (s *Server) modifyInstancesBundle(c *call) (any, *apiError) {
	var req lighthouse.ModifyInstancesBundleRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.BundleId == "" {
		return nil, errf(codeMissingParameter, "%s: BundleId is required", c.action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	// The batch limit: 15 in models.go, 30 in client.go's comment
	// (Config.ModifyBundleBatchLimit); over it InvalidParameterValue.LimitExceeded.
	ins, aerr := s.allowed(c, req.InstanceIds, s.cfg.ModifyBundleBatchLimit, codeValueLimitExceeded)
	if aerr != nil {
		return nil, aerr
	}
	b, ok := s.catalog.bundles[req.BundleId]
	if !ok {
		return nil, errf(codeBundleIDNotFound, "%s: bundle %q does not exist; see DescribeBundles", c.action, req.BundleId)
	}
	total := 0.0
	charges := make([]float64, len(ins))
	for i, in := range ins {
		switch state, reason := s.modifyState(in, b); state {
		case lighthouse.ModifyBundleSoldOut:
			return nil, errf(codeModifyBundleFailed, "%s: instance %s: %s", c.action, in.InstanceId, reason)
		case lighthouse.ModifyBundleUnavailable:
			return nil, errf(codeNotSupportModifyType, "%s: instance %s cannot change to %s: %s; see DescribeModifyInstanceBundles", c.action, in.InstanceId, b.BundleId, reason)
		}
		charges[i] = s.modifyPrice(in, b, c.now).DiscountPrice
		total += charges[i]
	}
	if !s.affordable(total) {
		return nil, s.insufficient(c.action, total)
	}
	for i, in := range ins {
		s.spent += charges[i]
		s.begin(in, c, in.InstanceState, in.InstanceState, &change{BundleId: b.BundleId, Charge: charges[i]})
	}
	return &lighthouse.ModifyInstancesBundleResponse{RequestId: c.requestID}, nil
}
