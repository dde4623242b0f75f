package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// renewingDoc is fleetDoc with charge.renewBefore 7d, suspended or not.
func renewingDoc(name string, count int, suspend bool) string {
	doc := strings.Replace(fleetDoc(name, "ap-guangzhou", count), "charge: {period: 1}", "charge: {period: 1, renewBefore: 7d}", 1)
	if suspend {
		doc = strings.Replace(doc, "  charge:", "  suspend: true\n  charge:", 1)
	}
	return doc
}

// setExpiry moves an instance's ExpiredTime through the emulator's admin
// API.
func setExpiry(t *testing.T, url, id string, at time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"expiredTime":%q}`, at.UTC().Format(time.RFC3339))
	resp, err := http.Post(url+"/_emulator/instances/"+id+"/expired-time", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("set the expiry of %s: %s", id, resp.Status)
	}
}

// manualRenewals is the emulator's count of RenewInstances operations that
// succeeded, one per instance.
func manualRenewals(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/_emulator/account")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acc struct {
		ManualRenewals int `json:"manualRenewals"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil {
		t.Fatal(err)
	}
	return acc.ManualRenewals
}

// byName maps each instance name to its instances.
func byName(ins []lighthouse.Instance) map[string][]lighthouse.Instance {
	out := map[string][]lighthouse.Instance{}
	for _, in := range ins {
		out[in.InstanceName] = append(out[in.InstanceName], in)
	}
	return out
}

// TestLifecycleEndToEnd drives the built binary against `lightkeeper
// emulator` in another process, on real time: an instance that expires
// within renewBefore is renewed once, an expired (SHUTDOWN) one is renewed
// rather than replaced (same ID, back RUNNING), and a suspended fleet is
// left alone (not renewed, not grown) while the other fleet is; applies
// after that, with the state directory and without one, renew nothing
// again.
func TestLifecycleEndToEnd(t *testing.T) {
	t.Parallel()
	bin := reconcileBinary(t)
	emu := startEmulator(t, bin, "--launch-delay", "1s", "--operation-delay", "1s")
	dir := writeFleets(t, map[string]string{
		"web.yaml":    renewingDoc("web", 2, false),
		"paused.yaml": renewingDoc("paused", 1, false),
	})
	stateDir := t.TempDir()
	apply := func(args ...string) (int, reconcile.Report, string) {
		t.Helper()
		code, out, errOut := runBin(t, bin, nil, append([]string{"reconcile", "--endpoint", emu.url, "--output", "json"}, append(args, dir)...)...)
		var rep reconcile.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("reconcile %v: exit %d, %v\n%s\n%s", args, code, err, out, errOut)
		}
		return code, rep, errOut
	}
	if code, rep, errOut := apply("--state-dir", stateDir, "--wait=1m"); code != exitOK || rep.Result.Created != 3 {
		t.Fatalf("first apply: exit %d, %+v\n%s", code, rep.Result, errOut)
	}

	// web-0 expires in 2 days, web-1 expired a minute ago (SHUTDOWN by
	// its expiry), paused-0 expires in 2 days; paused is suspended and
	// asks for one more instance, web for one more too.
	now := time.Now()
	names := byName(emulatorInstances(t, emu.url))
	web0, web1, paused0 := names["web-0"][0], names["web-1"][0], names["paused-0"][0]
	setExpiry(t, emu.url, web0.InstanceId, now.Add(48*time.Hour))
	setExpiry(t, emu.url, web1.InstanceId, now.Add(-time.Minute))
	setExpiry(t, emu.url, paused0.InstanceId, now.Add(48*time.Hour))
	for _, in := range emulatorInstances(t, emu.url) {
		if in.InstanceId == web1.InstanceId && in.InstanceState != lighthouse.StateShutdown {
			t.Fatalf("%s did not shut down at its expiry: %s", in.InstanceId, in.InstanceState)
		}
	}
	for name, doc := range map[string]string{"web.yaml": renewingDoc("web", 3, false), "paused.yaml": renewingDoc("paused", 2, true)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runBin(t, bin, nil, "reconcile", "--endpoint", emu.url, "--plan", dir)
	for _, want := range []string{"paused (suspended)", web0.InstanceId, web1.InstanceId, "renewed, not replaced"} {
		if code != exitChanges || !strings.Contains(out, want) {
			t.Errorf("plan: exit %d, no %q in\n%s\n%s", code, want, out, errOut)
		}
	}
	code, rep, errOut := apply("--state-dir", stateDir, "--wait=1m")
	if code != exitOK || rep.Result.Renewed != 2 || rep.Result.Created != 1 {
		t.Fatalf("apply: exit %d, result %+v\n%s", code, rep.Result, errOut)
	}
	for _, fr := range rep.Result.Fleets {
		if fr.Fleet == "paused" && (!fr.Suspended || len(fr.Created)+len(fr.Renewed) != 0) {
			t.Errorf("the suspended fleet was acted on: %+v", fr)
		}
	}
	time.Sleep(2 * time.Second) // the renewals' operations end
	if n := manualRenewals(t, emu.url); n != 2 {
		t.Errorf("%d renewals made, want web-0's and web-1's", n)
	}
	names = byName(emulatorInstances(t, emu.url))
	if len(names["web-1"]) != 1 || names["web-1"][0].InstanceId != web1.InstanceId || names["web-1"][0].InstanceState != lighthouse.StateRunning {
		t.Errorf("web-1 was not renewed in place: %+v", names["web-1"])
	}
	if len(names["web-2"]) != 1 || len(names["paused-1"]) != 0 {
		t.Errorf("web-2 %d instances (want 1), paused-1 %d (want 0: suspended)", len(names["web-2"]), len(names["paused-1"]))
	}
	for _, c := range []struct {
		in   lighthouse.Instance
		from time.Time
	}{{web0, now.Add(48 * time.Hour)}, {web1, now.Add(-time.Minute)}} {
		got := names[c.in.InstanceName][0]
		exp, err := time.Parse(lighthouse.TimeLayout, *got.ExpiredTime)
		if want := c.from.UTC().Truncate(time.Second).AddDate(0, 1, 0); err != nil || !exp.Equal(want) {
			t.Errorf("%s expires %s, want %s: renewed once for 1 month", c.in.InstanceName, exp, want)
		}
	}
	if exp, _ := time.Parse(lighthouse.TimeLayout, *names["paused-0"][0].ExpiredTime); !exp.Equal(now.Add(48 * time.Hour).UTC().Truncate(time.Second)) {
		t.Errorf("the suspended fleet's paused-0 expires %s: it was renewed", exp)
	}

	// Again, with the state and without: nothing more is renewed.
	for _, args := range [][]string{{"--state-dir", stateDir}, nil} {
		if code, rep, errOut := apply(args...); code != exitOK || rep.Result.Renewed != 0 || rep.Result.Created != 0 {
			t.Errorf("apply %v after the renewals: exit %d, %+v\n%s", args, code, rep.Result, errOut)
		}
	}
	if n := manualRenewals(t, emu.url); n != 2 {
		t.Errorf("%d renewals after the later applies, want 2", n)
	}
	if strings.Contains(out+errOut, emuKey) {
		t.Error("the secret key appears in the output")
	}
}
