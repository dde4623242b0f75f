package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

func init() {
	register(command{name: "approve", summary: "show the plan a daemon holds over a limit, or release it once", run: runApprove})
}

// Exit codes of approve beyond the shared ones.
const (
	exitNothingHeld = 2 // without PLAN-ID: the daemon holds no plan
	exitRefused     = 3 // the daemon refused the approval
)

const approveHelp = `
A daemon holds a plan that exceeds a limit (limits.maxCreatesPerRun,
maxMonthlySpend, maxIsolatesPerRun) and applies nothing. An approver releases
it, once, for exactly that plan: PLAN-ID is a hash of what the plan would do
(each create with its client token, each isolation, the money), not of when
it was made. The daemon applies its next plan over the limits only if that
plan has the same ID, at once; a plan that changed needs a new approval, and
the same approval again is refused.

Without PLAN-ID, approve prints the plan the daemon holds, with its ID, and
changes nothing (no token needed). With PLAN-ID it sends POST /approve with
the bearer token of --token-file, one of the files the daemon's approvers
key names. Sent to a follower of an HA group, the approval is checked there
and passed to the leader through etcd.

Exit codes: 0 approved (or, without PLAN-ID, a held plan printed), 1 error
(the daemon cannot be reached, or answers something else), 2 no plan is held
(without PLAN-ID), 3 the daemon refused the approval (a wrong token, a plan
that is not the one held, an approval used already), 64 bad flags or
arguments.

Examples:
  lightkeeper approve --daemon http://127.0.0.1:9180
  lightkeeper approve --daemon http://127.0.0.1:9180 --token-file ~/.config/lightkeeper/approver 3f2a9c0d5e6b7a18
`

func runApprove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "approve", "approve --daemon URL [--token-file FILE] [PLAN-ID]", approveHelp)
	base := fs.String("daemon", "", "the daemon's base `URL`, as its listen address or publicURL reaches it")
	tokenFile := fs.String("token-file", "", "the `file` holding your approver token (required with PLAN-ID)")
	output := fs.String("output", "text", "text, or json: the daemon's answer (without PLAN-ID: its /status approvals and plan)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the daemon")
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	switch {
	case *base == "":
		return usageError("--daemon URL is required (the daemon's http://HOST:PORT)")
	case len(rest) > 1:
		return usageError("approve takes at most one PLAN-ID, got %q", rest)
	case *output != "text" && *output != "json":
		return usageError("--output must be text or json, not %q", *output)
	case len(rest) == 1 && *tokenFile == "":
		return usageError("--token-file FILE is required to approve a plan")
	}
	u, err := url.Parse(strings.TrimSuffix(*base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--daemon %q: want an http:// or https:// URL such as http://127.0.0.1:9180", *base)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if len(rest) == 0 {
		return showHeld(ctx, e, client, u.String(), *output == "json")
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	return sendApproval(ctx, e, client, u.String(), token, rest[0], *output == "json")
}

// readToken reads an approver token file, less the white space around it.
func readToken(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("--token-file: %s is empty", file)
	}
	return tok, nil
}

// showHeld prints the plan the daemon holds, with its ID.
func showHeld(ctx context.Context, e *env, client *http.Client, base string, asJSON bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the daemon: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the daemon's /status: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/status: HTTP %d: %s", base, resp.StatusCode, answerLine(body))
	}
	var s daemon.Status
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("GET %s/status: not the status of a lightkeeper daemon: %w", base, err)
	}
	held := s.Approvals != nil && s.Approvals.Held != "" && s.Plan != nil && s.Plan.ID == s.Approvals.Held
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Approvals *daemon.ApprovalStatus `json:"approvals"`
			Plan      *reconcile.Plan        `json:"plan,omitempty"`
		}{s.Approvals, s.Plan}); err != nil {
			return err
		}
	}
	if !held {
		if !asJSON {
			msg := "No plan is held: the last plan was within the limits, or none was made."
			if s.HA != nil && !s.HA.Leader {
				msg = fmt.Sprintf("No plan is held here: %s follows; ask the leader (%s).", s.HA.ID, orNone(s.HA.LeaderURL, s.HA.LeaderID))
			}
			fmt.Fprintln(e.stdout, msg)
			printLastApproval(e, s.Approvals)
		}
		return &exitCodeError{code: exitNothingHeld}
	}
	if asJSON {
		return nil
	}
	p := s.Plan
	fmt.Fprintf(e.stdout, "Held plan %s", p.ID)
	if s.LastGood != nil {
		fmt.Fprintf(e.stdout, " (revision %s)", s.LastGood.Short)
	}
	fmt.Fprintln(e.stdout, ": nothing is applied until it is approved or the limits allow it.")
	for _, v := range s.Held {
		fmt.Fprintf(e.stdout, "  over a limit: %s\n", v.Message)
	}
	fmt.Fprintln(e.stdout)
	if err := reconcile.RenderText(e.stdout, p, nil, false); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	if a := s.Approvals; a.Pending != nil {
		fmt.Fprintf(e.stdout, "Approved by %s at %s: the next cycle applies it if its plan is the same.\n", a.Pending.By, a.Pending.At.Format(time.RFC3339))
		return nil
	}
	if len(s.Approvals.Approvers) == 0 {
		fmt.Fprintln(e.stdout, "The daemon has no approvers: raise the limit in its configuration, or add approvers to release held plans.")
		return nil
	}
	fmt.Fprintf(e.stdout, "Approve it, once (approvers: %s):\n  lightkeeper approve --daemon %s --token-file FILE %s\n", strings.Join(s.Approvals.Approvers, ", "), base, p.ID)
	return nil
}

// printLastApproval prints the last approval used or dropped, if any.
func printLastApproval(e *env, a *daemon.ApprovalStatus) {
	if a == nil || a.Last == nil {
		return
	}
	l := a.Last
	fmt.Fprintf(e.stdout, "Last approval: plan %s by %s at %s", l.Plan, l.By, l.At.Format(time.RFC3339))
	switch {
	case !l.Applied.IsZero():
		fmt.Fprintf(e.stdout, ", applied at %s.\n", l.Applied.Format(time.RFC3339))
	case l.Dropped != "":
		fmt.Fprintf(e.stdout, "; not used: %s.\n", l.Dropped)
	default:
		fmt.Fprintln(e.stdout, ".")
	}
}

// sendApproval posts the approval of plan and prints the daemon's answer.
func sendApproval(ctx context.Context, e *env, client *http.Client, base, token, plan string, asJSON bool) error {
	body, _ := json.Marshal(daemon.ApproveRequest{Plan: plan})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/approve", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the daemon: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the daemon's answer: %w", err)
	}
	var ans daemon.ApproveResponse
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Result == "" {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return fmt.Errorf("POST %s/approve: HTTP %d: is it a lightkeeper daemon of a version that takes approvals?", base, resp.StatusCode)
		}
		return fmt.Errorf("POST %s/approve: HTTP %d: %s", base, resp.StatusCode, answerLine(raw))
	}
	if asJSON {
		e.stdout.Write(raw)
	} else {
		fmt.Fprintln(e.stdout, ans.Message)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return &exitCodeError{code: exitRefused, err: errors.New("refused (" + ans.Result + ")")}
	}
	return fmt.Errorf("POST %s/approve: HTTP %d (%s)", base, resp.StatusCode, ans.Result)
}

// answerLine is the first line of an answer, for an error.
func answerLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func orNone(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return "none elected yet"
}
