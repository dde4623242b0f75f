package daemon

import (
	"bytes"
	"compress/flate"
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
// one fleet, which is decompressed then.
type observedInstances struct {
	fleets map[string][]byte
}

// packInstances keeps the instances of every fleet of p (Plan.Instances).
func packInstances(p *reconcile.Plan) (*observedInstances, error) {
	o := &observedInstances{fleets: make(map[string][]byte, len(p.Fleets))}
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(zw)
	for _, fp := range p.Fleets {
		ins := p.Instances(fp.Fleet)
		if len(ins) == 0 {
			continue
		}
		buf.Reset()
		zw.Reset(&buf)
		if err := enc.Encode(ins); err != nil {
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", fp.Fleet, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("keep the instances of fleet %s: %w", fp.Fleet, err)
		}
		o.fleets[fp.Fleet] = bytes.Clone(buf.Bytes())
	}
	return o, nil
}

// instances returns the instances kept of fleet, by slot; nil for a fleet
// that had none (or o nil).
func (o *observedInstances) instances(fleet string) ([]reconcile.Instance, error) {
	if o == nil || o.fleets[fleet] == nil {
		return nil, nil
	}
	var ins []reconcile.Instance
	zr := flate.NewReader(bytes.NewReader(o.fleets[fleet]))
	defer zr.Close()
	if err := json.NewDecoder(zr).Decode(&ins); err != nil {
		return nil, fmt.Errorf("the instances kept of fleet %s: %w", fleet, err)
	}
	return ins, nil
}
