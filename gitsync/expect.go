package gitsync

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage"
)

// A push's news (docs/design.md section 8.5): a verified webhook names the
// commit the followed ref now points at. Over http(s), where a pack request
// needs no listing before it on the same connection, the next Sync asks
// for that commit's new objects while it lists the remote, and uses the
// answer only if the listing names the same commit; the ref is taken from
// the listing alone, so a webhook cannot point the cache anywhere. What it
// saves is the listing's round trip over a network; a remote on this host
// has none to save, and the two requests would only share its CPU, so it
// is not asked early.

// Expecter is implemented by Sources that can make use of a push's news
// (Remote): Expect says that the followed ref was reported to point at
// commit (a hex hash). The Source still takes its ref from the remote.
type Expecter interface {
	Expect(commit string)
}

var _ Expecter = (*Remote)(nil)

// maxExpectedPack bounds the pack a Sync asks for on a push's news and
// keeps in memory until the listing agrees; a larger one is dropped and
// fetched again as usual.
const maxExpectedPack = 8 << 20

// expected is the commit a push reported, for the next Sync.
type expected struct {
	mu   sync.Mutex
	hash plumbing.Hash
}

// Expect implements Expecter. A value that is not a full hex hash is
// ignored; the next Sync takes the last one given.
func (r *Remote) Expect(commit string) {
	b, err := hex.DecodeString(commit)
	if err != nil || len(b) != len(plumbing.ZeroHash) {
		return
	}
	var h plumbing.Hash
	copy(h[:], b)
	r.expect.mu.Lock()
	r.expect.hash = h
	r.expect.mu.Unlock()
}

// takeExpected returns and forgets the commit a push reported.
func (r *Remote) takeExpected() plumbing.Hash {
	r.expect.mu.Lock()
	defer r.expect.mu.Unlock()
	h := r.expect.hash
	r.expect.hash = plumbing.ZeroHash
	return h
}

// early is a pack asked for before the listing came.
type early struct {
	want    plumbing.Hash
	secrets []string // the session's, scrubbed from errors
	cancel  context.CancelFunc
	done    chan struct{}
	pack    []byte
	err     error
}

// askEarly starts asking, on a session of its own, for the objects of want
// that had does not reach, when want is news (not had), had is a commit
// the cache holds and the remote speaks http(s) from another host; else it
// returns nil.
func (r *Remote) askEarly(ctx context.Context, ep *transport.Endpoint, sess *session, want, had plumbing.Hash) *early {
	if want.IsZero() || had.IsZero() || want == had || (ep.Protocol != "http" && ep.Protocol != "https") ||
		loopback(ep.Host) && !r.earlyOnLoopback {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &early{want: want, secrets: sess.secrets, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.pack, e.err = r.earlyPack(ctx, ep, sess, want, had)
	}()
	return e
}

// loopback reports whether host names this host.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// earlyPack sends the pack request of askEarly with the capabilities every
// smart http server has offered since 2010, and returns the pack.
func (r *Remote) earlyPack(ctx context.Context, ep *transport.Endpoint, sess *session, want, had plumbing.Hash) ([]byte, error) {
	t, err := client.NewClient(ep)
	if err != nil {
		return nil, err
	}
	up, err := t.NewUploadPackSession(ep, sess.method)
	if err != nil {
		return nil, err
	}
	defer up.Close()
	caps := capability.NewList()
	for _, c := range []capability.Capability{capability.OFSDelta, capability.Sideband64k, capability.NoProgress} {
		if err := caps.Set(c); err != nil {
			return nil, err
		}
	}
	req := packp.NewUploadPackRequestFromCapabilities(caps)
	if err := req.Capabilities.Set(capability.NoProgress); err != nil {
		return nil, err
	}
	req.Wants, req.Haves = []plumbing.Hash{want}, []plumbing.Hash{had}
	resp, err := up.UploadPack(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(sideband.NewDemuxer(sideband.Sideband64k, resp), maxExpectedPack+1))
	if err != nil {
		return nil, err
	}
	if n > maxExpectedPack {
		return nil, fmt.Errorf("the pack is over %d bytes", maxExpectedPack)
	}
	return buf.Bytes(), nil
}

// use waits for the early pack and writes it into s if the listing named
// its commit (want); it reports whether it did. A pack that failed, or
// that the listing does not bear out, is dropped (the fetch then asks as
// usual).
func (e *early) use(s storage.Storer, want plumbing.Hash, r *Remote) bool {
	if e == nil {
		return false
	}
	if want != e.want {
		e.cancel()
		<-e.done
		r.log.Debug("the pushed commit is not the ref's any more; fetching the ref's", "pushed", shortHash(e.want.String()), "ref", shortHash(want.String()))
		return false
	}
	<-e.done
	e.cancel()
	if e.err == nil {
		e.err = packfile.UpdateObjectStorage(s, bytes.NewReader(e.pack))
	}
	if e.err != nil {
		r.log.Debug("the early pack request failed; fetching as usual", "err", scrubErr(e.err, r.opts.URL, e.secrets...))
		return false
	}
	return true
}

// stop drops an early pack request that is not needed.
func (e *early) stop() {
	if e != nil {
		e.cancel()
		<-e.done
	}
}
