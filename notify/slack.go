package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// SlackOptions configure a Slack sink: URL is the incoming webhook's URL
// (a credential: read it from a file).
type SlackOptions struct {
	HTTPOptions
}

// Slack posts each event to a Slack incoming webhook as a message a person
// reads at a glance: what happened to which fleet, and a link to the
// status page.
type Slack struct{ o SlackOptions }

var _ Sink = (*Slack)(nil)

// NewSlack returns a Slack sink.
func NewSlack(o SlackOptions) (*Slack, error) {
	if err := o.check("slack"); err != nil {
		return nil, err
	}
	return &Slack{o}, nil
}

// Name names the sink.
func (s *Slack) Name() string { return s.o.Name }

// Send posts ev once.
func (s *Slack) Send(ctx context.Context, ev Event) error {
	body, err := json.Marshal(SlackMessage(ev))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", s.o.Name, err))
	}
	return s.o.post(ctx, s.o.URL, body, nil)
}

// slackMessage is the body of an incoming webhook: text is what a
// notification shows, blocks what the channel shows.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// SlackMessage is ev as a Slack incoming webhook's JSON body: the first
// line says how bad, what happened and to which fleet; the description
// follows; the last line names the revision and links the status page.
func SlackMessage(ev Event) any {
	head := fmt.Sprintf("%s *%s*", slackMark(ev), slackEscape(ev.Summary))
	if ev.Status == Resolved {
		head = fmt.Sprintf("%s *Resolved:* %s", slackMark(ev), slackEscape(ev.Summary))
	}
	var ctx []string
	if len(ev.Fleets) > 0 {
		f := "fleet " + strings.Join(ev.Fleets, ", ")
		if len(ev.Fleets) > 1 {
			f = "fleets " + strings.Join(ev.Fleets, ", ")
		}
		if ev.Region != "" {
			f += " (" + ev.Region + ")"
		}
		ctx = append(ctx, slackEscape(f))
	}
	if ev.Instance != "" {
		ctx = append(ctx, "instance "+slackEscape(ev.Instance))
	}
	if ev.Revision != "" {
		ctx = append(ctx, "revision `"+slackEscape(short(ev.Revision))+"`")
	}
	ctx = append(ctx, ev.Severity.String())
	if ev.URL != "" {
		ctx = append(ctx, "<"+slackEscape(ev.URL)+"|status page>")
	}
	m := slackMessage{Text: plainSummary(ev)}
	m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: head}})
	if ev.Description != "" && ev.Status != Resolved {
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: slackEscape(oneBlock(ev.Description, 2900))}})
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []*slackText{{Type: "mrkdwn", Text: strings.Join(ctx, " · ")}}})
	return m
}

// plainSummary is the event in one line of plain text.
func plainSummary(ev Event) string {
	s := ev.Summary
	if ev.Status == Resolved {
		s = "Resolved: " + s
	}
	return fmt.Sprintf("[%s] %s", ev.Severity, s)
}

func slackMark(ev Event) string {
	switch {
	case ev.Status == Resolved:
		return ":white_check_mark:"
	case ev.Severity >= Critical:
		return ":red_circle:"
	case ev.Severity >= Warning:
		return ":warning:"
	}
	return ":information_source:"
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// oneBlock bounds s to n bytes (a section's text takes 3000 characters).
func oneBlock(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// short is a revision's first 12 characters.
func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
