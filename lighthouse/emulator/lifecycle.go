package emulator

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

const timeLayout = lighthouse.TimeLayout

// instance is an instance as the emulator keeps it: the API view plus what
// the lifecycle needs. It is saved as is by SaveState.
type instance struct {
	lighthouse.Instance
	Region  string    `json:"Region"`
	Created time.Time `json:"EmulatorCreated"`
	// OpEnd is when the operation in flight ends; zero when none is.
	OpEnd time.Time `json:"EmulatorOpEnd,omitzero"`
	// OpResult is the InstanceState the operation ends in; "" removes the
	// instance (TerminateInstances).
	OpResult string `json:"EmulatorOpResult,omitempty"`
	// Quota is the usage key the instance counts against; "" when it does
	// not count (LAUNCH_FAILED).
	Quota     string `json:"EmulatorQuota,omitempty"`
	PublicIP  string `json:"EmulatorPublicIp,omitempty"`
	ClientTok string `json:"EmulatorClientToken,omitempty"`
	// ReclaimAt is when an instance shut down by expiry is removed; zero
	// when it is not due for removal.
	ReclaimAt time.Time `json:"EmulatorReclaimAt,omitzero"`
	// Change is what the operation in flight does when it ends, for the
	// operations on existing instances (see begin); nil for a create.
	Change *change `json:"EmulatorChange,omitempty"`
}

// parseTime reads a time the API way ("2006-01-02T15:04:05Z").
func parseTime(p *string) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(timeLayout, *p)
	return t, err == nil
}

func fmtTime(t time.Time) *string {
	s := t.UTC().Format(timeLayout)
	return &s
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// nextID returns prefix + 8 lowercase alphanumerics derived from the seed
// and a counter that SaveState keeps, so IDs are reproducible for a seed
// and never repeat across a restart with a state file. s.mu held.
func (s *Server) nextID(prefix string) string {
	for {
		s.idSeq++
		var buf [16]byte
		binary.BigEndian.PutUint64(buf[:8], uint64(s.cfg.Seed))
		binary.BigEndian.PutUint64(buf[8:], s.idSeq)
		h := sha256.Sum256(append(buf[:], prefix...))
		id := make([]byte, 8)
		for i := range id {
			id[i] = idAlphabet[int(h[i])%len(idAlphabet)]
		}
		out := prefix + string(id)
		if _, taken := s.instances[out]; !taken {
			return out
		}
	}
}

// nextUUID returns a UUID-shaped string derived like nextID. s.mu held.
func (s *Server) nextUUID() string {
	s.idSeq++
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(s.cfg.Seed))
	binary.BigEndian.PutUint64(buf[8:], s.idSeq)
	h := sha256.Sum256(append(buf[:], "uuid"...))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return formatUUID(h[:16])
}

// eventKind is what an opEntry does when its time comes.
type eventKind int

const (
	eventOp      eventKind = iota // an operation in flight ends
	eventExpire                   // the instance reaches its ExpiredTime
	eventReclaim                  // an expired instance is removed
)

// opEntry is a timed event of an instance, ordered by its end in opQueue.
type opEntry struct {
	end  time.Time
	in   *instance
	kind eventKind
}

// opQueue is a min-heap of operations by end time, so that advancing the
// clock costs O(log n) per finished operation rather than a scan of every
// busy instance. Entries of instances removed meanwhile are skipped.
type opQueue []opEntry

