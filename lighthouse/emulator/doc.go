// Package emulator is a local, faithful implementation of the subset of the
// Tencent Cloud Lighthouse API (service "lighthouse", version 2020-03-24)
// that lightkeeper uses. It is a real http.Handler: clients speak the wire
// protocol to it, TC3-HMAC-SHA256 signatures are verified against configured
// credentials, parameters are validated with the documented error codes, and
// instances move through PENDING, RUNNING or LAUNCH_FAILED, SHUTDOWN and
// removal, and reach their ExpiredTime (renewed or shut down), on a clock
// that tests control. Config.Site serves the China or the international
// site's variant of the API.
//
// It also serves the day-two actions: ResetInstance, ModifyInstancesBundle
// (upgrades only, the price difference charged) and RenewInstances run as
// operations on existing instances (OPERATING, then SUCCESS or FAILED, on
// the same clock; see operations.go), refusing a second operation while one
// runs with the code each action documents; DescribeModifyInstanceBundles,
// DescribeResetInstanceBlueprints and DescribeInstancesDeniedActions say
// what an instance can do, from the same rules the actions apply;
// ModifyInstancesRenewFlag and InquirePriceRenewInstances complete them.
//
// Beyond the API it offers what tests of a reconciler need: ClientToken
// memory with configurable policies, per-action rate limits, injected faults
// (lost responses after a committed action, delays, HTTP 5xx, InternalError,
// RequestLimitExceeded, Describe lag, operations that end FAILED),
// out-of-band deletion, an account balance, expiries that can be moved, and
// state that can be saved and loaded. These are reachable from Go
// (InjectFault, DeleteInstance, SetBalance, SetExpiredTime, SaveState, ...)
// and over HTTP under "/_emulator/" (see admin.go), which is unauthenticated:
// the emulator is a local test server and must never be exposed to untrusted
// networks; it refuses the requests a web page could send it.
//
// Where the real service's behaviour is not documented (token retention,
// parameter mismatch on a reused token, the form of a passing DryRun, the
// answer for an unknown but well-formed instance ID, which instances may be
// returned, how long an expired instance is kept) the emulator picks one
// behaviour, makes it configurable where a client could depend on it, and
// says so in the doc comment of the relevant Config field.
//
// Package emulatortest wraps it for Go tests: an httptest server, a manual
// clock and a client in one call.
package emulator
