package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file is renewal before expiry (spec.charge.renewBefore,
// docs/design.md section 12.1): which instances a plan renews, what that
// costs, and how Apply sends RenewInstances through the intent journal and
// the judge (operation.go), so that no instance is renewed twice for one
// expiry.

// Renewal verdicts, as Renewal.Verdict names them: the judge's (judge.go)
// on the instance as the plan observed it.
const (
	RenewSend    = "send"    // the plan renews it
	RenewWait    = "wait"    // an earlier attempt may not show yet
	RenewRunning = "running" // an operation runs on it
	RenewFailed  = "failed"  // an attempt failed; see Reason
)

// Renewal is one instance of a fleet with charge.renewBefore that the plan
// renews (Verdict RenewSend) or would renew but waits for (the others).
type Renewal struct {
	Slot       int    `json:"slot"`
	InstanceID string `json:"instanceId"`
	Name       string `json:"name"`
	State      string `json:"state"`
	// Expires is the instance's ExpiredTime, what it is renewed from: never
	// renewed twice for one Expires. NewExpiry is Expires plus Period
	// months.
	Expires   time.Time `json:"expires"`
	NewExpiry time.Time `json:"newExpiry"`
	Period    int       `json:"period"`
	// Expired: the instance is SHUTDOWN because it expired; it is renewed,
	// not replaced, and its slot is not filled anew meanwhile.
	Expired bool `json:"expired,omitempty"`
	// Price is what InquirePriceRenewInstances says the renewal costs
	// (discounted), in Currency; PriceUnknown when it could not be had.
	Price        float64 `json:"price"`
	Currency     string  `json:"currency,omitempty"`
	PriceUnknown bool    `json:"priceUnknown,omitempty"`
	// Verdict is RenewSend, RenewWait, RenewRunning or RenewFailed.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`

	autoVoucher bool
}

// sends reports whether the plan renews it.
func (rn Renewal) sends() bool { return rn.Verdict == RenewSend }

// op is the operation a renewal asks of the judge: RenewInstances from
// Expires.
func (rn Renewal) op() Op {
	from := rn.Expires.UTC().Format(time.RFC3339)
	return Op{Action: lighthouse.ActionRenewInstances, Target: from, From: from}
}

// ShutDownByExpiry reports whether the instance is SHUTDOWN because it
// reached its ExpiredTime unrenewed, not because it was isolated
// (returned) before: its IsolatedTime is not before its ExpiredTime. The
// API names no reason for a shutdown; isolation is refused once an
// instance expired (UnsupportedOperation.ResourceNotReturnable,
// ReturnFailCode 2), so an instance isolated by someone was isolated
// before its expiry (lighthouse.Instance.ShutDownByExpiry).
func (in *Instance) ShutDownByExpiry() bool {
	return in.State == lighthouse.StateShutdown && !in.Isolated.IsZero() && !in.Expires.IsZero() && !in.Isolated.Before(in.Expires)
}

// renewable reports whether RenewInstances takes the instance's state:
// RUNNING, STOPPED, or SHUTDOWN by its expiry.
func renewable(in *Instance) bool {
	switch in.State {
	case lighthouse.StateRunning, lighthouse.StateStopped:
		return true
	}
	return in.ShutDownByExpiry()
}

// renewalOf judges the renewal of one instance of a fleet with
// renewBefore at now: nil when it is not due (outside the window, or
// already renewed past it).
func renewalOf(f *spec.Fleet, slot int, in Instance, intents map[string]OpIntent, now time.Time, window time.Duration) *Renewal {
	before := f.Spec.Charge.RenewBefore
	if before <= 0 || in.Expires.IsZero() || in.Expires.Sub(now) > before {
		return nil
	}
	if !renewable(&in) && !in.Operating {
		// A state RenewInstances does not take and no operation to wait
		// for (an instance returned by someone): not renewed.
		return nil
	}
	period := f.Spec.Charge.Period
	rn := &Renewal{Slot: slot, InstanceID: in.ID, Name: in.Name, State: in.State, Expires: in.Expires,
		NewExpiry: in.Expires.AddDate(0, period, 0), Period: period, Expired: in.ShutDownByExpiry(), autoVoucher: f.Spec.AutoVoucher}
	var intent *OpIntent
	if it, ok := intents[intentKey(in.ID, lighthouse.ActionRenewInstances)]; ok {
		intent = &it
	}
	j := Judge(in, rn.op(), intent, now, window)
	switch j.Verdict {
	case VerdictDone:
		return nil
	case VerdictSend:
		rn.Verdict = RenewSend
		left := in.Expires.Sub(now)
		switch {
		case rn.Expired:
			rn.Reason = fmt.Sprintf("expired at %s and SHUTDOWN since: renewed, not replaced (spec.charge.renewBefore)", in.Expires.UTC().Format(time.RFC3339))
		case left <= 0:
			rn.Reason = fmt.Sprintf("expired at %s (spec.charge.renewBefore %s)", in.Expires.UTC().Format(time.RFC3339), spec.FormatRenewBefore(before))
		default:
			rn.Reason = fmt.Sprintf("expires in %s, within spec.charge.renewBefore %s", shortDuration(left.Round(time.Minute)), spec.FormatRenewBefore(before))
		}
		if j.Reason != "" {
			rn.Reason += "; " + j.Reason
		}
	case VerdictRunning:
		rn.Verdict, rn.Reason = RenewRunning, j.Reason
	case VerdictWait:
		rn.Verdict, rn.Reason = RenewWait, j.Reason
	case VerdictFailed:
		rn.Verdict, rn.Reason = RenewFailed, j.Reason
	}
	return rn
}

// expiredHolder is, for an empty slot of a fleet with renewBefore, the
// newest of its instances SHUTDOWN by their expiry that RenewInstances
// still takes (Observation.Unrenewable does not name it): the slot is
// renewed rather than filled anew.
func expiredHolder(f *spec.Fleet, o *Observation, dead []Instance) *Instance {
	if f.Spec.Charge.RenewBefore <= 0 {
		return nil
	}
	var holder *Instance
	for i := range dead {
		in := &dead[i]
		if !in.ShutDownByExpiry() || o.Unrenewable[in.ID] != "" {
			continue
		}
		if holder == nil || in.Expires.After(holder.Expires) {
			holder = in
		}
	}
	return holder
}

// heldRenewal is the renewal of the expired instance that holds an empty
// slot: as renewalOf judges it, or, when its ExpiredTime already moved on
// while it is not back yet, a renewal that waits for it.
func heldRenewal(f *spec.Fleet, slot int, in Instance, intents map[string]OpIntent, now time.Time, window time.Duration) Renewal {
	if rn := renewalOf(f, slot, in, intents, now, window); rn != nil {
		return *rn
	}
	return Renewal{Slot: slot, InstanceID: in.ID, Name: in.Name, State: in.State, Expires: in.Expires, NewExpiry: in.Expires,
		Period: f.Spec.Charge.Period, Expired: true, Verdict: RenewWait,
		Reason: fmt.Sprintf("renewed until %s; waits for it to come back from %s", in.Expires.UTC().Format(time.RFC3339), in.State)}
}

// lifecycleWarnings adds what the API tells of failed automatic renewals:
// an instance with NOTIFY_AND_AUTO_RENEW that shut down at its expiry. The
// API has no other sign of a balance that does not cover a renewal.
func lifecycleWarnings(fp *FleetPlan, f *spec.Fleet, ins []Instance) {
	for _, in := range ins {
		if in.RenewFlag != lighthouse.RenewNotifyAuto || !in.ShutDownByExpiry() {
			continue
		}
		then := "its slot is filled by a new server"
		if f.Spec.Charge.RenewBefore > 0 {
			then = "lightkeeper renews it (spec.charge.renewBefore) once the balance covers it"
		}
		fp.Warnings = append(fp.Warnings, fmt.Sprintf("instance %s (%s) shut down at its expiry %s although it renews automatically (NOTIFY_AND_AUTO_RENEW): its automatic renewal failed, for lack of balance; top up the account, or %s",
			in.ID, in.Name, in.Expires.UTC().Format(time.RFC3339), then))
	}
}

// unrenewable asks DescribeInstancesDeniedActions whether RenewInstances
// still takes the expired SHUTDOWN instances of fleets with renewBefore,
// and records those it denies in the observation (Observation.Unrenewable):
// their slots are filled anew. A denial for a balance, or because an
// operation runs, is not about the instance and is not recorded. A failed
// call records nothing: the slots wait for the renewal, which is then
// refused or not.
func (r *Reconciler) unrenewable(ctx context.Context, o *Observation, fleets []*spec.Fleet) {
	var ids []string
	for _, f := range fleets {
		if f.Spec.Region != o.Region || f.Spec.Charge.RenewBefore <= 0 {
			continue
		}
		for _, in := range o.Fleets[f.Name()] {
			if in.ShutDownByExpiry() {
				ids = append(ids, in.ID)
			}
		}
	}
	for chunk := range slices.Chunk(ids, lighthouse.MaxDeniedActionsIDs) {
		resp, err := r.cloud.DescribeInstancesDeniedActions(ctx, o.Region, &lighthouse.DescribeInstancesDeniedActionsRequest{InstanceIds: chunk})
		if err != nil {
			r.log.Warn("could not ask whether expired instances can be renewed; they are held for renewal", "region", o.Region, "err", err)
			return
		}
		for _, d := range resp.InstanceDeniedActionSet {
			for _, a := range d.DeniedActions {
				if a.Action != lighthouse.ActionRenewInstances || busy(&lighthouse.Error{Code: a.Code}) || a.Code == codeInsufficientBalance {
					continue
				}
				if o.Unrenewable == nil {
					o.Unrenewable = map[string]string{}
				}
				o.Unrenewable[d.InstanceId] = a.Code
			}
		}
	}
}

// settleRenewals removes from the journal the renewal intents of region
// that an observation settles: the instance shows an ExpiredTime after the
// one renewed from (done), or, with no operation running on it, another
// ExpiredTime than the one renewed from (its expiry was moved by something
// else: the intent is about an expiry the instance no longer has, and a
// renewal from its new one is judged on its own), or it is not listed a
// whole window after the intent (gone). The others stay for the judge.
func (st *State) settleRenewals(o *Observation, window time.Duration) {
	var listedIn map[string]*Instance // at the region's first renewal intent
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, it := range st.s.Intents {
		if it.Action != lighthouse.ActionRenewInstances || it.Region != o.Region {
			continue
		}
		if listedIn == nil {
			listedIn = o.byID()
		}
		from, err := time.Parse(time.RFC3339, it.From)
		in, listed := listedIn[it.InstanceID]
		_, seen := o.Seen[it.InstanceID]
		switch {
		case listed && err == nil && in.Expires.After(from):
			delete(st.s.Intents, k)
		case listed && err == nil && !in.Operating && !in.Expires.IsZero() && !in.Expires.Equal(from):
			delete(st.s.Intents, k)
		case !seen && o.At.Sub(it.Since) > window:
			delete(st.s.Intents, k)
		}
	}
}

// renewPriceKey is what a renewal price inquiry depends on.
type renewPriceKey struct {
	region string
	period int
}

// priceRenewals asks InquirePriceRenewInstances for the renewals the plan
// sends, MaxInquireRenewIDs instances at a time per region and period, and
// fills in each renewal's price and each fleet's RenewalMoney.
func (r *Reconciler) priceRenewals(ctx context.Context, p *Plan) {
	groups := map[renewPriceKey][]*Renewal{}
	var keys []renewPriceKey
	for _, fp := range p.Fleets {
		for i := range fp.Renewals {
			rn := &fp.Renewals[i]
			if !rn.sends() {
				continue
			}
			k := renewPriceKey{fp.Region, rn.Period}
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], rn)
		}
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		for chunk := range slices.Chunk(groups[k], lighthouse.MaxInquireRenewIDs) {
			wg.Go(func() {
				ids := make([]string, len(chunk))
				for i, rn := range chunk {
					ids[i] = rn.InstanceID
				}
				resp, err := r.cloud.InquirePriceRenewInstances(ctx, k.region, &lighthouse.InquirePriceRenewInstancesRequest{
					InstanceIds: ids, InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: int64(k.period)}, RenewDataDisk: true,
				})
				prices := map[string]lighthouse.InstancePrice{}
				if err == nil {
					for _, d := range resp.InstancePriceDetailSet {
						prices[d.InstanceId] = d.InstancePrice
					}
				} else {
					r.log.Warn("renewal price unknown", "region", k.region, "err", err)
				}
				for _, rn := range chunk {
					pr, ok := prices[rn.InstanceID]
					rn.PriceUnknown = !ok
					if ok {
						rn.Price, rn.Currency = round2(pr.DiscountPrice), pr.Currency
					}
				}
			})
		}
	}
	wg.Wait()
	for _, fp := range p.Fleets {
		fp.RenewalMoney = Money{}
		for _, rn := range fp.Renewals {
			if !rn.sends() {
				continue
			}
			if rn.PriceUnknown {
				fp.RenewalMoney.Unknown = true
				fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("a renewal price is unknown: InquirePriceRenewInstances did not price %s", rn.InstanceID))
				continue
			}
			fp.RenewalMoney.Currency = rn.Currency
			fp.RenewalMoney.Commitment = round2(fp.RenewalMoney.Commitment + rn.Price)
		}
	}
}