func (q opQueue) Len() int           { return len(q) }
func (q opQueue) Less(i, j int) bool { return q[i].end.Before(q[j].end) }
func (q opQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *opQueue) Push(x any)        { *q = append(*q, x.(opEntry)) }
func (q *opQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// advance runs every event whose time has come, in the order they fall:
// operations finish, instances expire and expired ones are removed. s.mu
// held.
func (s *Server) advance(now time.Time) {
	for len(s.ops) > 0 && !now.Before(s.ops[0].end) {
		e := heap.Pop(&s.ops).(opEntry)
		switch e.kind {
		case eventExpire:
			s.expire(e.in, e.end)
			continue
		case eventReclaim:
			if s.instances[e.in.InstanceId] == e.in && e.in.ReclaimAt.Equal(e.end) {
				s.remove(e.in)
			}
			continue
		}
		if s.busy[e.in.InstanceId] != e.in || !e.in.OpEnd.Equal(e.end) {
			continue // removed, or a stale entry
		}
		delete(s.busy, e.in.InstanceId)
		s.finish(e.in, e.end)
	}
}

// finish ends the instance's operation at time t: it fails (see
// change.Fail), or the instance reaches OpResult and the operation's change
// is applied. An instance whose ExpiredTime passed during the operation
// expires then. s.mu held.
func (s *Server) finish(in *instance, t time.Time) {
	in.OpEnd = time.Time{}
	ch, result := in.Change, in.OpResult
	in.Change, in.OpResult = nil, ""
	if ch != nil && ch.Fail {
		s.fail(in, ch)
		s.expireIfDue(in, t)
		return
	}
	switch result {
	case lighthouse.StateRunning:
		in.InstanceState = lighthouse.StateRunning
		in.LatestOperationState = lighthouse.OperationSuccess
		in.PublicAddresses = []string{in.PublicIP}
		in.InternetAccessible.PublicIpAssigned = true
	case lighthouse.StateStopped:
		in.InstanceState = lighthouse.StateStopped
		in.LatestOperationState = lighthouse.OperationSuccess
	case lighthouse.StateLaunchFailed:
		in.InstanceState = lighthouse.StateLaunchFailed
		in.LatestOperationState = lighthouse.OperationFailed
		s.release(in)
	case lighthouse.StateShutdown:
		in.InstanceState = lighthouse.StateShutdown
		in.LatestOperationState = lighthouse.OperationSuccess
		in.IsolatedTime = fmtTime(t)
	case "":
		s.remove(in)
		return
	}
	if ch != nil {
		s.apply(in, ch)
	}
	s.expireIfDue(in, t)
}

// expireIfDue expires an instance whose ExpiredTime is not after t: one
// whose expiry came while an operation ran. s.mu held.
func (s *Server) expireIfDue(in *instance, t time.Time) {
	if exp, ok := parseTime(in.ExpiredTime); ok && !t.Before(exp) {
		s.expire(in, exp)
	}
}

// startOp puts the instance into an operation that ends after delay (at
// once when delay <= 0). s.mu held.
func (s *Server) startOp(in *instance, c *call, state, result string, delay time.Duration) {
	in.InstanceState = state
	in.LatestOperation = c.action
	in.LatestOperationState = lighthouse.OperationOperating
	in.LatestOperationRequestId = c.requestID
	in.LatestOperationStartedTime = fmtTime(c.now)
	in.OpResult = result
	in.OpEnd = c.now.Add(max(delay, 0))
	if delay <= 0 {
		s.finish(in, c.now)
		return
	}
	s.busy[in.InstanceId] = in
	heap.Push(&s.ops, opEntry{end: in.OpEnd, in: in, kind: eventOp})
}

func (s *Server) release(in *instance) {
	if in.Quota != "" {
		s.usage[in.Quota]--
		in.Quota = ""
	}
}

func (s *Server) remove(in *instance) {
	s.release(in)
	delete(s.instances, in.InstanceId)
	delete(s.busy, in.InstanceId)
	if i := slices.Index(s.order, in); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// Instances returns every instance in every region, oldest first, as
// DescribeInstances would show them at the emulator's current time
// (ignoring Describe lag).
func (s *Server) Instances() []lighthouse.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	out := make([]lighthouse.Instance, 0, len(s.order))
	for _, in := range s.order {
		out = append(out, in.Instance)
	}
	return out
}

// DeleteInstance removes an instance at once, whatever its state, as a
// person deleting it in the console would. Its ClientToken stays
// remembered (see Config.TokenGone).
func (s *Server) DeleteInstance(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: delete instance %q: no such instance", id)
	}
	s.remove(in)
	return nil
}

// lookupInstances validates the InstanceIds of an action on instances and
// returns the instances: at least one, at most maxIDs (else the code
// tooMany), well formed, not repeated, existing in the call's region.
// s.mu held.
func (s *Server) lookupInstances(c *call, ids []string, maxIDs int, tooMany string) ([]*instance, *apiError) {
	if len(ids) == 0 {
		return nil, errf(codeMissingParameter, "%s: InstanceIds is required", c.action)
	}
	if len(ids) > maxIDs {
		return nil, errf(tooMany, "%s: InstanceIds has %d IDs; at most %d per call", c.action, len(ids), maxIDs)
	}
	seen := map[string]bool{}
	out := make([]*instance, 0, len(ids))
	for i, id := range ids {
		if seen[id] && reInstanceID.MatchString(id) {
			return nil, errf(codeDuplicated, "%s: InstanceIds[%d] %q is duplicated", c.action, i, id)
		}
		seen[id] = true
		in, aerr := s.lookupInstance(c, fmt.Sprintf("InstanceIds[%d]", i), id)
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, in)
	}
	return out, nil
}

