package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/spec"
)

// This file draws a rollout chaos scenario from its seed: fleets with
// spec.update, the emulator's settings (operation times, failures, token
// policies, site), and steps that change the fleets' shape in git between
// and during runs, inject faults on the new actions, and run one, two or
// no runners. Everything is drawn before the scenario runs.

// rolloutDef is one fleet of a rollout scenario's git tree.
type rolloutDef struct {
	name, region      string
	count             int
	bundle, blueprint string
	zone              string // "" lets the cloud pick
	renewFlag         string
	keys              bool // login: {keyIds: [lhkp-ops00001]}
	strategy          string
	maxUnavailable    int
	maxSurge          int
	minReady          time.Duration
}

func (d rolloutDef) key() string { return d.region + "/" + d.name }

func (d rolloutDef) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: %s\n  count: %d\n  bundleId: %s\n  blueprintId: %s\n  charge: {period: 1, renewFlag: %s}\n",
		d.name, d.region, d.count, d.bundle, d.blueprint, d.renewFlag)
	if d.zone != "" {
		fmt.Fprintf(&b, "  zones: [%s]\n", d.zone)
	}
	if d.keys {
		b.WriteString("  login: {keyIds: [lhkp-ops00001]}\n")
	}
	fmt.Fprintf(&b, "  update: {strategy: %s, maxUnavailable: %d", d.strategy, d.maxUnavailable)
	if d.strategy == spec.UpdateReplace {
		fmt.Fprintf(&b, ", maxSurge: %d", d.maxSurge)
	}
	if d.minReady > 0 {
		fmt.Fprintf(&b, ", minReady: %s", d.minReady)
	}
	b.WriteString("}\n")
	return b.String()
}

// fix makes the bounds valid for the strategy: maxSurge only with
// replace, and not both 0.
func (d *rolloutDef) fix() {
	if d.strategy != spec.UpdateReplace {
		d.maxSurge = 0
	}
	if d.maxUnavailable == 0 && d.maxSurge == 0 {
		d.maxUnavailable = 1
	}
}

func loadRollout(defs []rolloutDef) ([]*spec.Fleet, error) {
	var b strings.Builder
	for _, d := range defs {
		b.WriteString(d.yaml())
	}
	return spec.Load(fstest.MapFS{"fleets.yaml": {Data: []byte(b.String())}}, spec.Options{})
}

var (
	rolloutBlueprints = []string{"lhbp-g0tn7djh", "lhbp-a7oxy2bx", "lhbp-d8pgvqz2"}
	rolloutBundles    = []string{"bundle_gen_01", "bundle_gen_02", "bundle_gen_03"}
	rolloutZones      = map[string][]string{"ap-guangzhou": {"ap-guangzhou-3", "ap-guangzhou-4"}, "ap-shanghai": {"ap-shanghai-2", "ap-shanghai-3"}}
	rolloutFlags      = []string{lighthouse.RenewNotifyManual, lighthouse.RenewNotifyAuto}
	rolloutStrategies = []string{spec.UpdateInPlace, spec.UpdateInPlace, spec.UpdateReplace, spec.UpdateReplace, spec.UpdateReport}
)

// outsideReplacementHidden is the rollout's own condition outside the
// guarantees (docs/design.md 11.5).
const outsideReplacementHidden = "a replacement hidden by describe lag from a runner without its state, across a spec change"

// rolloutChanges are the spec changes a step can make.
var rolloutChanges = []string{"blueprint", "blueprint", "bundle", "bundle", "zone", "renewFlag", "strategy", "count", "bounds", "minReady"}

type rolloutStep struct {
	step
	// spec: which change, and the values drawn for it.
	value int
}

type rolloutPlan struct {
	cfg      emulator.Config
	retryMax int
	tags     bool
	window   time.Duration
	defs     []rolloutDef
	steps    []rolloutStep
	outside  []string
	maxLag   time.Duration
	opDelay  time.Duration
}

