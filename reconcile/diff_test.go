package reconcile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// loadFleets loads fleet documents given as "name:count:extra-spec-lines".
func loadFleets(t *testing.T, docs ...string) []*spec.Fleet {
	t.Helper()
	var b strings.Builder
	for _, d := range docs {
		name, rest, _ := strings.Cut(d, ":")
		count, extra, _ := strings.Cut(rest, ":")
		fmt.Fprintf(&b, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: ap-guangzhou\n  count: %s\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n", name, count)
		for l := range strings.SplitSeq(extra, ";") {
			if l != "" {
				fmt.Fprintf(&b, "  %s\n", l)
			}
		}
	}
	return loadYAML(t, b.String())
}

// observe builds an observation of ap-guangzhou from instances written as
// "name=state" (tags as "name=state@fleet/slot").
func observe(fleets []*spec.Fleet, insts ...string) map[string]*Observation {
	ix := spec.NewNameIndex(fleets)
	o := &Observation{Region: "ap-guangzhou", At: t0, Fleets: map[string][]Instance{}, Seen: map[string]string{}}
	for i, s := range insts {
		name, state, _ := strings.Cut(s, "=")
		state, tag, _ := strings.Cut(state, "@")
		in := Instance{ID: fmt.Sprintf("lhins-%08d", i), Name: name, State: state, Slot: -1, TagSlot: -1,
			BundleID: "bundle_gen_01", BlueprintID: "lhbp-g0tn7djh", RenewFlag: lighthouse.RenewNotifyManual, Created: t0.Add(time.Duration(i) * time.Second)}
		if tag != "" {
			tf, ts, _ := strings.Cut(tag, "/")
			in.TagFleet = tf
			fmt.Sscan(ts, &in.TagSlot)
		}
		o.Total++
		o.Seen[in.ID] = state
		if f, slot, ok := ix.Lookup(name); ok {
			in.Fleet, in.Slot = f.Name(), slot
		} else if in.TagFleet != "" {
			in.Fleet, in.Slot = in.TagFleet, in.TagSlot
		} else {
			continue
		}
		o.Fleets[in.Fleet] = append(o.Fleets[in.Fleet], in)
	}
	return map[string]*Observation{"ap-guangzhou": o}
}

func slots(cs []Create) (out []int) {
	for _, c := range cs {
		out = append(out, c.Slot)
	}
	return out
}

func TestDiffCreatesEmptySlotsWithIncarnationZero(t *testing.T) {
	fleets := loadFleets(t, "web:3:")
	p := Diff(fleets, observe(fleets, "web-1=RUNNING", "other-1=RUNNING"), nil, t0, DiffOptions{})
	fp := p.Fleets[0]
	if got := slots(fp.Creates); !reflect.DeepEqual(got, []int{0, 2}) {
		t.Fatalf("creates slots %v, want [0 2]", got)
	}
	if fp.Live != 1 || p.Totals.Creates != 2 || !p.Changes() {
		t.Errorf("live %d, totals %+v", fp.Live, p.Totals)
	}
	for _, c := range fp.Creates {
		if c.Incarnation != 0 || c.ClientToken != Token("ap-guangzhou", "web", c.Slot, 0) || c.Name != fmt.Sprintf("web-%d", c.Slot) {
			t.Errorf("create %+v", c)
		}
	}
}

func TestDiffDeadInstancesFreeTheirSlot(t *testing.T) {
	fleets := loadFleets(t, "web:2:")
	// A minute on: the first launch failure's backoff is over.
	p := Diff(fleets, observe(fleets, "web-0=LAUNCH_FAILED", "web-1=SHUTDOWN"), nil, t0.Add(time.Minute), DiffOptions{})
	fp := p.Fleets[0]
	if len(fp.Creates) != 2 || fp.Failed != 1 || fp.Live != 0 {
		t.Fatalf("%+v", fp)
	}
	if c := fp.Creates[0]; !reflect.DeepEqual(c.Replaces, []string{"lhins-00000000"}) || !strings.Contains(c.Reason, "LAUNCH_FAILED") {
		t.Errorf("slot 0: %+v", c)
	}
	if c := fp.Creates[1]; !strings.Contains(c.Reason, "SHUTDOWN (expired or returned)") {
		t.Errorf("slot 1: %+v", c)
	}
}

func TestDiffExpectations(t *testing.T) {
	fleets := loadFleets(t, "web:3:")
	st := NewState()
	key := func(slot int) SlotKey { return SlotKey{"ap-guangzhou", "web", slot} }
	// slot 0: returned an ID 1 minute ago, not listed yet: wait.
	st.expect(Expectation{SlotKey: key(0), Incarnation: 0, InstanceID: "lhins-new", Since: t0.Add(-time.Minute)})
	// slot 1: returned an ID 10 minutes ago, never listed: gone, next incarnation.
	st.expect(Expectation{SlotKey: key(1), Incarnation: 2, InstanceID: "lhins-gone", Since: t0.Add(-10 * time.Minute)})
	// slot 2: ambiguous: send again with the same token.
	st.expect(Expectation{SlotKey: key(2), Incarnation: 1, Since: t0.Add(-time.Hour)})
	p := Diff(fleets, observe(fleets), st, t0, DiffOptions{})
	fp := p.Fleets[0]
	if fp.Expected != 1 || len(fp.Waiting) != 1 || fp.Waiting[0].Slot != 0 || !fp.Waiting[0].Until.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("waiting %+v expected %d", fp.Waiting, fp.Expected)
	}
	if got := slots(fp.Creates); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("creates %v", got)
	}
	if c := fp.Creates[0]; c.Incarnation != 3 || c.Resend || !strings.Contains(c.Reason, "never listed") {
		t.Errorf("slot 1: %+v", c)
	}
	if c := fp.Creates[1]; c.Incarnation != 1 || !c.Resend || c.ClientToken != Token("ap-guangzhou", "web", 2, 1) {
		t.Errorf("slot 2: %+v", c)
	}
	// The window is an option.
	p = Diff(fleets, observe(fleets), st, t0, DiffOptions{ExpectWindow: 30 * time.Second})
	if got := slots(p.Fleets[0].Creates); !reflect.DeepEqual(got, []int{0, 1, 2}) {
		t.Errorf("with a 30 s window: creates %v", got)
	}
}

