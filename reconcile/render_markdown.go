package reconcile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/escape"
)

// MarkdownMarker starts every Markdown plan: CI finds the comment it wrote
// before by it and edits that one instead of adding another.
const MarkdownMarker = "<!-- lightkeeper-plan -->"

// MaxMarkdown is the longest Markdown RenderMarkdown writes, in characters:
// GitHub takes comments of up to 65,536 characters, GitLab notes up to
// 1,000,000, so this fits both with room for what CI adds.
const MaxMarkdown = 60000

// RenderMarkdown writes p as a pull-request comment: MarkdownMarker, a
// verdict, a summary table (fleet, region, desired, live, pending, failed,
// creates, surplus, monthly delta, commitment), then a collapsible <details>
// block per fleet with its creates, surplus, drift, warnings and errors, and
// the guards the plan exceeds. res, if not nil, is the apply that followed.
// Past MaxMarkdown characters the fleets' details are left out, from the
// last, and a note says how many.
func RenderMarkdown(w io.Writer, p *Plan, res *Result) error {
	var head, tail strings.Builder
	head.WriteString(MarkdownMarker + "\n")
	fmt.Fprintf(&head, "### lightkeeper plan\n\n**%s**\n\n", mdText(Summary(p)))
	if len(p.Violations) > 0 {
		if allow := p.words.AllowOverLimit; allow != "" {
			fmt.Fprintf(&head, "> [!CAUTION]\n> Over a safety limit; nothing is created without %s:\n", mdCode(allow))
		} else {
			head.WriteString("> [!CAUTION]\n> Over a safety limit; nothing is created:\n")
		}
		for _, v := range p.Violations {
			fmt.Fprintf(&head, "> - %s: %s\n", mdCode(v.Limit), mdText(violationText(p, v)))
		}
		head.WriteString("\n")
	}
	if len(p.Fleets) > 0 {
		head.WriteString("| fleet | region | desired | live | pending | failed | +create | surplus | outdated | monthly delta | commitment | next expiry |\n")
		head.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		for _, fp := range p.Fleets {
			name := mdCode(fp.Fleet)
			switch st := fp.condition(); st {
			case "error":
				name += " :x:"
			case "":
			default:
				name += " (" + st + ")"
			}
			creates, monthly, commitment := fleetCells(fp)
			fmt.Fprintf(&head, "| %s | %s | %d | %d | %d | %d | %s | %d | %d | %s | %s | %s |\n", name, mdText(fp.Region), fp.Desired, fp.Live, fp.Pending, fp.Failed,
				creates, len(fp.Surplus), fp.Outdated, mdText(monthly), mdText(commitment), expiryCell(fp))
		}
		if len(p.Fleets) > 1 {
			m := p.Totals.Money
			fmt.Fprintf(&head, "| **total** | | | | | | **%s** | | | **%s** | **%s** | |\n", signed(p.Totals.Creates), mdText(money(m, m.Monthly, true)), mdText(money(m, m.Commitment, false)))
		}
		head.WriteString("\n")
	}

	if len(p.Orphans) > 0 {
		fmt.Fprintf(&tail, "<details><summary>%s tagged for fleets no longer in git (reported, never touched)</summary>\n\n", plural(len(p.Orphans), "instance"))
		for _, in := range p.Orphans {
			fmt.Fprintf(&tail, "- %s %s (%s, fleet %s, slot %d)\n", mdCode(in.ID), mdText(in.Name), mdText(in.State), mdCode(in.Fleet), in.Slot)
		}
		tail.WriteString("\n</details>\n\n")
	}
	if res != nil {
		markdownResult(&tail, res)
	}
	tail.WriteString(fmt.Sprintf("<sub>lightkeeper, plan of %s</sub>\n", p.At.UTC().Format(time.RFC3339)))

	var sections []string
	for _, fp := range p.Fleets {
		if fp.noteworthy() {
			sections = append(sections, markdownFleet(fp, p.words))
		}
	}
	out := head.String()
	budget := MaxMarkdown - len(out) - len(tail.String()) - 400 // room for the note
	shown := 0
	for _, s := range sections {
		if len(s) > budget {
			break
		}
		out += s
		budget -= len(s)
		shown++
	}
	if shown < len(sections) {
		out += fmt.Sprintf("> [!NOTE]\n> Truncated: the details of %s are left out, the comment would pass %d characters. Run `lightkeeper reconcile --plan` (or `--output json`) for the whole plan.\n\n",
			plural(len(sections)-shown, "more fleet"), MaxMarkdown)
	}
	out += tail.String()
	if len(out) > MaxMarkdown { // a huge head or tail: cut at a line
		cut := strings.LastIndexByte(out[:MaxMarkdown-200], '\n')
		out = out[:cut+1] + "\n> [!NOTE]\n> Truncated at " + fmt.Sprint(MaxMarkdown) + " characters; run `lightkeeper reconcile --plan` for the whole plan.\n"
	}
	_, err := io.WriteString(w, out)
	return err
}

