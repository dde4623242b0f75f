package gitsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage"
)

// How a Remote brings its followed branch or tag into its cache
// (docs/design.md section 8.5): one listing of the remote and, when the ref
// moved, one pack request on the same session; once the cache holds a
// commit, only the objects the new one does not share with it.

// fetchMode says what a pack request asks for.
type fetchMode int

const (
	// fetchNew asks for the objects of the remote's commit that the
	// cache's commit at the ref does not reach (all of it, depth 1, when
	// the cache holds none).
	fetchNew fetchMode = iota
	// fetchWhole asks for the commit and its whole tree, as a shallow
	// clone does, whatever the cache holds.
	fetchWhole
)

// maxPacks is how many packs a fetch may leave in the cache before it is
// compacted on the spot; a Sync that finds the ref unchanged compacts any
// cache of more than one pack.
const maxPacks = 16

// fetchRef lists the remote and returns the hash its followed ref names (a
// commit, or an annotated tag). When the cache holds another hash at the
// ref, or mode is fetchWhole, it fetches into s on the same session and
// points the cache's ref at the new hash; incremental says that the pack
// asked only for what the cache's previous commit does not reach. That
// commit's history is not in a shallow cache, while the remote takes it as
// had: a blob that comes back from before it (a revert) is then missing,
// which the check of the revision finds (see Remote.update).
func (r *Remote) fetchRef(ctx context.Context, s storage.Storer, sess *session, mode fetchMode) (want plumbing.Hash, incremental bool, err error) {
	ep, err := transport.NewEndpoint(r.opts.URL)
	if err != nil {
		return plumbing.ZeroHash, false, &Error{Op: "fetch", URL: RedactURL(r.opts.URL), Err: err, Hint: "check repository.url"}
	}
	t, err := client.NewClient(ep)
	if err != nil {
		return plumbing.ZeroHash, false, &Error{Op: "fetch", URL: RedactURL(r.opts.URL), Err: err, Hint: "check repository.url"}
	}
	up, err := t.NewUploadPackSession(ep, sess.method)
	if err != nil {
		return plumbing.ZeroHash, false, sess.classify(ctx, "ls-remote", r.opts.URL, err, r.opts.Auth)
	}
	defer func() {
		if cerr := up.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("fetch into %s: %w", r.dir, scrubErr(cerr, r.opts.URL, sess.secrets...))
		}
	}()
	name := plumbing.ReferenceName(r.opts.Ref.name())
	var had plumbing.Hash
	if ref, err := s.Reference(name); err == nil && ref.Type() == plumbing.HashReference && s.HasEncodedObject(ref.Hash()) == nil {
		had = ref.Hash()
	}
	var ahead *early
	if mode == fetchNew {
		ahead = r.askEarly(ctx, ep, sess, r.takeExpected(), had) // expect.go
	}
	defer ahead.stop()
	adv, err := up.AdvertisedReferencesContext(ctx)
	if err != nil {
		return plumbing.ZeroHash, false, sess.classify(ctx, "ls-remote", r.opts.URL, err, r.opts.Auth)
	}
	if want, err = advertised(adv, name, r.opts.Ref.describe()); err != nil {
		return plumbing.ZeroHash, false, &Error{Op: "ls-remote", URL: RedactURL(r.opts.URL), Err: err,
			Hint: "check repository.branch/tag, or push it; the last good revision is kept"}
	}
	if mode == fetchNew && had == want {
		return want, false, nil
	}
	if mode == fetchNew && ahead.use(s, want, r) {
		if err := s.SetReference(plumbing.NewHashReference(name, want)); err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("set %s in %s: %w", name, r.dir, err)
		}
		return want, true, nil
	}
	req := packp.NewUploadPackRequestFromCapabilities(adv.Capabilities)
	req.Wants = []plumbing.Hash{want}
	if adv.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return plumbing.ZeroHash, false, err
		}
	}
	switch {
	case mode == fetchNew && !had.IsZero():
		req.Haves, incremental = []plumbing.Hash{had}, true
	case !r.opts.FullClone:
		req.Depth = packp.DepthCommits(1)
		if err := req.Capabilities.Set(capability.Shallow); err != nil {
			return plumbing.ZeroHash, false, err
		}
	}
	if err := r.fetchPack(ctx, s, up, req, sess); err != nil {
		return plumbing.ZeroHash, false, err
	}
	if err := s.SetReference(plumbing.NewHashReference(name, want)); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("set %s in %s: %w", name, r.dir, err)
	}
	return want, incremental, nil
}

// advertised returns the hash a listing gives the ref name, which the
// configuration calls what.
func advertised(adv *packp.AdvRefs, name plumbing.ReferenceName, what string) (plumbing.Hash, error) {
	refs, err := adv.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ref, err := refs.Reference(name)
	if err != nil || ref.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, fmt.Errorf("%w: the remote has no %s", ErrRefNotFound, what)
	}
	return ref.Hash(), nil
}

