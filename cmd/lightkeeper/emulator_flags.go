package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// emulatorSwitches are the flags of `lightkeeper emulator` that map to the
// emulator's Config switches: one flag per behaviour the service does not
// document or that differs between the sites, and per Config knob a CI run
// may need.
type emulatorSwitches struct {
	site                  *string
	perRegionRateLimits   *bool
	quotas                map[string]int64
	balance               *float64
	tokenMismatch         *string
	tokenGone             *string
	operationDelay        *time.Duration
	allowLinuxPassword    *bool
	dryRunAsError         *bool
	describeMissingAsErr  *bool
	isolateBatchLimit     *int
	returnWindow          *time.Duration
	returnQuota           *int
	terminateLaunchFailed *bool
	expiredRetention      *time.Duration
	renewPeriod           *int64
	keepExpired           *bool
	sessionTokenFile      *string
	adminOnPublic         *bool
	modifyBundleBatch     *int
	busyAsOperationDenied *bool
	renewIsolated         *bool
	instanceNameMatch     *string
	actionDelays          map[string]time.Duration
}

func addEmulatorSwitches(e *env, fs *flagSet) *emulatorSwitches {
	s := &emulatorSwitches{quotas: map[string]int64{}, actionDelays: map[string]time.Duration{}}
	site := e.getenv(envSite)
	if site == "" || site == "auto" {
		site = string(emulator.SiteChina)
	}
	s.site = fs.String("site", site, "`site` whose API to serve (default $"+envSite+", else china): china, or intl (refuses Tags, FirewallTemplateId,\nInitCommand, DomainName, Subdomain, Containers[].RestartPolicy, ResetInstance's LoginConfiguration and\nDescribeInstances' Order/OrderField with UnknownParameter; omits the Instance fields the intl SDK lacks; no\nLinux<->Windows reset)")
	s.perRegionRateLimits = fs.Bool("per-region-rate-limits", false, "give each region its own rate-limit buckets, as the regional endpoints do (default: one bucket per action\nfor all regions, as one global endpoint is one access point)")
	fs.Func("quota", "instance quota per region, repeatable: `NAME=N`, e.g. GENERAL_BUNDLE_INSTANCE=20000 (N < 0: unlimited; default 50 each)", func(v string) error {
		name, n, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return fmt.Errorf("want NAME=N, e.g. GENERAL_BUNDLE_INSTANCE=100, not %q", v)
		}
		q, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", name, n)
		}
		s.quotas[name] = q
		return nil
	})
	s.balance = fs.Float64("balance", 0, "account balance in CNY: creates, renewals and bundle changes are charged, FailedOperation.InsufficientBalance\nbeyond it (0: unlimited)")
	s.tokenMismatch = fs.String("token-mismatch", string(emulator.TokenReturnOriginal), "`policy` for a remembered ClientToken sent with other parameters: return-original, reject or create-new")
	s.tokenGone = fs.String("token-gone", string(emulator.TokenReturnOriginal), "`policy` for a remembered ClientToken whose instances are all gone: return-original, reject or create-new")
	s.operationDelay = fs.Duration("operation-delay", emulator.DefaultOperationDelay, "how long an operation on an instance (isolate, terminate, reset, bundle change, renewal) stays\nOPERATING (0: at once)")
	s.allowLinuxPassword = fs.Bool("allow-linux-password", false, "accept LoginConfiguration.Password for Linux blueprints (default: refused, as the intl page documents)")
	s.dryRunAsError = fs.Bool("dry-run-as-error", false, "answer a passing DryRun create with the error DryRunOperation instead of a success without IDs")
	s.describeMissingAsErr = fs.Bool("describe-missing-as-error", false, "answer DescribeInstances naming a vanished InstanceId with ResourceNotFound.InstanceIdNotFound\n(default: leave it out of the answer)")
	s.isolateBatchLimit = fs.Int("isolate-batch-limit", emulator.DefaultIsolateBatchLimit, "instances one IsolateInstances call may return before LimitExceeded.IsolateResourcesLimitExceeded")
	s.returnWindow = fs.Duration("return-window", 0, "refuse to isolate (return) instances bought longer ago, with UnsupportedOperation.ResourceNotReturnable\n(e.g. 120h for the 5-day rule; 0: any age)")
	s.returnQuota = fs.Int("return-quota", 0, "instances the account may return in all; past it UnsupportedOperation.ResourceNotReturnable (0: unlimited)")
	s.terminateLaunchFailed = fs.Bool("terminate-launch-failed", false, "let TerminateInstances destroy LAUNCH_FAILED instances (default: only SHUTDOWN ones, as documented)")
	s.expiredRetention = fs.Duration("expired-retention", emulator.DefaultExpiredRetention, "how long an instance shut down at its ExpiredTime is kept before it is removed")
	s.renewPeriod = fs.Int64("renew-period", emulator.DefaultRenewPeriod, "`months` an automatic renewal (NOTIFY_AND_AUTO_RENEW) adds and charges for: 1-12, 24, 36, 48 or 60")
	s.keepExpired = fs.Bool("keep-expired", false, "never remove instances shut down at their ExpiredTime")
	s.sessionTokenFile = fs.String("session-token-file", "", "`file` holding the session token requests must carry in X-TC-Token (default $TENCENTCLOUD_SESSION_TOKEN,\nthen $TENCENTCLOUD_SECURITY_TOKEN; none: no token checked)")
	s.modifyBundleBatch = fs.Int("modify-bundle-batch-limit", emulator.DefaultModifyBundleBatchLimit, "InstanceIds one ModifyInstancesBundle takes before InvalidParameterValue.LimitExceeded: 15 (models.go)\nor 30 (client.go)")
	s.busyAsOperationDenied = fs.Bool("busy-as-operation-denied", false, "refuse an operation on a busy instance with OperationDenied.InstanceOperationInProgress where the action\nlists both codes (default: UnsupportedOperation.LatestOperationUnfinished)")
	s.renewIsolated = fs.Bool("renew-isolated", false, "let RenewInstances renew an instance isolated before its expiry (default: only expired SHUTDOWN ones)")
	s.instanceNameMatch = fs.String("instance-name-match", string(emulator.NameExact), "how DescribeInstances' instance-name filter matches: exact (what the SDK's silence suggests) or substring\n(fuzzy)")
	fs.Func("action-delay", "how long one action's operations stay OPERATING, repeatable: `ACTION=DURATION`, e.g. ResetInstance=2m\n(default --operation-delay; actions: "+strings.Join(emulatorOperationActions, ", ")+")", func(v string) error {
		a, d, ok := strings.Cut(v, "=")
		if !ok || !slices.Contains(emulatorOperationActions, a) {
			return fmt.Errorf("want ACTION=DURATION with ACTION one of %s, not %q", strings.Join(emulatorOperationActions, ", "), v)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return fmt.Errorf("%s: %q is not a non-negative duration such as 2m", a, d)
		}
		s.actionDelays[a] = instantIfZero(dur)
		return nil
	})
	s.adminOnPublic = fs.Bool("admin-on-public-address", false, "allow a non-loopback --listen address while the unauthenticated admin API is on (default: refused;\nor use --disable-admin)")
	return s
}

