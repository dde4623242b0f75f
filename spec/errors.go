package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in the fleet specs, placed where it was found.
type Error struct {
	File   string `json:"file"`             // as shown to the user, e.g. "fleets/web.yaml"
	Line   int    `json:"line,omitempty"`   // 1-based; 0 when the problem has no line (an empty directory)
	Column int    `json:"column,omitempty"` // 1-based
	Fleet  string `json:"fleet,omitempty"`  // metadata.name of the document, when known
	Field  string `json:"field,omitempty"`  // e.g. "spec.count", "spec.containers[0].envs"
	// Message says what is wrong and, where it can, how to fix it.
	Message string `json:"message"`
	// More is set only on the summary that ends a list cut short (see
	// Options.MaxErrors): the number of problems found but not listed.
	// The summary has no File; its Message says "and N more problems …".
	More int `json:"more,omitempty"`

	// notFleet marks a document that is not a fleet at all; what says what
	// it is instead ("apiVersion apps/v1, kind Deployment").
	notFleet bool
	what     string
}

// Error renders the problem as
// `fleets/web.yaml:7:10: fleet "web": spec.count: must be >= 0`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Fleet != "" {
		fmt.Fprintf(&b, "fleet %q: ", e.Fleet)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is the problems Load found, sorted by file, line and column. A
// list cut short at Options.MaxErrors or MaxFileErrors ends with a summary,
// an Error whose More counts the problems not listed; Count is the number
// of problems found, listed or not.
type Errors []*Error

// Count returns the number of problems found: those listed plus, when the
// list ends with a summary, the ones it counts.
func (es Errors) Count() int {
	if n := len(es); n > 0 && es[n-1].More > 0 {
		return n - 1 + es[n-1].More
	}
	return len(es)
}

// limit cuts a sorted list at opts.MaxErrors and, when problems are left
// out (more of them already left out of their files), ends it with a
// summary.
func (es Errors) limit(opts Options, more int) Errors {
	if opts.MaxErrors > 0 && len(es) > opts.MaxErrors {
		more += len(es) - opts.MaxErrors
		es = es[:opts.MaxErrors:opts.MaxErrors]
	}
	if more == 0 {
		return es
	}
	var caps []string
	if opts.MaxFileErrors > 0 {
		caps = append(caps, fmt.Sprintf("%d per file", opts.MaxFileErrors))
	}
	if opts.MaxErrors > 0 {
		caps = append(caps, fmt.Sprintf("%d in all", opts.MaxErrors))
	}
	return append(es, &Error{More: more, Message: fmt.Sprintf(
		"and %s not listed (the list stops at %s); fix these and look again", plural(more, "more problem"), strings.Join(caps, " and "))})
}

// Error lists the problems, one a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
