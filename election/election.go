// Package election elects one leader among the lightkeeper daemons that
// follow the same fleets, on etcd: each daemon holds a session (a lease
// kept alive every third of its TTL) and campaigns with a key bound to it
// (etcd's election recipe, the keys of its concurrency package); the
// holder of the oldest key under the prefix leads. It speaks etcd's v3 API
// as JSON over HTTP (etcd.go), not through etcd's gRPC client.
//
// A leader that loses its lease (etcd unreachable, a partition, a pause
// longer than the TTL) stops leading as soon as its client notices, and
// Check, which the caller asks right before every call that changes
// something, confirms the lease with a linearizable read so that a leader
// that has not noticed yet is refused too. The small window between a
// Check and the request it guards is not closed by etcd (the cloud API
// takes no fencing token); lightkeeper's deterministic ClientTokens cover
// it: an old and a new leader send the same token for the same slot.
//
// Followers watch the leader key for its identity and revision (Leader),
// and pass triggers to it through one key (Forward): a webhook that reaches
// a follower is never lost. They pass messages the same way, each topic
// through its own key (Send, Events.Message): what they are is the
// caller's business.
package election

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultPrefix      = "/lightkeeper/"
	DefaultLeaseTTL    = 10 * time.Second
	DefaultDialTimeout = 5 * time.Second
)

// ErrNotLeader is returned by Check (wrapped, with the reason) when this
// elector does not lead, or cannot prove that it still does.
var ErrNotLeader = errors.New("not the leader")

// Options configure an Elector.
type Options struct {
	// Endpoints of the etcd cluster: client URLs (host:port means
	// http://, or https:// with TLS); required.
	Endpoints []string
	// Prefix of the keys: Prefix+"leader/…" for the election,
	// Prefix+"trigger" for forwarded triggers (default DefaultPrefix).
	// Daemons that follow the same fleets share it.
	Prefix string
	// TLS, if set, secures the connection to etcd (client certificate and
	// CA).
	TLS *tls.Config
	// Username and Password, if Username is set, authenticate to an etcd
	// with authentication enabled. A client certificate alone does not
	// name a user: etcd's JSON gateway, which the election speaks, reaches
	// etcd with the member's own certificate.
	Username, Password string
	// DialTimeout bounds the connection to etcd and each etcd call of the
	// election loop (default DefaultDialTimeout).
	DialTimeout time.Duration
	// LeaseTTL is the session's time to live, rounded up to whole seconds
	// (default DefaultLeaseTTL; etcd refuses less than its minimum, 2 s
	// with default server settings, by raising it).
	LeaseTTL time.Duration
	// ID names this daemon to the others; required and unique.
	ID string
	// URL is this daemon's HTTP address, shown to the others (optional).
	URL string
	// Logger receives the election's log lines; nil discards them.
	Logger *slog.Logger
	// OnError, if set, is called with the operation's name ("session",
	// "campaign", "check", "observe", "proclaim", "forward", "watch",
	// "resign") for each failed etcd call, for metrics.
	OnError func(op string)
}

// Info is what the leader publishes about itself.
type Info struct {
	// ID names the daemon (Options.ID).
	ID string `json:"id"`
	// URL is its HTTP address, if configured.
	URL string `json:"url,omitempty"`
	// Revision is the fleet revision it reconciles (Publish).
	Revision string `json:"revision,omitempty"`
	// Since is when it became the leader.
	Since time.Time `json:"since"`
}

// Events are the Elector's callbacks; they are called on Run's goroutine
// and must not block.
type Events struct {
	// Lead is called with true when this elector becomes the leader and
	// with false when it stops leading (before Run campaigns again).
	Lead func(leading bool)
	// Trigger is called on the leader for each trigger a follower
	// forwarded.
	Trigger func()
	// Message is called on the leader with each message a follower sent
	// (Send), in the order etcd wrote them.
	Message func(topic string, data []byte)
}

// Elector takes part in the election. Its methods are safe for concurrent
// use.
type Elector struct {
	opts Options
	ttl  int // seconds
	etcd *etcd
	log  *slog.Logger

	mu      sync.Mutex
	sess    *session // the session this elector leads with; nil when it does not lead
	ballot  ballot   // its key
	self    Info     // published while leading
	leader  Info     // as observed
	hasLead bool     // leader is known
}

