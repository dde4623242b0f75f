package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// FaultKind names an injected failure.
type FaultKind string

// Fault kinds.
const (
	// FaultDropResponse commits the action, then closes the connection
	// without answering: the client sees a network error although the
	// instance was created (or isolated, or terminated).
	FaultDropResponse FaultKind = "drop-response"
	// FaultDelay commits the action and holds the answer back for Delay
	// (real time, not the emulator's clock), so client timeouts fire after
	// the service acted.
	FaultDelay FaultKind = "delay"
	// FaultHTTP5xx answers with HTTP Status (default 502) and a non-JSON
	// body, as a gateway would, without running the action.
	FaultHTTP5xx FaultKind = "http-5xx"
	// FaultInternalError answers with the InternalError envelope without
	// running the action.
	FaultInternalError FaultKind = "internal-error"
	// FaultRequestLimitExceeded answers with RequestLimitExceeded without
	// running the action, whatever the rate limiter says.
	FaultRequestLimitExceeded FaultKind = "request-limit-exceeded"
	// FaultDescribeLag makes matching DescribeInstances calls omit instances
	// created less than Delay ago.
	FaultDescribeLag FaultKind = "describe-lag"
	// FaultOperationFailure makes operations on existing instances
	// (IsolateInstances, TerminateInstances, ResetInstance,
	// ModifyInstancesBundle, RenewInstances; Action narrows it to one, and
	// InstanceId to one instance) end in LatestOperationState FAILED
	// instead of SUCCESS: the call succeeds, the operation runs its time,
	// then the instance is as before and any charge is refunded. It is
	// drawn per instance when the operation starts.
	FaultOperationFailure FaultKind = "operation-failure"
)

// Fault is a failure to inject into matching API calls.
type Fault struct {
	// Action limits the fault to one action; "" matches every action.
	Action string `json:"action,omitempty"`
	// Kind is what happens.
	Kind FaultKind `json:"kind"`
	// Probability, when in (0, 1], applies the fault to each matching call
	// with that chance, drawn from the generator seeded by Config.Seed.
	Probability float64 `json:"probability,omitempty"`
	// Count, when > 0, applies the fault to the next Count matching calls
	// (after the Probability draw, if both are set); the fault is removed
	// once used up. With neither Probability nor Count the fault applies to
	// every matching call until ClearFaults.
	Count int `json:"count,omitempty"`
	// Delay is the hold-back of FaultDelay and the lag of FaultDescribeLag.
	Delay time.Duration `json:"delay,omitempty"`
	// Status is the HTTP status of FaultHTTP5xx (500..599, default 502).
	Status int `json:"status,omitempty"`
	// InstanceId limits FaultOperationFailure to one instance.
	InstanceId string `json:"instanceId,omitempty"`
}

// faultJSON is Fault on the admin API, with Delay as a Go duration string
// ("1.5s").
type faultJSON struct {
	Action      string    `json:"action,omitempty"`
	Kind        FaultKind `json:"kind"`
	Probability float64   `json:"probability,omitempty"`
	Count       int       `json:"count,omitempty"`
	Delay       string    `json:"delay,omitempty"`
	Status      int       `json:"status,omitempty"`
	InstanceId  string    `json:"instanceId,omitempty"`
}

// MarshalJSON writes Delay as a duration string such as "1.5s".
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Action: f.Action, Kind: f.Kind, Probability: f.Probability, Count: f.Count, Status: f.Status, InstanceId: f.InstanceId}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads Delay as a duration string such as "1.5s".
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Fault{Action: j.Action, Kind: j.Kind, Probability: j.Probability, Count: j.Count, Status: j.Status, InstanceId: j.InstanceId}
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		f.Delay = d
	}
	return nil
}

// Validate reports what is wrong with f: an unknown kind or action, a
// missing delay, a probability outside 0..1, a negative count or a status
// outside 500..599.
func (f Fault) Validate() error {
	switch f.Kind {
	case FaultDropResponse, FaultInternalError, FaultRequestLimitExceeded:
	case FaultDelay, FaultDescribeLag:
		if f.Delay <= 0 {
			return fmt.Errorf("fault %q needs a positive delay", f.Kind)
		}
	case FaultHTTP5xx:
		if f.Status != 0 && (f.Status < 500 || f.Status > 599) {
			return fmt.Errorf("fault %q: status %d is not in 500..599", f.Kind, f.Status)
		}
	case FaultOperationFailure:
		if f.Action != "" && !slices.Contains(operationActions, f.Action) {
			return fmt.Errorf("fault %q: action %q runs no operation (want one of %s)", f.Kind, f.Action, strings.Join(operationActions, ", "))
		}
		if f.InstanceId != "" && !reInstanceID.MatchString(f.InstanceId) {
			return fmt.Errorf("fault %q: instanceId %q is not an instance ID (lhins- and 8 lowercase letters or digits)", f.Kind, f.InstanceId)
		}
	default:
		return fmt.Errorf("unknown fault kind %q (want drop-response, delay, http-5xx, internal-error, request-limit-exceeded, describe-lag or operation-failure)", f.Kind)
	}
	if f.InstanceId != "" && f.Kind != FaultOperationFailure {
		return fmt.Errorf("fault %q: instanceId applies to operation-failure only", f.Kind)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("fault %q: probability %v is not in 0..1", f.Kind, f.Probability)
	}
	if f.Count < 0 {
		return fmt.Errorf("fault %q: count %d is negative", f.Kind, f.Count)
	}
	if f.Action != "" {
		if _, ok := actions[f.Action]; !ok {
			return fmt.Errorf("fault %q: unknown action %q", f.Kind, f.Action)
		}
	}
	return nil
}

