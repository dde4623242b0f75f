package emulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func renewParams(months int, ids ...string) map[string]any {
	return map[string]any{"InstanceIds": ids, "InstanceChargePrepaid": map[string]any{"Period": months}}
}

// RenewInstances charges the period's price at once and moves the
// ExpiredTime by the period when its operation succeeds; a RenewFlag in
// InstanceChargePrepaid is set too.
func TestRenewRunning(t *testing.T) {
	e := dayTwoEnv(t, nil)
	id := e.create(basicCreate(nil))[0] // bundle_gen_03, 150 a month
	exp := expiredAt(t, e.get(id))
	spent := e.srv.Spent()
	var resp lighthouse.RenewInstancesResponse
	e.mustCall("RenewInstances", map[string]any{"InstanceIds": []string{id}, "InstanceChargePrepaid": map[string]any{"Period": 3, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}}, &resp)
	if got := e.srv.Spent() - spent; got != 450 {
		t.Errorf("charged %.2f, want 450", got)
	}
	in := e.get(id)
	if in.LatestOperation != "RenewInstances" || in.LatestOperationState != "OPERATING" || in.LatestOperationRequestId != resp.RequestId || !expiredAt(t, in).Equal(exp) {
		t.Fatalf("during the renewal: %s %s until %s", in.LatestOperation, in.LatestOperationState, *in.ExpiredTime)
	}
	e.wantCode("RenewInstances", renewParams(1, id), "UnsupportedOperation.LatestOperationUnfinished")
	e.clock.Advance(5 * time.Second)
	in = e.get(id)
	if in.LatestOperationState != "SUCCESS" || !expiredAt(t, in).Equal(exp.AddDate(0, 3, 0)) || in.RenewFlag != "NOTIFY_AND_AUTO_RENEW" || in.InstanceState != "RUNNING" {
		t.Fatalf("after the renewal: %s until %s, %s, %s", in.LatestOperationState, *in.ExpiredTime, in.RenewFlag, in.InstanceState)
	}
	// The old expiry passes uneventfully.
	e.clock.Set(exp.Add(time.Hour))
	if in := e.get(id); in.InstanceState != "RUNNING" {
		t.Fatalf("after the old expiry: %s", in.InstanceState)
	}
}

// An instance SHUTDOWN by expiry is renewed back to RUNNING, keeping its
// ID and addresses, its expiry moved on from the old one, and its removal
// cancelled; one isolated before its expiry is not renewed (unless
// Config.RenewIsolated).
func TestRenewExpired(t *testing.T) {
	for _, renewIsolated := range []bool{false, true} {
		t.Run(fmt.Sprint("RenewIsolated=", renewIsolated), func(t *testing.T) {
			e := dayTwoEnv(t, func(c *emulator.Config) {
				c.ExpiredRetention = 48 * time.Hour
				c.RenewIsolated = renewIsolated
				c.OperationDelay = -1
			})
			ids := e.create(basicCreate(map[string]any{"InstanceCount": 2}))
			e.mustCall("IsolateInstances", map[string]any{"InstanceIds": ids[1:]}, nil)
			exp := expiredAt(t, e.get(ids[0]))
			e.clock.Set(exp.Add(24 * time.Hour))
			before := e.get(ids[0])
			if before.InstanceState != "SHUTDOWN" || !before.ShutDownByExpiry() {
				t.Fatalf("a day after expiry: %s, by expiry %v", before.InstanceState, before.ShutDownByExpiry())
			}
			if isolated := e.get(ids[1]); isolated.ShutDownByExpiry() {
				t.Fatal("an isolated instance reads as shut down by expiry")
			}
			e.mustCall("RenewInstances", renewParams(1, ids[0]), nil)
			in := e.get(ids[0])
			if in.InstanceState != "RUNNING" || in.LatestOperationState != "SUCCESS" || in.IsolatedTime != nil || !expiredAt(t, in).Equal(exp.AddDate(0, 1, 0)) ||
				in.PublicAddresses[0] != before.PublicAddresses[0] {
				t.Fatalf("renewed: %s %s isolated %v until %s", in.InstanceState, in.LatestOperationState, in.IsolatedTime, *in.ExpiredTime)
			}
			e.clock.Advance(48 * time.Hour) // past the cancelled removal
			if got := e.describe(map[string]any{"InstanceIds": ids[:1]}); got.TotalCount != 1 {
				t.Fatal("the renewed instance was removed at its old reclaim time")
			}
			want := "FailedOperation.RenewResourcesFailed"
			if renewIsolated {
				want = ""
			}
			e.wantCode("RenewInstances", renewParams(1, ids[1]), want)
		})
	}
}

