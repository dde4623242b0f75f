// This file holds the notify, publicURL and approvers keys of the
// configuration in config.go: their types, the checks the schema cannot
// make, and the building of the notification routes and the approvers'
// tokens from the files they name (build.go runs it at start-up and for
// --check).

package daemon

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/lightkeeper/lightkeeper/notify"
)

// Sink types of the notify key.
const (
	SinkWebhook      = "webhook"
	SinkSlack        = "slack"
	SinkAlertmanager = "alertmanager"
)

// NotifySink is one item of the notify key: where to send which events.
type NotifySink struct {
	// Type is SinkWebhook, SinkSlack or SinkAlertmanager.
	Type string `yaml:"type"`
	// Name names the sink in metrics and logs; default its type, or
	// type-N when several share a type (set by the loader).
	Name string `yaml:"name"`
	// URL, or the file URLFile that holds it when it is a credential (a
	// Slack webhook's), is where to post.
	URL     string `yaml:"url"`
	URLFile string `yaml:"urlFile"`
	// SecretFile holds the webhook's signing key.
	SecretFile string `yaml:"secretFile"`
	// Events are the event kinds sent (EventKinds); empty: all (for
	// alertmanager: all conditions).
	Events []string `yaml:"events"`
	// MinSeverity is info (default), warning or critical.
	MinSeverity string `yaml:"minSeverity"`
	// RepeatInterval: see the schema (default notify.DefaultRepeat; for
	// alertmanager notify.DefaultResend).
	RepeatInterval Duration `yaml:"repeatInterval"`
}

// Approver may release a held plan with the token in TokenFile.
type Approver struct {
	Name      string `yaml:"name"`
	TokenFile string `yaml:"tokenFile"`
}

// minApproverToken is the shortest approver token taken: shorter ones are
// guessed.
const minApproverToken = 16

// notifyFiles are the file keys of notify and approvers, for the variable
// expansion of check.
func (c *Config) notifyFiles() []configFile {
	var files []configFile
	for i := range c.Notify {
		s := &c.Notify[i]
		at := []string{"notify", strconv.Itoa(i)}
		if s.URLFile != "" {
			files = append(files, configFile{&s.URLFile, append(at[:2:2], "urlFile")})
		}
		if s.SecretFile != "" {
			files = append(files, configFile{&s.SecretFile, append(at[:2:2], "secretFile")})
		}
	}
	for i := range c.Approvers {
		files = append(files, configFile{&c.Approvers[i].TokenFile, []string{"approvers", strconv.Itoa(i), "tokenFile"}})
	}
	return files
}

// checkNotify names the sinks and reports what the schema cannot say:
// names that repeat, one-off events sent to Alertmanager, approvers whose
// names repeat.
func (p *configParser) checkNotify(c *Config) {
	byType := map[string]int{}
	for _, s := range c.Notify {
		byType[s.Type]++
	}
	seen := map[string]int{}
	names := map[string]bool{}
	for i := range c.Notify {
		s := &c.Notify[i]
		at := []string{"notify", strconv.Itoa(i)}
		seen[s.Type]++
		if s.Name == "" {
			s.Name = s.Type
			if byType[s.Type] > 1 {
				s.Name = fmt.Sprintf("%s-%d", s.Type, seen[s.Type])
			}
		}
		if names[s.Name] {
			p.at(fmt.Sprintf("another sink is named %q: set name to tell them apart", s.Name), append(at, "name")...)
		}
		names[s.Name] = true
		if s.Type == SinkAlertmanager {
			for j, k := range s.Events {
				if !conditionKinds[k] {
					p.at(fmt.Sprintf("%s is a one-off event, not a condition: Alertmanager takes conditions only (send it to a webhook or slack sink)", k),
						append(at, "events", strconv.Itoa(j))...)
				}
			}
		}
		if r := time.Duration(s.RepeatInterval); r != 0 && r < time.Second {
			p.at("must be at least 1s", append(at, "repeatInterval")...)
		}
	}
	approvers := map[string]bool{}
	for i, a := range c.Approvers {
		if approvers[a.Name] {
			p.at(fmt.Sprintf("another approver is named %q: each name says who approved", a.Name), "approvers", strconv.Itoa(i), "name")
		}
		approvers[a.Name] = true
	}
}

