package reconcile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/escape"
)

// ANSI colours of the text form; used only when the caller says the output
// is a terminal and NO_COLOR is not set.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// textWriter writes lines, coloured or not, and remembers the first error.
// Every string it is given to show is escaped (escape.Text): names, paths
// and messages from a repository or the cloud cannot write control
// characters to a terminal or start a workflow command in a CI log.
type textWriter struct {
	w     *bufio.Writer
	color bool
	words Words
}

func (t *textWriter) paint(code, s string) string {
	if !t.color || code == "" {
		return s
	}
	return code + s + ansiReset
}

// line writes one line: format is lightkeeper's own text, and each string
// among args is escaped.
func (t *textWriter) line(code, format string, args ...any) {
	t.w.WriteString(t.paint(code, fmt.Sprintf(format, escaped(args)...)))
	t.w.WriteByte('\n')
}

// escaped returns args with each string escaped (escape.Text).
func escaped(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = escape.Text(s)
		}
		out[i] = a
	}
	return out
}

// RenderText writes p for a person: a table of the fleets, aligned, then
// what the plan does and reports for each fleet, then the guards it exceeds
// and a one-line summary. res, if not nil, is the apply that followed and is
// written after the plan. color adds ANSI colours; pass true only when the
// output is a terminal and NO_COLOR is unset.
func RenderText(w io.Writer, p *Plan, res *Result, color bool) error {
	t := &textWriter{w: bufio.NewWriter(w), color: color, words: p.words}
	if len(p.Fleets) == 0 {
		t.line("", "No fleets.")
	} else {
		t.table(p)
		for _, fp := range p.Fleets {
			t.fleet(fp)
		}
	}
	if len(p.Orphans) > 0 {
		t.line("", "")
		t.line(ansiYellow, "Instances tagged for fleets that are no longer in git (reported, never touched):")
		for _, in := range p.Orphans {
			t.line("", "  ? %s %s (%s, fleet %s, slot %d)", in.ID, in.Name, in.State, in.Fleet, in.Slot)
		}
	}
	if len(p.Violations) > 0 {
		t.line("", "")
		t.line(ansiRed+ansiBold, "Over a safety limit:")
		for _, v := range p.Violations {
			t.line(ansiRed, "  x %s: %s", v.Limit, violationText(p, v))
		}
	}
	t.line("", "")
	t.line(ansiBold, "%s", Summary(p))
	if res != nil {
		t.result(res)
	}
	return t.w.Flush()
}

// table writes the aligned table of fleets and the total.
func (t *textWriter) table(p *Plan) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLEET\tREGION\tDESIRED\tLIVE\tPENDING\tFAILED\tCREATE\tSURPLUS\tOUTDATED\tMONTHLY\tCOMMITMENT\tNEXT EXPIRY")
	for _, fp := range p.Fleets {
		name := escape.Text(fp.Fleet)
		if st := fp.condition(); st != "" {
			name += " (" + st + ")"
		}
		creates, monthly, commitment := fleetCells(fp)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\n",
			name, escape.Text(fp.Region), fp.Desired, fp.Live, fp.Pending, fp.Failed, creates, len(fp.Surplus), fp.Outdated, escape.Text(monthly), escape.Text(commitment), expiryCell(fp))
	}
	if len(p.Fleets) > 1 {
		desired, live, pending, failed, surplus, outdated := 0, 0, 0, 0, 0, 0
		for _, fp := range p.Fleets {
			desired += fp.Desired
			live += fp.Live
			pending += fp.Pending
			failed += fp.Failed
			surplus += len(fp.Surplus)
			outdated += fp.Outdated
		}
		fmt.Fprintf(tw, "TOTAL\t\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\n", desired, live, pending, failed,
			signed(p.Totals.Creates), surplus, outdated, escape.Text(money(p.Totals.Money, p.Totals.Money.Monthly, true)), escape.Text(money(p.Totals.Money, p.Totals.Money.Commitment, false)))
	}
	tw.Flush()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, l := range lines {
		code := ""
		if i == 0 || strings.HasPrefix(l, "TOTAL ") {
			code = ansiBold // the header and the total
		}
		t.line(code, "%s", l)
	}
}