// A renewal the balance does not cover is refused, all or none, and
// charges nothing; the batch and period limits are the documented ones.
func TestRenewRefusals(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) { c.Balance = 2*150 + 2*150 + 100 })
	ids := e.create(basicCreate(map[string]any{"InstanceCount": 2}))
	e.wantCode("RenewInstances", renewParams(1, ids...), "")
	e.clock.Advance(5 * time.Second)
	e.wantCode("RenewInstances", renewParams(1, ids...), "FailedOperation.InsufficientBalance")
	if e.srv.Spent() != 600 {
		t.Fatalf("spent %.2f, want 600", e.srv.Spent())
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("lhins-zz%06d", i)
	}
	e.wantCode("RenewInstances", renewParams(1, many...), "InvalidParameterValue.LimitExceeded")
	e.wantCode("InquirePriceRenewInstances", renewParams(1, many[:51]...), "InvalidParameterValue.LimitExceeded")
	e.wantCode("InquirePriceRenewInstances", renewParams(1, many[:50]...), "ResourceNotFound.InstanceIdNotFound")
	for _, p := range []int{0, 13, 48, 60} {
		code := "InvalidParameterValue.OutOfRange"
		if p == 0 {
			code = "MissingParameter"
		}
		e.wantCode("RenewInstances", renewParams(p, ids[0]), code)
		e.wantCode("InquirePriceRenewInstances", renewParams(p, ids[0]), code)
	}
	e.wantCode("RenewInstances", map[string]any{"InstanceIds": ids}, "MissingParameter")
	e.wantCode("RenewInstances", map[string]any{"InstanceIds": ids, "InstanceChargePrepaid": map[string]any{"Period": 1, "RenewFlag": "SOMETIMES"}}, "InvalidParameterValue")
	e.wantCode("RenewInstances", renewParams(1, ids[0], ids[0]), "InvalidParameterValue.Duplicated")
	e.wantCode("RenewInstances", renewParams(1), "MissingParameter")
	// PENDING: still being created.
	p := newEnv(t, nil)
	pid := p.create(basicCreate(nil))[0]
	p.wantCode("RenewInstances", renewParams(1, pid), "OperationDenied.InstanceCreating")
}

// InquirePriceRenewInstances prices each instance for the period: Price
// is the first instance's, TotalPrice the sum.
func TestInquirePriceRenew(t *testing.T) {
	cat := emulator.DefaultCatalog()
	cat.Bundles[0].Discount = 80 // bundle_gen_01: 60 a month, 20 % off
	e := dayTwoEnv(t, func(c *emulator.Config) { c.Catalog = cat })
	a := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01"}))[0]
	b := e.create(basicCreate(nil))[0]
	var out lighthouse.InquirePriceRenewInstancesResponse
	e.mustCall("InquirePriceRenewInstances", renewParams(12, a, b), &out)
	if p := out.Price.InstancePrice; p.OriginalPrice != 720 || p.DiscountPrice != 576 || p.Discount != 80 || p.OriginalBundlePrice != 60 {
		t.Errorf("Price = %+v; want the first instance's 12 months: 720, 576 after 20 %%", p)
	}
	if out.TotalPrice.OriginalPrice != 720+1800 || out.TotalPrice.DiscountPrice != 576+1800 {
		t.Errorf("TotalPrice = %+v", out.TotalPrice)
	}
	if len(out.InstancePriceDetailSet) != 2 || out.InstancePriceDetailSet[1].InstanceId != b || out.InstancePriceDetailSet[1].InstancePrice.DiscountPrice != 1800 {
		t.Fatalf("InstancePriceDetailSet = %+v", out.InstancePriceDetailSet)
	}
	d := out.InstancePriceDetailSet[0].DiscountDetail
	if len(d) != 1 || d[0].TimeSpan != 12 || d[0].TimeUnit != "m" || d[0].RealTotalCost != 576 || d[0].PolicyDetail.FinalDiscount != 80 {
		t.Errorf("DiscountDetail = %+v", d)
	}
	if out.DataDiskPriceSet == nil {
		t.Error("DataDiskPriceSet is null; the emulator has no data disks and answers []")
	}
	// Pricing charges nothing and starts nothing.
	if e.get(a).LatestOperation != "CreateInstances" || e.srv.Spent() != 48+150 {
		t.Errorf("an inquiry acted: %s, spent %.2f", e.get(a).LatestOperation, e.srv.Spent())
	}
}

// A failed renewal (operation-failure fault) leaves the ExpiredTime, refunds
// the charge, and puts back the removal of an expired instance.
func TestRenewOperationFailure(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) { c.ExpiredRetention = 48 * time.Hour })
	id := e.create(basicCreate(nil))[0]
	exp := expiredAt(t, e.get(id))
	e.clock.Set(exp)
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultOperationFailure, Action: "RenewInstances", Count: 1})
	spent := e.srv.Spent()
	e.mustCall("RenewInstances", renewParams(1, id), nil)
	e.clock.Advance(5 * time.Second)
	in := e.get(id)
	if in.LatestOperationState != "FAILED" || in.InstanceState != "SHUTDOWN" || !expiredAt(t, in).Equal(exp) || e.srv.Spent() != spent {
		t.Fatalf("failed renewal: %s %s until %s, spent %+.2f", in.LatestOperationState, in.InstanceState, *in.ExpiredTime, e.srv.Spent()-spent)
	}
	e.clock.Set(exp.Add(48 * time.Hour))
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 0 {
		t.Fatal("an expired instance whose renewal failed was not removed at its reclaim time")
	}
}

