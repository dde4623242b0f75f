// Package lighthouse is lightkeeper's client for the Tencent Cloud
// Lighthouse API (service "lighthouse", version 2020-03-24): TC3-HMAC-SHA256
// signing, the wire types of the actions lightkeeper uses, and a transport
// with retries, per-action rate limits and typed errors.
//
// It is the only package that speaks to Tencent Cloud. The emulator in
// lighthouse/emulator serves the same wire protocol and reuses these types.
// The user's side of it (flags, environment, where keys are looked for) is
// in docs/cli.md; why it is built this way, in docs/design.md sections 5
// and 6.
//
// # Calls
//
// A Client (New) makes typed calls, one method per action the emulator
// serves: CreateInstances, DescribeInstances, DescribeBundles,
// DescribeBlueprints, DescribeZones, DescribeRegions,
// DescribeGeneralResourceQuotas, InquirePriceCreateInstances,
// IsolateInstances and TerminateInstances, and the day-two actions below.
// Each is a signed JSON POST
// (TC3-HMAC-SHA256, byte for byte the official SDK's signature, checked in
// tests against tencentcloud-sdk-go's common package), signed afresh for
// every attempt: signatures expire after 5 minutes.
//
// DescribeInstances returns every page (Limit 100; InstanceIds sent in
// chunks of 100, a repeated ID once), and the iterator Instances walks them
// in the service's order. Once the first page gives TotalCount, the next
// ones are asked for ahead, Options.PageConcurrency at a time
// (DefaultPageConcurrency, 8), each taking its rate-limit token in offset
// order, and handed over in offset order, so a sweep of N pages takes about
// 2 × round trip + N / rate instead of N round trips; the iterator holds at
// most that many pages. Offset paging over a list that changes while
// it is read can hide an instance (one removed, or isolated and so moved to
// the front, shifts the pages), and a hidden instance would look like an
// empty slot to fill. So a sweep checks itself: every page must report the
// same TotalCount and the sweep must return that many distinct instances;
// otherwise it sweeps again, up to 4 times, and then fails with
// ClientError.ListChanging rather than return a listing that may miss one.
// A lookup by IDs treats ResourceNotFound.InstanceIdNotFound as "some of
// these are gone", not as a failure: it halves the IDs until the gone ones
// stand alone and leaves them out.
//
// # Day-two actions
//
// ResetInstance, ModifyInstancesBundle and RenewInstances change existing
// instances: each starts an asynchronous operation that DescribeInstances
// shows as LatestOperation (the action), LatestOperationState (OPERATING,
// then SUCCESS or FAILED), LatestOperationRequestId (the call's RequestId)
// and LatestOperationStartedTime (China site only). They take no
// ClientToken and act again when repeated (a second reset wipes the disk
// again, a second bundle change or renewal is charged again), so the
// transport repeats them only when the service cannot have acted: after a
// lost answer, a timeout, a 5xx or an InternalError the call fails
// Ambiguous and Permanent after one attempt, for the caller to confirm on
// the instance (LatestOperation* and the BlueprintId, BundleId or
// ExpiredTime) before sending it again. DescribeModifyInstanceBundles
// (ModifyInstanceBundles: every page), DescribeResetInstanceBlueprints
// (ResetInstanceBlueprints) and DescribeInstancesDeniedActions say
// beforehand what an instance can do; ModifyInstancesRenewFlag (a value
// set, repeated freely) and InquirePriceRenewInstances complete the set.
// Their batch limits are MaxModifyBundleIDs (15: models.go; client.go says
// 30), MaxRenewIDs and MaxRenewFlagIDs and MaxDeniedActionsIDs (100) and
// MaxInquireRenewIDs (50); ValidRenewPeriod gives the renewal periods.
// Instance.ShutDownByExpiry and Instance.AutoRenewFailed read an instance's
// expiry as far as the API shows it.
//
// # Endpoints
//
// Options.Endpoint is EndpointDefault (https://lighthouse.tencentcloudapi.com,
// when empty), EndpointRegional (https://lighthouse.{region}.tencentcloudapi.com,
// each call to its region's host), EndpointIntl
// (https://lighthouse.intl.tencentcloudapi.com, the international site), or
// any https:// URL; http:// is accepted on a loopback host only
// (127.0.0.0/8, ::1, localhost), such as the emulator at
// http://127.0.0.1:9100. Only the China site takes Tags on CreateInstances;
// TakesTags tells from a site name (SiteChina, SiteIntl) or, for SiteAuto,
// from the endpoint.
//
// # Rate limits
//
// Each action has a token bucket per access point, shared by every caller of
// one Client, with burst 1, so that no one-second window ever holds more
// calls than the limit, however the service counts. The service counts per
// API, access region and sub-account, and the access region of a global
// endpoint is where the endpoint routes the call, not the product region:
// through the default, the international or a custom endpoint every region
// shares one bucket, keyed by the endpoint's host; only the regional
// endpoint gives each region its own. DefaultRateLimits, in requests per
// second: CreateInstances 5, DescribeInstances 100, DescribeBundles 5,
// DescribeBlueprints 10, DescribeZones 20, DescribeRegions 10,
// DescribeGeneralResourceQuotas 10, InquirePriceCreateInstances 10,
// IsolateInstances 20, TerminateInstances 10, ResetInstance 10,
// DescribeResetInstanceBlueprints 20, ModifyInstancesBundle 20,
// DescribeModifyInstanceBundles 20, DescribeInstancesDeniedActions 10,
// ModifyInstancesRenewFlag 20, RenewInstances 20,
// InquirePriceRenewInstances 10; any other action
// DefaultRateLimit (10). Options.RateLimits overrides them (0 or less:
// unlimited).
//
// # Retries and errors
//
// Each attempt waits for its bucket, then has its own timeout
// (DefaultAttemptTimeout, 60 s), which starts after the wait, so a long queue
// never eats an attempt's time. Attempts go through go-retryablehttp, whose
// CheckRetry reads the response envelope (service errors arrive as HTTP 200
// with {"Response":{"Error":{...},"RequestId":...}}). Failures are *Error
// values (action, region, code, message, RequestId, reachable with
// errors.As) whose Class says what to do:
//
//   - RetrySame: network errors and timeouts, HTTP 5xx (with or without an
//     error body), InternalError*, ServiceUnavailable*,
//     RequestLimitExceeded* (.UinLimitExceeded, .IPLimitExceeded,
//     .GlobalRegionUinLimitExceeded, …) and LimitExceeded.RateLimitExceeded.
//     The transport retries these up to DefaultRetryMax (6) times, each
//     attempt re-signed and carrying the same body and ClientToken, with
//     exponential backoff from DefaultRetryWaitMin (0.5 s), capped at
//     DefaultRetryWaitMax (15 s), jittered; a wait that would outlast the
//     context's deadline is not begun. Options.OnRetry hears of each retry
//     before its wait (lightkeeper reconcile warns on stderr).
//   - RetryLater: OperationDenied.* (but the denials that mean "not
//     supported", such as OperationDenied.BundleNotSupportModify),
//     UnsupportedOperation.*LatestOperationUnfinished,
//     UnsupportedOperation.SystemBusy and ResourceInUse*: returned at once,
//     for the caller to observe again and come back next cycle.
//   - Permanent: everything else (AuthFailure.*, InvalidParameter*, quota,
//     balance, sold out, …): returned at once. So is a host name that does
//     not resolve (a DNS "no such host"): it fails after one attempt, while
//     a DNS timeout or temporary failure is retried.
//
// The final error states how many attempts were made. A ClientToken is
// documented only as a client-chosen string of up to 64 ASCII characters
// that makes a create idempotent, with no retention window; the client
// assumes only that the retries of one call, with the same token and body,
// do not buy twice, and a create without a ClientToken is never repeated
// once it may have reached the service. Whenever any attempt of a mutating
// call may have been carried out (a lost response, a 5xx, an InternalError,
// a success that did not decode), the final error is marked Ambiguous, even
// if a later attempt was refused, and its message says to list the
// instances before creating anything again.
//
// Options.Fence, when set, is asked right before each mutating attempt goes
// on the wire, after its rate-limit wait; the daemon's leader election uses
// it. A refusal fails the call unsent with the code ClientError.NotLeader
// (CodeFenced, class RetryLater).
//
// # Credentials
//
// FindCredential looks for an API key where the Tencent Cloud tools keep
// one, in this order; the first place that has a key wins. A place that is
// present but broken (one of the two variables only, a malformed file) is an
// error, not skipped, and when nothing is found the error (ErrNoCredentials)
// names every place looked in.
//
//  1. The environment: TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY and,
//     optionally, TENCENTCLOUD_SESSION_TOKEN (or TENCENTCLOUD_SECURITY_TOKEN,
//     the name Terraform exports).
//  2. systemd credentials: the files tencentcloud-secret-id,
//     tencentcloud-secret-key and, optionally, tencentcloud-session-token in
//     $CREDENTIALS_DIRECTORY (LoadCredential=).
//  3. The SDK credentials file: $TENCENTCLOUD_CREDENTIALS_FILE (which must
//     exist if set), else ~/.tencentcloud/credentials; INI, section
//     [default], keys secret_id and secret_key.
//  4. The tccli profile: ~/.tccli/<$TCCLI_PROFILE or default>.credential,
//     then ~/.tencentcloud/default.credential; JSON with secretId and
//     secretKey.
//
// # Secrets
//
// Secrets never appear in logs, errors or output: a Credential prints as
// lighthouse.Credential{SecretId: ...abcd, SecretKey: REDACTED} with every
// fmt verb and through slog; a Client or a CreateInstancesRequest printed or
// logged shows no key or login password; the body of a create is never
// logged.
package lighthouse
