//go:build full

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The HA chaos suite: seeded random scenarios of the HA rig (three daemons,
// real etcd, the emulator, all but etcd as processes). Each scenario draws
// from its seed a sequence of events — SIGKILL, SIGSTOP, SIGCONT, SIGTERM
// or SIGHUP of the leader or a follower, a daemon started again, etcd
// stopped and restarted, a count raised or lowered by a commit, a webhook to a
// random daemon — with a random pause after each, then heals everything
// (SIGCONT, etcd back, every daemon running) and waits for convergence:
// each fleet has exactly its count live. Throughout, the rig's monitor
// fails the scenario on a fleet over its ceiling or a name held by two
// live instances.
//
//	go test -tags full ./cmd/lightkeeper/ -run TestHAChaos -v          # -hachaos.n scenarios
//	go test -tags full ./cmd/lightkeeper/ -run TestHAChaos -hachaos.n 20 -hachaos.from 100 -v
//	go test -tags full ./cmd/lightkeeper/ -run TestHAChaos -hachaos.seed 7 -v # replay one seed
//
// The events' timing is real, so a replay repeats the events, not every
// interleaving.
var (
	haChaosN     = flag.Int("hachaos.n", 2, "number of HA chaos scenarios (seeds from..from+n-1)")
	haChaosFrom  = flag.Int64("hachaos.from", 1, "first HA chaos seed")
	haChaosSeed  = flag.Int64("hachaos.seed", 0, "replay this HA chaos seed only")
	haChaosSteps = flag.Int("hachaos.steps", 8, "events per HA chaos scenario")
	haChaosSite  = flag.String("hachaos.site", "china", "api.site of the daemons: china (tags on creates) or intl (none: a new leader cannot tell\nwhich surplus instances an old one bought, so a lowered count may never converge)")
)

func TestHAChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the HA chaos scenarios run without -short")
	}
	seeds := []int64{*haChaosSeed}
	if *haChaosSeed == 0 {
		seeds = nil
		for i := range int64(*haChaosN) {
			seeds = append(seeds, *haChaosFrom+i)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runHAChaos(t, seed)
		})
	}
}

// haScenario is one seeded run: its rig, its random source and its trace.
type haScenario struct {
	t       testing.TB
	seed    int64
	rng     *rand.Rand
	r       *haRig
	start   time.Time
	trace   []string
	etcdOff bool
}

func (s *haScenario) log(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%6.2fs ", time.Since(s.start).Seconds())+fmt.Sprintf(format, args...))
}

func runHAChaos(t testing.TB, seed int64) {
	s := &haScenario{t: t, seed: seed, rng: rand.New(rand.NewPCG(uint64(seed), 0x4a11)), start: time.Now()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("HA chaos seed %d failed\nreplay: go test ./cmd/lightkeeper/ -run 'TestHAChaos$' -hachaos.seed %d -hachaos.steps %d -hachaos.site %s -v\ntrace:\n  %s",
				seed, seed, *haChaosSteps, *haChaosSite, strings.Join(s.trace, "\n  "))
		} else if testing.Verbose() {
			t.Logf("trace:\n  %s", strings.Join(s.trace, "\n  "))
		}
	})
	fleets := map[string]int{"web": 1 + s.rng.IntN(3), "api": 1 + s.rng.IntN(3)}
	rate := []int{0, 2, 4}[s.rng.IntN(3)]
	s.log("fleets %v, CreateInstances rate %d/s (0: the client's default), site %s", fleets, rate, *haChaosSite)
	s.r = newHARig(t, haOptions{fleets: fleets, createRate: rate, site: *haChaosSite})
	for range *haChaosSteps {
		s.step()
		pause := time.Duration(s.rng.IntN(2500)) * time.Millisecond
		time.Sleep(pause)
	}
	s.heal()
	s.r.waitLeader("healed")
	s.r.waitConverged("healed")
	s.log("converged at %v", s.r.wantCounts())
}

// step draws and carries out one event.
func (s *haScenario) step() {
	r := s.r
	var running, dead, paused []*haDaemon
	for _, d := range r.daemons {
		d.mu.Lock()
		switch {
		case d.p == nil:
			dead = append(dead, d)
		case d.paused:
			paused = append(paused, d)
		default:
			running = append(running, d)
		}
		d.mu.Unlock()
	}
	leader, followers := s.leaderAndFollowers(running)
	pick := func(ds []*haDaemon) *haDaemon { return ds[s.rng.IntN(len(ds))] }
	role := func(d *haDaemon) string {
		if d == leader {
			return "leader"
		}
		return "follower"
	}
	switch ev := s.rng.IntN(13); {
	case ev < 3:
		f := []string{"web", "api"}[s.rng.IntN(2)]
		n := 1 + s.rng.IntN(6)
		s.log("commit %s: %d (was %d)", f, n, r.wantCounts()[f])
		r.setCounts(map[string]int{f: n})
	case ev == 3 && len(running) > 0:
		d := pick(running)
		s.log("webhook to %s", d.id)
		postHook(s.t, d.proc().base, r.git.head())
	case ev == 4 && leader != nil, ev == 5 && len(followers) > 0:
		d := leader
		if ev == 5 {
			d = pick(followers)
		}
		s.log("SIGKILL the %s %s", role(d), d.id)
		d.kill()
	case ev == 6 && leader != nil, ev == 7 && len(followers) > 0:
		d := leader
		if ev == 7 {
			d = pick(followers)
		}
		s.log("SIGSTOP the %s %s", role(d), d.id)
		d.stop()
	case ev == 8 && len(paused) > 0:
		d := pick(paused)
		s.log("SIGCONT %s", d.id)
		d.cont()
	case ev == 9 && len(running) > 0:
		d := pick(running)
		s.log("SIGTERM the %s %s", role(d), d.id)
		d.term()
	case ev == 10 && len(dead) > 0:
		d := pick(dead)
		s.log("start %s again", d.id)
		d.start()
	case ev == 11:
		if s.etcdOff {
			s.log("etcd restarted")
			r.etcd.Restart()
		} else {
			s.log("etcd stopped")
			r.etcd.Stop()
		}
		s.etcdOff = !s.etcdOff
	case ev == 12 && len(running) > 0:
		d := pick(running)
		s.log("SIGHUP %s (reload: a leader hands over)", d.id)
		d.signal(syscall.SIGHUP)
	default:
		s.log("nothing (event %d has no target)", ev)
	}
}

// leaderAndFollowers splits the running daemons by what their /status says
// now (no leader while none claims it).
func (s *haScenario) leaderAndFollowers(running []*haDaemon) (*haDaemon, []*haDaemon) {
	var leader *haDaemon
	var followers []*haDaemon
	for _, d := range running {
		if ha := d.ha(); ha != nil && ha["leader"] == true && leader == nil {
			leader = d
		} else {
			followers = append(followers, d)
		}
	}
	return leader, followers
}

// heal resumes paused daemons, restarts etcd and starts every dead daemon.
func (s *haScenario) heal() {
	for _, d := range s.r.daemons {
		d.mu.Lock()
		dead, paused := d.p == nil, d.paused
		d.mu.Unlock()
		switch {
		case paused:
			s.log("heal: SIGCONT %s", d.id)
			d.cont()
		case dead:
			s.log("heal: start %s", d.id)
			d.start()
		}
	}
	if s.etcdOff {
		s.log("heal: etcd restarted")
		s.r.etcd.Restart()
		s.etcdOff = false
	}
	s.log("healed; want %v", s.r.wantCounts())
}
