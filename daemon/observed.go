package daemon

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/json"
	"fmt"

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

// packedFleet is one fleet's instances, compressed, and the checksum of
// their JSON before compression, by which the next cycle knows them unchanged.
type packedFleet struct {
	sum  [sha256.Size]byte
	data []byte
}

// packInstances keeps the instances of every fleet of p (Plan.Instances).
// A fleet whose instances encode as they did in last (nil for none) keeps
// last's bytes: a steady cycle compresses nothing, and holds no second copy
// nor the 1.2 MB of a flate writer at its end, where the daemon's peak is.
func packInstances(p *reconcile.Plan, last *observedInstances) (*observedInstances, error) {
	o := &observedInstances{fleets: make(map[string]packedFleet, len(p.Fleets))}
	var js, buf bytes.Buffer
	enc := json.NewEncoder(&js)
	var zw *flate.Writer // made for the first fleet that changed
	for _, fp := range p.Fleets {
		ins := p.Instances(fp.Fleet)
		if len(ins) == 0 {
			continue
		}
		js.Reset()
		if err := enc.Encode(ins); err != nil {
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", fp.Fleet, err)
		}
		sum := sha256.Sum256(js.Bytes())
		if was, ok := last.fleet(fp.Fleet); ok && was.sum == sum {
			o.fleets[fp.Fleet] = was
			continue
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
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", fp.Fleet, err)
		}
		o.fleets[fp.Fleet] = packedFleet{sum: sum, data: bytes.Clone(buf.Bytes())}
	}
	return o, nil
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