// New connects to etcd (lazily: a cluster that is down delays the first
// campaign, not New) and returns an Elector.
func New(opts Options) (*Elector, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("election: no etcd endpoints")
	}
	if opts.ID == "" {
		return nil, errors.New("election: no ID")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Keep the connections' liveness close to the lease's.
	client, err := newEtcd(opts, opts.LeaseTTL/3)
	if err != nil {
		return nil, err
	}
	ttl := int((opts.LeaseTTL + time.Second - 1) / time.Second)
	return &Elector{opts: opts, ttl: ttl, etcd: client, log: log}, nil
}

// Close lets go of the connections to etcd. Call it after Run has
// returned.
func (e *Elector) Close() error {
	e.etcd.close()
	return nil
}

// ID returns this elector's ID.
func (e *Elector) ID() string { return e.opts.ID }

func (e *Elector) fail(op string, err error) {
	if e.opts.OnError != nil {
		e.opts.OnError(op)
	}
	e.log.Warn("etcd call failed", "op", op, "err", err)
}

// Leader returns the current leader as last observed, and whether one is
// known.
func (e *Elector) Leader() (Info, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess != nil {
		return e.self, true
	}
	return e.leader, e.hasLead
}

// Check returns nil only if this elector leads now: its session is alive
// and a linearizable read finds its leader key, bound to its lease, in
// etcd. Anything else, etcd unreachable included, is ErrNotLeader.
func (e *Elector) Check(ctx context.Context) error {
	e.mu.Lock()
	sess, b := e.sess, e.ballot
	e.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("%w: %s does not lead the election", ErrNotLeader, e.opts.ID)
	}
	if sess.lost() {
		return fmt.Errorf("%w: %s lost its etcd lease", ErrNotLeader, e.opts.ID)
	}
	cctx, cancel := context.WithTimeout(ctx, e.checkTimeout())
	defer cancel()
	resp, err := e.etcd.get(cctx, rangeRequest{Key: []byte(b.key)})
	if err != nil {
		e.fail("check", err)
		return fmt.Errorf("%w: cannot confirm the lease with etcd: %w", ErrNotLeader, err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].Lease != sess.lease || resp.Kvs[0].CreateRevision != b.rev {
		return fmt.Errorf("%w: the leader key of %s is gone from etcd (its lease expired)", ErrNotLeader, e.opts.ID)
	}
	return nil
}

// checkTimeout bounds Check's read: well inside the lease, so that a
// leader cut off from etcd stops at once rather than after a long wait.
func (e *Elector) checkTimeout() time.Duration {
	return min(e.opts.DialTimeout, e.opts.LeaseTTL/3)
}

// Publish records the revision the leader reconciles in its leader key,
// for the followers' status. It does nothing when this elector does not
// lead.
func (e *Elector) Publish(ctx context.Context, revision string) error {
	e.mu.Lock()
	if e.sess == nil || e.self.Revision == revision {
		e.mu.Unlock()
		return nil
	}
	sess, b, info := e.sess, e.ballot, e.self
	e.mu.Unlock()
	info.Revision = revision
	cctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	if err := e.proclaim(cctx, sess, b, encode(info)); err != nil {
		e.fail("proclaim", err)
		return fmt.Errorf("election: publish revision: %w", err)
	}
	e.mu.Lock()
	if e.sess == sess {
		e.self = info
	}
	e.mu.Unlock()
	return nil
}

// Forward asks the leader for a cycle: it writes the trigger key, which
// the leader watches.
func (e *Elector) Forward(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	if err := e.etcd.put(cctx, e.opts.Prefix+"trigger", []byte(e.opts.ID+" "+time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		e.fail("forward", err)
		return fmt.Errorf("election: forward a trigger to the leader through etcd: %w", err)
	}
	return nil
}

// messagePrefix is the key prefix of the messages under Options.Prefix.
const messagePrefix = "message/"

// Send passes data on topic to the leader: it writes the key
// Prefix+"message/"+topic, which the leader watches, and the leader's Run
// calls Events.Message. A message written while no leader watches (between
// two terms) is not delivered; the caller tells its user so.
func (e *Elector) Send(ctx context.Context, topic string, data []byte) error {
	if topic == "" || strings.ContainsAny(topic, "/ ") {
		return fmt.Errorf("election: message topic %q: want a word", topic)
	}
	cctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	if err := e.etcd.put(cctx, e.opts.Prefix+messagePrefix+topic, data); err != nil {
		e.fail("forward", err)
		return fmt.Errorf("election: send a message to the leader through etcd: %w", err)
	}
	return nil
}

func encode(i Info) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func decode(b []byte) Info {
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return Info{ID: string(b)}
	}
	return i
}