// apply checks the switches and sets them in cfg. Errors are usage errors
// naming the flag.
func (s *emulatorSwitches) apply(cfg *emulator.Config) error {
	switch emulator.Site(*s.site) {
	case emulator.SiteChina, emulator.SiteIntl:
		cfg.Site = emulator.Site(*s.site)
	default:
		return usageError("--site must be china or intl, not %q", *s.site)
	}
	for _, p := range []struct {
		flag string
		v    string
		dst  *emulator.TokenPolicy
	}{{"--token-mismatch", *s.tokenMismatch, &cfg.TokenMismatch}, {"--token-gone", *s.tokenGone, &cfg.TokenGone}} {
		switch pol := emulator.TokenPolicy(p.v); pol {
		case emulator.TokenReturnOriginal, emulator.TokenReject, emulator.TokenCreateNew:
			*p.dst = pol
		default:
			return usageError("%s must be return-original, reject or create-new, not %q", p.flag, p.v)
		}
	}
	if b := *s.balance; !(b >= 0) || math.IsInf(b, 1) {
		return usageError("--balance must be a non-negative number, not %v", b)
	}
	if err := nonNegative(durationFlag{"--operation-delay", *s.operationDelay}, durationFlag{"--return-window", *s.returnWindow}); err != nil {
		return err
	}
	if *s.expiredRetention <= 0 {
		return usageError("--expired-retention must be positive, not %v (use --keep-expired to keep them)", *s.expiredRetention)
	}
	switch p := *s.renewPeriod; {
	case p >= 1 && p <= 12, p == 24, p == 36, p == 48, p == 60:
		cfg.RenewPeriod = p
	default:
		return usageError("--renew-period must be 1-12, 24, 36, 48 or 60 months, not %d", p)
	}
	if *s.isolateBatchLimit < 1 {
		return usageError("--isolate-batch-limit must be at least 1, not %d", *s.isolateBatchLimit)
	}
	if *s.returnQuota < 0 {
		return usageError("--return-quota must not be negative, not %d", *s.returnQuota)
	}
	if *s.modifyBundleBatch < 1 {
		return usageError("--modify-bundle-batch-limit must be at least 1, not %d", *s.modifyBundleBatch)
	}
	switch m := emulator.NameMatch(*s.instanceNameMatch); m {
	case emulator.NameExact, emulator.NameSubstring:
		cfg.InstanceNameMatch = m
	default:
		return usageError("--instance-name-match must be exact or substring, not %q", *s.instanceNameMatch)
	}
	if len(s.quotas) > 0 {
		cfg.Quotas = s.quotas
	}
	cfg.PerRegionRateLimits = *s.perRegionRateLimits
	cfg.Balance = *s.balance
	cfg.OperationDelay = instantIfZero(*s.operationDelay)
	cfg.AllowLinuxPassword = *s.allowLinuxPassword
	cfg.DryRunAsError = *s.dryRunAsError
	cfg.DescribeMissingAsError = *s.describeMissingAsErr
	cfg.IsolateBatchLimit = *s.isolateBatchLimit
	cfg.ReturnWindow = *s.returnWindow
	cfg.ReturnQuota = *s.returnQuota
	cfg.TerminateLaunchFailed = *s.terminateLaunchFailed
	cfg.ModifyBundleBatchLimit = *s.modifyBundleBatch
	cfg.BusyAsOperationDenied = *s.busyAsOperationDenied
	cfg.RenewIsolated = *s.renewIsolated
	if len(s.actionDelays) > 0 {
		cfg.OperationDelays = s.actionDelays
	}
	cfg.ExpiredRetention = *s.expiredRetention
	if *s.keepExpired {
		cfg.ExpiredRetention = -1
	}
	return nil
}

