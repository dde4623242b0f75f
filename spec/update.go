package spec

import (
	"strconv"
	"strings"
	"time"
)

// Update strategies (spec.update.strategy): how far a fleet's instances
// follow a change of its shape in git (docs/design.md section 11).
const (
	// UpdateReport lists instances whose shape differs from the spec and
	// changes nothing (default).
	UpdateReport = "report"
	// UpdateInPlace changes instances where they are: the renew flag, a
	// bundle upgrade, a reset to a new blueprint, login or containers.
	// What cannot be changed in place is reported.
	UpdateInPlace = "inPlace"
	// UpdateReplace changes the renew flag in place and every other
	// difference by replacing the instance with the slot's next one.
	UpdateReplace = "replace"
)

// MaxMinReady is the longest spec.update.minReady.
const MaxMinReady = 24 * time.Hour

// Update is spec.update: the strategy and the bounds of a rollout.
type Update struct {
	Strategy string `yaml:"strategy" json:"strategy"`
	// MaxUnavailable is how many of the fleet's instances may be out of
	// service at once (default 1); a percentage of count rounds down, and
	// is at least 1 when MaxSurge is 0.
	MaxUnavailable Amount `yaml:"maxUnavailable" json:"maxUnavailable"`
	// MaxSurge is how many instances above count a replacement may add
	// (default 0; strategy replace only); a percentage rounds up.
	MaxSurge Amount `yaml:"maxSurge" json:"maxSurge"`
	// MinReady is how long a changed or new instance must be ready
	// (RUNNING, its latest operation not running nor failed) before the
	// next batch (default 0).
	MinReady time.Duration `yaml:"minReady" json:"minReady"`

	// surgeSet is whether the spec writes maxSurge (checkUpdate refuses
	// it with inPlace), known from the decoded values, whichever reader
	// decoded them.
	surgeSet bool
}

// Amount is a number of instances, or a percentage of a fleet's count.
type Amount struct {
	N       int  // instances, or percent when Percent
	Percent bool // N is a percentage of count
}

// String writes the amount as a spec does: "2" or "25%".
func (a Amount) String() string {
	if a.Percent {
		return strconv.Itoa(a.N) + "%"
	}
	return strconv.Itoa(a.N)
}

// MarshalText writes String.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Of is the amount for a fleet of count: a percentage of count, rounded
// up or down.
func (a Amount) Of(count int, roundUp bool) int {
	if !a.Percent {
		return a.N
	}
	n := count * a.N
	if roundUp {
		return (n + 99) / 100
	}
	return n / 100
}

// Bounds resolves maxUnavailable and maxSurge for a fleet of count: a
// maxUnavailable percentage rounds down, a maxSurge one up; with no surge
// at least one instance may be unavailable, or nothing could change;
// strategy inPlace adds no instance.
func (u Update) Bounds(count int) (maxUnavailable, maxSurge int) {
	maxSurge = u.MaxSurge.Of(count, true)
	if u.Strategy != UpdateReplace {
		maxSurge = 0
	}
	maxUnavailable = u.MaxUnavailable.Of(count, false)
	if maxSurge == 0 {
		maxUnavailable = max(maxUnavailable, 1)
	}
	return maxUnavailable, maxSurge
}

// parseAmount reads an amount as the schema accepts it: an integer of 0 or
// more, or "N%" with N from 0 to 100.
func parseAmount(v any) Amount {
	if s, ok := v.(string); ok {
		n, _ := strconv.Atoi(strings.TrimSuffix(s, "%"))
		return Amount{N: n, Percent: true}
	}
	return Amount{N: integer(v)}
}

// fillUpdate builds spec.update from its JSON form, defaults applied.
func fillUpdate(u map[string]any) Update {
	out := Update{Strategy: UpdateReport, MaxUnavailable: Amount{N: 1}}
	if u == nil {
		return out
	}
	if s := str(u["strategy"]); s != "" {
		out.Strategy = s
	}
	if v, ok := u["maxUnavailable"]; ok {
		out.MaxUnavailable = parseAmount(v)
	}
	if v, ok := u["maxSurge"]; ok {
		out.MaxSurge, out.surgeSet = parseAmount(v), true
	}
	if d, err := time.ParseDuration(str(u["minReady"])); err == nil {
		out.MinReady = d
	}
	return out
}

// checkUpdate checks what the schema cannot say of spec.update.
func checkUpdate(f *Fleet) Errors {
	var errs Errors
	u := f.Spec.Update
	if u.surgeSet && u.Strategy == UpdateInPlace {
		errs = append(errs, f.errorAt("spec.update.maxSurge",
			"applies to strategy replace only: inPlace changes each instance where it is and adds none; remove maxSurge, or use strategy: replace"))
	}
	if u.MaxUnavailable.N == 0 && u.MaxSurge.N == 0 {
		errs = append(errs, f.errorAt("spec.update.maxUnavailable",
			"maxUnavailable and maxSurge are both 0, so no instance could ever be changed; allow one out of service at a time (maxUnavailable: 1), or one above count while it is replaced (strategy: replace, maxSurge: 1)"))
	}
	if u.MinReady > MaxMinReady {
		errs = append(errs, f.errorAt("spec.update.minReady",
			"%s is longer than %s; a rollout of a few batches would take days (write it in seconds or minutes, such as 60s)", u.MinReady, strings.TrimSuffix(MaxMinReady.String(), "0m0s")))
	}
	return errs
}
