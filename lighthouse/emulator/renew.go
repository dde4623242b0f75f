package emulator

import (
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// validateRenewCharge checks the InstanceChargePrepaid of a renewal: it is
// required (RenewInstances: "若指定实例的付费模式为预付费则该参数必传", required
// for prepaid instances, which every Lighthouse instance is; both actions
// mark it required in tccli's api.json), its Period one of
// lighthouse.ValidRenewPeriod's, its RenewFlag empty or a valid flag.
func validateRenewCharge(a string, ch *lighthouse.InstanceChargePrepaid) *apiError {
	if ch == nil {
		return errf(codeMissingParameter, "%s: InstanceChargePrepaid is required (Period in months, optional RenewFlag)", a)
	}
	if ch.Period == 0 {
		return errf(codeMissingParameter, "%s: InstanceChargePrepaid.Period is required", a)
	}
	if !lighthouse.ValidRenewPeriod(ch.Period) {
		return errf(codeOutOfRange, "%s: InstanceChargePrepaid.Period %d is not a renewal period (1-12, 24 or 36 months)", a, ch.Period)
	}
	return validateCharge(a, &lighthouse.InstanceChargePrepaid{Period: 1, RenewFlag: ch.RenewFlag})
}

// renewPrice is what renewing in for months costs: the bundle's price for
// that long, as a create of the same bundle and period.
func (s *Server) renewPrice(in *instance, months int64) lighthouse.InstancePrice {
	if b, ok := s.catalog.bundles[in.BundleId]; ok {
		return priceOf(b, months, 1)
	}
	return lighthouse.InstancePrice{Discount: 100, Currency: "CNY"}
}

func (s *Server) renewInstances(c *call) (any, *apiError) {
	var req lighthouse.RenewInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := validateRenewCharge(c.action, req.InstanceChargePrepaid); aerr != nil {
		return nil, aerr
	}
	months := req.InstanceChargePrepaid.Period
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	// "每次请求批量实例的上限为100" (client.go), over it
	// InvalidParameterValue.LimitExceeded (in its error list).
	ins, aerr := s.allowed(c, req.InstanceIds, lighthouse.MaxRenewIDs, codeValueLimitExceeded)
	if aerr != nil {
		return nil, aerr
	}
	total := 0.0
	charges := make([]float64, len(ins))
	for i, in := range ins {
		charges[i] = s.renewPrice(in, months).DiscountPrice
		total += charges[i]
	}
	if !s.affordable(total) {
		return nil, s.insufficient(c.action, total)
	}
	for i, in := range ins {
		s.spent += charges[i]
		ch := &change{Months: months, RenewFlag: req.InstanceChargePrepaid.RenewFlag, Charge: charges[i]}
		result := in.InstanceState
		if in.InstanceState == lighthouse.StateShutdown {
			// An expired instance comes back: the renewal cancels its
			// removal (put back if the renewal fails).
			result = lighthouse.StateRunning
			ch.ReclaimAt, in.ReclaimAt = in.ReclaimAt, time.Time{}
		}
		s.begin(in, c, in.InstanceState, result, ch)
	}
	return &lighthouse.RenewInstancesResponse{RequestId: c.requestID}, nil
}

func (s *Server) inquirePriceRenew(c *call) (any, *apiError) {
	var req lighthouse.InquirePriceRenewInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := validateRenewCharge(c.action, req.InstanceChargePrepaid); aerr != nil {
		return nil, aerr
	}
	months := req.InstanceChargePrepaid.Period
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	// "每次请求批量实例的上限为50" (models.go).
	ins, aerr := s.lookupInstances(c, req.InstanceIds, lighthouse.MaxInquireRenewIDs, codeValueLimitExceeded)
	if aerr != nil {
		return nil, aerr
	}
	resp := &lighthouse.InquirePriceRenewInstancesResponse{DataDiskPriceSet: []lighthouse.DataDiskPrice{}, RequestId: c.requestID}
	for i, in := range ins {
		p := s.renewPrice(in, months)
		if i == 0 {
			resp.Price = lighthouse.Price{InstancePrice: p}
		}
		resp.TotalPrice.OriginalPrice = round2(resp.TotalPrice.OriginalPrice + p.OriginalPrice)
		resp.TotalPrice.DiscountPrice = round2(resp.TotalPrice.DiscountPrice + p.DiscountPrice)
		policy := lighthouse.PolicyDetail{UserDiscount: 100, CommonDiscount: p.Discount, FinalDiscount: p.Discount}
		if p.Discount < 100 {
			common := "common"
			policy.DiscountType = &common
		}
		resp.InstancePriceDetailSet = append(resp.InstancePriceDetailSet, lighthouse.InstancePriceDetail{
			InstanceId:    in.InstanceId,
			InstancePrice: p,
			DiscountDetail: []lighthouse.DiscountDetail{{
				TimeSpan: months, TimeUnit: "m", TotalCost: p.OriginalPrice, RealTotalCost: p.DiscountPrice,
				Discount: p.Discount, PolicyDetail: policy,
			}},
		})
	}
	return resp, nil
}

func (s *Server) modifyRenewFlag(c *call) (any, *apiError) {
	var req lighthouse.ModifyInstancesRenewFlagRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.RenewFlag == "" {
		return nil, errf(codeMissingParameter, "%s: RenewFlag is required (%s, %s or %s)", c.action, lighthouse.RenewNotifyAuto, lighthouse.RenewNotifyManual, lighthouse.RenewDisableNotifyManual)
	}
	if aerr := validateCharge(c.action, &lighthouse.InstanceChargePrepaid{Period: 1, RenewFlag: req.RenewFlag}); aerr != nil {
		return nil, aerr
	}
	// Setting a value takes effect at once: the action is not documented
	// as asynchronous (unlike the operations), so it leaves LatestOperation
	// alone. At most 100 instances (client.go).
	err := s.operate(c, req.InstanceIds, lighthouse.MaxRenewFlagIDs, codeValueLimitExceeded,
		func(in *instance) { in.RenewFlag = req.RenewFlag })
	if err != nil {
		return nil, err
	}
	return &lighthouse.ModifyInstancesRenewFlagResponse{RequestId: c.requestID}, nil
}

// Renewal is one RenewInstances operation that succeeded on one instance:
// its ExpiredTime moved From To, for Charge (CNY). Started is when the
// call was accepted; no expiry moves while an operation runs, so From is
// also the ExpiredTime the instance showed then.
type Renewal struct {
	InstanceId string    `json:"instanceId"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	RequestId  string    `json:"requestId"`
	Started    time.Time `json:"started"`
	Charge     float64   `json:"charge"`
}

// RenewalLog returns every RenewInstances operation that succeeded so far,
// in the order they ended (automatic renewals are not in it; Account counts
// them). A test holds a client to "never renewed twice for one expiry"
// with it: no two entries with one InstanceId and From.
func (s *Server) RenewalLog() []Renewal {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	return slices.Clone(s.renewed)
}