// Renewed is one renewal Apply sent and the service accepted.
type Renewed struct {
	InstanceID string    `json:"instanceId"`
	From       time.Time `json:"from"`
	RequestID  string    `json:"requestId"`
}

// renewBatchKey groups the renewals one RenewInstances can carry: one
// region, period and voucher setting.
type renewBatchKey struct {
	region      string
	period      int
	autoVoucher bool
}

// renew sends the renewals of the fleets Apply acts on, region by region,
// through operate: each instance is confirmed by ID and judged, its intent
// is recorded (and persisted) before the call, and MaxRenewIDs instances
// go out in one RenewInstances. A batch the service refuses outright is
// sent again one instance at a time (confirmed and judged again): one
// instance it refuses holds up no other. report is called once per
// renewal that ended.
func (r *Reconciler) renew(ctx context.Context, p *Plan, results map[*FleetPlan]*FleetResult, report func(bool)) {
	type item struct {
		fp *FleetPlan
		rn Renewal
	}
	byKey := map[renewBatchKey][]item{}
	var keys []renewBatchKey
	for _, fp := range p.Fleets {
		if !fp.acts() || results[fp].Error != nil {
			continue
		}
		for _, rn := range fp.Renewals {
			if !rn.sends() {
				continue
			}
			k := renewBatchKey{fp.Region, rn.Period, rn.autoVoucher}
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], item{fp, rn})
		}
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		items := byKey[k]
		send := func(ctx context.Context, ids []string) (string, error) {
			resp, err := r.cloud.RenewInstances(ctx, k.region, &lighthouse.RenewInstancesRequest{InstanceIds: ids,
				InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: int64(k.period)}, AutoVoucher: k.autoVoucher})
			if err != nil {
				return "", err
			}
			return resp.RequestId, nil
		}
		calls := make([]opCall, len(items))
		var batch *opBatch
		for i, it := range items {
			if i%lighthouse.MaxRenewIDs == 0 {
				batch = &opBatch{Send: send}
			}
			calls[i] = opCall{Key: SlotKey{it.fp.Region, it.fp.Fleet, it.rn.Slot}, InstanceID: it.rn.InstanceID, Op: it.rn.op(), Batch: batch}
		}
		out := r.operate(ctx, k.region, calls)
		// A renewal the service refused did not happen: its intent goes
		// (operate keeps a refused change's as failed, which would stop
		// the renewal of an instance that is about to expire for good), so
		// the next run sends it again, confirmed and judged anew. A batch
		// refused outright renewed none of its instances: each goes again
		// on its own now, so one instance it refuses holds up no other.
		var again []int
		for i, o := range out {
			if !refusedRenewal(o) {
				continue
			}
			r.state.dropIntent(calls[i].InstanceID, lighthouse.ActionRenewInstances)
			if batchOf(calls, i) > 1 {
				again = append(again, i)
			}
		}
		if len(again) > 0 {
			singles := make([]opCall, len(again))
			for n, i := range again {
				singles[n] = calls[i]
				singles[n].Batch = &opBatch{Send: send}
			}
			for n, o := range r.operate(ctx, k.region, singles) {
				if refusedRenewal(o) {
					r.state.dropIntent(o.Instance.ID, lighthouse.ActionRenewInstances)
				}
				out[again[n]] = o
			}
		}
		for i, o := range out {
			it := items[i]
			report(r.renewed(results[it.fp], it.rn, o))
		}
	}
}

