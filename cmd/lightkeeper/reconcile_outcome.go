package main

import (
	"fmt"
	"strings"

	"github.com/lightkeeper/lightkeeper/internal/escape"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// This file is what a reconcile run says at its end: the plan and the
// result in the chosen format, the limits in the flags' words, and the
// exit code with its reason.

// flagWords name the limits as reconcile's flags do.
var flagWords = reconcile.Words{
	MaxCreates:      "--max-creates",
	MaxMonthlySpend: "--max-monthly-spend",
	MaxIsolates:     "--max-isolates",
	MaxRenewalSpend: "--max-renewal-spend",
	MaxUpdates:      "--max-updates",
	AllowOverLimit:  "--allow-over-limit",
}

// check checks p against l and words what it exceeds in the flags' terms.
func check(p *reconcile.Plan, l reconcile.Limits) bool {
	over := p.Check(l)
	p.Word(flagWords)
	return over
}

// render writes the plan (and result) in the chosen format to stdout.
func (run *reconcileRun) render(p *reconcile.Plan, res *reconcile.Result, pending []string) error {
	switch run.f.output {
	case "json":
		return reconcile.RenderReportJSON(run.e.stdout, p, res, pending)
	case "markdown":
		return reconcile.RenderMarkdown(run.e.stdout, p, res)
	}
	return reconcile.RenderText(run.e.stdout, p, res, run.ui.color)
}

// renderResult writes an apply's outcome: the text form has shown the plan
// already; JSON and Markdown are one document of both.
func (run *reconcileRun) renderResult(p *reconcile.Plan, res *reconcile.Result, pending []string) error {
	if run.f.output != "text" {
		return run.render(p, res, pending)
	}
	if !p.Changes() && len(res.Fleets) == 0 {
		if run.f.wait.d > 0 && len(pending) == 0 && len(p.Errors()) == 0 {
			fmt.Fprintln(run.e.stdout, "Every fleet is RUNNING at its count.")
		}
		return nil
	}
	if err := reconcile.RenderTextResult(run.e.stdout, res, run.ui.color); err != nil {
		return err
	}
	for _, s := range pending {
		fmt.Fprintf(run.e.stdout, "  still waiting: %s\n", escape.Text(s))
	}
	if run.f.wait.d > 0 && len(pending) == 0 {
		fmt.Fprintln(run.e.stdout, "Every fleet is RUNNING at its count.")
	}
	if run.f.wait.d == 0 {
		for _, fp := range p.Fleets {
			if fp.Error == nil && fp.Rollout != nil && len(fp.Rollout.Updates) > 0 {
				fmt.Fprintf(run.e.stdout, "rollout in progress: %s; run again, or with --wait, to go on\n", escape.Text(rolloutProgress(fp)))
			}
		}
	}
	return nil
}

// planExit maps a plan to reconcile --plan's exit code: a fleet error
// first, then a limit, then changes.
func planExit(p *reconcile.Plan) error {
	if errs := p.Errors(); len(errs) > 0 {
		names := make([]string, len(errs))
		for i, fp := range errs {
			names[i] = fp.Fleet
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s in error: %s", plural(len(errs), "fleet"), escape.Text(strings.Join(names, ", ")))}
	}
	if len(p.Violations) > 0 {
		return &exitCodeError{code: exitOverLimit, err: overLimitError(p)}
	}
	if p.Changes() {
		return &exitCodeError{code: exitChanges}
	}
	return nil
}

// overLimitError says which safety limits the plan is over and what to do.
func overLimitError(p *reconcile.Plan) error {
	msgs := make([]string, len(p.Violations))
	for i, v := range p.Violations {
		msgs[i] = escape.Text(v.Message)
	}
	return fmt.Errorf("over a safety limit, nothing was created: %s\nhint: review the plan, then raise the limit or pass --allow-over-limit", strings.Join(msgs, "; "))
}

// applyFailures words what an apply could not do, for its exit error.
func applyFailures(p *reconcile.Plan, res *reconcile.Result) string {
	var parts []string
	if res.Failed > 0 {
		parts = append(parts, plural(res.Failed, "create")+" refused")
	}
	if res.Ambiguous > 0 {
		parts = append(parts, plural(res.Ambiguous, "create")+" with an unknown outcome")
	}
	if res.RenewFailed > 0 {
		parts = append(parts, plural(res.RenewFailed, "renewal")+" not done")
	}
	if res.RenewAmbiguous > 0 {
		parts = append(parts, plural(res.RenewAmbiguous, "renewal")+" with an unknown outcome (confirmed through ExpiredTime next run, never sent twice)")
	}
	for _, fp := range p.Failing() {
		parts = append(parts, escape.Text(fmt.Sprintf("fleet %s is failing: its launches keep failing (%d in a row in one slot)", fp.Fleet, fp.LaunchFailures)))
	}
	for _, fr := range res.Fleets {
		if fr.Error != nil {
			msg := fr.Error.Message
			if fr.Error.Field != "" && !strings.Contains(msg, fr.Error.Field) {
				msg = fr.Error.Field + ": " + msg
			}
			parts = append(parts, escape.Text(fmt.Sprintf("fleet %s: %s", fr.Fleet, msg)))
		}
	}
	if len(parts) == 0 {
		return "an isolation was refused"
	}
	return strings.Join(parts, "; ")
}
