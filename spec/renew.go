package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Day is the unit of charge.renewBefore's "d".
const Day = 24 * time.Hour

// MinMonth is the shortest month, in which a renewal of one month may end:
// charge.renewBefore must stay below Period x MinMonth, or the renewal it
// makes would leave the instance inside the window and renew it again.
const MinMonth = 28 * Day

// renewBeforeRE is charge.renewBefore's form: days, hours or both, as the
// schema's pattern has it.
var renewBeforeRE = regexp.MustCompile(`^(?:([0-9]{1,4})d)?(?:([0-9]{1,5})h)?$`)

// ParseRenewBefore reads charge.renewBefore: a number of days, of hours, or
// both ("7d", "36h", "2d12h"). "" is 0 (never renew).
func ParseRenewBefore(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	m := renewBeforeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("must be a duration in days or hours such as 7d, 36h or 2d12h, got %q", s)
	}
	days, _ := strconv.Atoi("0" + m[1])
	hours, _ := strconv.Atoi("0" + m[2])
	return time.Duration(days)*Day + time.Duration(hours)*time.Hour, nil
}

// FormatRenewBefore writes d as charge.renewBefore takes it: "7d", "36h"
// or "2d12h" (whole hours; 0 is "").
func FormatRenewBefore(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	days, hours := int(d/Day), int((d%Day)/time.Hour)
	switch {
	case hours == 0:
		return fmt.Sprintf("%dd", days)
	case days == 0:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dd%dh", days, hours)
}

// ValidRenewPeriod reports whether months is a period RenewInstances sells:
// 1 to 12, 24 or 36 (a create also sells 48 and 60). It is the rule of
// lighthouse.ValidRenewPeriod, which spec may not import.
func ValidRenewPeriod(months int) bool {
	return months >= 1 && months <= 12 || months == 24 || months == 36
}

// checkRenewal checks charge.renewBefore against what a renewal can do: a
// positive window, a period RenewInstances sells, and a window shorter
// than the period, so that a renewal leaves the instance outside it.
func checkRenewal(f *Fleet) Errors {
	const field = "spec.charge.renewBefore"
	c := f.Spec.Charge
	raw := c.renewBefore
	if raw == "" {
		return nil // omitted (a value of another type is the schema's to refuse)
	}
	d, err := ParseRenewBefore(raw)
	switch {
	case err != nil:
		return Errors{f.errorAt(field, "%v", err)}
	case d <= 0:
		return Errors{f.errorAt(field, "must be more than 0 (omit it to never renew), got %q", raw)}
	case !ValidRenewPeriod(c.Period):
		return Errors{f.errorAt(field, "renewals are sold for 1 to 12, 24 or 36 months, and spec.charge.period is %d: set a period RenewInstances takes, or remove renewBefore", c.Period)}
	case d >= time.Duration(c.Period)*MinMonth:
		return Errors{f.errorAt(field, "%s is not shorter than spec.charge.period (%d month%s, at least %d days): a renewal would leave the instance inside the window and it would be renewed again; use a shorter window such as 7d",
			raw, c.Period, map[bool]string{true: "", false: "s"}[c.Period == 1], c.Period*28)}
	}
	return nil
}