func randomRolloutFleets(rng *rand.Rand) []rolloutDef {
	regions := chaosRegions[:1+rng.IntN(2)]
	defs := make([]rolloutDef, 1+rng.IntN(3))
	for i := range defs {
		region := regions[rng.IntN(len(regions))]
		d := rolloutDef{
			name: fmt.Sprintf("r%d", i+1), region: region, count: 1 + rng.IntN(6),
			bundle: rolloutBundles[rng.IntN(2)], blueprint: rolloutBlueprints[rng.IntN(3)],
			renewFlag: rolloutFlags[rng.IntN(2)], keys: rng.IntN(3) == 0,
			strategy: rolloutStrategies[rng.IntN(len(rolloutStrategies))], maxUnavailable: rng.IntN(3), maxSurge: rng.IntN(3),
		}
		if rng.IntN(2) == 0 {
			d.zone = rolloutZones[region][rng.IntN(2)]
		}
		if rng.IntN(4) == 0 {
			d.minReady = time.Duration(10+rng.IntN(80)) * time.Second
		}
		d.fix()
		defs[i] = d
	}
	return defs
}

// randomRolloutFault draws a fault for the rollout's actions (and the old
// ones): lost answers, 5xx, delays, operation failures, Describe lag.
func randomRolloutFault(rng *rand.Rand, window time.Duration) emulator.Fault {
	actions := []string{lighthouse.ActionResetInstance, lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle, lighthouse.ActionModifyInstancesBundle,
		lighthouse.ActionModifyInstancesRenewFlag, lighthouse.ActionCreateInstances, lighthouse.ActionIsolateInstances, lighthouse.ActionDescribeInstances, ""}
	kinds := []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultDropResponse, emulator.FaultDelay, emulator.FaultHTTP5xx,
		emulator.FaultInternalError, emulator.FaultRequestLimitExceeded, emulator.FaultDescribeLag, emulator.FaultOperationFailure}
	f := emulator.Fault{Kind: kinds[rng.IntN(len(kinds))], Action: actions[rng.IntN(len(actions))]}
	switch f.Kind {
	case emulator.FaultDescribeLag:
		f.Action = lighthouse.ActionDescribeInstances
		f.Delay = time.Duration(10+rng.IntN(int(window/time.Second)-10)) * time.Second
	case emulator.FaultDelay:
		f.Delay, f.Count = 5*time.Second, 1+rng.IntN(2)
		return f
	case emulator.FaultOperationFailure:
		f.Action = []string{lighthouse.ActionResetInstance, lighthouse.ActionModifyInstancesBundle}[rng.IntN(2)]
		f.Count = 1
		return f
	case emulator.FaultHTTP5xx:
		f.Status = []int{500, 502, 503, 504}[rng.IntN(4)]
	}
	if rng.IntN(2) == 0 {
		f.Count = 1 + rng.IntN(4)
	} else {
		f.Probability = 0.2 + 0.6*rng.Float64()
	}
	return f
}

