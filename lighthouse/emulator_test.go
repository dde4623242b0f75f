package lighthouse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
)

const (
	emuID     = "AKIDclientemu0001"
	emuKey    = "client-emulator-secret-KEY-42"
	emuRegion = "ap-guangzhou"
)

// emu is an emulator served over HTTP on a loopback port, through the
// emulatortest harness (h is nil for a stand-in server that is not an
// emulator).
type emu struct {
	h     *emulatortest.Harness
	srv   *emulator.Server
	url   string
	clock *emulator.ManualClock // nil when the emulator runs on real time
}

// newEmu starts an emulator with no rate limits and no instance quota;
// manual selects the harness's manual clock instead of real time, which
// the emulator's rate limiter needs to refill. edit adjusts the config.
func newEmu(t testing.TB, manual bool, edit func(*emulator.Config)) *emu {
	t.Helper()
	cfg := emulator.Config{
		Credentials: map[string]string{emuID: emuKey},
		Seed:        7,
		RateLimits:  emulator.NoRateLimits(),
		Quotas:      map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1},
	}
	if edit != nil {
		edit(&cfg)
	}
	var opts []emulatortest.Option
	if !manual {
		opts = append(opts, emulatortest.RealTime())
	}
	h := emulatortest.New(t, cfg, opts...)
	return &emu{h: h, srv: h.Server, url: h.URL, clock: h.Clock}
}

// client returns a client of e with millisecond backoffs and no client
// rate limits (the harness's defaults); edit adjusts the options.
func (e *emu) client(t testing.TB, edit func(*lighthouse.Options)) *lighthouse.Client {
	t.Helper()
	if edit == nil {
		edit = func(*lighthouse.Options) {}
	}
	if e.h != nil {
		return e.h.NewClient(t, edit)
	}
	o := lighthouse.Options{
		Credential:   lighthouse.NewCredential(emuID, emuKey, "", "test"),
		Endpoint:     e.url,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		RetryMax:     10,
		RateLimits:   emulatortest.Unlimited(),
	}
	edit(&o)
	c, err := lighthouse.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCreate(token string, count uint64) *lighthouse.CreateInstancesRequest {
	return &lighthouse.CreateInstancesRequest{
		BundleId:              "bundle_gen_01",
		BlueprintId:           "lhbp-g0tn7djh",
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1, RenewFlag: lighthouse.RenewNotifyManual},
		InstanceCount:         count,
		InstanceName:          "web",
		ClientToken:           token,
		Tags:                  []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}},
	}
}

func TestEmulatorDroppedCreateYieldsOneInstance(t *testing.T) {
	e := newEmu(t, true, nil)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse, Count: 2})
	c := e.client(t, nil)
	resp, err := c.CreateInstances(context.Background(), emuRegion, newCreate("lk-web-0-0", 1))
	if err != nil {
		t.Fatal(err)
	}
	insts := e.srv.Instances()
	if len(insts) != 1 {
		t.Fatalf("%d instances after a create whose first two responses were lost, want exactly 1", len(insts))
	}
	if len(resp.InstanceIdSet) != 1 || resp.InstanceIdSet[0] != insts[0].InstanceId {
		t.Fatalf("create returned %v, the emulator holds %s", resp.InstanceIdSet, insts[0].InstanceId)
	}
	if got := e.srv.Calls(lighthouse.ActionCreateInstances, ""); got != 3 {
		t.Fatalf("emulator answered %d creates, want 3 (two dropped, one returned)", got)
	}
}

func TestEmulatorTimeoutAnd5xxRetriedWithSameToken(t *testing.T) {
	e := newEmu(t, true, nil)
	// The first attempt is committed, then held past the client's attempt
	// timeout; the second meets a gateway 502 (injected when the client
	// logs the first attempt, before it retries); the third succeeds.
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDelay, Delay: time.Minute, Count: 1})
	var once sync.Once
	c := e.client(t, func(o *lighthouse.Options) {
		o.AttemptTimeout = 300 * time.Millisecond
		o.Logger = slog.New(hookHandler(func() {
			once.Do(func() {
				e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultHTTP5xx, Count: 1})
			})
		}))
	})
	if _, err := c.CreateInstances(context.Background(), emuRegion, newCreate("timeout-1", 1)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Instances()); n != 1 {
		t.Fatalf("%d instances after a timed-out and a 502 attempt, want exactly 1", n)
	}
	if n := e.srv.Calls(lighthouse.ActionCreateInstances, "HTTP502"); n != 1 {
		t.Fatalf("%d HTTP 502 answers, want 1", n)
	}
}

// hookHandler is a slog handler that calls a function for each record.
type hookHandler func()

func (h hookHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h hookHandler) Handle(context.Context, slog.Record) error {
	h()
	return nil
}
func (h hookHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hookHandler) WithGroup(string) slog.Handler      { return h }

