package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// This file draws a chaos scenario from its seed: the emulator's settings,
// the reconciler's, and the steps. Everything is drawn before the scenario
// runs, so the class of a scenario (inside or outside the guaranteed
// conditions) is known up front and a seed always replays the same steps.

type stepKind int

const (
	stepDaemon  stepKind = iota // Plan+Apply by the long-lived reconciler (the daemon)
	stepOneShot                 // Plan+Apply by a fresh reconciler with an empty State
	stepTwo                     // two runners at once
	stepPlan                    // Plan only (reconcile --plan)
	stepAdvance                 // move the clock
	stepFaults                  // inject faults
	stepClear                   // clear faults
	stepDelete                  // delete an instance out of band
	stepSpec                    // change the git tree
)

var stepNames = [...]string{"daemon", "one-shot", "two-runners", "plan", "advance", "faults", "clear", "delete", "spec"}

func (k stepKind) String() string { return stepNames[k] }

type step struct {
	kind    stepKind
	advance time.Duration
	faults  []emulator.Fault
	// two runners: whether the second is the daemon; plan: APIDryRun.
	flag bool
	// maxCreates guards an apply (negative: none).
	maxCreates int
	// pick chooses an instance (delete) or a fleet (spec).
	pick int
	// spec change: "count", "bundle" or "rename", and the new count.
	change string
	count  int
}

func (s step) String() string {
	switch s.kind {
	case stepAdvance:
		return fmt.Sprintf("advance %s", s.advance)
	case stepFaults:
		var fs []string
		for _, f := range s.faults {
			fs = append(fs, describeFault(f))
		}
		return "faults " + strings.Join(fs, "; ")
	case stepSpec:
		if s.change == "count" {
			return fmt.Sprintf("spec: fleet #%d count %d", s.pick, s.count)
		}
		return fmt.Sprintf("spec: fleet #%d %s", s.pick, s.change)
	case stepTwo:
		return fmt.Sprintf("two runners (daemon in it: %v)", s.flag)
	case stepPlan:
		return fmt.Sprintf("plan (api dry run: %v)", s.flag)
	case stepDaemon, stepOneShot:
		if s.maxCreates >= 0 {
			return fmt.Sprintf("%s --max-creates %d", s.kind, s.maxCreates)
		}
	}
	return s.kind.String()
}

func describeFault(f emulator.Fault) string {
	s := string(f.Kind)
	if f.Action != "" {
		s += ",action=" + f.Action
	}
	if f.Probability > 0 {
		s += fmt.Sprintf(",probability=%.2f", f.Probability)
	}
	if f.Count > 0 {
		s += fmt.Sprintf(",count=%d", f.Count)
	}
	if f.Delay > 0 {
		s += ",delay=" + f.Delay.String()
	}
	return s
}

// plan is a drawn scenario.
type plan struct {
	cfg          emulator.Config
	retryMax     int
	tags         bool
	expectWindow time.Duration
	defs         []fleetDef
	names        int
	steps        []step
	// outside lists why the scenario is outside the guaranteed
	// conditions; empty means no overshoot is allowed at all.
	outside []string
	maxLag  time.Duration
}

// Outside-the-guarantee classes: each is a way the service's undocumented
// token behaviour, Describe lag and runners without a shared state combine
// so that no client can tell a new instance from a lost one. The chaos runs
// with -chaos.strict show that each of them does overshoot sometimes, and
// the rest never does (docs/design.md sections 5.6 and 5.7).
const (
	outsideLagPastToken  = "describe lag >= token window (a token forgotten while its instance is invisible)"
	outsideLagPastExpect = "describe lag >= expectation window"
	outsideOneShot       = "a runner without state with a token window shorter than the scenario (a dead incarnation's token forgotten)"
	outsideGoneCreateNew = "TokenGone create-new with describe lag or a runner without state beside the daemon"
	outsideBundle        = "creation parameters changed under TokenMismatch create-new, with describe lag or two runners"
)

var policies = []emulator.TokenPolicy{emulator.TokenReturnOriginal, emulator.TokenReject, emulator.TokenCreateNew}