// fetchPack sends req on up and writes the pack that answers it into s
// (and, for a shallow request, the commits the remote made shallow). The
// listing just worked on the same session, so a failure here points at the
// cache: it is an error that is not an *Error (a fresh clone follows).
func (r *Remote) fetchPack(ctx context.Context, s storage.Storer, up transport.UploadPackSession, req *packp.UploadPackRequest, sess *session) (err error) {
	fail := func(err error) error {
		if ctx.Err() != nil || sess.hostKeyError() != nil {
			return sess.classify(ctx, "fetch", r.opts.URL, err, r.opts.Auth)
		}
		return fmt.Errorf("fetch into %s: %w", r.dir, scrubErr(err, r.opts.URL, sess.secrets...))
	}
	r.log.Debug("fetching", "ref", r.opts.Ref.name(), "haves", len(req.Haves), "shallow", !req.Depth.IsZero())
	resp, err := up.UploadPack(ctx, req)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if cerr := resp.Close(); cerr != nil && err == nil {
			err = fail(cerr)
		}
	}()
	if len(resp.Shallows) > 0 {
		old, err := s.Shallow()
		if err != nil {
			return fail(err)
		}
		if err := s.SetShallow(union(old, resp.Shallows)); err != nil {
			return fail(err)
		}
	}
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if err := packfile.UpdateObjectStorage(s, pack); err != nil {
		return fail(err)
	}
	return nil
}

// union is a with the hashes of b it lacks appended.
func union(a, b []plumbing.Hash) []plumbing.Hash {
	seen := make(map[plumbing.Hash]bool, len(a))
	for _, h := range a {
		seen[h] = true
	}
	for _, h := range b {
		if !seen[h] {
			seen[h] = true
			a = append(a, h)
		}
	}
	return a
}

// missing reports whether err says that an object is not in the cache.
func missing(err error) bool {
	return errors.Is(err, plumbing.ErrObjectNotFound) || errors.Is(err, object.ErrFileNotFound)
}

// packs returns the packs of the cache in s, or nil if s keeps none.
func packs(s storage.Storer) []plumbing.Hash {
	p, ok := s.(storer.PackedObjectStorer)
	if !ok {
		return nil
	}
	hs, err := p.ObjectPacks()
	if err != nil {
		return nil
	}
	return hs
}

// compact rewrites the cache in s as a shallow clone of want would hold
// it: one pack of want (and, for an annotated tag, its commit) with the
// commit's whole tree, the commit the only shallow one, every other pack
// removed. The packs a fetch leaves, one per fetch, would otherwise grow
// without end, and every object lookup searches each of them. A failure
// leaves the cache as it was but for, at worst, packs that are no longer
// needed.
func (r *Remote) compact(s storage.Storer, want plumbing.Hash) error {
	p, ok := s.(storer.PackedObjectStorer)
	pw, ok2 := s.(storer.PackfileWriter)
	if !ok || !ok2 {
		return nil
	}
	old, err := p.ObjectPacks()
	if err != nil {
		return err
	}
	objs, commit, err := reachable(s, want)
	if err != nil {
		return err
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		return err
	}
	h, err := packfile.NewEncoder(w, s, false).Encode(objs, 0)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	if err := s.SetShallow([]plumbing.Hash{commit}); err != nil {
		return err
	}
	for _, o := range old {
		if o != h {
			if err := p.DeleteOldObjectPackAndIndex(o, time.Time{}); err != nil {
				return err
			}
		}
	}
	r.log.Debug("compacted git cache", "packs", len(old), "objects", len(objs))
	return nil
}

// reachable lists h (peeling annotated tags), its commit and every tree and
// blob of that commit's tree, and returns the commit's hash.
func reachable(s storer.EncodedObjectStorer, h plumbing.Hash) ([]plumbing.Hash, plumbing.Hash, error) {
	var objs []plumbing.Hash
	for {
		o, err := s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, plumbing.ZeroHash, err
		}
		objs = append(objs, h)
		if o.Type() != plumbing.TagObject {
			break
		}
		tag, err := object.DecodeTag(s, o)
		if err != nil {
			return nil, plumbing.ZeroHash, err
		}
		h = tag.Target
	}
	c, err := object.GetCommit(s, h)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	seen := map[plumbing.Hash]bool{}
	var walk func(plumbing.Hash) error
	walk = func(t plumbing.Hash) error {
		if seen[t] {
			return nil
		}
		seen[t] = true
		objs = append(objs, t)
		tree, err := object.GetTree(s, t)
		if err != nil {
			return err
		}
		for _, e := range tree.Entries {
			switch {
			case e.Mode == filemode.Submodule:
			case e.Mode == filemode.Dir:
				if err := walk(e.Hash); err != nil {
					return err
				}
			case !seen[e.Hash]:
				seen[e.Hash] = true
				objs = append(objs, e.Hash)
			}
		}
		return nil
	}
	return objs, c.Hash, walk(c.TreeHash)
}