func TestEmulatorDroppedCreateWithoutTokenIsNotRepeated(t *testing.T) {
	e := newEmu(t, true, nil)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse, Count: 1})
	c := e.client(t, nil)
	_, err := c.CreateInstances(context.Background(), emuRegion, newCreate("", 1))
	var le *lighthouse.Error
	if !errors.As(err, &le) || !le.Ambiguous || le.Class() != lighthouse.Permanent || le.Attempts != 1 {
		t.Fatalf("err = %v; want an ambiguous, permanent error after 1 attempt", err)
	}
	if n := len(e.srv.Instances()); n != 1 {
		t.Fatalf("%d instances; the lost create did buy one, and no second one may follow", n)
	}
}

func TestEmulatorRateLimitStormRiddenOut(t *testing.T) {
	e := newEmu(t, true, nil)
	e.srv.InjectFault(emulator.Fault{Kind: emulator.FaultRequestLimitExceeded, Probability: 0.6})
	c := e.client(t, func(o *lighthouse.Options) { o.RetryMax = 30 })
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.CreateInstances(context.Background(), emuRegion, newCreate(fmt.Sprintf("storm-%d", i), 1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	all, err := c.DescribeInstances(context.Background(), emuRegion, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n || len(e.srv.Instances()) != n {
		t.Fatalf("listed %d, emulator holds %d; want %d", len(all), len(e.srv.Instances()), n)
	}
	if rle := e.srv.Calls(lighthouse.ActionCreateInstances, "RequestLimitExceeded"); rle == 0 {
		t.Fatal("the storm produced no RequestLimitExceeded; the test proves nothing")
	}
}

func TestEmulatorPermanentErrorsNotRetried(t *testing.T) {
	e := newEmu(t, true, nil)
	c := e.client(t, nil)
	bad := newCreate("perm-1", 1)
	bad.BundleId = "bundle_nope_01"
	_, err := c.CreateInstances(context.Background(), emuRegion, bad)
	code := lighthouse.ErrorCode(err)
	if code == "" || lighthouse.ClassOf(err) != lighthouse.Permanent {
		t.Fatalf("err = %v; want a permanent service error", err)
	}
	if got := e.srv.Calls(lighthouse.ActionCreateInstances, code); got != 1 {
		t.Fatalf("emulator answered %s %d times, want 1", code, got)
	}

	wrongKey := e.client(t, func(o *lighthouse.Options) {
		o.Credential = lighthouse.NewCredential(emuID, "not-the-key", "", "test")
	})
	_, err = wrongKey.DescribeInstancesPage(context.Background(), emuRegion, &lighthouse.DescribeInstancesRequest{})
	if lighthouse.ErrorCode(err) != "AuthFailure.SignatureFailure" {
		t.Fatalf("err = %v, want AuthFailure.SignatureFailure", err)
	}
	if got := e.srv.Calls(lighthouse.ActionDescribeInstances, "AuthFailure.SignatureFailure"); got != 1 {
		t.Fatalf("emulator answered AuthFailure %d times, want 1", got)
	}
	if len(e.srv.Instances()) != 0 {
		t.Fatal("a refused create left an instance")
	}
}

// attemptSignal is a slog handler that signals after each logged attempt.
type attemptSignal struct{ ch chan<- struct{} }

func (h attemptSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h attemptSignal) Handle(context.Context, slog.Record) error {
	h.ch <- struct{}{}
	return nil
}
func (h attemptSignal) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h attemptSignal) WithGroup(string) slog.Handler      { return h }

func TestEmulatorCancelStopsRetryLoop(t *testing.T) {
	e := newEmu(t, true, nil)
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultInternalError})
	attempts := make(chan struct{}, 100)
	c := e.client(t, func(o *lighthouse.Options) {
		o.RetryWaitMin, o.RetryWaitMax = 10*time.Minute, 10*time.Minute
		o.Logger = slog.New(attemptSignal{attempts})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.CreateInstances(ctx, emuRegion, newCreate("cancel-1", 1))
		done <- err
	}()
	<-attempts
	cancel()
	select {
	case err := <-done:
		var le *lighthouse.Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &le) || le.Code != "InternalError" || le.Attempts != 1 {
			t.Fatalf("err = %v; want InternalError after 1 attempt, wrapping context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CreateInstances did not return after cancel; the backoff wait ignores the context")
	}
	if got := e.srv.Calls(lighthouse.ActionCreateInstances, "InternalError"); got != 1 {
		t.Fatalf("emulator saw %d attempts, want 1", got)
	}
}

func TestEmulatorPagination(t *testing.T) {
	e := newEmu(t, true, nil)
	c := e.client(t, nil)
	ctx := context.Background()
	const total = 250
	for i := 0; i < total; i += 30 {
		if _, err := c.CreateInstances(ctx, emuRegion, newCreate(fmt.Sprintf("page-%d", i), uint64(min(30, total-i)))); err != nil {
			t.Fatal(err)
		}
	}
	pagesBefore := e.srv.Calls(lighthouse.ActionDescribeInstances, "")
	all, err := c.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{
		Filters: []lighthouse.Filter{{Name: "tag:lightkeeper-fleet", Values: []string{"web"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, in := range all {
		ids[in.InstanceId] = true
	}
	if len(all) != total || len(ids) != total {
		t.Fatalf("listed %d (%d distinct), want %d", len(all), len(ids), total)
	}
	if got := e.srv.Calls(lighthouse.ActionDescribeInstances, "") - pagesBefore; got != 3 {
		t.Fatalf("%d pages for %d instances, want 3 of 100", got, total)
	}

	// By ID: 250 IDs go out in chunks of 100.
	var idList []string
	for id := range ids {
		idList = append(idList, id)
	}
	pagesBefore = e.srv.Calls(lighthouse.ActionDescribeInstances, "")
	byID, err := c.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: idList})
	if err != nil {
		t.Fatal(err)
	}
	if len(byID) != total {
		t.Fatalf("by ID: %d, want %d", len(byID), total)
	}
	if got := e.srv.Calls(lighthouse.ActionDescribeInstances, "") - pagesBefore; got != 3 {
		t.Fatalf("by ID: %d calls, want 3 chunks", got)
	}

	// The iterator fetches only what is consumed, one page at a time with
	// PageConcurrency 1; with more it may have asked for the pages ahead
	// (at most PageConcurrency) when the consumer stops.
	for _, tc := range []struct{ concurrency, minPages, maxPages int }{{1, 2, 2}, {2, 2, 3}, {0, 2, 3}} {
		lazy := e.client(t, func(o *lighthouse.Options) { o.PageConcurrency = tc.concurrency })
		// A page the last case asked ahead and cancelled may still reach
		// the emulator after the iterator returned: count from when the
		// emulator's count has stopped moving.
		pagesBefore = settledCalls(e, lighthouse.ActionDescribeInstances)
		n := 0
		for _, err := range lazy.Instances(ctx, emuRegion, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 150 {
				break
			}
		}
		if got := e.srv.Calls(lighthouse.ActionDescribeInstances, "") - pagesBefore; got < tc.minPages || got > tc.maxPages {
			t.Fatalf("PageConcurrency %d: stopping after 150 instances fetched %d pages, want %d to %d", tc.concurrency, got, tc.minPages, tc.maxPages)
		}
	}

	// A failing page ends the iteration with the error.
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionDescribeInstances, Kind: emulator.FaultInternalError})
	short := e.client(t, func(o *lighthouse.Options) { o.RetryMax = 1 })
	var last error
	for _, err := range short.Instances(ctx, emuRegion, nil) {
		last = err
	}
	if lighthouse.ErrorCode(last) != "InternalError" || lighthouse.ClassOf(last) != lighthouse.RetrySame {
		t.Fatalf("iteration ended with %v, want InternalError", last)
	}
}

func TestEmulatorConcurrentBurstWithinLimit(t *testing.T) {
	const rate = 40
	e := newEmu(t, false, func(cfg *emulator.Config) {
		cfg.RateLimits = emulator.NoRateLimits()
		cfg.RateLimits[lighthouse.ActionCreateInstances] = rate
	})
	c := e.client(t, func(o *lighthouse.Options) {
		o.RateLimits = map[string]float64{lighthouse.ActionCreateInstances: rate}
	})
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.CreateInstances(context.Background(), emuRegion, newCreate(fmt.Sprintf("burst-%d", i), 1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if rle := e.srv.Calls(lighthouse.ActionCreateInstances, "RequestLimitExceeded"); rle != 0 {
		t.Fatalf("%d RequestLimitExceeded answers; the client's buckets must keep a burst under the server's limit", rle)
	}
	if got := e.srv.Calls(lighthouse.ActionCreateInstances, ""); got != n {
		t.Fatalf("%d creates answered, want %d", got, n)
	}
}

func TestEmulatorEveryAction(t *testing.T) {
	e := newEmu(t, true, func(cfg *emulator.Config) { cfg.LaunchDelay = -1; cfg.OperationDelay = -1 })
	c := e.client(t, nil)
	ctx := context.Background()

	regions, err := c.DescribeRegions(ctx)
	if err != nil || len(regions.RegionSet) != 5 {
		t.Fatalf("DescribeRegions: %v %+v", err, regions)
	}
	zones, err := c.DescribeZones(ctx, emuRegion, nil)
	if err != nil || len(zones.ZoneInfoSet) != 3 {
		t.Fatalf("DescribeZones: %v %+v", err, zones)
	}
	bundles, err := c.DescribeBundles(ctx, emuRegion, &lighthouse.DescribeBundlesRequest{BundleIds: []string{"bundle_gen_03"}})
	if err != nil || len(bundles.BundleSet) != 1 || bundles.BundleSet[0].CPU != 2 || bundles.BundleSet[0].Memory != 8 {
		t.Fatalf("DescribeBundles: %v %+v", err, bundles)
	}
	bps, err := c.DescribeBlueprints(ctx, emuRegion, &lighthouse.DescribeBlueprintsRequest{BlueprintIds: []string{"lhbp-w1n2022a"}})
	if err != nil || len(bps.BlueprintSet) != 1 || bps.BlueprintSet[0].PlatformType != "WINDOWS" {
		t.Fatalf("DescribeBlueprints: %v %+v", err, bps)
	}
	quotas, err := c.DescribeGeneralResourceQuotas(ctx, emuRegion, &lighthouse.DescribeGeneralResourceQuotasRequest{ResourceNames: []string{"GENERAL_BUNDLE_INSTANCE"}})
	if err != nil || len(quotas.GeneralResourceQuotaSet) != 1 {
		t.Fatalf("DescribeGeneralResourceQuotas: %v %+v", err, quotas)
	}
	price, err := c.InquirePriceCreateInstances(ctx, emuRegion, &lighthouse.InquirePriceCreateInstancesRequest{
		BundleId: "bundle_gen_01", InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: 1}, InstanceCount: 1,
	})
	if err != nil || price.Price.InstancePrice.DiscountPrice <= 0 {
		t.Fatalf("InquirePriceCreateInstances: %v %+v", err, price)
	}
	dry := newCreate("", 1)
	dry.DryRun = true
	if _, err := c.CreateInstances(ctx, emuRegion, dry); err != nil {
		t.Fatalf("DryRun create: %v", err)
	}
	created, err := c.CreateInstances(ctx, emuRegion, newCreate("every-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	id := created.InstanceIdSet[0]
	if _, err := c.IsolateInstances(ctx, emuRegion, &lighthouse.IsolateInstancesRequest{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("IsolateInstances: %v", err)
	}
	e.clock.Advance(time.Minute)
	got, err := c.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: []string{id}})
	if err != nil || len(got) != 1 || got[0].InstanceState != lighthouse.StateShutdown {
		t.Fatalf("after isolate: %v %+v", err, got)
	}
	if _, err := c.TerminateInstances(ctx, emuRegion, &lighthouse.TerminateInstancesRequest{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	e.clock.Advance(time.Minute)
	got, err = c.DescribeInstances(ctx, emuRegion, &lighthouse.DescribeInstancesRequest{InstanceIds: []string{id}})
	if err != nil || len(got) != 0 {
		t.Fatalf("after terminate: %v %+v", err, got)
	}
}

func TestEmulatorFailingCallKeepsSecrets(t *testing.T) {
	const password = "Linux-Pa55word-Secret-91"
	var emuLogs, clientLogs bytes.Buffer
	var mu sync.Mutex
	e := newEmu(t, true, func(cfg *emulator.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &emuLogs}, nil))
	})
	e.srv.InjectFault(emulator.Fault{Action: lighthouse.ActionCreateInstances, Kind: emulator.FaultDropResponse, Count: 1})
	c := e.client(t, func(o *lighthouse.Options) {
		o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &clientLogs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	req := newCreate("secret-scan-1", 1)
	req.LoginConfiguration = &lighthouse.LoginConfiguration{Password: password}
	_, err := c.CreateInstances(context.Background(), emuRegion, req)
	if err == nil {
		t.Fatal("a Linux create with a password must fail")
	}
	var le *lighthouse.Error
	if !errors.As(err, &le) || le.Attempts < 2 {
		t.Fatalf("err = %v; want a service error after the injected faults were retried", err)
	}
	mu.Lock()
	defer mu.Unlock()
	texts := map[string]string{"client log": clientLogs.String(), "emulator log": emuLogs.String(), "error": err.Error(), "error %+v": fmt.Sprintf("%+v", le)}
	if !strings.Contains(texts["client log"], "attempt=2") {
		t.Fatalf("client log lacks the attempts:\n%s", texts["client log"])
	}
	for where, text := range texts {
		for _, secret := range []string{emuKey, password} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains secret %q:\n%s", where, secret, text)
			}
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// settledCalls returns the emulator's count of action's calls once it has
// not changed for 50 ms (at most 2 s): calls a client cancelled may be
// counted after the client has moved on.
func settledCalls(e *emu, action string) int {
	n := e.srv.Calls(action, "")
	for still, deadline := 0, time.Now().Add(2*time.Second); still < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if m := e.srv.Calls(action, ""); m != n {
			n, still = m, 0
		} else {
			still++
		}
	}
	return n
}