// An expiry that comes while an operation runs takes effect when it ends:
// a renewal crossing the expiry renews once (no automatic renewal on top),
// a reset crossing it shuts the instance down after the reset.
func TestExpiryDuringOperation(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) { c.OperationDelay = time.Minute })
	auto := e.create(renewing(lighthouse.RenewNotifyAuto))[0]
	manual := e.create(renewing(lighthouse.RenewNotifyManual))[0]
	exp := expiredAt(t, e.get(auto))
	e.clock.Set(exp.Add(-30 * time.Second))
	spent := e.srv.Spent()
	e.mustCall("RenewInstances", renewParams(1, auto), nil)
	e.mustCall("ResetInstance", map[string]any{"InstanceId": manual}, nil)
	e.clock.Set(exp.Add(time.Second))
	if in := e.get(manual); in.InstanceState != "RUNNING" || in.LatestOperationState != "OPERATING" {
		t.Fatalf("in its reset at expiry: %s %s", in.InstanceState, in.LatestOperationState)
	}
	e.clock.Set(exp.Add(30 * time.Second))
	in := e.get(auto)
	if in.InstanceState != "RUNNING" || !expiredAt(t, in).Equal(exp.AddDate(0, 1, 0)) || e.srv.Spent()-spent != 150 {
		t.Errorf("renewed across its expiry: %s until %s, charged %.2f; want RUNNING a month on, 150 once", in.InstanceState, *in.ExpiredTime, e.srv.Spent()-spent)
	}
	if in := e.get(manual); in.InstanceState != "SHUTDOWN" || in.LatestOperationState != "SUCCESS" || !in.ShutDownByExpiry() {
		t.Errorf("reset across its expiry: %s %s", in.InstanceState, in.LatestOperationState)
	}
}

// An automatic renewal the balance cannot pay shuts the instance down at
// its expiry; that is counted, and the instance reads as AutoRenewFailed.
func TestAutoRenewFailureSignal(t *testing.T) {
	e := dayTwoEnv(t, func(c *emulator.Config) { c.Balance = 150 + 100 })
	id := e.create(renewing(lighthouse.RenewNotifyAuto))[0]
	other := e.create(basicCreate(map[string]any{"BundleId": "bundle_gen_01", "InstanceChargePrepaid": map[string]any{"Period": 1}}))[0]
	exp := expiredAt(t, e.get(id))
	e.clock.Set(exp)
	in := e.get(id)
	if in.InstanceState != "SHUTDOWN" || !in.AutoRenewFailed() {
		t.Fatalf("auto-renewing instance past an unpaid expiry: %s, AutoRenewFailed %v", in.InstanceState, in.AutoRenewFailed())
	}
	if o := e.get(other); o.AutoRenewFailed() || !o.ShutDownByExpiry() {
		t.Errorf("a manually renewed instance at expiry: AutoRenewFailed %v, ShutDownByExpiry %v", o.AutoRenewFailed(), o.ShutDownByExpiry())
	}
	if a := e.srv.Account(); a.AutoRenewFailures != 1 || a.Expirations != 2 || a.Renewals != 0 || a.Available != 40 {
		t.Errorf("account = %+v; want 1 auto-renewal failure, 2 expirations, 40 left", a)
	}
	// Topped up, the instance is renewed by hand and runs again.
	if err := e.srv.SetAvailable(150); err != nil {
		t.Fatal(err)
	}
	e.mustCall("RenewInstances", renewParams(1, id), nil)
	e.clock.Advance(5 * time.Second)
	if in := e.get(id); in.InstanceState != "RUNNING" || in.AutoRenewFailed() {
		t.Errorf("renewed by hand: %s", in.InstanceState)
	}
}

// ModifyInstancesRenewFlag sets the flag at once, for up to 100
// instances, refusing invalid flags and instances in an operation.
func TestModifyRenewFlag(t *testing.T) {
	e := dayTwoEnv(t, nil)
	ids := e.create(basicCreate(map[string]any{"InstanceCount": 2}))
	e.mustCall("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": ids, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}, nil)
	for _, id := range ids {
		if in := e.get(id); in.RenewFlag != "NOTIFY_AND_AUTO_RENEW" || in.LatestOperation != "CreateInstances" {
			t.Errorf("%s: %s, latest operation %s", id, in.RenewFlag, in.LatestOperation)
		}
	}
	e.wantCode("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": ids, "RenewFlag": "ALWAYS"}, "InvalidParameterValue")
	e.wantCode("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": ids}, "MissingParameter")
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("lhins-zz%06d", i)
	}
	e.wantCode("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": many, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}, "InvalidParameterValue.LimitExceeded")
	pending := newEnv(t, nil)
	pid := pending.create(basicCreate(nil))[0]
	pending.wantCode("ModifyInstancesRenewFlag", map[string]any{"InstanceIds": []string{pid}, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}, "UnsupportedOperation.LatestOperationUnfinished")
}
