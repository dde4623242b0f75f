package emulator_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

func renewing(flag string) map[string]any {
	return basicCreate(map[string]any{"InstanceChargePrepaid": map[string]any{"Period": 1, "RenewFlag": flag}})
}

// expiredAt returns the parsed ExpiredTime of an instance.
func expiredAt(t *testing.T, in lighthouse.Instance) time.Time {
	t.Helper()
	if in.ExpiredTime == nil {
		t.Fatalf("%s has no ExpiredTime", in.InstanceId)
	}
	at, err := time.Parse("2006-01-02T15:04:05Z", *in.ExpiredTime)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// At its ExpiredTime a manually renewed instance shuts down, and is removed
// after the retention; its quota is freed then.
func TestExpiryShutsDownAndRemoves(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1; c.ExpiredRetention = 48 * time.Hour; c.MaxClockSkew = -1 })
	id := e.create(renewing(lighthouse.RenewNotifyManual))[0]
	exp := expiredAt(t, e.get(id))
	e.clock.Set(exp.Add(-time.Second))
	if s := e.get(id).InstanceState; s != lighthouse.StateRunning {
		t.Fatalf("a second before expiry: %s", s)
	}
	e.clock.Set(exp)
	in := e.get(id)
	if in.InstanceState != lighthouse.StateShutdown || in.IsolatedTime == nil || *in.IsolatedTime != *in.ExpiredTime {
		t.Fatalf("at expiry: state %s, IsolatedTime %v; want SHUTDOWN at %s", in.InstanceState, in.IsolatedTime, *in.ExpiredTime)
	}
	// SHUTDOWN instances are listed first.
	other := e.create(basicCreate(nil))[0]
	if got := e.describe(map[string]any{}); got.InstanceSet[0].InstanceId != id || got.InstanceSet[1].InstanceId != other {
		t.Errorf("expired instance not listed first: %v", got.InstanceSet)
	}
	// An expired instance cannot be returned.
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{id}}, "UnsupportedOperation.ResourceNotReturnable")
	e.clock.Advance(48*time.Hour - time.Second)
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 1 {
		t.Fatal("removed before the retention passed")
	}
	e.clock.Advance(time.Second)
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 0 {
		t.Fatal("still listed after the retention")
	}
	if _, exp := e.srv.Renewals(); exp != 1 {
		t.Errorf("Expirations = %d, want 1", exp)
	}
}

// NOTIFY_AND_AUTO_RENEW renews a month at a time, charging the bundle's
// price, while the balance allows; then the instance shuts down.
func TestExpiryAutoRenewWhileBalanceAllows(t *testing.T) {
	// bundle_gen_03 costs 150 a month: the create and two renewals fit in
	// 450, a third renewal does not.
	e := newEnv(t, func(c *emulator.Config) {
		c.LaunchDelay = -1
		c.Balance = 500
		c.ExpiredRetention = -1
		c.MaxClockSkew = -1
	})
	id := e.create(renewing(lighthouse.RenewNotifyAuto))[0]
	first := expiredAt(t, e.get(id))
	e.clock.Set(first)
	in := e.get(id)
	if in.InstanceState != lighthouse.StateRunning || !expiredAt(t, in).Equal(first.AddDate(0, 1, 0)) {
		t.Fatalf("after the first expiry: %s until %s, want RUNNING until %s", in.InstanceState, *in.ExpiredTime, first.AddDate(0, 1, 0))
	}
	if got := e.srv.Spent(); got != 300 {
		t.Fatalf("spent %v after one renewal, want 300", got)
	}
	e.clock.Set(first.AddDate(0, 1, 0))
	if in := e.get(id); in.InstanceState != lighthouse.StateRunning {
		t.Fatalf("second renewal: %s", in.InstanceState)
	}
	e.clock.Set(first.AddDate(0, 2, 0))
	in = e.get(id)
	if in.InstanceState != lighthouse.StateShutdown {
		t.Fatalf("balance exhausted: %s, want SHUTDOWN", in.InstanceState)
	}
	if r, x := e.srv.Renewals(); r != 2 || x != 1 || e.srv.Spent() != 450 {
		t.Fatalf("renewals %d, expirations %d, spent %v; want 2, 1, 450", r, x, e.srv.Spent())
	}
	// ExpiredRetention < 0: never removed.
	e.clock.Advance(365 * 24 * time.Hour)
	if got := e.describe(map[string]any{"InstanceIds": []string{id}}); got.TotalCount != 1 {
		t.Fatal("removed although ExpiredRetention is negative")
	}
}

