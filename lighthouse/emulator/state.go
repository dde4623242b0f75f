package emulator

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
)

// stateVersion is the format version of SaveState's output. Version 2
// added each instance's EmulatorChange (the operation in flight on an
// existing instance); LoadState reads version 1 files as well, whose
// operations are all creates, isolations and terminations.
const stateVersion = 2

// oldestStateVersion is the oldest format LoadState reads.
const oldestStateVersion = 1

type stateFile struct {
	Version   int           `json:"version"`
	Seed      int64         `json:"seed"`
	IDSeq     uint64        `json:"idSeq"`
	Spent     float64       `json:"spent"`
	Returned  int           `json:"returned,omitempty"`
	Instances []*instance   `json:"instances"`
	Tokens    []*tokenEntry `json:"tokens"`
}

// SaveState writes the instances, remembered ClientTokens, the ID counter
// and the money spent as JSON. Times are absolute (UTC), so the state does
// not depend on the clock that is running when it is loaded; operations in
// flight finish when that clock passes their end. Faults, rate-limit buckets
// and call counts are not saved.
func (s *Server) SaveState(w io.Writer) error {
	s.mu.Lock()
	st := stateFile{Version: stateVersion, Seed: s.cfg.Seed, IDSeq: s.idSeq, Spent: s.spent, Returned: s.returned, Instances: s.order, Tokens: []*tokenEntry{}}
	for _, e := range s.tokens {
		st.Tokens = append(st.Tokens, e)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("emulator: encode state: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("emulator: write state: %w", err)
	}
	return nil
}

// LoadState replaces the emulator's instances and tokens with those SaveState
// wrote. Tokens older than the window are dropped.
func (s *Server) LoadState(r io.Reader) error {
	var st stateFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("emulator: decode state: %w", err)
	}
	if st.Version < oldestStateVersion || st.Version > stateVersion {
		return fmt.Errorf("emulator: state version %d is not supported (want %d to %d; a newer emulator wrote it?)", st.Version, oldestStateVersion, stateVersion)
	}
	instances := map[string]*instance{}
	for i, in := range st.Instances {
		if in == nil || !reInstanceID.MatchString(in.InstanceId) {
			return fmt.Errorf("emulator: state: instances[%d]: missing or malformed InstanceId", i)
		}
		if _, dup := instances[in.InstanceId]; dup {
			return fmt.Errorf("emulator: state: instances[%d]: InstanceId %s is duplicated", i, in.InstanceId)
		}
		if _, ok := s.catalog.regions[in.Region]; !ok {
			return fmt.Errorf("emulator: state: instance %s: region %q is not in the catalog", in.InstanceId, in.Region)
		}
		instances[in.InstanceId] = in
	}
	for i, e := range st.Tokens {
		switch {
		case e == nil || e.Token == "":
			return fmt.Errorf("emulator: state: tokens[%d]: missing or empty Token", i)
		case len(e.InstanceIds) == 0:
			return fmt.Errorf("emulator: state: tokens[%d] (%s): no InstanceIds", i, e.Token)
		}
		if _, ok := s.catalog.regions[e.Region]; !ok {
			return fmt.Errorf("emulator: state: tokens[%d] (%s): region %q is not in the catalog", i, e.Token, e.Region)
		}
		for _, id := range e.InstanceIds {
			if !reInstanceID.MatchString(id) {
				return fmt.Errorf("emulator: state: tokens[%d] (%s): malformed InstanceId %q", i, e.Token, id)
			}
		}
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances = instances
	s.order = st.Instances
	s.busy = map[string]*instance{}
	s.ops = nil
	s.usage = map[string]int64{}
	s.tokens = map[string]*tokenEntry{}
	if st.IDSeq > s.idSeq {
		s.idSeq = st.IDSeq
	}
	s.spent = st.Spent
	s.returned = st.Returned
	for _, in := range s.order {
		if in.Quota != "" {
			s.usage[in.Quota]++
		}
		if !in.OpEnd.IsZero() {
			s.busy[in.InstanceId] = in
			heap.Push(&s.ops, opEntry{end: in.OpEnd, in: in, kind: eventOp})
		} else {
			in.Change = nil // no operation runs that it could belong to
		}
		s.scheduleExpiry(in)
		s.scheduleReclaim(in)
	}
	for _, e := range st.Tokens {
		if s.cfg.TokenWindow >= 0 && now.Sub(e.Created) < s.cfg.TokenWindow {
			s.tokens[tokenKey(e.Region, e.Token)] = e
		}
	}
	s.advance(now)
	return nil
}
