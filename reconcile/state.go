package reconcile

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/atomicfile"
)

// SlotKey names one slot of one fleet in one region.
type SlotKey struct {
	Region string `json:"region"`
	Fleet  string `json:"fleet"`
	Slot   int    `json:"slot"`
}

func (k SlotKey) String() string { return fmt.Sprintf("%s/%s/%d", k.Region, k.Fleet, k.Slot) }

// Expectation is a create that may have bought an instance not yet seen in
// DescribeInstances. Until the instance is seen or Window passes, its slot
// counts as filled.
type Expectation struct {
	SlotKey
	Incarnation int    `json:"incarnation"`
	Token       string `json:"token"`
	// InstanceID is the ID the service returned; "" when the create ended
	// ambiguously (lost response, timeout, 5xx): then the slot waits and
	// the create is sent again only with this same token.
	InstanceID string    `json:"instanceId,omitempty"`
	Since      time.Time `json:"since"`
	// Replacement marks a replacement create's (a rollout's): its slot
	// already has a live instance, and it moves no incarnation.
	Replacement bool `json:"replacement,omitempty"`
}

// key is the expectation's key in the State: one per slot, and one per
// slot for its replacement.
func (e Expectation) key() string {
	if e.Replacement {
		return e.SlotKey.String() + "/replacement"
	}
	return e.SlotKey.String()
}

// State is what reconcile remembers between cycles: expectations, the
// incarnation reached per slot, the instances it created (ownership, for
// isolation on sites without tags) and isolations the service refused. It
// may speed the reconciler up and lets it isolate only what it bought, but
// never decides whether to buy: a run with an empty State is as safe.
//
// A State is safe for concurrent use. Save writes it to a file atomically.
type State struct {
	mu sync.Mutex
	s  stateFile
}

type stateFile struct {
	Version      int                    `json:"version"`
	Expectations map[string]Expectation `json:"expectations"` // by SlotKey.String()
	Incarnations map[string]int         `json:"incarnations"` // next incarnation to try, by SlotKey.String()
	Created      map[string]SlotKey     `json:"created"`      // instance ID -> slot
	// NotReturnable maps an instance ID to the code the service refused
	// its isolation with; it is not tried again.
	NotReturnable map[string]string `json:"notReturnable"`
	// Intents is the intent journal of the operations that carry no
	// ClientToken (operation.go), by intentKey.
	Intents map[string]OpIntent `json:"intents,omitempty"`
	// Shapes records, by instance ID, what lightkeeper gave an instance
	// that DescribeInstances cannot show (rollout_state.go).
	Shapes map[string]ShapeRecord `json:"shapes,omitempty"`
	// ReadySince is when each instance of a fleet with a rollout was
	// first seen ready, by instance ID.
	ReadySince map[string]ReadyRecord `json:"readySince,omitempty"`
}

// stateVersion is the version Save writes. Version 2 added the intent
// journal; a version 1 file loads as a version 2 one without intents.
const stateVersion = 2

// NewState returns an empty State.
func NewState() *State {
	return &State{s: stateFile{Version: stateVersion, Expectations: map[string]Expectation{}, Incarnations: map[string]int{},
		Created: map[string]SlotKey{}, NotReturnable: map[string]string{}, Intents: map[string]OpIntent{},
		Shapes: map[string]ShapeRecord{}, ReadySince: map[string]ReadyRecord{}}}
}

// ErrCorruptState is wrapped by LoadState's error for a file that exists
// but holds no state this version reads (not JSON, or another version).
var ErrCorruptState = errors.New("corrupt state file")

// corruptState keeps LoadState's message and is ErrCorruptState.
type corruptState struct{ error }

func (corruptState) Is(target error) bool { return target == ErrCorruptState }
func (c corruptState) Unwrap() error      { return c.error }

// LoadState reads a State saved by Save; a missing file is an empty State.
func LoadState(path string) (*State, error) {
	st := NewState()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, corruptState{fmt.Errorf("read state %s: %w; move the file away to start afresh (lightkeeper derives what it needs from the cloud)", path, err)}
	}
	if f.Version < 1 || f.Version > stateVersion {
		return nil, corruptState{fmt.Errorf("read state %s: version %d, this lightkeeper reads 1 to %d (a newer one wrote it?); move the file away to start afresh", path, f.Version, stateVersion)}
	}
	for k, e := range f.Expectations {
		st.s.Expectations[k] = e
	}
	for k, v := range f.Incarnations {
		st.s.Incarnations[k] = v
	}
	for k, v := range f.Created {
		st.s.Created[k] = v
	}
	for k, v := range f.NotReturnable {
		st.s.NotReturnable[k] = v
	}
	for k, v := range f.Intents {
		st.s.Intents[k] = v
	}
	for k, v := range f.Shapes {
		st.s.Shapes[k] = v
	}
	for k, v := range f.ReadySince {
		st.s.ReadySince[k] = v
	}
	return st, nil
}