func TestDiffSurplus(t *testing.T) {
	fleets := loadFleets(t, "rep:1:", "iso:1:scaleDown: isolate")
	st := NewState()
	st.expect(Expectation{SlotKey: SlotKey{"ap-guangzhou", "iso", 3}, InstanceID: "lhins-00000005", Since: t0})
	st.refuseIsolation("lhins-00000006", codeNotReturnable)
	p := Diff(fleets, observe(fleets,
		"rep-0=RUNNING", "rep-1=RUNNING@rep/1", // reported: the fleet does not opt in
		"iso-0=RUNNING", "iso-1=RUNNING@iso/1", // tagged: isolated
		"iso-2=RUNNING",             // no tag, no record: reported
		"iso-3=RUNNING",             // in the records: isolated
		"iso-4=RUNNING@iso/4",       // refused before: reported
		"iso-5=PENDING@iso/5",       // busy: later
		"iso-6=LAUNCH_FAILED@iso/6", // dead: nothing to do
	), st, t0, DiffOptions{})
	iso, rep := p.Fleets[0], p.Fleets[1]
	if len(rep.Surplus) != 1 || rep.Surplus[0].Action != ActionReport || !strings.Contains(rep.Surplus[0].Reason, "scaleDown: isolate") {
		t.Errorf("rep surplus %+v", rep.Surplus)
	}
	got := map[string]string{}
	for _, s := range iso.Surplus {
		got[s.Name] = s.Action
	}
	want := map[string]string{"iso-1": "isolate", "iso-2": "report", "iso-3": "isolate", "iso-4": "report", "iso-5": "report"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("iso surplus %v, want %v", got, want)
	}
	if iso.Surplus[0].Slot != 5 {
		t.Errorf("surplus not highest slot first: %+v", iso.Surplus)
	}
	if p.Totals.Isolates != 2 || p.Totals.Creates != 0 {
		t.Errorf("totals %+v", p.Totals)
	}
}

