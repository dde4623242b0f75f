package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
)

// Report is the JSON form of an apply: the plan it carried out and what it
// did. A plan alone (--plan) is written as the Plan itself.
type Report struct {
	FormatVersion int     `json:"formatVersion"`
	Plan          *Plan   `json:"plan"`
	Result        *Result `json:"result"`
	// Pending lists what an apply that waited for its instances
	// (--wait) still waited for when it gave up; empty otherwise.
	Pending []string `json:"pending,omitempty"`
}

// RenderJSON writes p as one indented JSON object with "formatVersion": 1
// (FormatVersion); with res not nil, a Report of both. Fields are those of
// Plan and Result; docs/cli.md documents each.
func RenderJSON(w io.Writer, p *Plan, res *Result) error {
	return RenderReportJSON(w, p, res, nil)
}

// RenderReportJSON is RenderJSON with the slots an apply still waits for.
func RenderReportJSON(w io.Writer, p *Plan, res *Result, pending []string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if p.Fleets == nil { // an empty list, never null
		cp := *p
		cp.Fleets = []*FleetPlan{}
		p = &cp
	}
	var v any = p
	if res != nil {
		v = &Report{FormatVersion: FormatVersion, Plan: p, Result: res, Pending: pending}
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
