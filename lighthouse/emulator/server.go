package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// maxBodyBytes is the documented limit of a TC3 POST body (10 MB).
const maxBodyBytes = 10 << 20

// Server is the emulated Lighthouse API. It is an http.Handler: the API at
// POST "/", the admin API under "/_emulator/". Create it with New.
type Server struct {
	cfg     Config
	clock   Clock
	catalog *catalogIndex
	log     *slog.Logger
	admin   *http.ServeMux
	limits  map[string]float64

	mu          sync.Mutex // guards everything below up to statsMu
	instances   map[string]*instance
	order       []*instance // creation order
	busy        map[string]*instance
	ops         opQueue
	tokens      map[string]*tokenEntry
	usage       map[string]int64 // "region/QUOTA_NAME" -> instances counted
	spent       float64
	balance     float64 // Config.Balance, changed by SetBalance; 0 = unlimited
	returned    int     // instances returned (isolated) so far, for ReturnQuota
	renewals    int
	expirations int
	// autoRenewFailures counts instances whose automatic renewal failed
	// for lack of balance (they shut down at their expiry).
	autoRenewFailures int
	idSeq             uint64
	rng               *mrand.Rand
	// renewed records each RenewInstances operation that succeeded, per
	// instance (RenewalLog).
	renewed []Renewal

	faultMu  sync.Mutex
	faults   []*activeFault
	faultRNG *mrand.Rand

	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter

	statsMu sync.Mutex
	calls   map[[2]string]int
}

// New returns a Server for cfg, or an error naming the invalid field.
func New(cfg Config) (*Server, error) {
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("emulator: Config.Credentials: at least one SecretId/SecretKey pair is required")
	}
	for id, key := range cfg.Credentials {
		if id == "" || key == "" {
			return nil, errors.New("emulator: Config.Credentials: SecretId and SecretKey must not be empty")
		}
	}
	for id, tok := range cfg.SessionTokens {
		if _, ok := cfg.Credentials[id]; !ok || tok == "" {
			return nil, errors.New("emulator: Config.SessionTokens: every entry must name a SecretId of Credentials and a non-empty token")
		}
	}
	if p := cfg.LaunchFailureProbability; p < 0 || p > 1 {
		return nil, fmt.Errorf("emulator: Config.LaunchFailureProbability: %v is not in 0..1", p)
	}
	for name, pol := range map[string]*TokenPolicy{"TokenMismatch": &cfg.TokenMismatch, "TokenGone": &cfg.TokenGone} {
		switch *pol {
		case "":
			*pol = TokenReturnOriginal
		case TokenReturnOriginal, TokenReject, TokenCreateNew:
		default:
			return nil, fmt.Errorf("emulator: Config.%s: unknown policy %q (want %q, %q or %q)", name, *pol, TokenReturnOriginal, TokenReject, TokenCreateNew)
		}
	}
	if err := validSite(&cfg.Site); err != nil {
		return nil, err
	}
	cat := cfg.Catalog
	if cat == nil {
		cat = DefaultCatalog()
	}
	if err := cat.Validate(); err != nil {
		return nil, fmt.Errorf("emulator: Config.Catalog: %w", err)
	}
	if cfg.LaunchDelay == 0 {
		cfg.LaunchDelay = DefaultLaunchDelay
	}
	if cfg.OperationDelay == 0 {
		cfg.OperationDelay = DefaultOperationDelay
	}
	if cfg.TokenWindow == 0 {
		cfg.TokenWindow = DefaultTokenWindow
	}
	if cfg.IsolateBatchLimit < 0 || cfg.ReturnQuota < 0 {
		return nil, fmt.Errorf("emulator: Config.IsolateBatchLimit (%d) and Config.ReturnQuota (%d) must not be negative", cfg.IsolateBatchLimit, cfg.ReturnQuota)
	}
	if cfg.IsolateBatchLimit == 0 {
		cfg.IsolateBatchLimit = DefaultIsolateBatchLimit
	}
	if cfg.ModifyBundleBatchLimit < 0 {
		return nil, fmt.Errorf("emulator: Config.ModifyBundleBatchLimit (%d) must not be negative", cfg.ModifyBundleBatchLimit)
	}
	if cfg.ModifyBundleBatchLimit == 0 {
		cfg.ModifyBundleBatchLimit = DefaultModifyBundleBatchLimit
	}
	switch cfg.InstanceNameMatch {
	case "":
		cfg.InstanceNameMatch = NameExact
	case NameExact, NameSubstring:
	default:
		return nil, fmt.Errorf("emulator: Config.InstanceNameMatch: unknown match %q (want %q or %q)", cfg.InstanceNameMatch, NameExact, NameSubstring)
	}
	for a := range cfg.OperationDelays {
		if !slices.Contains(operationActions, a) {
			return nil, fmt.Errorf("emulator: Config.OperationDelays: %q is not an action that runs an operation (%s)", a, strings.Join(operationActions, ", "))
		}
	}
	if cfg.RenewPeriod == 0 {
		cfg.RenewPeriod = DefaultRenewPeriod
	}
	if !slices.Contains(validPeriods, cfg.RenewPeriod) {
		return nil, fmt.Errorf("emulator: Config.RenewPeriod: %d is not one of 1-12, 24, 36, 48, 60", cfg.RenewPeriod)
	}
	if cfg.ExpiredRetention == 0 {
		cfg.ExpiredRetention = DefaultExpiredRetention
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = maxSkew
	}
	s := &Server{
		cfg:       cfg,
		clock:     cfg.Clock,
		catalog:   indexCatalog(cat),
		log:       cfg.Logger,
		limits:    DefaultRateLimits(),
		balance:   cfg.Balance,
		instances: map[string]*instance{},
		busy:      map[string]*instance{},
		tokens:    map[string]*tokenEntry{},
		usage:     map[string]int64{},
		rng:       mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x6c6967687468)),
		faultRNG:  mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x6661756c7473)),
		limiters:  map[string]*rate.Limiter{},
		calls:     map[[2]string]int{},
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for a, r := range cfg.RateLimits {
		s.limits[a] = r
	}
	for _, f := range cfg.Faults {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("emulator: Config.Faults: %w", err)
		}
		s.InjectFault(f)
	}
	s.admin = s.adminMux()
	return s, nil
}

