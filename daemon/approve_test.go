package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/notify"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

const (
	aliceToken = "alice-approver-token-0123456789"
	bobToken   = "bob-approver-token-9876543210ab"
)

// approverOptions are the options of a daemon whose plans over 3 creates
// are held, with two approvers and a webhook to rcv.
func approverOptions(e *env, rcv *receiver, log *syncbuf.Buffer) daemon.Options {
	opts := e.options()
	opts.Limits = reconcile.Limits{MaxCreates: 3, MaxMonthlySpend: reconcile.NoLimit}
	opts.Approvers = []daemon.ApproverToken{{Name: "alice", Token: []byte(aliceToken)}, {Name: "bob", Token: []byte(bobToken)}}
	opts.Notify = []notify.Route{rcv.route()}
	opts.PublicURL = "https://lk.example/"
	opts.Logger = newTextLogger(log)
	return opts
}

// TestApproveReleasesTheHeldPlanOnce: a plan held over maxCreatesPerRun is
// notified with its ID and the approve command; wrong or missing tokens
// and plans that are not the one held are refused and counted; the right
// approval makes the next cycle apply exactly that plan, once; the same
// approval again is refused, and nothing more is created; who approved
// what is in the log, /status, the page and the notifications.
func TestApproveReleasesTheHeldPlanOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
	rcv := newReceiver(t)
	log := &syncbuf.Buffer{}
	e.start(approverOptions(e, rcv, log))
	s := e.waitRuns(1)
	if s.LastRun.Result != daemon.ResultHeld || s.Plan == nil || s.Approvals == nil || s.Approvals.Held != s.Plan.ID || len(s.Plan.ID) != reconcile.PlanIDLength {
		t.Fatalf("result %q, plan %+v, approvals %+v", s.LastRun.Result, s.Plan, s.Approvals)
	}
	id := s.Plan.ID
	held := rcv.next(daemon.EventPlanHeld, notify.Firing)
	if held.Details["planId"] != id || !strings.Contains(held.Description, "lightkeeper approve --daemon https://lk.example --token-file FILE "+id) ||
		!strings.Contains(held.Summary, "5 instances, 2 over limits.maxCreatesPerRun 3") || len(held.Fleets) != 1 || held.Fleets[0] != "web" {
		t.Errorf("held notification: %+v", held)
	}
	if _, body := e.get("/"); !strings.Contains(body, `<code id="held-plan">`+id+`</code>`) || !strings.Contains(body, "lightkeeper approve --daemon https://lk.example --token-file FILE "+id) {
		t.Errorf("the page does not show the held plan and how to approve it")
	}

	for _, tc := range []struct {
		token, plan string
		code        int
		result      string
	}{
		{"", id, http.StatusUnauthorized, daemon.ApprovalUnauthorized},
		{"not-a-token-of-anyone-here", id, http.StatusUnauthorized, daemon.ApprovalUnauthorized},
		{aliceToken[:len(aliceToken)-1], id, http.StatusUnauthorized, daemon.ApprovalUnauthorized},
		{aliceToken, "not-an-id", http.StatusBadRequest, daemon.ApprovalInvalid},
		{aliceToken, "0123456789abcdef", http.StatusConflict, daemon.ApprovalStale},
	} {
		code, resp := e.approve(tc.token, tc.plan)
		if code != tc.code || resp.Result != tc.result {
			t.Errorf("token %q plan %q: %d %+v, want %d %s", tc.token, tc.plan, code, resp, tc.code, tc.result)
		}
	}
	if n := e.metric("lightkeeper_approvals_total", "result", daemon.ApprovalUnauthorized); n != 3 {
		t.Errorf("approvals_total{unauthorized} = %v, want 3", n)
	}
	if len(e.emu.Instances()) != 0 || e.d.Status().Runs != 1 {
		t.Fatalf("a refused approval changed something: %d instances, %d runs", len(e.emu.Instances()), e.d.Status().Runs)
	}

	code, resp := e.approve(aliceToken, id)
	if code != http.StatusAccepted || resp.Result != daemon.ApprovalAccepted || resp.Approval == nil || resp.Approval.By != "alice" {
		t.Fatalf("approval: %d %+v", code, resp)
	}
	s = e.waitRuns(2) // the approval starts a cycle at once
	if s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 5 || e.emu.Calls(lighthouse.ActionCreateInstances, "") != 5 {
		t.Fatalf("after the approval: result %q, %d live, %d creates", s.LastRun.Result, e.live("web-"), e.emu.Calls(lighthouse.ActionCreateInstances, ""))
	}
	if a := s.Approvals; a.Held != "" || a.Pending != nil || a.Last == nil || a.Last.Plan != id || a.Last.By != "alice" || a.Last.Applied.IsZero() {
		t.Errorf("status approvals %+v (last %+v)", a, a.Last)
	}
	if ev := rcv.next(daemon.EventPlanApproved, notify.Once); ev.Details["approvedBy"] != "alice" || ev.Details["planId"] != id {
		t.Errorf("approved notification %+v", ev)
	}
	if ev := rcv.next(daemon.EventPlanHeld, notify.Resolved); ev.Details["planId"] != id {
		t.Errorf("resolved notification %+v", ev)
	}
	applied := rcv.next(daemon.EventRevisionApplied, notify.Once)
	if applied.Details["approvedBy"] != "alice" || applied.Details["created"] != 5.0 || !strings.Contains(applied.Summary, "approved by alice") {
		t.Errorf("applied notification %+v", applied)
	}
	for _, want := range []string{`msg="plan approved; the next cycle applies it if its plan is the same" plan=` + id + ` by=alice`,
		`msg="approved plan applied over its limits" plan=` + id + ` by=alice`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	if _, body := e.get("/"); !strings.Contains(body, "Last approval: plan <code>"+id+"</code> by alice") {
		t.Errorf("the page does not show the last approval")
	}

	// The same approval again, from anyone: refused, and nothing moves.
	for _, tok := range []string{aliceToken, bobToken} {
		if code, resp := e.approve(tok, id); code != http.StatusConflict || resp.Result != daemon.ApprovalReplayed || !strings.Contains(resp.Message, "used once") {
			t.Errorf("replay: %d %+v", code, resp)
		}
	}
	e.cycle()
	if n := e.emu.Calls(lighthouse.ActionCreateInstances, ""); n != 5 {
		t.Errorf("%d creates after the replay, want 5", n)
	}

	// Nothing secret anywhere.
	_, status := e.get("/status")
	_, page := e.get("/")
	_, metrics := e.get("/metrics")
	for name, text := range map[string]string{"log": log.String(), "status": status, "page": page, "metrics": metrics, "notifications": rcv.bodies()} {
		for _, secret := range []string{aliceToken, bobToken, hookSecret} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds a secret", name)
			}
		}
	}
}

