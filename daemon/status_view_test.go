package daemon_test

import (
	"context"
	"encoding/json"
	"html/template"
	"iter"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// The status's views: what is followed, the state after the apply, each
// fleet's instances, the event timeline. The pages themselves are looked
// at in a browser in browser_test.go.

// TestStatusAfterApply: /status shows the fleets as the cloud lists them
// after the apply, not as the plan saw them before it (it used to say
// "live 0" for instances just bought), and says so.
func TestStatusAfterApply(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 2)})
	e.start(e.options())
	s := e.waitRuns(1)
	if len(s.Fleets) != 1 {
		t.Fatalf("fleets %+v", s.Fleets)
	}
	f := s.Fleets[0]
	if f.Desired != 2 || f.Live != 2 || f.Pending != 2 || f.Creates != 2 || f.Created != 2 || f.State != "ok" {
		t.Errorf("after the first apply: %+v; want desired 2, live 2 (both pending), 2 planned and created, ok", f)
	}
	if !s.FleetsAfterApply || s.FleetsObserved.IsZero() {
		t.Errorf("fleetsAfterApply %v, fleetsObserved %v; want listed after the apply", s.FleetsAfterApply, s.FleetsObserved)
	}
	if got := e.metric("lightkeeper_fleet_instances", "fleet", "web", "state", "live"); got != 2 {
		t.Errorf("lightkeeper_fleet_instances{web,live} = %v after the apply, want 2", got)
	}
	if s.Plan == nil || s.Plan.Fleets[0].Live != 0 {
		t.Errorf("the plan is what was planned: %+v", s.Plan)
	}
	if f.Money.Currency != "CNY" || f.Money.Monthly <= 0 {
		t.Errorf("fleet money %+v; want the creates' monthly price in CNY", f.Money)
	}

	// Nothing to do: the plan is the state; no second listing.
	describes := e.emu.Calls(lighthouse.ActionDescribeInstances, "")
	s = e.cycle()
	if s.FleetsAfterApply || s.Fleets[0].Live != 2 {
		t.Errorf("a cycle with nothing to do: afterApply %v, fleets %+v", s.FleetsAfterApply, s.Fleets)
	}
	if n := e.emu.Calls(lighthouse.ActionDescribeInstances, "") - describes; n != 1 {
		t.Errorf("a cycle with nothing to do listed the instances %d times, want 1", n)
	}
}

