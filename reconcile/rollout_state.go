package reconcile

import "time"

// ShapeRecord is what the State records of an instance lightkeeper created
// or reset: the hash of what DescribeInstances cannot show of it (its
// containers, where its password was read; hiddenHash), and the
// LatestOperationRequestId the instance had then, so that a later
// operation by someone else can be told apart.
type ShapeRecord struct {
	Region    string    `json:"region"`
	Hidden    string    `json:"hidden"`
	RequestID string    `json:"requestId,omitempty"`
	At        time.Time `json:"at"`
}

// ReadyRecord is when an instance of a fleet with a rollout was first seen
// ready (and stayed so since).
type ReadyRecord struct {
	Region string    `json:"region"`
	Since  time.Time `json:"since"`
}

// recordShape records what an instance was given at now.
func (st *State) recordShape(id, region, hidden, requestID string, now time.Time) {
	if hidden == "" {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Shapes[id] = ShapeRecord{Region: region, Hidden: hidden, RequestID: requestID, At: now}
}

// settleRollout brings the rollout's records of one region up to date with
// an observation of it. An instance of the fleets named in tracked is
// ready since the first observation that saw it ready; one that is not
// ready, or no longer listed or tracked, has no such record. The shape of
// an instance no longer listed is forgotten once it has been gone for a
// whole window (Describe may lag behind a create).
func (st *State) settleRollout(obs *Observation, tracked map[string]bool, window time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[string]bool{}
	for name, ins := range obs.Fleets {
		if !tracked[name] {
			continue
		}
		for i := range ins {
			in := &ins[i]
			if !ready(in) {
				continue
			}
			seen[in.ID] = true
			if _, ok := st.s.ReadySince[in.ID]; !ok {
				st.s.ReadySince[in.ID] = ReadyRecord{Region: obs.Region, Since: obs.At}
			}
		}
	}
	for id, rec := range st.s.ReadySince {
		if rec.Region == obs.Region && !seen[id] {
			delete(st.s.ReadySince, id)
		}
	}
	for id, rec := range st.s.Shapes {
		if _, listed := obs.Seen[id]; !listed && rec.Region == obs.Region && obs.At.Sub(rec.At) > window {
			delete(st.s.Shapes, id)
		}
	}
}