// TestChangedPlanNeedsANewApproval: an approval names one plan; when the
// plan changes before its cycle, the approval is dropped, the new plan is
// held, and it takes an approval of its own.
func TestChangedPlanNeedsANewApproval(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
	rcv := newReceiver(t)
	e.start(approverOptions(e, rcv, &syncbuf.Buffer{}))
	first := e.waitRuns(1).Plan.ID
	e.write("web.yaml", fleet("web", "bundle_gen_01", 6)) // not synced yet
	if code, resp := e.approve(bobToken, first); code != http.StatusAccepted {
		t.Fatalf("approval: %d %+v", code, resp)
	}
	s := e.waitRuns(2)
	if s.LastRun.Result != daemon.ResultHeld || len(e.emu.Instances()) != 0 || s.Plan.ID == first {
		t.Fatalf("result %q, %d instances, plan %s (approved %s)", s.LastRun.Result, len(e.emu.Instances()), s.Plan.ID, first)
	}
	if l := s.Approvals.Last; l == nil || l.Plan != first || !strings.Contains(l.Dropped, "the plan changed") || s.Approvals.Held != s.Plan.ID {
		t.Errorf("approvals %+v, last %+v", s.Approvals, l)
	}
	if ev := rcv.next(daemon.EventPlanHeld, notify.Firing); ev.Details["planId"] != first {
		t.Fatalf("first held: %+v", ev)
	}
	if ev := rcv.next(daemon.EventPlanHeld, notify.Firing); ev.Details["planId"] != s.Plan.ID {
		t.Errorf("the changed plan was not notified at once: %+v", ev)
	}
	if code, resp := e.approve(bobToken, first); code != http.StatusConflict || resp.Result != daemon.ApprovalStale {
		t.Errorf("the first plan again: %d %+v", code, resp)
	}
	if code, _ := e.approve(bobToken, s.Plan.ID); code != http.StatusAccepted {
		t.Fatal("the new plan's approval was refused")
	}
	if s := e.waitRuns(3); s.LastRun.Result != daemon.ResultSuccess || e.live("web-") != 6 {
		t.Fatalf("result %q, %d live", s.LastRun.Result, e.live("web-"))
	}
}

