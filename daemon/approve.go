package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// This file holds approvals: a person releases a plan held by a limit,
// once, for exactly that plan. An approver (Options.Approvers) sends POST
// /approve with a bearer token and the plan's ID (reconcile.Plan.ID, a hash
// of what the plan would do); the daemon takes it only while that plan is
// the one held, and the next cycle applies its plan over the limits only if
// it has the same ID. The approval is then used up: a plan that changed
// needs a new one, and the same approval sent again is refused. A follower
// passes an approval to the leader through the election (Relay).

// ApproverToken is an approver's name and bearer token.
type ApproverToken struct {
	Name  string
	Token []byte
}

// Approval is a person's release of one held plan.
type Approval struct {
	// Plan is the ID of the plan approved.
	Plan string `json:"plan"`
	// By names the approver; At is when the approval was taken.
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Via names the daemon that took the request and passed it to the
	// leader; "" when the leader took it.
	Via string `json:"via,omitempty"`
	// Applied is when the cycle that applied the plan ended; zero while
	// the approval waits for its cycle, or when it was not used.
	Applied time.Time `json:"applied,omitzero"`
	// Dropped says why the approval was not used (the plan changed, or is
	// no longer held).
	Dropped string `json:"dropped,omitempty"`
}

// ApprovalStatus is the approvals part of Status.
type ApprovalStatus struct {
	// Approvers are the names of those who may approve.
	Approvers []string `json:"approvers"`
	// Held is the ID of the plan held now, "" when none is.
	Held string `json:"held,omitempty"`
	// Pending is the approval that the next cycle uses, if its plan is the
	// same.
	Pending *Approval `json:"pending,omitempty"`
	// Last is the last approval used (applied) or dropped.
	Last *Approval `json:"last,omitempty"`
}

// Results of POST /approve, the labels of lightkeeper_approvals_total.
const (
	ApprovalAccepted     = "accepted"     // taken: the next cycle applies the plan if it is the same
	ApprovalForwarded    = "forwarded"    // a follower passed it to the leader
	ApprovalUnauthorized = "unauthorized" // no token, or a wrong one
	ApprovalInvalid      = "invalid"      // the request does not name a plan ID
	ApprovalStale        = "stale"        // the plan named is not the one held
	ApprovalReplayed     = "replayed"     // the plan was approved already (used, or waiting for its cycle)
)

// approvalResults lists the results of POST /approve.
var approvalResults = []string{ApprovalAccepted, ApprovalForwarded, ApprovalUnauthorized, ApprovalInvalid, ApprovalStale, ApprovalReplayed}

// topicApprove is the Relay topic of approvals passed to the leader.
const topicApprove = "approve"

// maxUsed bounds the plan IDs remembered as approved and used.
const maxUsed = 1024

// approvals is the daemon's side of approvals.
type approvals struct {
	mu      sync.Mutex
	held    string // the plan held by the last cycle that made one
	pending *Approval
	last    *Approval
	used    map[string]Approval // plan ID → the approval that applied it
	order   []string            // used, oldest first
}

// ApproveRequest is the body of POST /approve.
type ApproveRequest struct {
	// Plan is the ID of the held plan to approve.
	Plan string `json:"plan"`
}

// ApproveResponse is the answer of POST /approve, with HTTP 202 when the
// approval is taken (or passed to the leader) and 4xx when it is refused.
type ApproveResponse struct {
	// Result is one of the Approval* results.
	Result string `json:"result"`
	// Message says what happens next, or why the approval was refused.
	Message string `json:"message"`
	// Approval is the approval taken.
	Approval *Approval `json:"approval,omitempty"`
}

var planIDRE = regexp.MustCompile(fmt.Sprintf(`^[0-9a-f]{%d}$`, reconcile.PlanIDLength))