// fleet writes what the plan does and reports for one fleet, if anything.
func (t *textWriter) fleet(fp *FleetPlan) {
	if !fp.noteworthy() {
		return
	}
	t.line("", "")
	where := fp.Region
	if fp.File != "" {
		where = fmt.Sprintf("%s, %s:%d", fp.Region, fp.File, fp.Line)
	}
	t.line(ansiBold, "fleet %s (%s)", fp.Fleet, where)
	if e := fp.Error; e != nil {
		t.line(ansiRed, "  error: %s", fleetErrorText(e))
	}
	if fp.Suspended {
		t.line(ansiYellow+ansiBold, "  suspended (spec.suspend): nothing is created, changed, renewed or isolated; what it would do is listed for the record")
	}
	if fp.Failing {
		t.line(ansiRed, "  ! failing: %s", fp.FailingText())
	}
	for _, c := range fleetCreates(fp) {
		t.line(ansiGreen, "  + %s %s", would(fp, "create"), createText(c))
	}
	for _, s := range fp.Surplus {
		code := ansiYellow
		if s.Action == ActionIsolate {
			code = ansiRed
		}
		action := s.Action
		if action == ActionIsolate {
			action = would(fp, action)
		}
		t.line(code, "  - %s %s %s (%s): %s%s", action, s.ID, s.Name, s.State, s.Reason, heldText(s, t.words))
	}
	for _, rn := range fp.Renewals {
		if rn.sends() {
			t.line(ansiGreen, "  * %s %s", would(fp, "renew"), rn.Text())
		} else {
			t.line(ansiCyan, "  ~ %s", rn.Text())
		}
	}
	for _, bo := range fp.Backoff {
		t.line(ansiCyan, "  ~ %s", bo.Text())
	}
	for _, wt := range fp.Waiting {
		t.line(ansiCyan, "  ~ %s", wt.Text())
	}
	for _, d := range fp.Drift {
		t.line(ansiYellow, "  ~ drift %s %s: %s is %s, the instance has %s (reported only)", d.InstanceID, d.Name, d.Field, d.Spec, d.Actual)
	}
	if fp.Rollout != nil && fp.Error == nil {
		t.rollout(fp.Rollout)
	}
	for _, w := range fp.Warnings {
		t.line(ansiYellow, "  ! %s", w)
	}
	for _, n := range fp.Notes {
		t.line("", "  note: %s", n)
	}
}

// result writes what an apply did.
func (t *textWriter) result(res *Result) {
	t.line("", "")
	code := ansiGreen
	if !res.OK() {
		code = ansiRed
	}
	t.line(ansiBold+code, "Applied: %s.", appliedText(res))
	for _, fr := range res.Fleets {
		if len(fr.Created) == 0 && len(fr.Failures) == 0 && len(fr.Isolated) == 0 && len(fr.Updates) == 0 && len(fr.Waiting) == 0 && fr.Error == nil && !fr.Failing &&
			len(fr.Renewed)+len(fr.RenewFailures) == 0 {
			continue
		}
		t.line("", "  fleet %s (%s):", fr.Fleet, fr.Region)
		if fr.Error != nil {
			t.line(ansiRed, "    error: %s", fleetErrorText(fr.Error))
		}
		for _, c := range fr.Created {
			t.line(ansiGreen, "    + slot %d: %s", c.Slot, c.InstanceID)
		}
		for _, w := range fr.Waiting {
			t.line(ansiCyan, "    ~ %s", w.Text())
		}
		for _, rw := range fr.Renewed {
			t.line(ansiGreen, "    * %s", rw.Text())
		}
		for _, f := range fr.RenewFailures {
			t.line(ansiRed, "    x %s", renewFailureText(f))
		}
		for _, id := range fr.Isolated {
			t.line(ansiYellow, "    - isolated %s", id)
		}
		for _, u := range fr.Updates {
			t.line(ansiCyan, "    > %s slot %d %s: %s%s", u.Action, u.Slot, u.InstanceID, u.Outcome, updateResultDetail(u))
		}
		for _, f := range fr.Failures {
			t.line(ansiRed, "    x %s", failureText(f))
		}
		if fr.Failing {
			t.line(ansiRed, "    x failing: launches keep failing; the run is not a success")
		}
	}
}

