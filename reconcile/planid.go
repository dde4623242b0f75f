package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
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
//   - the money of the creates: the monthly delta and the commitment in
//     cents, the currency and whether some price is unknown.
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
	}
	m := p.Totals.Money
	fmt.Fprintf(h, "money\x00%s\x00%s\x00%s\x00%t\n", m.Currency, cents(m.Monthly), cents(m.Commitment), m.Unknown)
	return hex.EncodeToString(h.Sum(nil))[:PlanIDLength]
}

// cents writes an amount in whole cents, so that two sums of the same
// prices hash alike.
func cents(f float64) string { return strconv.FormatInt(int64(math.Round(f*100)), 10) }