// serveApprove is POST /approve.
func (d *Daemon) serveApprove(w http.ResponseWriter, r *http.Request) {
	answer := func(code int, resp ApproveResponse) {
		d.m.approvals.WithLabelValues(resp.Result).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lightkeeper approve"`)
		}
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(resp)
	}
	name := d.approver(r.Header.Get("Authorization"))
	if name == "" {
		msg := "a wrong or missing bearer token: send Authorization: Bearer TOKEN with a token of the configuration's approvers"
		if len(d.opts.Approvers) == 0 {
			msg = "no approvers are configured: add approvers (name and tokenFile) to the configuration to release held plans"
		}
		d.log.Warn("approval refused: wrong or missing token", "remote", r.RemoteAddr)
		answer(http.StatusUnauthorized, ApproveResponse{Result: ApprovalUnauthorized, Message: msg})
		return
	}
	var req ApproveRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || !planIDRE.MatchString(req.Plan) {
		answer(http.StatusBadRequest, ApproveResponse{Result: ApprovalInvalid,
			Message: fmt.Sprintf(`the body must be {"plan": "ID"} with the held plan's ID (%d hex digits; lightkeeper approve --daemon URL prints it)`, reconcile.PlanIDLength)})
		return
	}
	a := Approval{Plan: req.Plan, By: name, At: d.opts.Now().UTC()}
	if !d.leading() {
		relay, ok := d.opts.Leadership.(Relay)
		if !ok {
			answer(http.StatusServiceUnavailable, ApproveResponse{Result: ApprovalStale, Message: "this daemon follows and cannot pass approvals on: send it to the leader"})
			return
		}
		a.Via = d.opts.Leadership.ID()
		data, _ := json.Marshal(a)
		if err := relay.Send(r.Context(), topicApprove, data); err != nil {
			d.log.Error("cannot pass an approval to the leader", "plan", a.Plan, "by", a.By, "err", err)
			answer(http.StatusServiceUnavailable, ApproveResponse{Result: ApprovalStale, Message: "this daemon follows and cannot reach the election to pass the approval on: " + err.Error()})
			return
		}
		leader := "the leader"
		if info, ok := d.opts.Leadership.Leader(); ok && info.ID != "" {
			leader = "the leader " + info.ID
		}
		d.log.Info("approval passed to the leader", "plan", a.Plan, "by", a.By)
		answer(http.StatusAccepted, ApproveResponse{Result: ApprovalForwarded, Approval: &a,
			Message: fmt.Sprintf("passed to %s through etcd: it applies plan %s if that is the plan it holds (its /status says)", leader, a.Plan)})
		return
	}
	result, msg := d.approve(a)
	code := http.StatusAccepted
	switch result {
	case ApprovalStale, ApprovalReplayed:
		code = http.StatusConflict
	}
	resp := ApproveResponse{Result: result, Message: msg}
	if result == ApprovalAccepted {
		resp.Approval = &a
	}
	answer(code, resp)
}

// approver returns the name of the approver whose token the Authorization
// header carries, "" for none. Every token is compared, in constant time,
// as a SHA-256 (so that the lengths do not tell either).
func (d *Daemon) approver(header string) string {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		return ""
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	name := ""
	for _, a := range d.opts.Approvers {
		want := sha256.Sum256(a.Token)
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			name = a.Name
		}
	}
	return name
}

// message is the Relay's callback on the leader: a follower passed an
// approval on.
func (d *Daemon) message(topic string, data []byte) {
	if topic != topicApprove {
		d.log.Warn("a message of an unknown topic from a follower; ignored", "topic", topic)
		return
	}
	var a Approval
	if err := json.Unmarshal(data, &a); err != nil || !planIDRE.MatchString(a.Plan) || a.By == "" {
		d.log.Warn("an approval passed on by a follower does not read; ignored", "err", err)
		return
	}
	result, msg := d.approve(a)
	d.m.approvals.WithLabelValues(result).Inc()
	if result != ApprovalAccepted {
		d.log.Warn("approval passed on by a follower refused", "plan", a.Plan, "by", a.By, "via", a.Via, "result", result, "why", msg)
	}
}