// TestApproveWithoutApprovers: without approvers every approval is refused,
// and the held notification says how else to go on.
func TestApproveWithoutApprovers(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)})
	rcv := newReceiver(t)
	opts := approverOptions(e, rcv, &syncbuf.Buffer{})
	opts.Approvers = nil
	e.start(opts)
	id := e.waitRuns(1).Plan.ID
	code, resp := e.approve(aliceToken, id)
	if code != http.StatusUnauthorized || !strings.Contains(resp.Message, "no approvers are configured") {
		t.Errorf("%d %+v", code, resp)
	}
	if ev := rcv.next(daemon.EventPlanHeld, notify.Firing); !strings.Contains(ev.Description, "No approvers are configured") {
		t.Errorf("held notification: %q", ev.Description)
	}
	var st daemon.Status
	_, body := e.get("/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Approvals == nil || len(st.Approvals.Approvers) != 0 || st.Approvals.Held != id {
		t.Errorf("status approvals %+v (%v)", st.Approvals, err)
	}
}

// relayLeadership is a fakeLeadership that passes messages on (Relay):
// Send hands them to the function the leader's daemon set.
type relayLeadership struct {
	*fakeLeadership
	to *relayLeadership // the leader's
	mu sync.Mutex
	on func(topic string, data []byte)
}

func (r *relayLeadership) OnMessage(f func(string, []byte)) { r.mu.Lock(); r.on = f; r.mu.Unlock() }

func (r *relayLeadership) Send(_ context.Context, topic string, data []byte) error {
	r.to.mu.Lock()
	f := r.to.on
	r.to.mu.Unlock()
	go f(topic, data) // as the election's goroutine would
	return nil
}

// TestApprovalSentToAFollowerReachesTheLeader: a follower checks the
// token and passes the approval on through the Relay; the leader applies
// the plan; an approval the follower passes with a wrong plan is refused
// by the leader and counted there.
func TestApprovalSentToAFollowerReachesTheLeader(t *testing.T) {
	files := map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 5)}
	le, fe := newEnv(t, files), newEnv(t, files)
	lead := &relayLeadership{fakeLeadership: newFakeLeadership("lk-a")}
	follow := &relayLeadership{fakeLeadership: newFakeLeadership("lk-b"), to: lead}
	lopts, fopts := approverOptions(le, newReceiver(t), &syncbuf.Buffer{}), approverOptions(fe, newReceiver(t), &syncbuf.Buffer{})
	lopts.Leadership, fopts.Leadership = lead, follow
	le.start(lopts)
	fe.start(fopts)
	lead.elect(t, true)
	s := le.waitRuns(2) // the first as a follower, the second elected
	fe.waitRuns(1)
	if s.LastRun.Result != daemon.ResultHeld {
		t.Fatalf("leader: %q", s.LastRun.Result)
	}
	id := s.Plan.ID
	if code, resp := fe.approve("wrong-token-0123456789", id); code != http.StatusUnauthorized {
		t.Errorf("the follower took a wrong token: %d %+v", code, resp)
	}
	code, resp := fe.approve(bobToken, "0123456789abcdef")
	if code != http.StatusAccepted || resp.Result != daemon.ApprovalForwarded {
		t.Fatalf("follower: %d %+v", code, resp)
	}
	deadline := time.Now().Add(waitFor)
	for le.metric("lightkeeper_approvals_total", "result", daemon.ApprovalStale) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the leader did not refuse the stale approval the follower passed on")
		}
		time.Sleep(5 * time.Millisecond)
	}
	code, resp = fe.approve(bobToken, id)
	if code != http.StatusAccepted || resp.Result != daemon.ApprovalForwarded || !strings.Contains(resp.Message, "lk-b") && !strings.Contains(resp.Message, "leader") {
		t.Fatalf("follower: %d %+v", code, resp)
	}
	s = le.waitRuns(3)
	if s.LastRun.Result != daemon.ResultSuccess || le.live("web-") != 5 || s.Approvals.Last == nil || s.Approvals.Last.By != "bob" || s.Approvals.Last.Via != "lk-b" {
		t.Fatalf("leader after the approval: %q, %d live, last %+v", s.LastRun.Result, le.live("web-"), s.Approvals.Last)
	}
	if fe.live("web-") != 0 {
		t.Error("the follower's cloud was touched")
	}
	if v := fe.metric("lightkeeper_approvals_total", "result", daemon.ApprovalForwarded); v != 2 {
		t.Errorf("follower approvals_total{forwarded} = %v", v)
	}
}