// lookupInstance validates one instance ID (the parameter field) and
// returns the instance. s.mu held.
func (s *Server) lookupInstance(c *call, field, id string) (*instance, *apiError) {
	if id == "" {
		return nil, errf(codeMissingParameter, "%s: %s is required", c.action, field)
	}
	if !reInstanceID.MatchString(id) {
		return nil, errf(codeInstanceIDMalformed, "%s: %s %q is malformed (want lhins- and 8 lowercase letters or digits)", c.action, field, id)
	}
	in, ok := s.instances[id]
	if !ok || in.Region != c.region {
		return nil, errf(codeInstanceIDNotFound, "%s: instance %q does not exist in %s", c.action, id, c.region)
	}
	return in, nil
}

func (s *Server) isolateInstances(c *call) (any, *apiError) {
	var req lighthouse.IsolateInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	// "每次请求批量资源（包括实例与数据盘）的上限为 20" (at most 20
	// resources, instances and data disks, per call; the China SDK's
	// client.go on IsolateInstances), answered with
	// LimitExceeded.IsolateResourcesLimitExceeded ("退还资源数量超出限制",
	// the number of resources returned exceeds the limit; errors.go).
	// The emulator has no data disks, so it counts instances.
	err := s.operate(c, req.InstanceIds, s.cfg.IsolateBatchLimit, codeIsolateLimitExceeded,
		func(in *instance) {
			s.returned++
			s.begin(in, c, in.InstanceState, lighthouse.StateShutdown, &change{})
		})
	if err != nil {
		return nil, err
	}
	return &lighthouse.IsolateInstancesResponse{RequestId: c.requestID}, nil
}

// returnable refuses to return (isolate) the instances that may not be,
// with UnsupportedOperation.ResourceNotReturnable (in IsolateInstances'
// error list, China SDK client.go: "资源不支持退换"). The reasons are
// those of DescribeInstancesReturnable's ReturnFailCode (China SDK
// models.go, InstanceReturnable): 2 expired, 3 bought more than 5 days ago
// (Config.ReturnWindow), 8 return quota used up (Config.ReturnQuota).
// pending counts the instances of this call already accepted. s.mu held.
func (s *Server) returnable(c *call, in *instance, pending int) *apiError {
	if exp, ok := parseTime(in.ExpiredTime); ok && !c.now.Before(exp) {
		return errf(codeResourceNotReturnable, "%s: instance %s expired at %s and cannot be returned (ReturnFailCode 2)", c.action, in.InstanceId, deref(in.ExpiredTime))
	}
	if w := s.cfg.ReturnWindow; w > 0 && c.now.Sub(in.Created) > w {
		return errf(codeResourceNotReturnable, "%s: instance %s was bought more than %s ago and cannot be returned (ReturnFailCode 3)", c.action, in.InstanceId, w)
	}
	if q := s.cfg.ReturnQuota; q > 0 && s.returned+pending >= q {
		return errf(codeResourceNotReturnable, "%s: the account's return quota of %d instances is used up; instance %s cannot be returned (ReturnFailCode 8)", c.action, q, in.InstanceId)
	}
	return nil
}

func (s *Server) terminateInstances(c *call) (any, *apiError) {
	var req lighthouse.TerminateInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	err := s.operate(c, req.InstanceIds, 100, codeValueLimitExceeded,
		func(in *instance) { s.begin(in, c, lighthouse.StateTerminating, "", &change{}) })
	if err != nil {
		return nil, err
	}
	return &lighthouse.TerminateInstancesResponse{RequestId: c.requestID}, nil
}

// operate starts an operation on the instances ids, all or none: each must
// exist and be allowed the action now (see deny). maxIDs and tooMany are the
// action's limit on IDs per call and the code for exceeding it.
func (s *Server) operate(c *call, ids []string, maxIDs int, tooMany string, start func(*instance)) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	ins, aerr := s.allowed(c, ids, maxIDs, tooMany)
	if aerr != nil {
		return aerr
	}
	for _, in := range ins {
		start(in)
	}
	return nil
}

// allowed looks the instances up (see lookupInstances) and checks that
// each may do the call's action now (see deny). s.mu held.
func (s *Server) allowed(c *call, ids []string, maxIDs int, tooMany string) ([]*instance, *apiError) {
	ins, aerr := s.lookupInstances(c, ids, maxIDs, tooMany)
	if aerr != nil {
		return nil, aerr
	}
	for i, in := range ins {
		if aerr := s.deny(c, in, i); aerr != nil {
			return nil, aerr
		}
	}
	return ins, nil
}

// RenameInstance renames an instance at once, as a person renaming it in
// the console would; its tags stay.
func (s *Server) RenameInstance(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: rename instance %q: no such instance", id)
	}
	in.InstanceName = name
	return nil
}

// SetTags replaces an instance's tags (nil: none), as a person editing
// them in the console would.
func (s *Server) SetTags(id string, tags []lighthouse.Tag) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: set tags of instance %q: no such instance", id)
	}
	in.Tags = slices.Clone(tags)
	return nil
}
