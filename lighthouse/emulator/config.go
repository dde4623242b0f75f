package emulator

import (
	"log/slog"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Default values of Config fields left zero.
const (
	DefaultLaunchDelay    = 15 * time.Second
	DefaultOperationDelay = 5 * time.Second
	DefaultTokenWindow    = 2 * time.Hour
	DefaultQuota          = 50
	// DefaultIsolateBatchLimit is the documented limit of resources per
	// IsolateInstances call (20).
	DefaultIsolateBatchLimit = 20
	// DefaultModifyBundleBatchLimit is the InstanceIds limit of
	// ModifyInstancesBundle when Config.ModifyBundleBatchLimit is 0: 15, as
	// models.go and the international product page document (client.go's
	// comment and the international API page say 30; see
	// lighthouse.MaxModifyBundleIDs).
	DefaultModifyBundleBatchLimit = lighthouse.MaxModifyBundleIDs
)

// NameMatch is how DescribeInstances' instance-name filter compares a
// value with an instance's name.
type NameMatch string

// Name matches.
const (
	// NameExact matches a name equal to the value. The SDK documents the
	// filter only as "按照【实例名称】进行过滤" (filter by instance name;
	// models.go, DescribeInstancesRequestParams.Filters, and "Filter by the
	// instance name" in the international SDK), while it marks the filters
	// that match fuzzily as such ("支持模糊匹配", "Fuzzy match is
	// supported": DescribeKeyPairs' key-name, for one). Exact is what its
	// silence suggests, and the default.
	NameExact NameMatch = "exact"
	// NameSubstring matches a name that contains the value, as a fuzzy
	// match would: the service's behaviour is not documented, so a client
	// must be right under both.
	NameSubstring NameMatch = "substring"
)

// TokenPolicy says what CreateInstances does when a remembered ClientToken
// comes back in a situation the API documentation does not cover.
type TokenPolicy string

// Token policies.
const (
	// TokenReturnOriginal answers with the InstanceIdSet of the first
	// request and creates nothing.
	TokenReturnOriginal TokenPolicy = "return-original"
	// TokenReject answers with the error UnsupportedOperation.IdempotentParameterMismatch
	// (the code other Tencent Cloud products use; Lighthouse documents none).
	TokenReject TokenPolicy = "reject"
	// TokenCreateNew forgets the old entry and handles the request as new.
	TokenCreateNew TokenPolicy = "create-new"
)

// Config configures a Server. Zero values give the documented defaults.
type Config struct {
	// Credentials maps SecretId to SecretKey; at least one is required. All
	// credentials act on the same account (as sub-accounts of one owner).
	Credentials map[string]string
	// SessionTokens maps a SecretId of Credentials to the session token of
	// a temporary key: requests signed with that SecretId must carry it in
	// X-TC-Token, else AuthFailure.TokenFailure. SecretIds not listed are
	// permanent keys and need no token.
	SessionTokens map[string]string
	// Clock is the emulator's time; nil means real time. Tests pass a
	// *ManualClock so that nothing depends on sleeping.
	Clock Clock
	// Site is the site whose API is served: SiteChina (when "") or
	// SiteIntl, which refuses the CreateInstances parameters Tags,
	// FirewallTemplateId, InitCommand, DomainName, Subdomain and
	// Containers[].RestartPolicy and the DescribeInstances parameters
	// OrderField and Order with UnknownParameter, has no bundle-id filter,
	// and leaves the fields the international SDK lacks out of
	// DescribeInstances' instances (see site.go).
	Site Site
	// Catalog is what the cloud sells; nil means DefaultCatalog().
	Catalog *Catalog
	// RateLimits maps an action to requests per second, per action and
	// SecretId across every region (the emulator is one access point; see
	// PerRegionRateLimits), with a burst of the same size (at least 1). nil
	// means DefaultRateLimits(); actions missing from a non-nil map keep
	// their default; a value <= 0 means unlimited. See NoRateLimits.
	RateLimits map[string]float64
	// PerRegionRateLimits gives every product region its own buckets, as
	// the regional endpoints lighthouse.{region}.tencentcloudapi.com do,
	// instead of one bucket per action shared by all regions, as a global
	// endpoint (one access point) does.
	PerRegionRateLimits bool
	// Seed makes random choices reproducible: launch failures, zones picked
	// when a create names none, probabilistic faults and instance IDs.
	Seed int64
	// Logger receives one line per API request (action, region, code,
	// latency, RequestId), never credentials, signatures or passwords. nil
	// means silent.
	Logger *slog.Logger

	// LaunchDelay is how long an instance stays PENDING; 0 means
	// DefaultLaunchDelay (15s), a negative value means it leaves PENDING at
	// the first look.
	LaunchDelay time.Duration
	// LaunchFailureProbability is the chance (0..1) that a new instance ends
	// in LAUNCH_FAILED instead of RUNNING, drawn from the seeded generator.
	LaunchFailureProbability float64
	// OperationDelay is how long an operation on an existing instance
	// (IsolateInstances, TerminateInstances, ResetInstance,
	// ModifyInstancesBundle, RenewInstances) stays OPERATING; 0 means
	// DefaultOperationDelay (5s), negative means at once. The API documents
	// no durations.
	OperationDelay time.Duration
	// OperationDelays overrides OperationDelay per action, e.g.
	// {"ResetInstance": 2 * time.Minute}; a negative value means at once.
	OperationDelays map[string]time.Duration
	// DescribeMissingAsError answers a DescribeInstances by InstanceIds
	// that names an instance that does not exist (or is not yet visible)
	// with ResourceNotFound.InstanceIdNotFound, a code in the action's
	// error list (China SDK client.go). By default such IDs are left out of
	// an otherwise normal answer, as the TerminateInstances page implies
	// ("if the instance is not in the returned list, the operation
	// succeeded", cn:1207/55545). Which one the service does is not
	// documented; clients must handle both.
	DescribeMissingAsError bool
	// DescribeLag hides instances from DescribeInstances for this long after
	// their creation, as an eventually consistent read model would. 0 = none.
	DescribeLag time.Duration

	// TokenWindow is how long a ClientToken is remembered; 0 means
	// DefaultTokenWindow (2h, the shorter of the windows other Tencent Cloud
	// products document, so a client cannot lean on a long memory); a
	// negative value disables token memory altogether.
	TokenWindow time.Duration
	// TokenMismatch applies when a remembered token comes with different
	// parameters. Default TokenReturnOriginal: Lighthouse documents no
	// mismatch error, so the likeliest service behaviour is a plain dedupe
	// table keyed by the token; TokenReject makes tests catch clients that
	// change a request between retries.
	TokenMismatch TokenPolicy
	// TokenGone applies when every instance a remembered token created has
	// been terminated or deleted. Default TokenReturnOriginal: the token
	// still maps to the dead IDs, so a client that reuses a token after its
	// instance died gets IDs that DescribeInstances never shows. This is the
	// behaviour that forces a correct client to move to a new token
	// (docs/design.md section 5.3), which is what the emulator exists to test.
	// A LAUNCH_FAILED instance still exists, so its token keeps replaying it
	// whatever this policy says.
	TokenGone TokenPolicy

	// Quotas maps a quota name (GENERAL_BUNDLE_INSTANCE, ...) to the number
	// of instances allowed per region; names not listed get DefaultQuota
	// (50); a negative value means unlimited. Instances count until they are
	// terminated; LAUNCH_FAILED ones do not count.
	Quotas map[string]int64
	// Balance is the account balance in CNY; a create is charged its
	// discounted price and fails with FailedOperation.InsufficientBalance
	// when it exceeds the balance. 0 means unlimited.
	Balance float64
	// AllowLinuxPassword accepts LoginConfiguration.Password for Linux
	// blueprints (8-30 characters, as the Chinese SDK documents). By default
	// it is refused with UnsupportedOperation.InstanceLinuxUnixCreatingNotSupportPassword,
	// as the international API page and its error list document.
	AllowLinuxPassword bool
	// IsolateBatchLimit is how many instances one IsolateInstances call may
	// return before LimitExceeded.IsolateResourcesLimitExceeded; 0 means
	// DefaultIsolateBatchLimit (20, as documented).
	IsolateBatchLimit int
	// ReturnWindow, when positive, refuses to return (isolate) an instance
	// bought longer ago, with UnsupportedOperation.ResourceNotReturnable
	// (ReturnFailCode 3 says "bought more than 5 days ago": set 120h for
	// that rule). 0 means any age: whether the rule refuses the return or
	// only the refund is not documented.
	ReturnWindow time.Duration
	// ReturnQuota, when positive, is how many instances the account may
	// return (isolate) in all; past it IsolateInstances answers
	// UnsupportedOperation.ResourceNotReturnable (ReturnFailCode 8). 0
	// means unlimited.
	ReturnQuota int
	// TerminateLaunchFailed lets TerminateInstances destroy LAUNCH_FAILED
	// instances. By default only SHUTDOWN ones, as the SDK documents.
	TerminateLaunchFailed bool
	// RenewPeriod is how many months an automatic renewal
	// (NOTIFY_AND_AUTO_RENEW) adds and charges for; 0 means
	// DefaultRenewPeriod (1). It must be a period the API sells (1-12, 24,
	// 36, 48, 60).
	RenewPeriod int64
	// ExpiredRetention is how long an instance that reached its ExpiredTime
	// without being renewed stays SHUTDOWN before it is removed; 0 means
	// DefaultExpiredRetention (7 days), negative means never.
	ExpiredRetention time.Duration
	// DryRunAsError answers a passing DryRun with the error DryRunOperation
	// instead of the documented success with a RequestId and no IDs.
	DryRunAsError bool
	// Faults are injected from the start, as by InjectFault.
	Faults []Fault
	// MaxClockSkew is how far X-TC-Timestamp may be from the emulator's
	// clock before AuthFailure.SignatureExpire; 0 means the service's 5
	// minutes. A negative value turns the check off, for tests that move a
	// ManualClock far while their client signs with the wall clock.
	MaxClockSkew time.Duration
	// DisableAdmin answers 404 under /_emulator/, for an emulator shared on
	// a network where test hooks must not be reachable.
	DisableAdmin bool

	// ModifyBundleBatchLimit is the most InstanceIds one
	// ModifyInstancesBundle takes before InvalidParameterValue.LimitExceeded;
	// 0 means DefaultModifyBundleBatchLimit (15). The SDK documents 15 and
	// 30; set 30 for the other reading.
	ModifyBundleBatchLimit int
	// BusyAsOperationDenied answers an operation on an instance whose
	// latest operation is unfinished with OperationDenied.InstanceOperationInProgress
	// where the action's error list (the China SDK's client.go) has both
	// that code and UnsupportedOperation.LatestOperationUnfinished
	// (ResetInstance, RenewInstances, IsolateInstances,
	// TerminateInstances). By default those answer the latter. Actions that
	// list only one answer that one whatever this says:
	// ModifyInstancesBundle OperationDenied.InstanceOperationInProgress,
	// ModifyInstancesRenewFlag UnsupportedOperation.LatestOperationUnfinished.
	BusyAsOperationDenied bool
	// RenewIsolated lets RenewInstances renew an instance that was isolated
	// (returned) before its expiry, bringing it back to RUNNING. By default
	// only instances SHUTDOWN by expiry can be renewed out of SHUTDOWN: the
	// SDK lists SHUTDOWN among RenewInstances' states without saying which.
	RenewIsolated bool
	// InstanceNameMatch is how the instance-name filter of
	// DescribeInstances matches: NameExact (when "") or NameSubstring.
	InstanceNameMatch NameMatch
}