func markdownFleet(fp *FleetPlan, words Words) string {
	var b strings.Builder
	var what []string
	if fp.Error != nil {
		what = append(what, "error")
	}
	if st := fp.condition(); st != "" && st != "error" {
		what = append(what, st)
	}
	creates := fleetCreates(fp)
	if n := len(creates); n > 0 {
		what = append(what, fmt.Sprintf("+%d %s", n, would(fp, "create")))
	}
	if n := len(fp.Surplus); n > 0 {
		what = append(what, plural(n, "surplus"))
	}
	if n := len(fp.Drift); n > 0 {
		what = append(what, fmt.Sprintf("%d drift", n))
	}
	if n := fp.renewals(); n > 0 {
		what = append(what, fmt.Sprintf("%d %s", n, would(fp, "renew")))
	}
	if n := len(fp.Waiting) + len(fp.Backoff) + len(fp.Renewals) - fp.renewals(); n > 0 {
		what = append(what, fmt.Sprintf("%d waiting", n))
	}
	if n := len(fp.Warnings); n > 0 {
		what = append(what, plural(n, "warning"))
	}
	if r := fp.Rollout; r != nil && len(r.Updates) > 0 && fp.Error == nil {
		what = append(what, fmt.Sprintf("rollout %d/%d", r.Updated, r.Total))
	}
	fmt.Fprintf(&b, "<details><summary><code>%s</code> (%s): %s</summary>\n\n", mdText(fp.Fleet), mdText(fp.Region), strings.Join(what, ", "))
	if fp.File != "" {
		fmt.Fprintf(&b, "Spec: %s\n\n", mdCode(fmt.Sprintf("%s:%d", fp.File, fp.Line)))
	}
	if e := fp.Error; e != nil {
		fmt.Fprintf(&b, ":x: **Error:** %s\n\n", mdText(fleetErrorText(e)))
	}
	if fp.Suspended {
		b.WriteString(":pause_button: **Suspended** (`spec.suspend`): nothing is created, changed, renewed or isolated; what it would do is listed for the record.\n\n")
	}
	if fp.Failing {
		fmt.Fprintf(&b, ":x: **Failing:** %s\n\n", mdText(fp.FailingText()))
	}
	if len(creates) > 0 {
		b.WriteString("| slot | name | zone | bundle | blueprint | months | why |\n|--:|---|---|---|---|--:|---|\n")
		for _, c := range creates {
			why := c.Reason
			if c.Resend {
				why = "resent with the same token: " + why
			}
			zone := c.Zone
			if zone == "" {
				zone = "(cloud picks)"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %s |\n", c.Slot, mdCode(c.Name), mdText(zone), mdCode(c.BundleID), mdCode(c.BlueprintID), c.Period, mdText(why))
		}
		b.WriteString("\n")
	}
	if len(fp.Renewals) > 0 {
		b.WriteString("| renew | instance | name | expires | new expiry | months | price | why |\n|---|---|---|---|---|--:|--:|---|\n")
		for _, rn := range fp.Renewals {
			what := rn.Verdict
			if rn.sends() {
				what = would(fp, "renew")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s | %s |\n", mdText(what), mdCode(rn.InstanceID), mdText(rn.Name), rn.Expires.UTC().Format(time.RFC3339),
				rn.NewExpiry.UTC().Format(time.RFC3339), rn.Period, mdText(rn.priceText()), mdText(rn.Reason))
		}
		b.WriteString("\n")
	}
	for _, s := range fp.Surplus {
		action := s.Action
		if action == ActionIsolate {
			action = would(fp, action)
		}
		fmt.Fprintf(&b, "- **%s** %s %s (%s): %s\n", mdText(action), mdCode(s.ID), mdText(s.Name), mdText(s.State), mdText(s.Reason+heldText(s, words)))
	}
	for _, bo := range fp.Backoff {
		fmt.Fprintf(&b, "- %s\n", mdText(bo.Text()))
	}
	for _, wt := range fp.Waiting {
		fmt.Fprintf(&b, "- %s\n", mdText(wt.Text()))
	}
	for _, d := range fp.Drift {
		fmt.Fprintf(&b, "- drift %s %s: %s is %s, the instance has %s (reported only)\n", mdCode(d.InstanceID), mdText(d.Name), mdCode(d.Field), mdCode(d.Spec), mdCode(d.Actual))
	}
	if r := fp.Rollout; r != nil && len(r.Updates) > 0 && fp.Error == nil {
		markdownRollout(&b, r, words)
	}
	for _, w := range fp.Warnings {
		fmt.Fprintf(&b, "- :warning: %s\n", mdText(w))
	}
	for _, n := range fp.Notes {
		fmt.Fprintf(&b, "- note: %s\n", mdText(n))
	}
	b.WriteString("\n</details>\n\n")
	return b.String()
}

func markdownResult(b *strings.Builder, res *Result) {
	icon := ":white_check_mark:"
	if !res.OK() {
		icon = ":x:"
	}
	fmt.Fprintf(b, "%s **Applied:** %s.\n\n", icon, mdText(appliedText(res)))
	for _, fr := range res.Fleets {
		if len(fr.Failures) == 0 && len(fr.Waiting) == 0 && fr.Error == nil && !fr.Failing && len(fr.RenewFailures) == 0 {
			continue
		}
		fmt.Fprintf(b, "- %s:", mdCode(fr.Fleet))
		if fr.Error != nil {
			fmt.Fprintf(b, " %s", mdText(fleetErrorText(fr.Error)))
		}
		if fr.Failing {
			b.WriteString(" failing: launches keep failing; the run is not a success")
		}
		b.WriteString("\n")
		for _, f := range fr.Failures {
			fmt.Fprintf(b, "  - %s\n", mdText(failureText(f)))
		}
		for _, w := range fr.Waiting {
			fmt.Fprintf(b, "  - %s\n", mdText(w.Text()))
		}
		for _, f := range fr.RenewFailures {
			fmt.Fprintf(b, "  - %s\n", mdText(renewFailureText(f)))
		}
	}
	b.WriteString("\n")
}

// mdText escapes s, text from a fleet spec or from the cloud, for a
// Markdown comment on GitHub or GitLab, anywhere in a line, a table cell
// included. Whatever s holds, the result is plain text on one line:
//
//   - characters that are not printable are written as escape.Text writes
//     them (\n, \x1b, \u202e), so no line, and no table row, is broken;
//   - &, < and > become &amp;, &lt; and &gt;, so no HTML tag, comment
//     ("<!--"), autolink or entity can start;
//   - a backslash goes before \ ` * _ ~ [ ] | $ @, so no backslash escape,
//     code span, emphasis, strikethrough, link, image, cell border, math or
//     mention can start: CommonMark reads any ASCII punctuation after a
//     backslash as itself (GFM too inside table cells, code spans
//     included).
//
// What starts a construct only at the start of a line (a heading, a list, a
// quote) is left: every line of the comment starts with lightkeeper's own
// text. FuzzRenderMarkdown holds the renderer to this.
func mdText(s string) string { return mdReplacer.Replace(escape.Text(s)) }

var mdReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "~", `\~`, "[", `\[`, "]", `\]`, "|", `\|`, "$", `\$`, "@", `\@`)

// mdCode shows s as code: a code span where s holds only characters that
// cannot end one or break a line (letters, digits and - . _ / : + = , @),
// as IDs, names and paths do; otherwise an HTML code element around
// mdText(s), which shows any s as itself.
func mdCode(s string) string {
	if s != "" && strings.IndexFunc(s, notCodeSafe) < 0 {
		return "`" + s + "`"
	}
	return "<code>" + mdText(s) + "</code>"
}

func notCodeSafe(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("-._/:+=,@", r)
}
