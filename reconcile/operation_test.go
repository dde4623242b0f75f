package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/reconcile"
	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
)

// Tests of the mechanism that sends the actions without a ClientToken
// (operation.go) on the Fake: confirm, judge, journal, persist, send.

// running creates one RUNNING instance on cloud and returns its ID.
func running(t *testing.T, cloud *reconciletest.Fake, clock *emulator.ManualClock) string {
	t.Helper()
	resp, err := cloud.CreateInstances(context.Background(), "ap-guangzhou", &lighthouse.CreateInstancesRequest{
		BundleId: "bundle_gen_01", BlueprintId: "lhbp-g0tn7djh", InstanceName: "web-0", InstanceCount: 1, ClientToken: "tok",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}, Zones: []string{"ap-guangzhou-3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(emulator.DefaultLaunchDelay)
	return resp.InstanceIdSet[0]
}

// resetCall resets id to lhbp-a7oxy2bx (CentOS) through r's cloud.
func resetCall(cloud reconcile.Cloud, id string) reconcile.OpCall {
	return reconcile.OpCall{
		Key: reconcile.SlotKey{Region: "ap-guangzhou", Fleet: "web", Slot: 0}, InstanceID: id,
		Op: reconcile.Op{Action: lighthouse.ActionResetInstance, Target: "shape-centos", From: "lhbp-g0tn7djh|", Shows: "lhbp-a7oxy2bx|"},
		Send: func(ctx context.Context) (string, error) {
			resp, err := cloud.ResetInstance(ctx, "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: "lhbp-a7oxy2bx"})
			if err != nil {
				return "", err
			}
			return resp.RequestId, nil
		},
	}
}

func operateOne(t *testing.T, r *reconcile.Reconciler, c reconcile.OpCall) reconcile.OpOutcome {
	t.Helper()
	out := r.Operate(context.Background(), "ap-guangzhou", []reconcile.OpCall{c})
	if len(out) != 1 {
		t.Fatalf("%d outcomes", len(out))
	}
	return out[0]
}

func TestOperateLostAnswerIsNotResent(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	cloud.Fail(lighthouse.ActionResetInstance, emulator.FaultDropResponse, 1)
	o := operateOne(t, r, resetCall(cloud, id))
	if !o.Sent || !o.Ambiguous || o.Verdict != reconcile.VerdictSend {
		t.Fatalf("first: %+v", o)
	}
	if it := r.State().Intents(); len(it) != 1 || !it[0].Unknown || it[0].PrevRequestID == "" {
		t.Fatalf("journal after a lost answer: %+v", it)
	}
	// The reset runs: nothing is sent, by this runner or by one without
	// state.
	for _, rr := range []*reconcile.Reconciler{r, reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})} {
		if o := operateOne(t, rr, resetCall(cloud, id)); o.Sent || o.Verdict != reconcile.VerdictRunning {
			t.Fatalf("while it runs: %+v", o)
		}
	}
	clock.Advance(emulator.DefaultOperationDelay)
	if o := operateOne(t, r, resetCall(cloud, id)); o.Sent || o.Verdict != reconcile.VerdictDone {
		t.Fatalf("once it ended: %+v", o)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 1 {
		t.Errorf("%d resets sent, want 1", n)
	}
	if it := r.State().Intents(); len(it) != 0 {
		t.Errorf("a done intent stays in the journal: %+v", it)
	}
}

func TestOperateUnactedLossWaitsTheWindowThenResends(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	cloud.Fail(lighthouse.ActionResetInstance, emulator.FaultInternalError, 1) // ambiguous, not carried out
	if o := operateOne(t, r, resetCall(cloud, id)); !o.Ambiguous {
		t.Fatalf("first: %+v", o)
	}
	clock.Advance(reconcile.DefaultExpectWindow - time.Second)
	if o := operateOne(t, r, resetCall(cloud, id)); o.Sent || o.Verdict != reconcile.VerdictWait {
		t.Fatalf("inside the window: %+v", o)
	}
	clock.Advance(2 * time.Second)
	if o := operateOne(t, r, resetCall(cloud, id)); !o.Sent || o.Err != nil {
		t.Fatalf("after the window: %+v", o)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 2 {
		t.Errorf("%d resets sent, want 2 (the first was refused)", n)
	}
}

func TestOperatePersistsTheIntentBeforeSending(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	path := filepath.Join(t.TempDir(), "state.json")
	st := reconcile.NewState()
	var onDisk []reconcile.OpIntent
	persist := func() error {
		if n := cloud.Calls(lighthouse.ActionResetInstance); n != 0 {
			t.Errorf("persisted after %d resets were sent", n)
		}
		if err := st.Save(path); err != nil {
			return err
		}
		loaded, err := reconcile.LoadState(path)
		if err != nil {
			return err
		}
		onDisk = loaded.Intents()
		return nil
	}
	r := reconcile.New(cloud, st, reconcile.Options{Now: clock.Now, Persist: persist})
	if o := operateOne(t, r, resetCall(cloud, id)); !o.Sent || o.Err != nil {
		t.Fatalf("%+v", o)
	}
	if len(onDisk) != 1 || onDisk[0].InstanceID != id || onDisk[0].Action != lighthouse.ActionResetInstance || onDisk[0].RequestID != "" {
		t.Fatalf("on disk before the send: %+v", onDisk)
	}
	if it := st.Intents(); len(it) != 1 || it[0].RequestID == "" {
		t.Errorf("after the answer: %+v", it)
	}

	// A journal that cannot be written sends nothing.
	cloud2, clock2 := fakeCloud()
	id2 := running(t, cloud2, clock2)
	r2 := reconcile.New(cloud2, nil, reconcile.Options{Now: clock2.Now, Persist: func() error { return errors.New("disk full") }})
	o := operateOne(t, r2, resetCall(cloud2, id2))
	if o.Sent || o.Err == nil || !strings.Contains(o.Err.Error(), "state directory") || !strings.Contains(o.Err.Error(), "disk full") {
		t.Fatalf("journal not written: %+v", o)
	}
	if n := cloud2.Calls(lighthouse.ActionResetInstance); n != 0 || len(r2.State().Intents()) != 0 {
		t.Errorf("journal not written: %d resets sent, intents %+v", n, r2.State().Intents())
	}
}

// raceCloud starts another runner's reset on the instance between the
// confirmation and the send.
type raceCloud struct {
	*reconciletest.Fake
	race func()
}

func (c *raceCloud) ResetInstance(ctx context.Context, region string, req *lighthouse.ResetInstanceRequest) (*lighthouse.ResetInstanceResponse, error) {
	c.race()
	return c.Fake.ResetInstance(ctx, region, req)
}

func TestOperateBusyRefusalIsRunning(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	rc := &raceCloud{Fake: cloud, race: func() {
		if _, err := cloud.ResetInstance(context.Background(), "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: "lhbp-a7oxy2bx"}); err != nil {
			t.Errorf("the other runner's reset: %v", err)
		}
	}}
	r := reconcile.New(rc, nil, reconcile.Options{Now: clock.Now})
	o := operateOne(t, r, resetCall(rc, id))
	if o.Verdict != reconcile.VerdictRunning || lighthouse.ErrorCode(o.Err) != "UnsupportedOperation.LatestOperationUnfinished" {
		t.Fatalf("refused while another reset runs: %+v", o)
	}
	if it := r.State().Intents(); len(it) != 0 {
		t.Errorf("a refused call stays in the journal: %+v", it)
	}
}

func TestOperateFailedIsNotResent(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	cloud.FailOperations(lighthouse.ActionResetInstance, id, 1)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	if o := operateOne(t, r, resetCall(cloud, id)); !o.Sent {
		t.Fatalf("first: %+v", o)
	}
	clock.Advance(emulator.DefaultOperationDelay)
	for range 2 {
		if o := operateOne(t, r, resetCall(cloud, id)); o.Sent || o.Verdict != reconcile.VerdictFailed {
			t.Fatalf("after the failure: %+v", o)
		}
		clock.Advance(time.Hour)
	}
	if it := r.State().Intents(); len(it) != 1 || it[0].Failed == "" {
		t.Errorf("the failed intent: %+v", it)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 1 {
		t.Errorf("%d resets sent, want 1", n)
	}
}

func TestStateVersion1Loads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	v1 := `{"version": 1, "expectations": {}, "incarnations": {"ap-guangzhou/web/0": 2}, "created": {"lhins-aaaaaaaa": {"region": "ap-guangzhou", "fleet": "web", "slot": 0}}, "notReturnable": {}}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := reconcile.LoadState(path)
	if err != nil {
		t.Fatalf("a version 1 state: %v", err)
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Version      int            `json:"version"`
		Incarnations map[string]int `json:"incarnations"`
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &saved); err != nil || saved.Version != 2 || saved.Incarnations["ap-guangzhou/web/0"] != 2 {
		t.Errorf("saved again: %v %s", err, b)
	}
	if err := os.WriteFile(path, []byte(`{"version": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile.LoadState(path); err == nil || !strings.Contains(err.Error(), "version 3") || !strings.Contains(err.Error(), "move the file away") {
		t.Errorf("a newer state: %v", err)
	}
}

// A reset the service refuses for good is a failure: it pauses, and is not
// sent again while the instance's latest operation stays what it was.
func TestOperateRefusalIsNotResent(t *testing.T) {
	cloud, clock := fakeCloud()
	id := running(t, cloud, clock)
	r := reconcile.New(cloud, nil, reconcile.Options{Now: clock.Now})
	bad := resetCall(cloud, id)
	bad.Send = func(ctx context.Context) (string, error) {
		resp, err := cloud.ResetInstance(ctx, "ap-guangzhou", &lighthouse.ResetInstanceRequest{InstanceId: id, BlueprintId: "lhbp-zzzzzzzz"})
		if err != nil {
			return "", err
		}
		return resp.RequestId, nil
	}
	o := operateOne(t, r, bad)
	if o.Sent || o.Verdict != reconcile.VerdictFailed || lighthouse.ErrorCode(o.Err) != "ResourceNotFound.BlueprintIdNotFound" {
		t.Fatalf("refused: %+v", o)
	}
	clock.Advance(time.Hour)
	if o := operateOne(t, r, bad); o.Sent || o.Verdict != reconcile.VerdictFailed || !strings.Contains(o.Reason, "refused") {
		t.Fatalf("after a refusal: %+v", o)
	}
	if n := cloud.Calls(lighthouse.ActionResetInstance); n != 1 {
		t.Errorf("%d resets sent, want 1", n)
	}
}
