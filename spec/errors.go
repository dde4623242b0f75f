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

	// notFleet marks a document that is not a fleet at all; what says what
	// it is instead ("apiVersion apps/v1, kind Deployment").
	notFleet bool
	what     string
}

// Error renders the problem as
// `fleets/web.yaml:7:10: fleet "web": spec.count: must be >= 0`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
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

// Errors is every problem Load found, sorted by file, line and column.
type Errors []*Error

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
