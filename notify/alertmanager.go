package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// DefaultResend is how often the Alertmanager sink sends a condition that
// holds again (Prometheus's --rules.alert.resend-delay default).
const DefaultResend = time.Minute

// AlertmanagerOptions configure an Alertmanager sink: URL is Alertmanager's
// base URL (http://alertmanager:9093; a URL that ends in /api/v2/alerts is
// taken as it is).
type AlertmanagerOptions struct {
	HTTPOptions
	// Resend is how often a condition that holds is sent again (default
	// DefaultResend); each alert ends 4 Resends after it was sent unless
	// sent again, as Prometheus's alerts do.
	Resend time.Duration
}

// Alertmanager posts conditions to Alertmanager's API v2 as alerts: firing
// with an endsAt a few resends ahead, sent again while they hold, and
// resolved with endsAt now.
type Alertmanager struct {
	o   AlertmanagerOptions
	url string
}

var (
	_ Sink     = (*Alertmanager)(nil)
	_ Resender = (*Alertmanager)(nil)
)

// NewAlertmanager returns an Alertmanager sink.
func NewAlertmanager(o AlertmanagerOptions) (*Alertmanager, error) {
	if err := o.check("alertmanager"); err != nil {
		return nil, err
	}
	if o.Resend <= 0 {
		o.Resend = DefaultResend
	}
	u := strings.TrimSuffix(o.URL, "/")
	if !strings.HasSuffix(u, "/api/v2/alerts") {
		u += "/api/v2/alerts"
	}
	return &Alertmanager{o: o, url: u}, nil
}

// Name names the sink.
func (a *Alertmanager) Name() string { return a.o.Name }

// ResendEvery is Options.Resend: the Notifier sends the conditions that
// hold again this often.
func (a *Alertmanager) ResendEvery() time.Duration { return a.o.Resend }

// Alert is one alert of Alertmanager's API v2 (postableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Send posts ev as one alert. A one-off event is not an alert: it is
// refused (a Route with ConditionsOnly never sends one).
func (a *Alertmanager) Send(ctx context.Context, ev Event) error {
	if ev.Status == Once {
		return Permanent(fmt.Errorf("%s: %s is an event, not a condition: Alertmanager takes conditions only", a.o.Name, ev.Kind))
	}
	body, err := json.Marshal([]Alert{AlertOf(ev, a.o.Resend)})
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", a.o.Name, err))
	}
	return a.o.post(ctx, a.url, body, nil)
}

// AlertOf is ev as an alert: labels alertname (Lightkeeper and the kind
// in CamelCase: plan.held is LightkeeperPlanHeld), fleet, region,
// severity and instance where the event names them; annotations summary,
// description, revision and the details; endsAt 4 resends ahead while it
// fires, its time once resolved.
func AlertOf(ev Event, resend time.Duration) Alert {
	labels := map[string]string{"alertname": AlertName(ev.Kind), "severity": ev.Severity.String()}
	if len(ev.Fleets) > 0 {
		labels["fleet"] = strings.Join(ev.Fleets, ",")
	}
	if ev.Region != "" {
		labels["region"] = ev.Region
	}
	if ev.Instance != "" {
		labels["instance"] = ev.Instance
	}
	ann := map[string]string{"summary": ev.Summary}
	if ev.Description != "" {
		ann["description"] = ev.Description
	}
	if ev.Revision != "" {
		ann["revision"] = ev.Revision
	}
	for k, v := range ev.Details {
		if _, taken := ann[k]; !taken {
			ann[k] = detailString(v)
		}
	}
	al := Alert{Labels: labels, Annotations: ann, StartsAt: ev.Since.UTC(), GeneratorURL: ev.URL}
	if ev.Status == Resolved {
		al.EndsAt = ev.At.UTC()
	} else {
		al.EndsAt = ev.At.Add(4 * resend).UTC()
	}
	return al
}

// AlertName is the alertname of an event kind: "Lightkeeper" and the kind
// in CamelCase, each of its words capitalized (fleet.not-converged is
// LightkeeperFleetNotConverged).
func AlertName(kind string) string {
	var b strings.Builder
	b.WriteString("Lightkeeper")
	for _, w := range strings.FieldsFunc(kind, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// detailString writes a detail as an annotation's text.
func detailString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, "; ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