// approve takes an approval if its plan is the one held now and was not
// approved before, and asks for a cycle at once. It returns the result and
// a message for the approver.
func (d *Daemon) approve(a Approval) (result, msg string) {
	ap := &d.approvals
	ap.mu.Lock()
	switch u, used := ap.used[a.Plan]; {
	case used:
		ap.mu.Unlock()
		return ApprovalReplayed, fmt.Sprintf("plan %s was approved by %s at %s and applied at %s: an approval is used once",
			a.Plan, u.By, u.At.Format(time.RFC3339), u.Applied.Format(time.RFC3339))
	case ap.pending != nil && ap.pending.Plan == a.Plan:
		p := *ap.pending
		ap.mu.Unlock()
		return ApprovalReplayed, fmt.Sprintf("plan %s was approved already, by %s at %s; the next cycle applies it", a.Plan, p.By, p.At.Format(time.RFC3339))
	case ap.held == "":
		ap.mu.Unlock()
		return ApprovalStale, fmt.Sprintf("no plan is held now, so plan %s cannot be approved: the last plan was within the limits, or none was made", a.Plan)
	case ap.held != a.Plan:
		held := ap.held
		ap.mu.Unlock()
		return ApprovalStale, fmt.Sprintf("plan %s is not the plan held now (%s): the plan changed; look at the new one (lightkeeper approve --daemon URL) and approve it if it is right", a.Plan, held)
	}
	ap.pending = &a
	ap.mu.Unlock()
	d.log.Info("plan approved; the next cycle applies it if its plan is the same", "plan", a.Plan, "by", a.By, "via", a.Via)
	ev := notify.Event{Kind: EventPlanApproved, Severity: notify.Info, Summary: fmt.Sprintf("plan %s approved by %s: applied at the next cycle if the plan is the same", a.Plan, a.By),
		Details: map[string]any{"planId": a.Plan, "approvedBy": a.By, "at": a.At.Format(time.RFC3339)}}
	if a.Via != "" {
		ev.Details["via"] = a.Via
	}
	d.notifyOnce(ev)
	d.countTrigger(TriggerApproved)
	d.now.ask(TriggerApproved)
	return ApprovalAccepted, fmt.Sprintf("plan %s approved by %s; the next cycle (now) applies it if its plan is still %s", a.Plan, a.By, a.Plan)
}

// useApproval is the cycle's side: the plan p is held. If an approval
// waits for exactly this plan, it is used up and returned; one for another
// plan is dropped. The plan held is recorded for the approvals to come.
func (d *Daemon) useApproval(p *reconcile.Plan) *Approval {
	ap := &d.approvals
	ap.mu.Lock()
	defer ap.mu.Unlock()
	a := ap.pending
	ap.pending = nil
	switch {
	case a == nil:
		ap.held = p.ID
		return nil
	case a.Plan != p.ID:
		a.Dropped = fmt.Sprintf("the plan changed: approved %s, the plan is now %s; approve the new plan if it is right", a.Plan, p.ID)
		ap.last, ap.held = a, p.ID
		d.log.Warn("approval not used: the plan changed since it was approved", "approved", a.Plan, "plan", p.ID, "by", a.By)
		return nil
	}
	ap.held = ""
	if ap.used == nil {
		ap.used = map[string]Approval{}
	}
	if len(ap.order) >= maxUsed {
		delete(ap.used, ap.order[0])
		ap.order = ap.order[1:]
	}
	ap.used[a.Plan] = *a
	ap.order = append(ap.order, a.Plan)
	ap.last = a
	return a
}

// notHeld is the cycle's side when its plan is within the limits: nothing
// is held, and an approval waiting is dropped.
func (d *Daemon) notHeld() {
	ap := &d.approvals
	ap.mu.Lock()
	defer ap.mu.Unlock()
	ap.held = ""
	if a := ap.pending; a != nil {
		ap.pending = nil
		a.Dropped = "the plan is no longer held (within the limits now): nothing to approve"
		ap.last = a
		d.log.Info("approval not needed: the plan is within the limits now", "plan", a.Plan, "by", a.By)
	}
}

// applied records when the approved plan's cycle ended.
func (d *Daemon) applied(a *Approval, at time.Time) {
	ap := &d.approvals
	ap.mu.Lock()
	defer ap.mu.Unlock()
	a.Applied = at
	ap.used[a.Plan] = *a
}

// approvalStatus is the approvals part of the status.
func (d *Daemon) approvalStatus() *ApprovalStatus {
	ap := &d.approvals
	ap.mu.Lock()
	defer ap.mu.Unlock()
	s := &ApprovalStatus{Approvers: []string{}, Held: ap.held}
	for _, a := range d.opts.Approvers {
		s.Approvers = append(s.Approvers, a.Name)
	}
	if ap.pending != nil {
		p := *ap.pending
		s.Pending = &p
	}
	if ap.last != nil {
		l := *ap.last
		s.Last = &l
	}
	return s
}

// Relay is a Leadership that also passes messages from the followers to
// the leader (election.Elector does, through etcd): an approval sent to a
// follower reaches the leader through it.
type Relay interface {
	// Send passes data on topic to the leader.
	Send(ctx context.Context, topic string, data []byte) error
	// OnMessage sets the function that Run calls, while this daemon leads,
	// with each message a follower sent. The daemon calls it before Run.
	OnMessage(func(topic string, data []byte))
}
