package emulator

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// DefaultExpiredRetention is how long an instance shut down at its
// ExpiredTime is kept before it is removed, when Config.ExpiredRetention is
// 0. The API documents no such period (lighthouse-api.md section 8: how long
// SHUTDOWN instances linger is UNCONFIRMED); 7 days is the emulator's
// choice.
const DefaultExpiredRetention = 7 * 24 * time.Hour

// DefaultRenewPeriod is how many months an automatic renewal adds when
// Config.RenewPeriod is 0. The API documents the flag NOTIFY_AND_AUTO_RENEW
// (renew automatically on expiry; models.go InstanceChargePrepaid) but not
// the length of the automatic renewal; one month is the emulator's choice.
const DefaultRenewPeriod = 1

// scheduleExpiry queues the instance's next ExpiredTime. s.mu held.
func (s *Server) scheduleExpiry(in *instance) {
	if t, ok := parseTime(in.ExpiredTime); ok {
		heap.Push(&s.ops, opEntry{end: t, in: in, kind: eventExpire})
	}
}

// scheduleReclaim queues the removal of an expired instance. s.mu held.
func (s *Server) scheduleReclaim(in *instance) {
	if !in.ReclaimAt.IsZero() {
		heap.Push(&s.ops, opEntry{end: in.ReclaimAt, in: in, kind: eventReclaim})
	}
}

// expire handles the instance reaching its ExpiredTime t: with
// NOTIFY_AND_AUTO_RENEW it is renewed for Config.RenewPeriod months at the
// bundle's price while the balance allows (Config.Balance, 0 unlimited);
// otherwise it shuts down (SHUTDOWN, IsolatedTime t: the state the API
// names "awaiting destruction", models.go Instance.InstanceState) and is
// removed after Config.ExpiredRetention. An auto-renewing instance that
// shuts down counts as an automatic renewal failed for lack of balance
// (Account.AutoRenewFailures); the API shows it only as what it is, an
// instance SHUTDOWN at its ExpiredTime with NOTIFY_AND_AUTO_RENEW
// (lighthouse.Instance.AutoRenewFailed). An instance already SHUTDOWN,
// TERMINATING or LAUNCH_FAILED is left alone; so is a stale event (the
// instance is gone or its ExpiredTime moved). An instance in an operation
// expires when the operation ends (finish). s.mu held.
func (s *Server) expire(in *instance, t time.Time) {
	if s.instances[in.InstanceId] != in {
		return
	}
	if exp, ok := parseTime(in.ExpiredTime); !ok || !exp.Equal(t) {
		return
	}
	switch in.InstanceState {
	case lighthouse.StateShutdown, lighthouse.StateTerminating, lighthouse.StateLaunchFailed:
		return
	}
	if !in.OpEnd.IsZero() {
		return
	}
	if in.RenewFlag == lighthouse.RenewNotifyAuto {
		price := 0.0
		if b, ok := s.catalog.bundles[in.BundleId]; ok {
			price = priceOf(b, s.cfg.RenewPeriod, 1).DiscountPrice
		}
		if s.affordable(price) {
			s.spent += price
			in.ExpiredTime = fmtTime(addMonths(t, s.cfg.RenewPeriod))
			s.renewals++
			s.scheduleExpiry(in)
			return
		}
		s.autoRenewFailures++
	}
	in.InstanceState = lighthouse.StateShutdown
	in.IsolatedTime = fmtTime(t)
	s.expirations++
	if r := s.cfg.ExpiredRetention; r >= 0 {
		in.ReclaimAt = t.Add(r)
		s.scheduleReclaim(in)
	}
}

// Renewals returns how many automatic renewals the emulator charged and how
// many instances it shut down at their ExpiredTime, at its current time.
func (s *Server) Renewals() (renewals, expirations int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	return s.renewals, s.expirations
}

// Spent returns the money charged so far (creates and renewals), in CNY.
func (s *Server) Spent() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	return s.spent
}

// SetExpiredTime moves the ExpiredTime of instance id to t (to the second),
// as if it had been bought or renewed until then, so that a test brings an
// expiry near without a month of clock. A time not after the emulator's
// current time makes it expire at once (renewed automatically if its flag
// and the balance say so). An instance already SHUTDOWN by expiry stays
// SHUTDOWN; RenewInstances brings it back.
func (s *Server) SetExpiredTime(id string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advance(now)
	in, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: set the expiry of %q: no such instance", id)
	}
	in.ExpiredTime = fmtTime(t.UTC().Truncate(time.Second))
	s.scheduleExpiry(in)
	s.advance(now)
	return nil
}