// refusedRenewal reports whether the service refused a renewal operate
// sent: it answered, with a code, that it did not carry it out (not for an
// operation in progress, which operate reports as running).
func refusedRenewal(o opOutcome) bool {
	return o.Err != nil && !o.Sent && !o.Ambiguous && lighthouse.ErrorCode(o.Err) != "" && !busy(o.Err)
}

// batchOf is how many calls share calls[i]'s batch.
func batchOf(calls []opCall, i int) int {
	n := 0
	for _, c := range calls {
		if c.Batch != nil && c.Batch == calls[i].Batch {
			n++
		}
	}
	return n
}

// renewed records what became of one renewal in its fleet's result and
// the log, and reports whether it ended well (renewed, or nothing to do).
func (r *Reconciler) renewed(fr *FleetResult, rn Renewal, o opOutcome) bool {
	from := rn.Expires.UTC().Format(time.RFC3339)
	fail := func(class string, code string, msg string) bool {
		fr.mu.Lock()
		defer fr.mu.Unlock()
		fr.RenewFailures = append(fr.RenewFailures, Failure{Slot: rn.Slot, InstanceID: rn.InstanceID, Code: code, Class: class, Message: msg})
		return false
	}
	switch {
	case o.Sent && o.Err == nil:
		r.log.Info("renewed", "fleet", fr.Fleet, "instance", rn.InstanceID, "from", from, "months", rn.Period, "requestId", o.RequestID)
		fr.mu.Lock()
		fr.Renewed = append(fr.Renewed, Renewed{InstanceID: rn.InstanceID, From: rn.Expires, RequestID: o.RequestID})
		fr.mu.Unlock()
		return true
	case o.Ambiguous:
		r.log.Warn("renewal outcome unknown; the next run confirms it through ExpiredTime before anything is sent again", "fleet", fr.Fleet, "instance", rn.InstanceID, "from", from, "err", o.Err)
		return fail("ambiguous", lighthouse.ErrorCode(o.Err), fmt.Sprintf("renewal of %s from %s: the outcome is unknown (%s); the next run confirms it through its ExpiredTime and never renews it twice", rn.InstanceID, from, message(o.Err)))
	case o.Err != nil && o.Verdict == VerdictRunning && busy(o.Err):
		r.log.Info("renewal deferred: an operation runs on the instance", "fleet", fr.Fleet, "instance", rn.InstanceID)
		return fail("retry-later", lighthouse.ErrorCode(o.Err), fmt.Sprintf("renewal of %s deferred: %s", rn.InstanceID, o.Reason))
	case o.Err != nil:
		code := lighthouse.ErrorCode(o.Err)
		msg := fmt.Sprintf("renewal of %s from %s: %s", rn.InstanceID, from, message(o.Err))
		if code == codeInsufficientBalance {
			msg += "; top up the account: the instance expires at " + from + ", and instances on NOTIFY_AND_AUTO_RENEW will not be renewed either"
		}
		class := lighthouse.ClassOf(o.Err).String()
		if code == "" {
			class = "retry-later" // not sent: the confirmation or the journal failed
		}
		r.log.Warn("renewal not done", "fleet", fr.Fleet, "instance", rn.InstanceID, "err", o.Err)
		return fail(class, code, msg)
	case o.Verdict == VerdictDone:
		r.log.Info("renewal already done", "fleet", fr.Fleet, "instance", rn.InstanceID, "reason", o.Reason)
		return true
	case o.Verdict == VerdictFailed:
		return fail("permanent", "", fmt.Sprintf("renewal of %s: %s", rn.InstanceID, o.Reason))
	}
	// Running or wait at the confirmation: the next run judges it again.
	r.log.Info("renewal deferred", "fleet", fr.Fleet, "instance", rn.InstanceID, "reason", o.Reason)
	return true
}