// notifyRoutes builds the routes of the notify key, reading the URL and
// secret files (checkSecretFiles has checked that they exist and are not
// empty). A problem is placed at its key; no message holds a URL read
// from a file.
func notifyRoutes(c *Config, p *configParser, userAgent string) []notify.Route {
	var routes []notify.Route
	for i, s := range c.Notify {
		at := []string{"notify", strconv.Itoa(i)}
		u := s.URL
		key := "url"
		if s.URLFile != "" {
			key = "urlFile"
			b, err := readSecretFile(s.URLFile)
			if err != nil {
				p.at(err.Error(), append(at, key)...)
				continue
			}
			u = string(b)
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			// The URL is not shown: it may be a credential.
			msg := "must be an http:// or https:// URL with a host"
			if s.URLFile != "" {
				msg = fmt.Sprintf("%s does not hold an http:// or https:// URL with a host (what it holds is not shown: it may be a credential)", s.URLFile)
			}
			p.at(msg, append(at, key)...)
			continue
		}
		h := notify.HTTPOptions{Name: s.Name, URL: u, UserAgent: userAgent}
		r := notify.Route{Kinds: s.Events, Repeat: time.Duration(s.RepeatInterval)}
		if s.MinSeverity != "" {
			r.MinSeverity, _ = notify.ParseSeverity(s.MinSeverity) // the schema allows only valid names
		}
		var err error
		switch s.Type {
		case SinkWebhook:
			var secret []byte
			if secret, err = readSecretFile(s.SecretFile); err != nil {
				p.at(err.Error(), append(at, "secretFile")...)
				continue
			}
			r.Sink, err = notify.NewWebhook(notify.WebhookOptions{HTTPOptions: h, Secret: secret})
		case SinkSlack:
			r.Sink, err = notify.NewSlack(notify.SlackOptions{HTTPOptions: h})
		case SinkAlertmanager:
			r.ConditionsOnly = true
			if len(r.Kinds) == 0 {
				for _, k := range EventKinds {
					if conditionKinds[k] {
						r.Kinds = append(r.Kinds, k)
					}
				}
			}
			r.Sink, err = notify.NewAlertmanager(notify.AlertmanagerOptions{HTTPOptions: h, Resend: r.Repeat})
			r.Repeat = 0 // the sink's resend sends it again
		}
		if err != nil {
			p.at(err.Error(), at...)
			continue
		}
		routes = append(routes, r)
	}
	return routes
}

// approverTokens reads the approvers' tokens: each at least
// minApproverToken characters, no two alike.
func approverTokens(c *Config, p *configParser) []ApproverToken {
	var out []ApproverToken
	for i, a := range c.Approvers {
		at := []string{"approvers", strconv.Itoa(i), "tokenFile"}
		tok, err := readSecretFile(a.TokenFile)
		switch {
		case err != nil:
			p.at(err.Error(), at...)
			continue
		case len(tok) < minApproverToken:
			p.at(fmt.Sprintf("%s holds %d characters; a token needs at least %d (openssl rand -hex 32 > %s)", a.TokenFile, len(tok), minApproverToken, a.TokenFile), at...)
			continue
		}
		if j := slices.IndexFunc(out, func(o ApproverToken) bool { return string(o.Token) == string(tok) }); j >= 0 {
			p.at(fmt.Sprintf("holds the same token as approver %q's: each approver needs their own, to say who approved", out[j].Name), at...)
			continue
		}
		out = append(out, ApproverToken{Name: a.Name, Token: tok})
	}
	return out
}