// Save writes the state to path atomically (a temporary file in the same
// directory, synced, then renamed over path).
func (st *State) Save(path string) error {
	st.mu.Lock()
	b, err := json.MarshalIndent(&st.s, "", "  ")
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// snapshot is a consistent copy for Diff, which must not see the State
// change under it.
type snapshot struct {
	expectations  map[SlotKey]Expectation
	incarnations  map[SlotKey]int
	created       map[string]SlotKey
	notReturnable map[string]string
	// The rollout's: replacement creates' expectations, the intent
	// journal (by intentKey), shapes and ready times (by instance ID).
	replacements map[SlotKey]Expectation
	intents      map[string]OpIntent
	shapes       map[string]ShapeRecord
	readySince   map[string]ReadyRecord
}

func (st *State) snapshot() snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	sn := snapshot{expectations: map[SlotKey]Expectation{}, incarnations: map[SlotKey]int{},
		created: map[string]SlotKey{}, notReturnable: map[string]string{}, replacements: map[SlotKey]Expectation{},
		intents: maps.Clone(st.s.Intents), shapes: maps.Clone(st.s.Shapes), readySince: maps.Clone(st.s.ReadySince)}
	for _, e := range st.s.Expectations {
		if e.Replacement {
			sn.replacements[e.SlotKey] = e
			continue
		}
		sn.expectations[e.SlotKey] = e
	}
	for k, v := range st.s.Incarnations {
		if key, ok := parseSlotKey(k); ok {
			sn.incarnations[key] = v
		}
	}
	for k, v := range st.s.Created {
		sn.created[k] = v
	}
	for k, v := range st.s.NotReturnable {
		sn.notReturnable[k] = v
	}
	sn.intents = maps.Clone(st.s.Intents)
	return sn
}

func parseSlotKey(s string) (SlotKey, bool) {
	var k SlotKey
	// region and fleet contain no '/' (spec forbids it in both).
	i := len(s) - 1
	for i >= 0 && s[i] != '/' {
		i--
	}
	j := i - 1
	for j >= 0 && s[j] != '/' {
		j--
	}
	if i < 0 || j < 0 {
		return k, false
	}
	if _, err := fmt.Sscanf(s[i+1:], "%d", &k.Slot); err != nil {
		return k, false
	}
	k.Region, k.Fleet = s[:j], s[j+1:i]
	return k, true
}

// expect records an expectation (replacing the slot's previous one).
func (st *State) expect(e Expectation) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Expectations[e.key()] = e
	if e.InstanceID != "" {
		st.s.Created[e.InstanceID] = e.SlotKey
	}
	if !e.Replacement && st.s.Incarnations[e.SlotKey.String()] < e.Incarnation {
		st.s.Incarnations[e.SlotKey.String()] = e.Incarnation
	}
}

// expectation returns the open expectation of slot k (its replacement's
// with replacement), if any.
func (st *State) expectation(k SlotKey, replacement bool) (Expectation, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.s.Expectations[Expectation{SlotKey: k, Replacement: replacement}.key()]
	return e, ok
}

// advance records that every incarnation of k below next is dead.
func (st *State) advance(k SlotKey, next int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s.Incarnations[k.String()] < next {
		st.s.Incarnations[k.String()] = next
	}
	if e, ok := st.s.Expectations[k.String()]; ok && e.Incarnation < next {
		delete(st.s.Expectations, k.String())
	}
}

// refuseIsolation remembers that the service will not isolate id.
func (st *State) refuseIsolation(id, code string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.NotReturnable[id] = code
}

// Expectations returns the open expectations, sorted by slot.
func (st *State) Expectations() []Expectation {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Expectation, 0, len(st.s.Expectations))
	for _, e := range st.s.Expectations {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Expectation) int { return compareKeys(a.SlotKey, b.SlotKey) })
	return out
}

func compareKeys(a, b SlotKey) int {
	return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Fleet, b.Fleet), cmp.Compare(a.Slot, b.Slot))
}

// Settle applies what an observation proves to the state: an expectation
// whose instance is seen is met (removed); one whose instance is seen dead,
// or that was never seen for a whole window, proves its incarnation dead,
// so the slot's next create uses the next incarnation.
func (st *State) Settle(obs *Observation, window time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, e := range st.s.Expectations {
		if e.Region != obs.Region {
			continue
		}
		if e.InstanceID == "" {
			// Ambiguous: resolved only by sending the same token again.
			continue
		}
		state, seen := obs.Seen[e.InstanceID]
		if e.Replacement {
			// A replacement's is kept for the window even once listed:
			// Describe lag may unlist it again, and its slot must not get
			// another one beside it then (chaos seed 1338). One that died
			// or never showed is kept as the attempt to move past (the
			// rollout's replace), until the next attempt's takes its place.
			if seen && Live(state) && obs.At.Sub(e.Since) > window {
				delete(st.s.Expectations, k)
			}
			continue
		}
		switch {
		case seen && Live(state):
			delete(st.s.Expectations, k)
		case seen, obs.At.Sub(e.Since) > window:
			delete(st.s.Expectations, k)
			if !e.Replacement && st.s.Incarnations[k] <= e.Incarnation {
				st.s.Incarnations[k] = e.Incarnation + 1
			}
		}
	}
}