// emulatorOperationActions are the actions whose operations --action-delay
// times.
var emulatorOperationActions = []string{
	lighthouse.ActionIsolateInstances, lighthouse.ActionTerminateInstances, lighthouse.ActionResetInstance,
	lighthouse.ActionModifyInstancesBundle, lighthouse.ActionRenewInstances,
}

// quotaNames lists the quotas set, for the start-up log line.
func (s *emulatorSwitches) quotaNames() string {
	var out []string
	for n, q := range s.quotas {
		out = append(out, n+"="+strconv.FormatInt(q, 10))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// sessionToken returns the token the emulator requires, "" for none: from
// --session-token-file, else the environment the client reads.
func (s *emulatorSwitches) sessionToken(e *env) (string, error) {
	if *s.sessionTokenFile != "" {
		b, err := os.ReadFile(*s.sessionTokenFile)
		if err != nil {
			return "", fmt.Errorf("read --session-token-file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", usageError("--session-token-file %s is empty", *s.sessionTokenFile)
		}
		return tok, nil
	}
	if tok := e.getenv(lighthouse.EnvSessionToken); tok != "" {
		return tok, nil
	}
	return e.getenv(lighthouse.EnvSecurityToken), nil
}

// checkListen refuses a --listen address that is not loopback while the
// admin API, which needs no signature, is on, unless the user accepts the
// risk with --admin-on-public-address. An empty host ("":9100) listens on
// every interface; a host name other than localhost may resolve anywhere,
// so both count as public.
func checkListen(addr string, adminOn, accepted bool) error {
	if !adminOn || accepted {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--listen %q: %v", addr, err)
	}
	if lighthouse.IsLoopbackHost(host) {
		return nil
	}
	return usageError("--listen %q is not a loopback address, and the admin API under /_emulator/ is unauthenticated: anyone who reaches it can inject faults, delete instances and load state; listen on 127.0.0.1, or add --disable-admin, or accept the risk with --admin-on-public-address", addr)
}
