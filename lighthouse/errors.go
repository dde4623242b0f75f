package lighthouse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Class says what a caller should do about a failed call.
type Class int

// Classes of failure.
const (
	// Permanent: the same request will fail again; fix the request, the
	// credentials, the quota or the account before trying again.
	Permanent Class = iota
	// RetrySame: a transient failure (network error, timeout, HTTP 5xx,
	// InternalError*, ServiceUnavailable*, RequestLimitExceeded*,
	// LimitExceeded.RateLimitExceeded); send the same request again,
	// with the same ClientToken if it is a create. The transport already did
	// so until its retry budget ran out.
	RetrySame
	// RetryLater: the resource is busy (OperationDenied.*,
	// UnsupportedOperation.LatestOperationUnfinished, ResourceInUse*); wait
	// for the operation in progress to finish, observe again, then decide.
	// The transport does not retry these.
	RetryLater
)

// String returns the class name as used in logs.
func (c Class) String() string {
	switch c {
	case RetrySame:
		return "retry-same"
	case RetryLater:
		return "retry-later"
	default:
		return "permanent"
	}
}

// Codes the client itself produces, named as the official SDK names them,
// for failures that carry no service error code.
const (
	// CodeNetworkError: the request or its response was lost (connection
	// refused or reset, timeout, response cut short).
	CodeNetworkError = "ClientError.NetworkError"
	// CodeHTTPStatusError: an HTTP status other than 200 without an error
	// envelope, such as a 502 from a proxy.
	CodeHTTPStatusError = "ClientError.HttpStatusCodeError"
	// CodeParseJSONError: an HTTP 200 whose body is not a valid envelope.
	CodeParseJSONError = "ClientError.ParseJsonError"
	// CodeFenced: Options.Fence refused a mutating call before it was
	// sent (the caller no longer leads its election); nothing was sent.
	CodeFenced = "ClientError.NotLeader"
)

// Error is a failed Lighthouse API call. It carries the service's code,
// message and RequestId, or one of the Code* client codes with the
// underlying cause in Err. Use errors.As to reach it through wrapping.
type Error struct {
	Action     string // e.g. "CreateInstances"
	Region     string // "" for region-less actions
	Code       string // e.g. "RequestLimitExceeded", "ClientError.NetworkError"
	Message    string // the service's message, or a description of the local failure
	RequestId  string // the service's RequestId of the last attempt, if one was answered
	HTTPStatus int    // the HTTP status of the last attempt, 0 if none
	Attempts   int    // requests sent, including the first
	// Ambiguous reports that the call may have been carried out by the
	// service although no success was seen: some attempt's response was
	// lost, or an HTTP 5xx or InternalError came back, even if a later
	// attempt was then refused. For a create, observe before deciding that
	// nothing was bought.
	Ambiguous bool
	// Err is the underlying cause: a network error, or the caller's
	// context error when the call was cancelled between attempts.
	Err error

	// class overrides the code's class; see Class.
	class    Class
	classSet bool
}

