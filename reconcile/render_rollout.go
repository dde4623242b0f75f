package reconcile

import (
	"fmt"
	"strings"
)

// How the text and Markdown forms show a fleet's rollout: a head line
// (strategy, progress, batch, bounds), one line per update with its
// status, and why it waits or is paused. Every string from the repository
// or the cloud goes through the renderers' escapers.

// rolloutHead is the head line of a rollout, in lightkeeper's own words
// (numbers and names only).
func rolloutHead(r *Rollout) string {
	s := fmt.Sprintf("rollout (%s): %d/%d updated, %d of %d slots ready", r.Strategy, r.Updated, r.Total, r.Ready, r.Total)
	if r.Batch > 0 {
		s += fmt.Sprintf("; batch %d of %d", r.Batch, r.Batches)
	}
	s += fmt.Sprintf(" (maxUnavailable %d, maxSurge %d, minReady %gs)", r.MaxUnavailable, r.MaxSurge, r.MinReady)
	return s
}

// updateMark is the mark an update's line starts with in the text form.
func updateMark(u Update) (mark, color string) {
	switch u.Status {
	case StatusPlanned:
		return ">", ansiGreen
	case StatusRunning, StatusWaiting:
		return "~", ansiCyan
	case StatusFailed:
		return "x", ansiRed
	case StatusCannot, StatusPaused, StatusHeld:
		return "!", ansiYellow
	}
	return ".", ""
}

// updateWhat is what an update does, its changes and money, without the
// reason: "reset lhins-x (web-0), batch 1: spec.blueprintId lhbp-a -> lhbp-b".
// The strings are returned as they are; the caller escapes them.
func updateWhat(u Update) (action, id, name, changes, extra string) {
	var cs []string
	for _, c := range u.Changes {
		cs = append(cs, fmt.Sprintf("%s %s -> %s", c.Field, orNone(c.From), orNone(c.To)))
	}
	var more []string
	switch u.Status {
	case StatusPlanned:
		if u.Batch > 0 {
			more = append(more, fmt.Sprintf("batch %d", u.Batch))
		}
	case StatusLater:
		more = append(more, fmt.Sprintf("later, batch %d", u.Batch))
	default:
		more = append(more, u.Status)
	}
	if u.WipesDisk {
		more = append(more, "resets wipe the system disk")
	}
	if u.IsolateFirst {
		more = append(more, "isolated first, its slot then filled anew")
	}
	if m := u.Money; m != nil && u.Status == StatusPlanned && (m.Monthly != 0 || m.Commitment != 0 || m.Unknown) {
		more = append(more, fmt.Sprintf("%s a month, %s now", money(*m, m.Monthly, true), money(*m, m.Commitment, false)))
	}
	return u.Action, u.InstanceID, u.Name, strings.Join(cs, ", "), strings.Join(more, "; ")
}

// rollout writes a fleet's rollout in the text form.
func (t *textWriter) rollout(r *Rollout) {
	t.line(ansiBold, "  %s", rolloutHead(r))
	for _, u := range r.Updates {
		mark, color := updateMark(u)
		action, id, name, changes, extra := updateWhat(u)
		if extra != "" {
			extra = " (" + extra + ")"
		}
		t.line(color, "  %s %s %s %s%s: %s: %s%s", mark, action, id, name, extra, changes, u.Reason, heldUpdateText(u, t.words))
	}
	if r.Paused != "" {
		t.line(ansiRed, "  x rollout paused: %s", r.Paused)
	}
	if r.Waiting != "" {
		t.line(ansiCyan, "  ~ rollout waits: %s", r.Waiting)
	}
}

// markdownRollout writes a fleet's rollout in the Markdown form.
func markdownRollout(b *strings.Builder, r *Rollout, words Words) {
	fmt.Fprintf(b, "**%s**\n\n", mdText(rolloutHead(r)))
	if r.Paused != "" {
		fmt.Fprintf(b, ":x: **Paused:** %s\n\n", mdText(r.Paused))
	}
	if len(r.Updates) > 0 {
		b.WriteString("| slot | instance | action | status | changes | why |\n|--:|---|---|---|---|---|\n")
		for _, u := range r.Updates {
			action, id, name, changes, extra := updateWhat(u)
			status := u.Status
			if extra != "" {
				status = extra
			}
			if u.WipesDisk {
				action += " :warning:"
			}
			fmt.Fprintf(b, "| %d | %s %s | %s | %s | %s | %s |\n", u.Slot, mdCode(id), mdText(name), mdText(action), mdText(status), mdText(changes), mdText(u.Reason+heldUpdateText(u, words)))
		}
		b.WriteString("\n")
	}
	if r.Waiting != "" {
		fmt.Fprintf(b, "- the rollout waits: %s\n", mdText(r.Waiting))
	}
}

// rolloutSummary says, for the one-line verdict, which rollouts are not
// done: "rollouts in progress: web 1/4, api 0/2".
func rolloutSummary(p *Plan) string {
	var parts []string
	for _, fp := range p.Fleets {
		if fp.Error == nil && fp.Rollout != nil && len(fp.Rollout.Updates) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", fp.Fleet, fp.Rollout.Updated, fp.Rollout.Total))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "rollouts in progress: " + strings.Join(parts, ", ")
}