// totalRenewals adds a fleet's renewals to the plan's totals.
func (p *Plan) totalRenewals(fp *FleetPlan) {
	p.Totals.Renewals += fp.renewals()
	m := &p.Totals.RenewalSpend
	if fp.RenewalMoney.Currency != "" {
		m.Currency = fp.RenewalMoney.Currency
	}
	m.Commitment = round2(m.Commitment + fp.RenewalMoney.Commitment)
	m.Unknown = m.Unknown || fp.RenewalMoney.Unknown
}

// renewals counts the renewals the fleet plan sends.
func (fp *FleetPlan) renewals() (n int) {
	for _, rn := range fp.Renewals {
		if rn.sends() {
			n++
		}
	}
	return n
}

// Text says what the renewal does, or why it waits.
func (rn Renewal) Text() string {
	if !rn.sends() {
		return fmt.Sprintf("renewal of %s %s (%s, expires %s) %s: %s", rn.InstanceID, rn.Name, rn.State, rn.Expires.UTC().Format(time.RFC3339), rn.Verdict, rn.Reason)
	}
	return fmt.Sprintf("%s %s (%s): %s until %s (%s, %s): %s", rn.InstanceID, rn.Name, rn.State, rn.Expires.UTC().Format(time.RFC3339),
		rn.NewExpiry.UTC().Format(time.RFC3339), plural(rn.Period, "month"), rn.priceText(), rn.Reason)
}

// priceText is the renewal's price as the plan shows it.
func (rn Renewal) priceText() string {
	if rn.PriceUnknown {
		return "price unknown"
	}
	if rn.Currency == "" {
		return fmt.Sprintf("%.2f", rn.Price)
	}
	return fmt.Sprintf("%.2f %s", rn.Price, rn.Currency)
}

// Text says what a renewal Apply sent did.
func (rw Renewed) Text() string {
	return fmt.Sprintf("renewed %s from %s (RequestId %s)", rw.InstanceID, rw.From.UTC().Format(time.RFC3339), rw.RequestID)
}

// renewFailureText says what became of a renewal that was not done.
func renewFailureText(f Failure) string {
	return fmt.Sprintf("renew %s, %s: %s", f.InstanceID, f.Class, withCode(f.Message, f.Code))
}