func draw(seed int64) *plan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x63686173))
	p := &plan{retryMax: []int{-1, 1, 3}[rng.IntN(3)], tags: rng.IntN(2) == 0}
	p.cfg = emulator.Config{
		Seed:          seed,
		LaunchDelay:   []time.Duration{emulator.DefaultLaunchDelay, time.Duration(1+rng.IntN(90)) * time.Second}[rng.IntN(2)],
		TokenMismatch: policies[rng.IntN(3)],
		TokenGone:     policies[rng.IntN(3)],
		Quotas:        map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
	}
	if rng.IntN(3) == 0 {
		p.cfg.LaunchFailureProbability = 0.05 + 0.2*rng.Float64()
	}
	if rng.IntN(3) == 0 {
		// Tokens forgotten early: a window shorter than the scenario.
		p.cfg.TokenWindow = time.Duration(2+rng.IntN(38)) * time.Minute
	}
	p.expectWindow = []time.Duration{0, time.Duration(2+rng.IntN(9)) * time.Minute}[rng.IntN(2)]
	window := p.expectWindow
	if window == 0 {
		window = 5 * time.Minute
	}
	p.defs = randomFleets(rng, &p.names)

	oneShots, bundleChange, twoWithDaemon := false, false, false
	for range 4 + rng.IntN(11) {
		st := step{maxCreates: -1}
		switch r := rng.IntN(100); {
		case r < 24:
			st.kind = stepDaemon
		case r < 34:
			st.kind = stepOneShot
		case r < 42:
			st.kind = stepTwo
			st.flag = rng.IntN(2) == 0
		case r < 50:
			st.kind = stepPlan
			st.flag = rng.IntN(2) == 0
		case r < 68:
			st.kind = stepAdvance
			st.advance = []time.Duration{
				time.Duration(1+rng.IntN(20)) * time.Second,
				time.Duration(15+rng.IntN(105)) * time.Second,
				time.Duration(2+rng.IntN(8)) * time.Minute,
				time.Duration(10+rng.IntN(50)) * time.Minute,
			}[rng.IntN(4)]
		case r < 81:
			st.kind = stepFaults
			for range 1 + rng.IntN(3) {
				f := randomFault(rng, window)
				if f.Kind == emulator.FaultDescribeLag && rng.IntN(8) == 0 {
					f.Delay = window + time.Duration(rng.IntN(120))*time.Second
				}
				p.maxLag = max(p.maxLag, f.Delay*time.Duration(btoi(f.Kind == emulator.FaultDescribeLag)))
				st.faults = append(st.faults, f)
			}
		case r < 85:
			st.kind = stepClear
		case r < 91:
			st.kind = stepDelete
			st.pick = rng.IntN(1 << 20)
		default:
			st.kind = stepSpec
			st.pick = rng.IntN(1 << 20)
			st.change = []string{"count", "count", "bundle", "rename"}[rng.IntN(4)]
			st.count = rng.IntN(9)
		}
		if (st.kind == stepDaemon || st.kind == stepOneShot) && rng.IntN(6) == 0 {
			st.maxCreates = rng.IntN(6)
		}
		oneShots = oneShots || st.kind == stepOneShot || st.kind == stepTwo
		bundleChange = bundleChange || st.kind == stepSpec && st.change == "bundle"
		twoWithDaemon = twoWithDaemon || st.kind == stepTwo && st.flag
		p.steps = append(p.steps, st)
	}
	// Drawn last, so that the draws above stay what they were for a seed.
	// A scenario that sends no tags mostly runs on the international site,
	// which refuses them.
	if !p.tags && rng.IntN(3) != 0 {
		p.cfg.Site = emulator.SiteIntl
	}
	tokenWindow := p.cfg.TokenWindow
	if tokenWindow == 0 {
		tokenWindow = emulator.DefaultTokenWindow
	}
	lag := p.maxLag > 0
	if lag && p.maxLag >= tokenWindow {
		p.outside = append(p.outside, outsideLagPastToken)
	}
	if lag && p.maxLag >= window {
		p.outside = append(p.outside, outsideLagPastExpect)
	}
	if oneShots && p.cfg.TokenWindow != 0 {
		p.outside = append(p.outside, outsideOneShot)
	}
	if p.cfg.TokenGone == emulator.TokenCreateNew && (lag || twoWithDaemon) {
		p.outside = append(p.outside, outsideGoneCreateNew)
	}
	if bundleChange && (p.cfg.TokenMismatch == emulator.TokenCreateNew && (lag || twoWithDaemon)) {
		p.outside = append(p.outside, outsideBundle)
	}
	return p
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// randomFault draws one fault. A describe lag stays below window here (the
// caller sometimes stretches it); a delay is longer than the client's short
// attempt timeout, so the client gives up after the service acted.
func randomFault(rng *rand.Rand, window time.Duration) emulator.Fault {
	kinds := []emulator.FaultKind{emulator.FaultDropResponse, emulator.FaultDelay, emulator.FaultHTTP5xx,
		emulator.FaultInternalError, emulator.FaultRequestLimitExceeded, emulator.FaultDescribeLag}
	f := emulator.Fault{Kind: kinds[rng.IntN(len(kinds))]}
	actions := []string{lighthouse.ActionCreateInstances, lighthouse.ActionCreateInstances, lighthouse.ActionDescribeInstances, lighthouse.ActionIsolateInstances, ""}
	f.Action = actions[rng.IntN(len(actions))]
	switch f.Kind {
	case emulator.FaultDescribeLag:
		f.Action = lighthouse.ActionDescribeInstances
		f.Delay = time.Duration(10+rng.IntN(int(window/time.Second)-10)) * time.Second
	case emulator.FaultDelay:
		f.Delay = 5 * time.Second
		f.Count = 1 + rng.IntN(2) // each costs one short attempt timeout of real time
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
