//go:build full

package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// haOptions shape a haRig.
type haOptions struct {
	daemons  int            // default 3
	leaseTTL time.Duration  // default 2s, etcd's minimum
	fleets   map[string]int // the first commit: fleet name -> count (default web: 2)
	// createRate is the daemons' CreateInstances rate per second (0: the
	// client's default, 5), low to keep a leader inside a batch of creates.
	createRate int
	tls        bool // the daemons reach etcd over TLS with client certificates
	noHA       bool // leave the ha block out (one daemon, as before issue 11)
	// site is api.site (default china: instances carry lightkeeper's tags,
	// so any leader knows which surplus instances it may isolate; with
	// intl only the daemon whose state recorded the create knows).
	site string
	// interval is repository.interval (default 2s); 1h leaves the
	// webhook and the watch of the repository as the only triggers.
	interval time.Duration
	emuArgs  []string // more flags of `lightkeeper emulator`
}

// haPrefix is the rig's ha.etcd.prefix.
const haPrefix = "/lightkeeper-test/"

// haRig is a fleet repository (a working clone and the bare repository the
// daemons follow), a real etcd member in the test process
// (internal/etcdtest), `lightkeeper emulator` as a process, and N
// `lightkeeper daemon` processes with their own config, state directory and
// listen address, each reaching the emulator through its own recording
// proxy (callLog), while a fleetMonitor watches the emulator's instances.
type haRig struct {
	t       testing.TB
	o       haOptions
	bin     string
	git     *daemonRig // the working clone, its commits and config writer
	bare    string
	etcd    *etcdtest.Server
	emu     *emulatorProcess
	calls   *callLog
	mon     *fleetMonitor
	daemons []*haDaemon

	mu     sync.Mutex
	counts map[string]int // what the last commit says
	head   string         // the commit pushed last; "" while a push is under way
}

// haDaemon is one host of the rig: its config and its current process.
type haDaemon struct {
	r        *haRig
	id       string // lk-0, lk-1, ...
	cfgFile  string
	addr     string // listen address
	endpoint string // its recording proxy in front of the emulator

	mu      sync.Mutex
	p       *daemonProcess // nil once killed or terminated
	paused  bool           // SIGSTOPped
	suspect bool           // resumed; not yet seen answering with nothing in flight
}

