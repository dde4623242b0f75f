package reconciletest

import (
	"context"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// This file holds the Fake's renewals, with the emulator's rules
// (lighthouse/emulator/renew.go): the renew flag, a renewal that moves
// ExpiredTime, and its price.

// ModifyInstancesRenewFlag sets the renew flag at once; it leaves
// LatestOperation alone, as the emulator does.
func (f *Fake) ModifyInstancesRenewFlag(ctx context.Context, region string, req *lighthouse.ModifyInstancesRenewFlagRequest) (*lighthouse.ModifyInstancesRenewFlagResponse, error) {
	const a = lighthouse.ActionModifyInstancesRenewFlag
	switch req.RenewFlag {
	case lighthouse.RenewNotifyAuto, lighthouse.RenewNotifyManual, lighthouse.RenewDisableNotifyManual:
	case "":
		return nil, apiError(a, region, "MissingParameter", "%s: RenewFlag is required", a)
	default:
		return nil, apiError(a, region, "InvalidParameterValue", "%s: RenewFlag %q is not a renew flag", a, req.RenewFlag)
	}
	rid, err := f.operate(ctx, a, region, req.InstanceIds, lighthouse.MaxRenewFlagIDs, "InvalidParameterValue.LimitExceeded", nil, func(in *fakeInstance, _ string, _ time.Time) {
		in.RenewFlag = req.RenewFlag
	})
	if err != nil {
		return nil, err
	}
	return &lighthouse.ModifyInstancesRenewFlagResponse{RequestId: rid}, nil
}

// RenewInstances renews RUNNING, STOPPED and expired SHUTDOWN instances:
// the ExpiredTime moves on by the period when the operation succeeds.
func (f *Fake) RenewInstances(ctx context.Context, region string, req *lighthouse.RenewInstancesRequest) (*lighthouse.RenewInstancesResponse, error) {
	const a = lighthouse.ActionRenewInstances
	ch := req.InstanceChargePrepaid
	if ch == nil || ch.Period == 0 {
		return nil, apiError(a, region, "MissingParameter", "%s: InstanceChargePrepaid.Period is required", a)
	}
	if !lighthouse.ValidRenewPeriod(ch.Period) {
		return nil, apiError(a, region, "InvalidParameterValue.OutOfRange", "%s: InstanceChargePrepaid.Period %d is not a renewal period", a, ch.Period)
	}
	rid, err := f.operate(ctx, a, region, req.InstanceIds, lighthouse.MaxRenewIDs, "InvalidParameterValue.LimitExceeded", nil, func(in *fakeInstance, rid string, now time.Time) {
		op := &fakeOp{months: ch.Period, renewFlag: ch.RenewFlag}
		if in.InstanceState == lighthouse.StateShutdown {
			op.result = lighthouse.StateRunning
		}
		f.startOp(in, a, rid, now, op)
	})
	if err != nil {
		return nil, err
	}
	return &lighthouse.RenewInstancesResponse{RequestId: rid}, nil
}

// InquirePriceRenewInstances prices a renewal as a create of the same
// bundle and period.
func (f *Fake) InquirePriceRenewInstances(ctx context.Context, region string, req *lighthouse.InquirePriceRenewInstancesRequest) (*lighthouse.InquirePriceRenewInstancesResponse, error) {
	const a = lighthouse.ActionInquirePriceRenewInstances
	ch := req.InstanceChargePrepaid
	if ch == nil || ch.Period == 0 {
		return nil, apiError(a, region, "MissingParameter", "%s: InstanceChargePrepaid.Period is required", a)
	}
	if !lighthouse.ValidRenewPeriod(ch.Period) {
		return nil, apiError(a, region, "InvalidParameterValue.OutOfRange", "%s: InstanceChargePrepaid.Period %d is not a renewal period", a, ch.Period)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := faultError(a, region, f.begin(a), false); e != nil {
		return nil, e
	}
	f.settle(f.Clock.Now())
	ins, err := f.lookup(a, region, req.InstanceIds, lighthouse.MaxInquireRenewIDs, "InvalidParameterValue.LimitExceeded")
	if err != nil {
		return nil, err
	}
	resp := &lighthouse.InquirePriceRenewInstancesResponse{DataDiskPriceSet: []lighthouse.DataDiskPrice{}, RequestId: "fake"}
	for i, in := range ins {
		b, _ := bundleOf(in.BundleId)
		p := price(b, ch.Period)
		if i == 0 {
			resp.Price = lighthouse.Price{InstancePrice: p}
		}
		resp.TotalPrice.OriginalPrice = round2(resp.TotalPrice.OriginalPrice + p.OriginalPrice)
		resp.TotalPrice.DiscountPrice = round2(resp.TotalPrice.DiscountPrice + p.DiscountPrice)
		resp.InstancePriceDetailSet = append(resp.InstancePriceDetailSet, lighthouse.InstancePriceDetail{InstanceId: in.InstanceId, InstancePrice: p})
	}
	return resp, nil
}

// price is b's price for months, as the emulator prices a create.
func price(b emulator.CatalogBundle, months int64) lighthouse.InstancePrice {
	discount := b.Discount
	if discount == 0 {
		discount = 100
	}
	orig := round2(b.MonthlyPrice * float64(months))
	disc := round2(orig * discount / 100)
	return lighthouse.InstancePrice{OriginalBundlePrice: b.MonthlyPrice, OriginalPrice: orig, Discount: discount, DiscountPrice: disc, Currency: "CNY",
		DetailPrices: []lighthouse.DetailPrice{{PriceName: "Instance", OriginUnitPrice: b.MonthlyPrice, OriginalPrice: orig, Discount: discount, DiscountPrice: disc}}}
}