// appliedText counts what an apply did, for its verdict line.
func appliedText(res *Result) string {
	s := fmt.Sprintf("%d created, %d failed, %d unknown outcome, %d isolated", res.Created, res.Failed, res.Ambiguous, res.Isolated)
	if res.Updated > 0 || slices.ContainsFunc(res.Fleets, func(fr *FleetResult) bool { return len(fr.Updates) > 0 }) {
		s += fmt.Sprintf(", %d updated", res.Updated)
	}
	if res.Waiting > 0 {
		s += fmt.Sprintf(", %d waiting for an instance that is not listed", res.Waiting)
	}
	if res.Renewed+res.RenewFailed+res.RenewAmbiguous > 0 {
		s += fmt.Sprintf(", %d renewed, %d renewals not done, %d with an unknown outcome", res.Renewed, res.RenewFailed, res.RenewAmbiguous)
	}
	return s
}

// updateResultDetail is the RequestId or reason of an update's outcome.
func updateResultDetail(u UpdateResult) string {
	switch {
	case u.RequestID != "" && u.Reason != "":
		return fmt.Sprintf(" (RequestId %s; %s)", u.RequestID, u.Reason)
	case u.RequestID != "":
		return fmt.Sprintf(" (RequestId %s)", u.RequestID)
	case u.Reason != "":
		return " (" + u.Reason + ")"
	}
	return ""
}

// Summary is the one-line verdict of a plan.
func Summary(p *Plan) string {
	errs := len(p.Errors())
	var b strings.Builder
	switch {
	case !p.Changes() && errs == 0:
		b.WriteString("No changes: every fleet is at its count.")
	case !p.Changes():
		fmt.Fprintf(&b, "No changes can be made: %s in error.", plural(errs, "fleet"))
	default:
		fmt.Fprintf(&b, "Plan: %d to create, %d to isolate", p.Totals.Creates, p.Totals.Isolates)
		if p.Totals.Updates > 0 {
			fmt.Fprintf(&b, ", %d to update", p.Totals.Updates)
		}
		if p.Totals.Creates+p.Totals.Updates > 0 {
			m := p.Totals.Money
			fmt.Fprintf(&b, ", %s a month (commitment %s)", money(m, m.Monthly, true), money(m, m.Commitment, false))
		}
		if n := p.Totals.Renewals; n > 0 {
			m := p.Totals.RenewalSpend
			fmt.Fprintf(&b, ", %d to renew for %s", n, money(m, m.Commitment, false))
		}
		if r := rolloutSummary(p); r != "" {
			b.WriteString("; " + r)
		}
		if errs > 0 {
			fmt.Fprintf(&b, "; %s in error", plural(errs, "fleet"))
		}
		b.WriteString(".")
	}
	if n := len(p.Failing()); n > 0 {
		fmt.Fprintf(&b, " %s failing: launches keep failing.", plural(n, "fleet"))
	}
	if n := len(p.Suspended()); n > 0 {
		fmt.Fprintf(&b, " %s suspended.", plural(n, "fleet"))
	}
	if len(p.Violations) > 0 {
		fmt.Fprintf(&b, " Over %s: nothing is created", plural(len(p.Violations), "safety limit"))
		if allow := p.words.AllowOverLimit; allow != "" {
			fmt.Fprintf(&b, " without %s", allow)
		}
		b.WriteString(".")
	}
	return b.String()
}

// violationText is v in the plan's words: its Message once Word filled it
// in, else its Text with the limit's own name.
func violationText(p *Plan, v Violation) string {
	if v.Message != "" {
		return v.Message
	}
	return v.Text(p.words)
}

