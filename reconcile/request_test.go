package reconcile_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// recordingCloud records the CreateInstances requests that go out.
type recordingCloud struct {
	reconcile.Cloud
	mu   sync.Mutex
	sent []lighthouse.CreateInstancesRequest
}

func (c *recordingCloud) CreateInstances(ctx context.Context, region string, req *lighthouse.CreateInstancesRequest) (*lighthouse.CreateInstancesResponse, error) {
	c.mu.Lock()
	cp := *req
	if req.LoginConfiguration != nil {
		lc := *req.LoginConfiguration
		cp.LoginConfiguration = &lc
	}
	c.sent = append(c.sent, cp)
	c.mu.Unlock()
	return c.Cloud.CreateInstances(ctx, region, req)
}

const windowsFleet = `apiVersion: lightkeeper/v1
kind: Fleet
metadata: {name: win}
spec:
  region: ap-guangzhou
  count: 2
  zones: [ap-guangzhou-3, ap-guangzhou-4]
  instanceName: "win-{slot}"
  bundleId: bundle_gen_02
  blueprintId: lhbp-w1n2022a
  charge: {period: 3}
  login: {passwordFrom: {env: WIN_PASSWORD}}
`

// The plan shown is the plan sent: each create goes out as the request the
// plan built (Create.Request), whose name, zone, bundle, blueprint, period
// and token the plan shows; Apply adds only the login password, which is
// in no plan, in no form. A spec changed after the plan was made changes
// nothing of what is sent.
func TestThePlanShownIsThePlanSent(t *testing.T) {
	const password = "Plan-Never-Shows-1t"
	fake, clock := fakeCloud()
	cloud := &recordingCloud{Cloud: fake}
	fleets := loadSpec(t, windowsFleet)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now, Tags: true, Getenv: func(string) string { return password }})
	p, err := r.Plan(context.Background(), fleets)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json", "markdown"} {
		var b bytes.Buffer
		switch format {
		case "text":
			err = reconcile.RenderText(&b, p, nil, false)
		case "json":
			err = reconcile.RenderJSON(&b, p, nil)
		case "markdown":
			err = reconcile.RenderMarkdown(&b, p, nil)
		}
		if err != nil || strings.Contains(b.String(), password) || !strings.Contains(b.String(), "win-1") {
			t.Errorf("%s: %v; the password shows, or the plan does not", format, err)
		}
	}
	creates := p.Fleets[0].Creates
	for _, c := range creates {
		if c.Request == nil || c.Request.LoginConfiguration == nil || c.Request.LoginConfiguration.Password != "" {
			t.Fatalf("slot %d: the plan's request %+v holds a password or no login", c.Slot, c.Request)
		}
	}

	// Whatever happens to the spec after the plan was made, the plan is
	// what is sent.
	fleets[0].Spec.BundleID, fleets[0].Spec.Zones = "bundle_gen_04", []string{"ap-guangzhou-6"}
	res, err := r.Apply(context.Background(), p, false)
	if err != nil || res.Created != 2 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if len(cloud.sent) != 2 {
		t.Fatalf("%d creates sent, want 2", len(cloud.sent))
	}
	for _, req := range cloud.sent {
		var c reconcile.Create
		for _, pc := range creates {
			if pc.Name == req.InstanceName {
				c = pc
			}
		}
		shown := []any{c.Name, c.Zone, c.BundleID, c.BlueprintID, int64(c.Period), c.ClientToken}
		sent := []any{req.InstanceName, req.Zones[0], req.BundleId, req.BlueprintId, req.InstanceChargePrepaid.Period, req.ClientToken}
		if !reflect.DeepEqual(shown, sent) {
			t.Errorf("shown %v, sent %v", shown, sent)
		}
		if req.LoginConfiguration == nil || req.LoginConfiguration.Password != password {
			t.Errorf("%s went out without its password", req.InstanceName)
		}
		want := *c.Request
		want.LoginConfiguration = &lighthouse.LoginConfiguration{Password: password}
		if !reflect.DeepEqual(req, want) {
			t.Errorf("sent %+v\nplanned %+v", req, want)
		}
	}
}

// A create whose token maps to a dead instance walks to the next
// incarnation: the request that goes out then differs from the plan's in
// its ClientToken alone.
func TestALaterIncarnationChangesOnlyTheToken(t *testing.T) {
	fake, clock := fakeCloud()
	failures := 1
	fake.LaunchFails = func(string) bool { failures--; return failures >= 0 }
	fleets := fleetsOf(t, web(1))
	once(t, reconcile.New(fake, nil, reconcile.Options{Now: clock.Now}), fleets)
	clock.Advance(time.Minute) // the instance of incarnation 0 ends LAUNCH_FAILED, and its backoff ends

	cloud := &recordingCloud{Cloud: fake}
	p, res := once(t, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now}), fleets)
	c := p.Fleets[0].Creates[0]
	if c.Incarnation != 0 || len(cloud.sent) != 2 || res.Fleets[0].Created[0].Incarnation != 1 {
		t.Fatalf("planned incarnation %d, %d requests sent, created %+v", c.Incarnation, len(cloud.sent), res.Fleets[0].Created)
	}
	if !reflect.DeepEqual(cloud.sent[0], *c.Request) {
		t.Errorf("first request %+v, planned %+v", cloud.sent[0], *c.Request)
	}
	later := cloud.sent[1]
	if later.ClientToken != reconcile.Token("ap-guangzhou", "web", 0, 1) || later.ClientToken == c.ClientToken {
		t.Errorf("later incarnation's token %q", later.ClientToken)
	}
	later.ClientToken = c.ClientToken
	if !reflect.DeepEqual(later, *c.Request) {
		t.Errorf("the later incarnation's request differs beyond its token:\n%+v\n%+v", later, *c.Request)
	}
}
