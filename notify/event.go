package notify

import (
	"fmt"
	"strings"
	"time"
)

// Severity ranks an event: a sink takes those at or above its minimum.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Critical
)

// Severities lists the severities, lowest first, by name.
var Severities = []string{"info", "warning", "critical"}

// String is the severity's name: info, warning or critical.
func (s Severity) String() string {
	if s >= Info && int(s) < len(Severities) {
		return Severities[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads a severity's name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range Severities {
		if n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("severity %q: want one of %s", name, strings.Join(Severities, ", "))
}

// Status says what an event is: a one-off fact, or the start or the end of
// a condition.
type Status string

// Statuses of an event.
const (
	// Once is an event that happened (a revision applied, a leadership
	// gained): sent once, never resolved.
	Once Status = "event"
	// Firing is a condition that holds (a plan held, a revision invalid):
	// sent when it starts or changes, and again after the sink's repeat
	// interval while it holds.
	Firing Status = "firing"
	// Resolved is a condition that held and no longer does.
	Resolved Status = "resolved"
)

// Event is one notification: what happened, to which fleets, how bad it
// is, and a line a person reads at a glance. The caller fills in what it
// knows; the Notifier sets Status, Since, At and Repeat as it sends.
type Event struct {
	// Kind names what happened, as the sinks' event lists name it
	// (plan.held, revision.invalid, ...).
	Kind string
	// Key identifies a condition across the calls of Notifier.Conditions
	// (plan.held, fleet.not-converged/web); a condition with the same key
	// is the same condition. A Once event's Key dedupes nothing and may be
	// "" (its Kind is used).
	Key string
	// Fingerprint is what makes a condition new again when it changes (the
	// held plan's ID, the invalid revision): a condition whose fingerprint
	// changes is sent again at once, not after the repeat interval.
	Fingerprint string
	Severity    Severity
	// Summary is one line a person reads at a glance.
	Summary string
	// Description says more, in a few lines: the problems, the
	// violations, how to approve.
	Description string
	// Fleets, Region and Instance are what the event is about, where it
	// is about something of theirs.
	Fleets   []string
	Region   string
	Instance string
	// Revision is the commit the event is about, in full.
	Revision string
	// Details are the event's data by name, for programs: JSON values
	// (strings, numbers, booleans, lists).
	Details map[string]any

	// Set by the Notifier.

	// Status is Once, Firing or Resolved.
	Status Status
	// At is when the event was sent (for Resolved: when the condition was
	// seen to have cleared).
	At time.Time
	// Since is when the condition began (for Once: At).
	Since time.Time
	// Repeat reports a Firing condition sent again, unchanged, after the
	// repeat interval.
	Repeat bool
	// URL is the daemon's status page (Options.PublicURL), "" if unknown.
	URL string
}

// key is the event's key, its kind when it has none.
func (e *Event) key() string {
	if e.Key != "" {
		return e.Key
	}
	return e.Kind
}