// call is one API request being served.
type call struct {
	action    string
	region    string
	secretID  string
	requestID string
	body      []byte
	now       time.Time
}

type handlerFunc func(s *Server, c *call) (any, *apiError)

type actionSpec struct {
	handle      handlerFunc
	needsRegion bool
}

var actions = map[string]actionSpec{
	lighthouse.ActionCreateInstances:               {(*Server).createInstances, true},
	lighthouse.ActionDescribeInstances:             {(*Server).describeInstances, true},
	lighthouse.ActionDescribeBundles:               {(*Server).describeBundles, true},
	lighthouse.ActionDescribeBlueprints:            {(*Server).describeBlueprints, true},
	lighthouse.ActionDescribeZones:                 {(*Server).describeZones, true},
	lighthouse.ActionDescribeRegions:               {(*Server).describeRegions, false},
	lighthouse.ActionDescribeGeneralResourceQuotas: {(*Server).describeQuotas, true},
	lighthouse.ActionInquirePriceCreateInstances:   {(*Server).inquirePrice, true},
	lighthouse.ActionIsolateInstances:              {(*Server).isolateInstances, true},
	lighthouse.ActionTerminateInstances:            {(*Server).terminateInstances, true},

	lighthouse.ActionResetInstance:                   {(*Server).resetInstance, true},
	lighthouse.ActionDescribeResetInstanceBlueprints: {(*Server).describeResetBlueprints, true},
	lighthouse.ActionModifyInstancesBundle:           {(*Server).modifyInstancesBundle, true},
	lighthouse.ActionDescribeModifyInstanceBundles:   {(*Server).describeModifyBundles, true},
	lighthouse.ActionDescribeInstancesDeniedActions:  {(*Server).describeDeniedActions, true},
	lighthouse.ActionModifyInstancesRenewFlag:        {(*Server).modifyRenewFlag, true},
	lighthouse.ActionRenewInstances:                  {(*Server).renewInstances, true},
	lighthouse.ActionInquirePriceRenewInstances:      {(*Server).inquirePriceRenew, true},
}

// ServeHTTP serves the API at POST "/" and the admin API under "/_emulator/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		if s.cfg.DisableAdmin {
			http.NotFound(w, r)
			return
		}
		if guardAdmin(w, r) {
			s.admin.ServeHTTP(w, r)
		}
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	s.serveAPI(w, r)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{
		action:    r.Header.Get("X-TC-Action"),
		region:    r.Header.Get("X-TC-Region"),
		requestID: newRequestID(),
		now:       s.clock.Now(),
	}
	var resp any
	aerr := s.prepare(w, r, c)
	var drop bool
	if aerr == nil {
		var delay time.Duration
		var pre *apiError
		var status int
		pre, status, delay, drop = s.decideFaults(c.action)
		switch {
		case status != 0:
			s.count(c.action, fmt.Sprintf("HTTP%d", status))
			s.logCall(c, fmt.Sprintf("HTTP%d", status), start)
			writeGatewayError(w, status)
			return
		case pre != nil:
			aerr = pre
		default:
			resp, aerr = actions[c.action].handle(s, c)
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
	}
	code := ""
	if aerr != nil {
		code = aerr.Code
	}
	s.count(c.action, code)
	s.logCall(c, code, start)
	if drop {
		dropConnection(w)
		return
	}
	writeEnvelope(w, c.requestID, resp, aerr)
}