// ParseFault reads a fault from its command-line form: the kind, then
// comma-separated key=value settings, e.g.
//
//	drop-response,action=CreateInstances,count=1
//	internal-error,probability=0.2
//	delay,delay=3s,action=DescribeInstances
//	http-5xx,status=503,count=2
//	describe-lag,delay=30s
//	operation-failure,action=ResetInstance,instance=lhins-abcd1234
func ParseFault(s string) (Fault, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(s), ",")
	f := Fault{Kind: FaultKind(kind)}
	for _, kv := range strings.Split(rest, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Fault{}, fmt.Errorf("fault %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "action":
			f.Action = v
		case "probability":
			f.Probability, err = strconv.ParseFloat(v, 64)
		case "count":
			f.Count, err = strconv.Atoi(v)
		case "delay":
			f.Delay, err = time.ParseDuration(v)
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "instance":
			f.InstanceId = v
		default:
			return Fault{}, fmt.Errorf("fault %q: unknown setting %q (want action, probability, count, delay, status or instance)", s, k)
		}
		if err != nil {
			return Fault{}, fmt.Errorf("fault %q: %s: %w", s, k, err)
		}
	}
	if err := f.Validate(); err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", s, err)
	}
	return f, nil
}

type activeFault struct {
	Fault
	left int // remaining uses when Count > 0
}

// InjectFault adds a fault. An invalid fault is ignored; check it first with
// Fault.Validate (Config.Faults and the admin API report the error).
func (s *Server) InjectFault(f Fault) {
	if f.Validate() != nil {
		return
	}
	if f.Kind == FaultHTTP5xx && f.Status == 0 {
		f.Status = 502
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, &activeFault{Fault: f, left: f.Count})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// Faults returns the faults still active; Count is what is left of it.
func (s *Server) Faults() []Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		g := f.Fault
		if g.Count > 0 {
			g.Count = f.left
		}
		out = append(out, g)
	}
	return out
}

// fires reports whether f applies to this call and uses it up; faultMu held.
func (s *Server) fires(f *activeFault, action string) bool {
	if f.Action != "" && f.Action != action {
		return false
	}
	if f.Probability > 0 && s.faultRNG.Float64() >= f.Probability {
		return false
	}
	if f.Count > 0 {
		if f.left <= 0 {
			return false
		}
		f.left--
	}
	return true
}

// decideFaults picks the faults for one call: at most one of an HTTP status
// or an error envelope in place of the action, plus a delay and a drop of
// the response after it.
func (s *Server) decideFaults(action string) (pre *apiError, status int, delay time.Duration, drop bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.faults {
		switch f.Kind {
		case FaultHTTP5xx, FaultInternalError, FaultRequestLimitExceeded:
			if pre != nil || status != 0 || !s.fires(f, action) {
				continue
			}
			switch f.Kind {
			case FaultHTTP5xx:
				status = f.Status
			case FaultInternalError:
				pre = errf(codeInternalError, "an internal error occurred (injected fault); retry the request")
			default:
				pre = errf(codeRequestLimitExceeded, "%s: the request rate limit was exceeded (injected fault)", action)
			}
		case FaultDelay:
			if s.fires(f, action) && f.Delay > delay {
				delay = f.Delay
			}
		case FaultDropResponse:
			if !drop && s.fires(f, action) {
				drop = true
			}
		}
	}
	s.pruneFaults()
	return pre, status, delay, drop
}

// describeLag returns the lag a DescribeInstances call sees: the configured
// lag or the largest injected one that fires.
func (s *Server) describeLag() time.Duration {
	lag := s.cfg.DescribeLag
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.faults {
		if f.Kind == FaultDescribeLag && s.fires(f, lighthouse.ActionDescribeInstances) && f.Delay > lag {
			lag = f.Delay
		}
	}
	s.pruneFaults()
	return lag
}

func (s *Server) pruneFaults() {
	kept := s.faults[:0]
	for _, f := range s.faults {
		if f.Count == 0 || f.left > 0 {
			kept = append(kept, f)
		}
	}
	clear(s.faults[len(kept):])
	s.faults = kept
}