// TestStatusFollowing: /status says what is followed.
func TestStatusFollowing(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	e.start(opts)
	e.waitRuns(1)
	_, body := e.get("/status")
	var s struct {
		Following *daemon.Following
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Following == nil || s.Following.Repository != e.dir || s.Following.Path != "fleets" {
		t.Errorf("following %+v; want the directory %s and path fleets", s.Following, e.dir)
	}
	_, page := e.get("/")
	if !strings.Contains(page, "Following <code>"+e.dir+"</code>") || !strings.Contains(page, "fleets in <code>fleets/</code>") {
		t.Errorf("the page does not say what is followed:\n%s", page)
	}
}

// TestFleetInstances: /status/fleets/NAME and /fleets/NAME list a fleet's
// instances (name, ID, zone, state, public IP, bundle, blueprint, expiry)
// as last listed; the status page links each fleet to its page.
func TestFleetInstances(t *testing.T) {
	e := newEnv(t, map[string]string{
		"web.yaml": fleet("web", "bundle_gen_01", 2),
		"api.yaml": fleet("api", "bundle_gen_02", 1),
	})
	e.start(e.options())
	e.waitRuns(1)
	e.clock.Advance(5 * time.Minute) // PENDING -> RUNNING
	e.cycle()

	fd := e.fleetDetail("web")
	byID := map[string]lighthouse.Instance{}
	for _, in := range e.emu.Instances() {
		byID[in.InstanceId] = in
	}
	if fd.Name != "web" || fd.Desired != 2 || len(fd.Instances) != 2 || fd.Observed.IsZero() {
		t.Fatalf("/status/fleets/web: %+v", fd)
	}
	for i, in := range fd.Instances {
		li, ok := byID[in.ID]
		if !ok || in.Slot != i || in.Name != li.InstanceName || in.State != lighthouse.StateRunning || in.Zone != li.Zone ||
			in.BundleID != "bundle_gen_01" || in.BlueprintID != li.BlueprintId || len(in.PublicIPs) != 1 || in.PublicIPs[0] != li.PublicAddresses[0] || in.Expires.IsZero() {
			t.Errorf("instance %d: %+v; the emulator has %+v", i, in, li)
		}
	}
	if len(fd.Events) == 0 || fd.Events[len(fd.Events)-1].Kind != daemon.EventCreate {
		t.Errorf("the fleet's events %+v; want its create", fd.Events)
	}

	code, page := e.get("/fleets/web")
	if code != http.StatusOK {
		t.Fatalf("/fleets/web = %d: %s", code, page)
	}
	for _, in := range fd.Instances {
		for _, want := range []string{in.Name, in.ID, in.Zone, in.PublicIPs[0], in.BundleID, in.BlueprintID, in.Expires.UTC().Format("2006-01-02 15:04:05 UTC")} {
			if !strings.Contains(page, want) {
				t.Errorf("/fleets/web does not show %q", want)
			}
		}
	}
	if !strings.Contains(page, `href="/status/fleets/web"`) {
		t.Error("/fleets/web does not link its JSON")
	}
	_, main := e.get("/")
	for _, want := range []string{`href="/fleets/web"`, `href="/fleets/api"`} {
		if !strings.Contains(main, want) {
			t.Errorf("the status page has no link %s", want)
		}
	}
	for _, path := range []string{"/fleets/nope", "/status/fleets/nope"} {
		if code, body := e.get(path); code != http.StatusNotFound || !strings.Contains(body, "no fleet nope") {
			t.Errorf("%s = %d %q; want 404 no fleet nope", path, code, body)
		}
	}
}

// fleetDetail gets /status/fleets/NAME.
func (e *env) fleetDetail(name string) daemon.FleetDetail {
	e.t.Helper()
	code, body := e.get("/status/fleets/" + name)
	if code != http.StatusOK {
		e.t.Fatalf("/status/fleets/%s = %d: %s", name, code, body)
	}
	var fd daemon.FleetDetail
	if err := json.Unmarshal([]byte(body), &fd); err != nil {
		e.t.Fatal(err)
	}
	return fd
}

// TestEventTimeline: each cycle's revisions, creates, failures and held
// plans are events, newest first; a steady state is one entry counted
// again, not one per cycle; the page shows them.
func TestEventTimeline(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	opts := e.options()
	opts.Limits.MaxCreates = 2
	e.start(opts)
	s := e.waitRuns(1)
	kinds := func(evs []daemon.Event) []string {
		var k []string
		for _, ev := range evs {
			k = append(k, ev.Kind)
		}
		return k
	}
	if got := strings.Join(kinds(s.Events), " "); got != "cycle create revision" {
		t.Fatalf("events after the first cycle: %s (%+v)", got, s.Events)
	}
	if ev := s.Events[1]; ev.Fleet != "web" || !strings.Contains(ev.Message, "created 1: web-0 (lhins-") {
		t.Errorf("create event %+v", ev)
	}
	if ev := s.Events[0]; ev.Cycle != 1 || ev.Message != "success, started by start: 1 created" {
		t.Errorf("cycle event %+v", ev)
	}
	for range 3 {
		s = e.cycle()
	}
	if len(s.Events) != 4 || s.Events[0].Repeats != 2 || s.Events[0].Cycle != 4 || s.Events[0].Message != "success, started by webhook: nothing to do" {
		t.Errorf("three cycles with nothing to do: %+v; want one entry, repeated twice", s.Events)
	}

	e.write("web.yaml", fleet("web", "bundle_gen_01", 4)) // 3 more: over maxCreatesPerRun 2
	s = e.cycle()
	if got := strings.Join(kinds(s.Events[:3]), " "); got != "cycle held revision" || !strings.Contains(s.Events[1].Message, "limits.maxCreatesPerRun") {
		t.Errorf("a held plan's events: %s %+v", got, s.Events[:3])
	}
	e.write("web.yaml", fleet("web", "bundle_gen_01", -1))
	s = e.cycle()
	// The last good revision is still reconciled, and still held.
	if got := strings.Join(kinds(s.Events[:3]), " "); got != "cycle held revision" || !strings.Contains(s.Events[2].Message, "is invalid, not applied") {
		t.Errorf("an invalid revision's events: %s %+v", got, s.Events[:3])
	}
	_, page := e.get("/")
	for _, ev := range s.Events {
		if !strings.Contains(page, template.HTMLEscapeString(ev.Message)) {
			t.Errorf("the page does not show the event %q", ev.Message)
		}
	}
}

// TestEventTimelineFailure: a create the cloud refuses is a failure event
// of its fleet, its message the cloud's, with the cycle's.
func TestEventTimelineFailure(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	e.cloud = refusingCloud{e.cloud}
	e.start(e.options())
	s := e.waitRuns(1)
	if len(s.Events) != 3 || s.Events[1].Kind != daemon.EventFailure || s.Events[1].Fleet != "web" ||
		!strings.Contains(s.Events[1].Message, "1 create failed") || !strings.Contains(s.Events[1].Message, "sold out <b>today</b>") {
		t.Fatalf("events %+v; want the revision, web's failure, the cycle", s.Events)
	}
	if s.Events[0].Message != "partial, started by start: 1 failed" {
		t.Errorf("cycle event %+v", s.Events[0])
	}
}

// refusingCloud refuses every create as sold out, with markup in its
// message as a hostile or broken service might send.
type refusingCloud struct{ reconcile.Cloud }

func (c refusingCloud) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	return nil, &lighthouse.Error{Action: lighthouse.ActionCreateInstances, Region: region, Code: "ResourceInsufficient.SpecifiedInstanceType",
		Message: "sold out <b>today</b>", Attempts: 1}
}