// With an unlimited balance (0) auto-renewal goes on forever.
func TestExpiryAutoRenewUnlimited(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1; c.MaxClockSkew = -1 })
	id := e.create(renewing(lighthouse.RenewNotifyAuto))[0]
	e.clock.Advance(400 * 24 * time.Hour)
	in := e.get(id)
	if in.InstanceState != lighthouse.StateRunning || !expiredAt(t, in).After(e.clock.Now()) {
		t.Fatalf("after 400 days: %s until %s", in.InstanceState, *in.ExpiredTime)
	}
	if r, _ := e.srv.Renewals(); r < 13 {
		t.Fatalf("%d renewals in 400 days", r)
	}
}

// Expiry survives a save and load: an instance loaded with its ExpiredTime
// ahead still expires.
func TestExpiryAfterLoadState(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1; c.MaxClockSkew = -1 })
	id := e.create(renewing(lighthouse.RenewNotifyManual))[0]
	exp := expiredAt(t, e.get(id))
	var buf bytes.Buffer
	if err := e.srv.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	f := newEnv(t, func(c *emulator.Config) { c.Clock = e.clock; c.MaxClockSkew = -1 })
	if err := f.srv.LoadState(&buf); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(exp)
	if s := f.get(id).InstanceState; s != lighthouse.StateShutdown {
		t.Fatalf("loaded instance at expiry: %s", s)
	}
}

// IsolateInstances refuses instances that may not be returned.
func TestIsolateNotReturnable(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) {
		c.LaunchDelay, c.OperationDelay, c.MaxClockSkew = -1, -1, -1
		c.ReturnWindow = 5 * 24 * time.Hour
		c.ReturnQuota = 2
		c.IsolateBatchLimit = 3
	})
	old := e.create(basicCreate(nil))[0]
	e.clock.Advance(5*24*time.Hour + time.Second)
	ids := e.create(basicCreate(map[string]any{"InstanceCount": 4}))
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": []string{old}}, "UnsupportedOperation.ResourceNotReturnable")
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": ids}, "LimitExceeded.IsolateResourcesLimitExceeded")
	// The quota of 2: three in one call are refused all or none.
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": ids[:3]}, "UnsupportedOperation.ResourceNotReturnable")
	e.mustCall("IsolateInstances", map[string]any{"InstanceIds": ids[:2]}, nil)
	e.wantCode("IsolateInstances", map[string]any{"InstanceIds": ids[2:3]}, "UnsupportedOperation.ResourceNotReturnable")
	if s := e.get(ids[2]).InstanceState; s != lighthouse.StateRunning {
		t.Fatalf("refused isolate changed the instance: %s", s)
	}
	// Default: any age, no quota.
	d := newEnv(t, func(c *emulator.Config) { c.LaunchDelay, c.OperationDelay, c.MaxClockSkew = -1, -1, -1 })
	id := d.create(basicCreate(nil))[0]
	d.clock.Advance(20 * 24 * time.Hour)
	d.mustCall("IsolateInstances", map[string]any{"InstanceIds": []string{id}}, nil)
}

// RenewPeriod sets how far an automatic renewal moves ExpiredTime and what
// it charges; a period the API does not sell is a Config error.
func TestExpiryRenewPeriod(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.LaunchDelay = -1; c.MaxClockSkew = -1; c.RenewPeriod = 3 })
	id := e.create(renewing(lighthouse.RenewNotifyAuto))[0]
	first := expiredAt(t, e.get(id))
	e.clock.Set(first)
	if got := expiredAt(t, e.get(id)); !got.Equal(first.AddDate(0, 3, 0)) {
		t.Fatalf("renewed until %v, want %v", got, first.AddDate(0, 3, 0))
	}
	if got := e.srv.Spent(); got != 150+3*150 {
		t.Fatalf("spent %v, want 600 (a month bought, three renewed)", got)
	}
	if _, err := emulator.New(emulator.Config{Credentials: map[string]string{testID: testKey}, RenewPeriod: 13}); err == nil {
		t.Fatal("RenewPeriod 13 accepted")
	}
}