// prepare checks the transport, headers, signature, action, version,
// region and rate limit; a nil error means the action may run.
func (s *Server) prepare(w http.ResponseWriter, r *http.Request, c *call) *apiError {
	if r.Method != http.MethodPost {
		return errf(codeInvalidRequest, "the emulator accepts only POST requests with a JSON body (got %s)", r.Method)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errf(codeRequestSizeExceeded, "the request body exceeds %d bytes", maxBodyBytes)
		}
		return errf(codeInvalidRequest, "read request body: %v", err)
	}
	c.body = body
	if aerr := s.authenticate(r, c); aerr != nil {
		return aerr
	}
	if v := r.Header.Get("X-TC-Version"); v != lighthouse.Version {
		if v == "" {
			return errf(codeMissingParameter, "the header X-TC-Version is required; use %s", lighthouse.Version)
		}
		return errf(codeNoSuchVersion, "version %q of lighthouse does not exist; use %s", v, lighthouse.Version)
	}
	spec, ok := actions[c.action]
	if !ok {
		return errf(codeInvalidAction, "action %q does not exist or is not supported by the emulator", c.action)
	}
	if c.region != "" {
		if _, ok := s.catalog.regions[c.region]; !ok {
			// Lighthouse's errors.go: AuthFailure.InvalidRegion, "该地域尚未
			// 开放，请选择其他地域" (this region is not open yet; pick another),
			// listed first among CreateInstances' errors in client.go and on
			// the international CreateInstances page.
			return errf(codeAuthInvalidRegion, "region %q is not open (known: %s)", c.region, strings.Join(s.regionNames(), ", "))
		}
	} else if spec.needsRegion {
		return errf(codeMissingParameter, "the header X-TC-Region is required for %s", c.action)
	}
	if !s.allow(c.action, c.region, c.secretID, c.now) {
		return errf(codeRequestLimitExceeded, "%s: request rate limit of %g/s exceeded for this access point and SecretId", c.action, s.limits[c.action])
	}
	return nil
}

func (s *Server) regionNames() []string {
	var names []string
	for _, r := range s.catalog.Regions {
		names = append(names, r.Region)
	}
	return names
}

func (s *Server) logCall(c *call, code string, start time.Time) {
	s.log.Info("lighthouse api call",
		slog.String("action", c.action),
		slog.String("region", c.region),
		slog.String("code", code),
		slog.Duration("latency", time.Since(start)),
		slog.String("request_id", c.requestID))
}

func (s *Server) count(action, code string) {
	if _, ok := actions[action]; !ok {
		// Made-up names count together, so that clients cannot grow the
		// counters without bound.
		action = ""
	}
	s.statsMu.Lock()
	s.calls[[2]string{action, code}]++
	s.statsMu.Unlock()
}

// Calls returns how many API calls of action were answered with the error
// code (code "" counts successes). Calls naming an action the emulator does
// not serve (or none) count under action "". A call whose response was
// dropped by a fault counts under the code the action produced; an injected
// HTTP error counts under "HTTP<status>", e.g. "HTTP502".
func (s *Server) Calls(action, code string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.calls[[2]string{action, code}]
}

// Stats returns every (action, code) count, as "action code" -> count with
// code "OK" for successes.
func (s *Server) Stats() map[string]map[string]int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := map[string]map[string]int{}
	for k, n := range s.calls {
		code := k[1]
		if code == "" {
			code = "OK"
		}
		if out[k[0]] == nil {
			out[k[0]] = map[string]int{}
		}
		out[k[0]][code] = n
	}
	return out
}

func writeEnvelope(w http.ResponseWriter, requestID string, resp any, aerr *apiError) {
	var body []byte
	var err error
	if aerr != nil {
		body, err = json.Marshal(map[string]any{"Response": map[string]any{
			"Error":     lighthouse.ErrorBody{Code: aerr.Code, Message: aerr.Message},
			"RequestId": requestID,
		}})
	} else {
		body, err = json.Marshal(map[string]any{"Response": resp})
	}
	if err != nil {
		http.Error(w, "emulator: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// writeGatewayError answers as a load balancer in front of the API would:
// the status and an HTML page, no JSON envelope. (The official SDK reports
// such a body as ClientError.ParseJsonError, since it parses the body before
// looking at the status.)
func writeGatewayError(w http.ResponseWriter, status int) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", text, text)
}

// dropConnection closes the client connection without a response, as a
// network failure after the service committed the action would.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 and recorders cannot be hijacked; abort the handler, which
		// makes net/http reset the stream without a response.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// newRequestID returns a lowercase random UUID, the RequestId format.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:])
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
