// Package lighthouse is lightkeeper's client for the Tencent Cloud
// Lighthouse API (service "lighthouse", version 2020-03-24): TC3-HMAC-SHA256
// signing, the wire types of the actions lightkeeper uses, and a transport
// with retries, per-action rate limits and typed errors.
//
// A Client (New) makes typed calls, one method per action; DescribeInstances
// and the iterator Instances fetch every page, the pages after the first
// asked for ahead (Options.PageConcurrency) within the action's rate limit
// and handed over in order. Each attempt waits for the action's token
// bucket, is signed afresh and is sent through go-retryablehttp, whose
// CheckRetry reads the response envelope (service errors arrive as HTTP
// 200). Failures are *Error values whose Class says what to do: send the
// same request again, wait for a busy resource, or stop. Options.OnRetry
// hears of every retry; a host name that does not resolve is not retried.
// FindCredential looks for an API key where the Tencent Cloud tools keep
// one.
//
// Besides creating, listing and isolating, the client changes instances in
// place and renews them (operations.go): ResetInstance,
// ModifyInstancesBundle and RenewInstances start asynchronous operations
// that DescribeInstances shows as LatestOperation*, and are not idempotent:
// the transport never repeats them once the service may have acted, and a
// lost answer comes back Ambiguous for the caller to confirm on the
// instance. DescribeModifyInstanceBundles, DescribeResetInstanceBlueprints
// and DescribeInstancesDeniedActions say beforehand what is possible;
// ModifyInstancesRenewFlag and InquirePriceRenewInstances complete the set.
// Their limits are the Max*IDs constants and DefaultRateLimits.
//
// It is the only package that speaks to Tencent Cloud. The emulator in
// lighthouse/emulator serves the same wire protocol and reuses these types.
package lighthouse