// fleetCreates is what a fleet plan creates: nothing while it is in error
// (Apply skips it).
func fleetCreates(fp *FleetPlan) []Create {
	if fp.Error != nil {
		return nil
	}
	return fp.Creates
}

// fleetCells are a fleet's creates, monthly delta and commitment as the
// tables show them.
func fleetCells(fp *FleetPlan) (creates, monthly, commitment string) {
	if fp.Error != nil {
		return "-", "-", "-"
	}
	return suspendedCell(fp, signed(len(fp.Creates))), suspendedCell(fp, money(fp.Money, fp.Money.Monthly, true)), suspendedCell(fp, money(fp.Money, fp.Money.Commitment, false))
}

// noteworthy reports whether a fleet has anything to show beyond its row.
func (fp *FleetPlan) noteworthy() bool {
	rollout := 0
	if fp.Rollout != nil {
		rollout = len(fp.Rollout.Updates)
	}
	return fp.Error != nil || fp.Suspended || fp.Failing ||
		len(fleetCreates(fp))+len(fp.Surplus)+len(fp.Waiting)+len(fp.Backoff)+len(fp.Renewals)+len(fp.Drift)+len(fp.Warnings)+len(fp.Notes)+rollout > 0
}

func createText(c Create) string {
	var b strings.Builder
	fmt.Fprintf(&b, "slot %d %s", c.Slot, c.Name)
	if c.Zone != "" {
		fmt.Fprintf(&b, " in %s", c.Zone)
	}
	fmt.Fprintf(&b, " (%s, %s, %s", c.BundleID, c.BlueprintID, plural(c.Period, "month"))
	if c.Incarnation > 0 {
		fmt.Fprintf(&b, ", incarnation %d", c.Incarnation)
	}
	if c.Resend {
		b.WriteString(", resent with the same token")
	}
	fmt.Fprintf(&b, "): %s", c.Reason)
	return b.String()
}

// Text says what a slot held by an expectation waits for and when a new
// server is bought if it is still missing.
func (w Waiting) Text() string {
	until := w.Until.UTC().Format(time.RFC3339)
	if w.InstanceID == "" {
		return fmt.Sprintf("slot %d waits for the outcome of a create until %s; the same token is sent again", w.Slot, until)
	}
	return fmt.Sprintf("slot %d: the token returned %s, which is not listed; a new server is bought at %s if it is still missing", w.Slot, w.InstanceID, until)
}

func fleetErrorText(e *FleetError) string { return withCode(e.Message, e.Code) }

func failureText(f Failure) string {
	what := fmt.Sprintf("slot %d", f.Slot)
	switch {
	case f.Action != "":
		what = f.Action + " " + f.InstanceID
	case f.InstanceID != "":
		what = "isolate " + f.InstanceID
	}
	return fmt.Sprintf("%s, %s: %s", what, f.Class, withCode(f.Message, f.Code))
}

// withCode is msg followed by the API's error code, unless msg names it.
func withCode(msg, code string) string {
	if code != "" && !strings.Contains(msg, code) {
		return msg + " (" + code + ")"
	}
	return msg
}

// money formats an amount with its currency; delta adds a sign. An amount
// with some prices unknown says so.
func money(m Money, amount float64, delta bool) string {
	if amount == 0 && !m.Unknown {
		return "-"
	}
	s := fmt.Sprintf("%.2f", amount)
	if delta && amount > 0 {
		s = "+" + s
	}
	if m.Currency != "" {
		s += " " + m.Currency
	}
	if m.Unknown {
		s += " (some prices unknown)"
	}
	return s
}

func signed(n int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("+%d", n)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// RenderTextResult writes what an apply did, as RenderText writes it after
// the plan, for a caller that has written the plan already.
func RenderTextResult(w io.Writer, res *Result, color bool) error {
	t := &textWriter{w: bufio.NewWriter(w), color: color}
	t.result(res)
	return t.w.Flush()
}