func TestDiffDuplicatesDriftExpiryOrphans(t *testing.T) {
	fleets := loadFleets(t, "web:2:zones: [ap-guangzhou-3]")
	obs := observe(fleets, "web-0=RUNNING", "web-0=PENDING", "web-1=RUNNING@web/0", "gone-7=RUNNING@gone/7", "gone-8=SHUTDOWN@gone/8")
	in := &obs["ap-guangzhou"].Fleets["web"][0]
	in.Zone, in.BundleID, in.Expires = "ap-guangzhou-4", "bundle_gen_02", t0.Add(72*time.Hour)
	p := Diff(fleets, obs, nil, t0, DiffOptions{})
	fp := p.Fleets[0]
	if fp.Live != 2 || len(fp.Creates) != 0 {
		t.Fatalf("%+v", fp)
	}
	if len(fp.Surplus) != 1 || fp.Surplus[0].ID != "lhins-00000001" || !strings.Contains(fp.Surplus[0].Reason, "second live instance in slot 0") {
		t.Errorf("duplicate: %+v", fp.Surplus)
	}
	fields := map[string]string{}
	for _, d := range fp.Drift {
		if d.InstanceID == "lhins-00000000" {
			fields[d.Field] = d.Actual
		}
	}
	if !reflect.DeepEqual(fields, map[string]string{"spec.bundleId": "bundle_gen_02", "spec.zones": "ap-guangzhou-4"}) {
		t.Errorf("drift %+v", fp.Drift)
	}
	warn := strings.Join(fp.Warnings, "\n")
	if !strings.Contains(warn, "expires 2026-03-04T12:00:00Z (in 72h0m0s)") || !strings.Contains(warn, "named \"web-1\" (slot 1) but tagged") {
		t.Errorf("warnings:\n%s", warn)
	}
	if want := []Expiring{{InstanceID: "lhins-00000000", Name: "web-0", Slot: 0, Expires: t0.Add(72 * time.Hour)}}; !reflect.DeepEqual(fp.Expiring, want) {
		t.Errorf("expiring %+v, want %+v", fp.Expiring, want)
	}
	if len(p.Orphans) != 1 || p.Orphans[0].Name != "gone-7" {
		t.Errorf("orphans %+v", p.Orphans)
	}
}

func TestDiffIsDeterministic(t *testing.T) {
	fleets := loadFleets(t, "a:5:", "b:3:scaleDown: isolate", "c:0:")
	obs := observe(fleets, "a-4=RUNNING", "b-7=RUNNING@b/7", "b-1=LAUNCH_FAILED", "c-0=RUNNING")
	first := Diff(fleets, obs, nil, t0, DiffOptions{})
	for range 20 {
		if again := Diff(fleets, obs, nil, t0, DiffOptions{}); !reflect.DeepEqual(first, again) {
			t.Fatal("two diffs of the same input differ")
		}
	}
	if names := []string{first.Fleets[0].Fleet, first.Fleets[1].Fleet, first.Fleets[2].Fleet}; !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("fleet order %v", names)
	}
}

func TestTokenIsStableAndShort(t *testing.T) {
	tok := Token("ap-guangzhou", "web", 3, 0)
	if len(tok) > 64 || !strings.HasPrefix(tok, TokenPrefix) {
		t.Fatalf("token %q", tok)
	}
	seen := map[string]bool{tok: true}
	for _, other := range []string{Token("ap-guangzhou", "web", 3, 1), Token("ap-guangzhou", "web", 30, 0), Token("ap-shanghai", "web", 3, 0), Token("ap-guangzhou", "web3", 0, 0)} {
		if seen[other] {
			t.Errorf("token collision: %q", other)
		}
		seen[other] = true
	}
	// Pinned: a change to the derivation would make every deployed run
	// forget its tokens and could buy servers twice.
	if want := "lk1-076cece4a3794698d024fe39556b3547895856c6d7f8f61f"; tok != want {
		t.Errorf("Token(ap-guangzhou, web, 3, 0) = %q, want %q", tok, want)
	}
}