// renamingCloud lists every instance under a name with markup, as one
// renamed in the console would be (it keeps its fleet by its tags).
type renamingCloud struct{ reconcile.Cloud }

const hostileName = `<img src=x onerror="document.title='pwned'">`

func (c renamingCloud) Instances(ctx context.Context, region string, req *lighthouse.DescribeInstancesRequest) iter.Seq2[lighthouse.Instance, error] {
	return func(yield func(lighthouse.Instance, error) bool) {
		for in, err := range c.Cloud.Instances(ctx, region, req) {
			in.InstanceName = hostileName
			if !yield(in, err) {
				return
			}
		}
	}
}

// subjectSource gives every revision of its source a subject with markup.
type subjectSource struct{ daemon.Source }

const hostileSubject = `<script>document.title='pwned'</script> web: 2`

func (s subjectSource) Sync(ctx context.Context) (daemon.Revision, error) {
	r, err := s.Source.Sync(ctx)
	r.Subject = hostileSubject
	return r, err
}

// TestPagesEscape: what comes from the repository (a commit subject) or
// the cloud (an instance name, an error message) is text on the pages,
// never markup.
func TestPagesEscape(t *testing.T) {
	e := newEnv(t, map[string]string{"web.yaml": fleet("web", "bundle_gen_01", 1)})
	ra := &refusingAfter{Cloud: e.cloud}
	ra.n.Store(1)
	e.cloud = renamingCloud{ra}
	opts := e.options()
	opts.Source = subjectSource{opts.Source}
	opts.Reconcile.Tags = true // the renamed instance keeps its slot by its tags
	e.start(opts)
	e.waitRuns(1)
	e.write("web.yaml", fleet("web", "bundle_gen_01", 2))
	e.cycle()
	for _, path := range []string{"/", "/fleets/web"} {
		_, page := e.get(path)
		for _, bad := range []string{"<script>", "<img", "<b>"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s holds %q unescaped", path, bad)
			}
		}
	}
	_, page := e.get("/fleets/web")
	if !strings.Contains(page, "&lt;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&gt;") {
		t.Errorf("/fleets/web does not show the instance's name as text:\n%s", page)
	}
	_, page = e.get("/")
	if !strings.Contains(page, "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; web: 2") || !strings.Contains(page, "sold out &lt;b&gt;today&lt;/b&gt;") {
		t.Errorf("the status page does not show the subject and the error as text:\n%s", page)
	}
}

// refusingAfter lets n creates through, then refuses the rest as
// refusingCloud does.
type refusingAfter struct {
	reconcile.Cloud
	n atomic.Int32
}

func (c *refusingAfter) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	if c.n.Add(-1) >= 0 {
		return c.Cloud.CreateInstances(ctx, region, req)
	}
	return refusingCloud{c.Cloud}.CreateInstances(ctx, region, req)
}
