package daemon

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// observedInstances is what the daemon keeps, between cycles, of the
// instances its fleets were last listed with, for /status/fleets/NAME and
// the fleet pages: each fleet's instances as compressed JSON. Kept as
// records, 10,000 instances are about 5 MB, held again beside the next
// cycle's observation while it is made (issue 21: the daemon in 40 MB);
// compressed, the instances of a fleet, which share their zone, bundle,
// blueprint, state and field names, take a tenth of that. A page asks for
// one fleet, which is decompressed then. It is not changed once made: the
// next cycle's shares the bytes of every fleet whose instances are the same.
type observedInstances struct {
	fleets map[string]packedFleet
}

// packedFleet is one fleet's instances, compressed, and the fingerprint
// of their fields, by which the next cycle knows them unchanged.
type packedFleet struct {
	sum  uint64
	data []byte
}

// packInstances keeps the instances of every fleet of p (Plan.Instances).
// A fleet whose instances have the fingerprint they had in last (nil for
// none) keeps last's bytes: a steady cycle encodes and compresses nothing,
// and holds no second copy nor the 1.2 MB of a flate writer at its end,
// where the daemon's peak is.
func packInstances(p *reconcile.Plan, last *observedInstances) (*observedInstances, error) {
	o := &observedInstances{fleets: make(map[string]packedFleet, len(p.Fleets))}
	var js, buf bytes.Buffer
	enc := json.NewEncoder(&js)
	var zw *flate.Writer // made for the first fleet that changed
	var fp fingerprinter
	for _, f := range p.Fleets {
		ins := p.Instances(f.Fleet)
		if len(ins) == 0 {
			continue
		}
		sum := fp.sum(ins)
		if was, ok := last.fleet(f.Fleet); ok && was.sum == sum {
			o.fleets[f.Fleet] = was
			continue
		}
		js.Reset()
		if err := enc.Encode(ins); err != nil {
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", f.Fleet, err)
		}
		buf.Reset()
		if zw == nil {
			var err error
			if zw, err = flate.NewWriter(&buf, flate.BestSpeed); err != nil {
				return nil, err
			}
		} else {
			zw.Reset(&buf)
		}
		_, err := zw.Write(js.Bytes())
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", f.Fleet, err)
		}
		o.fleets[f.Fleet] = packedFleet{sum: sum, data: bytes.Clone(buf.Bytes())}
	}
	return o, nil
}

// fingerprintSeed makes the fingerprints of one process comparable; they
// are never kept beyond it.
var fingerprintSeed = maphash.MakeSeed()

// fingerprinter sums instances field by field, every field the fleet pages
// show (TestFingerprintCoversEveryField): two cycles that listed a fleet's
// instances alike give the same sum, without the instances encoded as
// JSON to compare them (issue 21: 3 MB allocated by a steady cycle of
// 10,000 instances for this alone). A sum that collides (one in 2^64)
// leaves a fleet's page showing its instances as the cycle before listed
// them, until they change again; nothing decides on it.
type fingerprinter struct {
	h   maphash.Hash
	buf [8]byte
}

// sum is the fingerprint of ins.
func (f *fingerprinter) sum(ins []reconcile.Instance) uint64 {
	f.h.SetSeed(fingerprintSeed) // also resets
	f.num(int64(len(ins)))
	for i := range ins {
		in := &ins[i]
		f.str(in.ID)
		f.str(in.Name)
		f.str(in.State)
		f.str(in.Fleet)
		f.num(int64(in.Slot))
		f.str(in.TagFleet)
		f.num(int64(in.TagSlot))
		f.str(in.Zone)
		f.str(in.BundleID)
		f.str(in.BlueprintID)
		f.str(in.RenewFlag)
		f.strs(in.PublicIPs)
		f.time(in.Created)
		f.time(in.Expires)
		f.flag(in.Operating)
		f.str(in.LatestOperation)
		f.str(in.LatestOperationState)
		f.str(in.LatestOperationRequestID)
		f.time(in.LatestOperationStarted)
		f.strs(in.KeyIDs)
		f.str(in.RestrictState)
		f.time(in.Isolated)
	}
	return f.h.Sum64()
}

func (f *fingerprinter) num(v int64) {
	binary.LittleEndian.PutUint64(f.buf[:], uint64(v))
	f.h.Write(f.buf[:])
}

// str sums s with its length, so that "ab","" and "a","b" differ.
func (f *fingerprinter) str(s string) {
	f.num(int64(len(s)))
	f.h.WriteString(s)
}

// strs sums ss: nil and empty alike, as JSON's omitempty shows them.
func (f *fingerprinter) strs(ss []string) {
	f.num(int64(len(ss)))
	for _, s := range ss {
		f.str(s)
	}
}

// time sums t's instant and its zone's offset, as RFC 3339 shows them.
func (f *fingerprinter) time(t time.Time) {
	_, offset := t.Zone()
	f.num(t.Unix())
	f.num(int64(t.Nanosecond()))
	f.num(int64(offset))
}

func (f *fingerprinter) flag(b bool) {
	v := int64(0)
	if b {
		v = 1
	}
	f.num(v)
}

// fleet is what o keeps of fleet (o may be nil).
func (o *observedInstances) fleet(name string) (packedFleet, bool) {
	if o == nil {
		return packedFleet{}, false
	}
	f, ok := o.fleets[name]
	return f, ok
}

// instances returns the instances kept of fleet, by slot; nil for a fleet
// that had none (or o nil).
func (o *observedInstances) instances(fleet string) ([]reconcile.Instance, error) {
	f, ok := o.fleet(fleet)
	if !ok {
		return nil, nil
	}
	var ins []reconcile.Instance
	zr := flate.NewReader(bytes.NewReader(f.data))
	defer zr.Close()
	if err := json.NewDecoder(zr).Decode(&ins); err != nil {
		return nil, fmt.Errorf("the instances kept of fleet %s: %w", fleet, err)
	}
	return ins, nil
}