// newHARig starts etcd, the emulator, the repository and the daemons, and
// waits until the first commit is live.
func newHARig(t testing.TB, o haOptions) *haRig {
	t.Helper()
	if o.daemons == 0 {
		o.daemons = 3
	}
	if o.leaseTTL == 0 {
		o.leaseTTL = 2 * time.Second
	}
	if o.site == "" {
		o.site = "china"
	}
	if o.interval == 0 {
		o.interval = 2 * time.Second
	}
	if o.fleets == nil {
		o.fleets = map[string]int{"web": 2}
	}
	r := &haRig{t: t, o: o, bin: reconcileBinary(t), counts: map[string]int{}}
	r.etcd = etcdtest.StartWith(t, etcdtest.Options{TLS: o.tls})
	r.emu = startEmulator(t, r.bin, append([]string{"--launch-delay", "0", "--operation-delay", "0"}, o.emuArgs...)...)
	r.calls = newCallLog(t, r.emu.url)
	r.git = newDaemonRig(t)
	root := filepath.Dir(r.git.repo)
	r.bare = filepath.Join(root, "fleets.git")
	r.git.git(root, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git.git(r.git.repo, "remote", "add", "origin", r.bare)
	for i := range o.daemons {
		d := &haDaemon{r: r, id: fmt.Sprintf("lk-%d", i), addr: etcdtest.FreeAddr(t)}
		d.cfgFile = filepath.Join(root, d.id+".yaml")
		d.endpoint = r.calls.endpoint(d.id)
		r.writeDaemonConfig(d)
		r.daemons = append(r.daemons, d)
	}
	r.mon = startFleetMonitor(t, r)
	r.setCounts(o.fleets)
	for _, d := range r.daemons {
		d.start()
	}
	r.waitConverged("the first commit")
	return r
}

// writeDaemonConfig writes d's configuration with the daemon rig's
// writeConfig: the bare repository, d's proxy as the API endpoint, its own
// state directory and listen address, and the contract's ha block.
func (r *haRig) writeDaemonConfig(d *haDaemon) {
	r.t.Helper()
	g := *r.git
	g.repo, g.endpoint, g.cfgFile = r.bare, d.endpoint, d.cfgFile
	g.stateDir = filepath.Join(filepath.Dir(r.git.repo), "state-"+d.id)
	extra := fmt.Sprintf("listen: %q\n", d.addr)
	if !r.o.noHA {
		extra += fmt.Sprintf("ha:\n  id: %s\n  advertiseURL: http://%s\n  leaseTTL: %v\n  etcd:\n    endpoints: [%s]\n    prefix: %s\n    dialTimeout: 2s\n",
			d.id, d.addr, r.o.leaseTTL, strings.Join(r.etcd.Endpoints(), ", "), haPrefix)
		if tf := r.etcd.TLS(); tf != nil {
			extra += fmt.Sprintf("    tls:\n      caFile: %s\n      certFile: %s\n      keyFile: %s\n", tf.CA, tf.ClientCert, tf.ClientKey)
		}
	}
	g.writeConfig(extra)
	cfg := mustRead(r.t, d.cfgFile)
	cfg = strings.Replace(cfg, "interval: 1h", "interval: "+r.o.interval.String(), 1)
	cfg = strings.Replace(cfg, "maxCreatesPerRun: 10", "maxCreatesPerRun: 100\n  maxIsolatesPerRun: 100", 1)
	cfg = strings.Replace(cfg, "api:\n", "api:\n  site: "+r.o.site+"\n", 1)
	if r.o.createRate > 0 {
		cfg = strings.Replace(cfg, "api:\n", fmt.Sprintf("api:\n  rateLimits: {CreateInstances: %d}\n", r.o.createRate), 1)
	}
	if err := os.WriteFile(d.cfgFile, []byte(cfg), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// haFleetDoc is fleetDoc in ap-guangzhou with scaleDown: isolate, so that
// a lowered count converges.
func haFleetDoc(name string, count int) string {
	return fleetDoc(name, "ap-guangzhou", count) + "  scaleDown: isolate\n"
}

// setCounts commits and pushes the fleets with these counts (other fleets
// keep theirs). The monitor's ceiling is raised before the push.
func (r *haRig) setCounts(counts map[string]int) {
	r.t.Helper()
	r.mu.Lock()
	maps.Copy(r.counts, counts)
	all := maps.Clone(r.counts)
	r.mu.Unlock()
	r.mon.expect(all)
	docs := map[string]string{}
	var subject []string
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		docs[name] = haFleetDoc(name, counts[name])
		subject = append(subject, fmt.Sprintf("%s: %d", name, counts[name]))
	}
	r.push(docs, strings.Join(subject, ", "))
}

// push writes each fleet's document to fleets/NAME.yaml in the working
// clone, commits (even if nothing changed) with subject, and pushes to the
// bare repository the daemons follow.
func (r *haRig) push(docs map[string]string, subject string) {
	r.t.Helper()
	r.mu.Lock()
	r.head = ""
	r.mu.Unlock()
	defer func() {
		head := r.git.head()
		r.mu.Lock()
		r.head = head
		r.mu.Unlock()
	}()
	for name, doc := range docs {
		p := filepath.Join(r.git.repo, "fleets", name+".yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git.git(r.git.repo, "add", "-A")
	r.git.git(r.git.repo, "commit", "-q", "--allow-empty", "-m", subject)
	r.git.git(r.git.repo, "push", "-q", "origin", "main")
}

// wantCounts is what the last commit says, by fleet.
func (r *haRig) wantCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts)
}

// waitConverged waits until every fleet has exactly its count of live
// instances, and fails on any violation the monitor saw.
func (r *haRig) waitConverged(what string) {
	r.t.Helper()
	want := r.wantCounts()
	deadline := time.Now().Add(waitLimit)
	for !maps.Equal(r.mon.live(), want) {
		if time.Now().After(deadline) {
			r.t.Fatalf("waited %v for %s: fleets at %v, live %v\n%s", waitLimit, what, want, r.mon.live(), r.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mon.check()
}

// describe sums up each daemon's /status for a failure message: its ha
// object, last error, last run and fleets.
func (r *haRig) describe() string {
	var b strings.Builder
	for _, d := range r.daemons {
		st := d.status()
		if st == nil {
			fmt.Fprintf(&b, "%s: no status (running %v)\n", d.id, d.running())
			continue
		}
		fmt.Fprintf(&b, "%s: ha %v\n  lastError %v\n  lastRun %v\n  fleets %v\n", d.id, st["ha"], st["lastError"], st["lastRun"], st["fleets"])
	}
	return b.String()
}

// leaders returns the daemons whose /status says ha.leader true, and each
// daemon's ha object (nil where it has none, see ha).
func (r *haRig) leaders() ([]*haDaemon, map[*haDaemon]map[string]any) {
	var out []*haDaemon
	has := map[*haDaemon]map[string]any{}
	for _, d := range r.daemons {
		ha := d.ha()
		has[d] = ha
		if ha != nil && ha["leader"] == true {
			out = append(out, d)
		}
	}
	return out, has
}

// waitLeader waits until exactly one running daemon says it leads, and every
// other running, unpaused daemon names it as leaderId, and returns it. Each
// poll reads every daemon's /status once.
func (r *haRig) waitLeader(what string) *haDaemon {
	r.t.Helper()
	var leader *haDaemon
	waitUntil(r.t, what+": one leader that the others follow", func() bool {
		ls, has := r.leaders()
		if len(ls) != 1 {
			return false
		}
		leader = ls[0]
		for _, d := range r.daemons {
			if d == leader || !d.running() {
				continue
			}
			if ha := has[d]; ha == nil || ha["leaderId"] != leader.id {
				return false
			}
		}
		return true
	})
	return leader
}

// firstCallAfter waits for the first API call after at sent by a daemon
// other than old (a call old sent just before at may arrive after it) and
// returns it.
func (r *haRig) firstCallAfter(at time.Time, old *haDaemon) apiCall {
	r.t.Helper()
	var first apiCall
	waitUntil(r.t, "the new leader's first API call", func() bool {
		var ok bool
		first, ok = r.calls.firstNotFrom(at, old.id)
		return ok
	})
	return first
}

// followers are the running daemons other than leader.
func (r *haRig) followers(leader *haDaemon) []*haDaemon {
	var out []*haDaemon
	for _, d := range r.daemons {
		if d != leader && d.running() {
			out = append(out, d)
		}
	}
	return out
}

// start runs the daemon's process and waits until it answers HTTP.
func (d *haDaemon) start() {
	d.r.t.Helper()
	p := startDaemonProcess(d.r.t, d.r.bin, d.cfgFile, d.addr)
	d.setProc(p)
	waitUntil(d.r.t, d.id+" to answer /healthz", func() bool {
		select {
		case <-p.done:
			d.r.t.Fatalf("%s exited at start:\n%s", d.id, p.log.String())
		default:
		}
		code, _ := d.get("/healthz")
		return code != 0
	})
}

// setProc makes p (nil: none) the daemon's process, neither paused nor
// suspect.
func (d *haDaemon) setProc(p *daemonProcess) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.p, d.paused, d.suspect = p, false, false
}

// proc is the current process, nil if there is none.
func (d *haDaemon) proc() *daemonProcess {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p
}

// running reports whether the daemon has a process that is not paused.
func (d *haDaemon) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p != nil && !d.paused
}

// signal sends sig to the daemon's process.
func (d *haDaemon) signal(sig syscall.Signal) {
	d.r.t.Helper()
	p := d.proc()
	if p == nil {
		d.r.t.Fatalf("%s: no process to send %v", d.id, sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		d.r.t.Fatalf("%s: %v: %v", d.id, sig, err)
	}
}

// kill sends SIGKILL and reaps the process; it returns the time just
// before the signal.
func (d *haDaemon) kill() time.Time {
	d.r.t.Helper()
	at := time.Now()
	d.signal(syscall.SIGKILL)
	p := d.proc()
	<-p.done
	p.cmd.Wait()
	d.setProc(nil)
	return at
}

// term sends SIGTERM, waits for exit 0 and returns the time just before the
// signal.
func (d *haDaemon) term() time.Time {
	d.r.t.Helper()
	at := time.Now()
	if code := d.proc().term(d.r.t); code != 0 {
		d.r.t.Fatalf("%s: exit %d after SIGTERM", d.id, code)
	}
	d.setProc(nil)
	return at
}

// stop pauses the process with SIGSTOP.
func (d *haDaemon) stop() {
	d.r.t.Helper()
	d.mu.Lock()
	d.paused = true
	d.mu.Unlock()
	d.signal(syscall.SIGSTOP)
}

// cont resumes a paused process with SIGCONT. Until the monitor sees it
// answer /status with no call in flight, it is a suspect: a call it had
// cleared before the pause may still go out.
func (d *haDaemon) cont() {
	d.r.t.Helper()
	d.signal(syscall.SIGCONT)
	d.mu.Lock()
	d.paused, d.suspect = false, true
	d.mu.Unlock()
}