func drawRollout(seed int64) *rolloutPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x726f6c6c))
	p := &rolloutPlan{retryMax: []int{-1, 1, 3}[rng.IntN(3)], tags: rng.IntN(3) != 0}
	p.opDelay = []time.Duration{5 * time.Second, 20 * time.Second, 90 * time.Second}[rng.IntN(3)]
	p.cfg = emulator.Config{
		Seed:           seed,
		LaunchDelay:    time.Duration(5+rng.IntN(40)) * time.Second,
		OperationDelay: p.opDelay,
		TokenMismatch:  policies[rng.IntN(3)],
		TokenGone:      policies[rng.IntN(3)],
		Quotas:         map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
	}
	if rng.IntN(4) == 0 {
		p.cfg.LaunchFailureProbability = 0.05 + 0.15*rng.Float64()
	}
	if rng.IntN(2) == 0 {
		p.cfg.BusyAsOperationDenied = true
	}
	if rng.IntN(3) == 0 {
		p.cfg.ModifyBundleBatchLimit = 30
	}
	p.window = []time.Duration{0, time.Duration(2+rng.IntN(6)) * time.Minute}[rng.IntN(2)]
	window := p.window
	if window == 0 {
		window = 5 * time.Minute
	}
	p.defs = randomRolloutFleets(rng)
	twoWithDaemon, oneShots := false, false
	for range 8 + rng.IntN(14) {
		st := rolloutStep{step: step{maxCreates: -1}}
		switch r := rng.IntN(100); {
		case r < 26:
			st.kind = stepDaemon
		case r < 34:
			st.kind = stepOneShot
		case r < 41:
			st.kind = stepTwo
			st.flag = rng.IntN(2) == 0
		case r < 45:
			st.kind = stepPlan
		case r < 63:
			st.kind = stepAdvance
			st.advance = []time.Duration{
				time.Duration(1+rng.IntN(20)) * time.Second,
				time.Duration(15+rng.IntN(105)) * time.Second,
				time.Duration(2+rng.IntN(8)) * time.Minute,
			}[rng.IntN(3)]
		case r < 75:
			st.kind = stepFaults
			for range 1 + rng.IntN(3) {
				f := randomRolloutFault(rng, window)
				p.maxLag = max(p.maxLag, f.Delay*time.Duration(btoi(f.Kind == emulator.FaultDescribeLag)))
				st.faults = append(st.faults, f)
			}
		case r < 80:
			st.kind = stepClear
		case r < 83:
			st.kind = stepDelete
			st.pick = rng.IntN(1 << 20)
		default:
			st.kind = stepSpec
			st.pick = rng.IntN(1 << 20)
			st.change = rolloutChanges[rng.IntN(len(rolloutChanges))]
			st.value = rng.IntN(1 << 20)
		}
		oneShots = oneShots || st.kind == stepOneShot || st.kind == stepTwo
		twoWithDaemon = twoWithDaemon || st.kind == stepTwo && st.flag
		p.steps = append(p.steps, st)
	}
	if !p.tags && rng.IntN(2) == 0 {
		p.cfg.Site = emulator.SiteIntl
	}
	// What lies outside the guarantees of creates (docs/design.md 5.6)
	// lies outside here too: a token forgotten while its instance is
	// hidden, a lag past the window.
	tokenWindow := emulator.DefaultTokenWindow
	if p.maxLag > 0 && p.maxLag >= tokenWindow {
		p.outside = append(p.outside, outsideLagPastToken)
	}
	if p.maxLag > 0 && p.maxLag >= window {
		p.outside = append(p.outside, outsideLagPastExpect)
	}
	if p.cfg.TokenGone == emulator.TokenCreateNew && (p.maxLag > 0 || twoWithDaemon) {
		p.outside = append(p.outside, outsideGoneCreateNew)
	}
	if p.cfg.TokenMismatch == emulator.TokenCreateNew && (p.maxLag > 0 || twoWithDaemon) && slices.ContainsFunc(p.steps, func(s rolloutStep) bool { return s.kind == stepSpec }) {
		p.outside = append(p.outside, outsideBundle)
	}
	// A replacement carries its shape in its token: after a spec change, a
	// runner without the State of the one that created it, while Describe
	// lag hides it, cannot know of it and buys the new shape beside it
	// (docs/design.md 11.5; seed 2695).
	// (A spec step may turn any fleet's strategy to replace: seed 8590.)
	if p.maxLag > 0 && oneShots && slices.ContainsFunc(p.steps, func(s rolloutStep) bool { return s.kind == stepSpec }) {
		p.outside = append(p.outside, outsideReplacementHidden)
	}
	return p
}

// applyChange changes one fleet of defs as a spec step says and returns a
// description.
func applyChange(defs []rolloutDef, st rolloutStep) string {
	d := &defs[st.pick%len(defs)]
	old := *d
	v := st.value
	switch st.change {
	case "blueprint":
		d.blueprint = rolloutBlueprints[(slices.Index(rolloutBlueprints, d.blueprint)+1+v%2)%len(rolloutBlueprints)]
	case "bundle":
		// Mostly an upgrade (in place), sometimes a downgrade (replace only).
		i := slices.Index(rolloutBundles, d.bundle)
		if v%4 == 0 && i > 0 {
			d.bundle = rolloutBundles[i-1]
		} else if i+1 < len(rolloutBundles) {
			d.bundle = rolloutBundles[i+1]
		} else {
			d.bundle = rolloutBundles[0]
		}
	case "zone":
		zs := rolloutZones[d.region]
		switch {
		case d.zone == "":
			d.zone = zs[v%2]
		case v%3 == 0:
			d.zone = ""
		default:
			d.zone = zs[(slices.Index(zs, d.zone)+1)%2]
		}
	case "renewFlag":
		d.renewFlag = rolloutFlags[(slices.Index(rolloutFlags, d.renewFlag)+1)%2]
	case "strategy":
		d.strategy = rolloutStrategies[v%len(rolloutStrategies)]
	case "count":
		d.count = v % 7
	case "bounds":
		d.maxUnavailable, d.maxSurge = v%3, (v/3)%3
	case "minReady":
		d.minReady = []time.Duration{0, 20 * time.Second, 75 * time.Second}[v%3]
	}
	d.fix()
	return fmt.Sprintf("%s: %+v -> %+v", st.change, old, *d)
}