// Error describes the failure: action, region, code, message, RequestId and
// the number of attempts, plus what to do about it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lighthouse: ")
	b.WriteString(e.Action)
	if e.Region != "" {
		b.WriteString(" in ")
		b.WriteString(e.Region)
	}
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestId != "" {
		b.WriteString(" (RequestId ")
		b.WriteString(e.RequestId)
		b.WriteString(")")
	}
	switch {
	case e.Attempts == 1:
		b.WriteString("; 1 attempt")
	case e.Attempts > 1:
		fmt.Fprintf(&b, "; gave up after %d attempts", e.Attempts)
	}
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Class classifies the failure. It is ClassifyCode of the code (or of the
// HTTP status for CodeHTTPStatusError), RetrySame instead of Permanent when
// the HTTP status was 5xx or 429, except that a CreateInstances
// without a ClientToken, or a call of an action that is not idempotent
// (ResetInstance, ModifyInstancesBundle, RenewInstances), whose outcome is
// unknown is Permanent: repeating it could act twice. A host name that does
// not resolve is Permanent too: it will not resolve on the next attempt.
func (e *Error) Class() Class {
	if e.classSet {
		return e.class
	}
	if e.Code == CodeHTTPStatusError {
		return classifyStatus(e.HTTPStatus)
	}
	c := ClassifyCode(e.Code)
	if c == Permanent && classifyStatus(e.HTTPStatus) == RetrySame {
		// An HTTP 5xx is transient whatever its envelope says: a gateway
		// or an overloaded front end may wrap it in any code.
		return RetrySame
	}
	return c
}

func (e *Error) hint() string {
	switch {
	case e.classSet && e.class == Permanent && e.Ambiguous && e.Action == ActionCreateInstances:
		return "the create may have succeeded: it had no ClientToken, so it was not repeated; list the instances before trying again, and always set a ClientToken"
	case e.classSet && e.class == Permanent && e.Ambiguous:
		return "the request may have been carried out: it is not idempotent, so it was not repeated; check the instances' LatestOperation, LatestOperationStartedTime and LatestOperationState (DescribeInstances) before sending it again"
	case e.Code == CodeNetworkError && isNoSuchHost(e.Err):
		return "the endpoint's host name does not resolve; check --endpoint (or the DNS), it is not retried"
	case e.Ambiguous:
		return "the request may have been carried out although no success was seen; observe the instances before trying again"
	case strings.HasPrefix(e.Code, "AuthFailure"):
		return "check the SecretId/SecretKey, the account's permissions and the system clock"
	case IsRateLimited(e.Code):
		return "the service's rate limit was hit; lower the client's rate limit for this action or share fewer credentials between processes"
	case e.Code == CodeListChanging:
		return "instances are being created or removed; list again once that settles"
	case e.Code == CodeFenced:
		return "this daemon no longer leads its election; the leader sends it"
	case e.Class() == RetryLater:
		return "the resource is busy; wait for its operation to finish and try again"
	}
	return ""
}

// ClassifyCode returns the class of a service or client error code:
//
//	RetrySame   ClientError.NetworkError, InternalError, InternalError.*,
//	            ServiceUnavailable, ServiceUnavailable.*, and every rate-limit
//	            refusal (see IsRateLimited)
//	RetryLater  OperationDenied.* (but the four below), the
//	            UnsupportedOperation.*LatestOperationUnfinished codes (of
//	            an instance, a disk, a blueprint, a disk backup),
//	            UnsupportedOperation.SystemBusy, ResourceInUse, ResourceInUse.*
//	Permanent   everything else (AuthFailure*, InvalidParameter*, quota,
//	            balance, sold out, ...), and the OperationDenied codes that
//	            say the operation is not supported rather than busy:
//	            OperationDenied.BundleNotSupportModify,
//	            .DiskUsageNotSupportOperation, .OperationDeniedCreateSnapshot
//	            and .OperationDeniedCreateSnapshotForStorageBundle (errors.go:
//	            the instance does not support a bundle upgrade, the disk
//	            type does not support the operation, snapshots are denied)
//
// Sources of the transient codes (the "retry later" of the issue tracker;
// the transport repeats them with backoff, so here they are RetrySame):
//   - RequestLimitExceeded and its sub-codes .UinLimitExceeded,
//     .IPLimitExceeded and .GlobalRegionUinLimitExceeded: the common error
//     codes page (https://cloud.tencent.com/document/product/213/30435 and
//     https://cloud.tencent.com/document/product/1388/114322), which list
//     them as requests over the rate limit; the SDK's own rate-limit retry
//     keys on RequestLimitExceeded (tencentcloud-sdk-go common
//     ratelimitretry.go).
//   - LimitExceeded.RateLimitExceeded: reported on Lighthouse by
//     tencentcloudstack/terraform-provider-tencentcloud issue #1233
//     (maintainers: lower the parallelism and try again); it is not in the
//     Lighthouse SDK's errors.go. Only this exact code: other LimitExceeded.*
//     codes are quotas and permanent.
//   - ServiceUnavailable: the same common error codes pages (the service is
//     temporarily unavailable).
//   - InternalError*: the common error codes pages and the Lighthouse
//     SDK's errors.go (internal error); the Terraform provider retries it on
//     Lighthouse too (tencentcloud/common/common.go).
//
// HTTP statuses without an envelope are classified by Error.Class (5xx and
// 429 retry the same request, other statuses are permanent).
func ClassifyCode(code string) Class {
	switch {
	case code == CodeNetworkError,
		hasCodePrefix(code, "InternalError"),
		hasCodePrefix(code, "ServiceUnavailable"),
		IsRateLimited(code):
		return RetrySame
	case strings.HasPrefix(code, "OperationDenied.") && !notSupportedDenials[code], code == CodeFenced,
		strings.HasPrefix(code, "UnsupportedOperation.") && strings.HasSuffix(code, "LatestOperationUnfinished"),
		code == "UnsupportedOperation.SystemBusy",
		hasCodePrefix(code, "ResourceInUse"):
		return RetryLater
	}
	return Permanent
}

// notSupportedDenials are the OperationDenied codes of errors.go that say
// an operation is not supported, not that something is busy: waiting does
// not help.
var notSupportedDenials = map[string]bool{
	"OperationDenied.BundleNotSupportModify":                        true,
	"OperationDenied.DiskUsageNotSupportOperation":                  true,
	"OperationDenied.OperationDeniedCreateSnapshot":                 true,
	"OperationDenied.OperationDeniedCreateSnapshotForStorageBundle": true,
}

// IsRateLimited reports whether code is a refusal for the rate limit:
// RequestLimitExceeded or any of its sub-codes, or
// LimitExceeded.RateLimitExceeded (sources at ClassifyCode). The service
// refuses such a request before acting on it, so repeating it cannot
// duplicate anything.
func IsRateLimited(code string) bool {
	return hasCodePrefix(code, "RequestLimitExceeded") || code == "LimitExceeded.RateLimitExceeded"
}

// hasCodePrefix reports whether code is prefix or a sub-code of it
// ("InternalError" matches "InternalError" and "InternalError.X", not
// "InternalErrorX").
func hasCodePrefix(code, prefix string) bool {
	rest, ok := strings.CutPrefix(code, prefix)
	return ok && (rest == "" || rest[0] == '.')
}

func classifyStatus(status int) Class {
	if status >= 500 || status == http.StatusTooManyRequests {
		return RetrySame
	}
	return Permanent
}

// ClassOf classifies any error a Client method returns: the class of the
// *Error inside it, Permanent for a cancelled context (the caller gave up)
// and RetrySame for a deadline. nil has no class; ClassOf(nil) is
// Permanent, so check for nil first.
func ClassOf(err error) Class {
	if errors.Is(err, context.Canceled) {
		return Permanent
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return RetrySame
	}
	return Permanent
}

// ErrorCode returns the code of the *Error inside err, or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
