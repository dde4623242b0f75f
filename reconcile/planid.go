package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// This file holds the plan's ID: a hash of what the plan would do, so
// that a person who approves a held plan approves exactly those calls, and
// a plan that changed in any of them needs a new approval.

// planIDVersion starts what the ID hashes: a change to what counts makes
// every ID new, never one that an old approval would match by accident.
const planIDVersion = "lightkeeper-plan-id/1"

// PlanIDLength is the length of a plan ID: hex digits of SHA-256.
const PlanIDLength = 16

// computeID hashes what the plan would do, in the plan's order (fleets by
// region and name, creates by slot, surplus as listed):
//   - each create of a fleet that acts: region, fleet, slot, incarnation,
//     ClientToken, bundle, blueprint, zone and period;
//   - each isolation (a surplus instance whose action is isolate): region,
//     fleet and instance ID;
//   - each update the rollout plans to send now: region, fleet, slot,
//     instance ID, action, the replacement's ClientToken and attempt, and
//     each changed field with its new value;
//   - each renewal to send: region, fleet, instance ID, the expiry it
//     renews from and the period;
//   - the money of the creates (the monthly delta and the commitment in
//     cents, the currency and whether some price is unknown) and of the
//     renewals (commitment, currency, unknown).
//
// What does not change a call is left out: when the plan was made, the
// reasons and warnings, a create being a resend, what is only reported
// (drift, a surplus kept, orphans), the counts observed. Fleets in error
// plan nothing and count for nothing.
func (p *Plan) computeID() string {
	h := sha256.New()
	io.WriteString(h, planIDVersion+"\n")
	for _, fp := range p.Fleets {
		if fp.Error != nil {
			continue
		}
		for _, c := range fp.Creates {
			fmt.Fprintf(h, "create\x00%s\x00%s\x00%d\x00%d\x00%s\x00%s\x00%s\x00%s\x00%d\n",
				fp.Region, fp.Fleet, c.Slot, c.Incarnation, c.ClientToken, c.BundleID, c.BlueprintID, c.Zone, c.Period)
		}
		for _, s := range fp.Surplus {
			if s.Action == ActionIsolate {
				fmt.Fprintf(h, "isolate\x00%s\x00%s\x00%s\n", fp.Region, fp.Fleet, s.ID)
			}
		}
		if r := fp.Rollout; r != nil {
			for _, u := range r.Updates {
				if u.Status != StatusPlanned {
					continue
				}
				fmt.Fprintf(h, "update\x00%s\x00%s\x00%d\x00%s\x00%s\x00%s\x00%d", fp.Region, fp.Fleet, u.Slot, u.InstanceID, u.Action, u.ClientToken, u.Attempt)
				for _, c := range u.Changes {
					fmt.Fprintf(h, "\x00%s=%s", c.Field, c.To)
				}
				io.WriteString(h, "\n")
			}
		}
		for _, rn := range fp.Renewals {
			if rn.Verdict == RenewSend {
				fmt.Fprintf(h, "renew\x00%s\x00%s\x00%s\x00%s\x00%d\n", fp.Region, fp.Fleet, rn.InstanceID, rn.Expires.UTC().Format(time.RFC3339), rn.Period)
			}
		}
	}
	m := p.Totals.Money
	fmt.Fprintf(h, "money\x00%s\x00%s\x00%s\x00%t\n", m.Currency, cents(m.Monthly), cents(m.Commitment), m.Unknown)
	if rm := p.Totals.RenewalSpend; rm != (Money{}) {
		fmt.Fprintf(h, "renewals\x00%s\x00%s\x00%t\n", rm.Currency, cents(rm.Commitment), rm.Unknown)
	}
	return hex.EncodeToString(h.Sum(nil))[:PlanIDLength]
}

// cents writes an amount in whole cents, so that two sums of the same
// prices hash alike.
func cents(f float64) string { return strconv.FormatInt(int64(math.Round(f*100)), 10) }
