package lighthouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestClassifyCode(t *testing.T) {
	for code, want := range map[string]Class{
		CodeNetworkError:                                           RetrySame,
		"InternalError":                                            RetrySame,
		"InternalError.TradeGetPriceFailed":                        RetrySame,
		"RequestLimitExceeded":                                     RetrySame,
		"RequestLimitExceeded.UinLimitExceeded":                    RetrySame,
		"RequestLimitExceeded.GlobalRegionUinLimitExceeded":        RetrySame,
		"RequestLimitExceeded.IPLimitExceeded":                     RetrySame,
		"LimitExceeded.RateLimitExceeded":                          RetrySame,
		"ServiceUnavailable":                                       RetrySame,
		"LimitExceeded":                                            Permanent,
		"LimitExceeded.IsolateResourcesLimitExceeded":              Permanent,
		"ServiceUnavailableX":                                      Permanent,
		"OperationDenied.InstanceCreating":                         RetryLater,
		"OperationDenied.InstanceOperationInProgress":              RetryLater,
		"UnsupportedOperation.LatestOperationUnfinished":           RetryLater,
		"UnsupportedOperation.DiskLatestOperationUnfinished":       RetryLater,
		"UnsupportedOperation.SystemBusy":                          RetryLater,
		"OperationDenied.BundleNotSupportModify":                   Permanent,
		"OperationDenied.DiskUsageNotSupportOperation":             Permanent,
		"FailedOperation.RenewResourcesFailed":                     Permanent,
		"InvalidParameterValue.NotSupportModifyInstanceBundleType": Permanent,
		"ResourceInUse":                                            RetryLater,
		"UnsupportedOperation.InvalidInstanceState":                Permanent,
		"InternalErrorX":                                           Permanent,
		"AuthFailure.SignatureFailure":                             Permanent,
		"InvalidParameterValue.ClientTokenTooLong":                 Permanent,
		"LimitExceeded.InstanceQuotaLimitExceeded":                 Permanent,
		"FailedOperation.InsufficientBalance":                      Permanent,
		"ResourcesSoldOut.BundleSoldOut":                           Permanent,
		CodeParseJSONError:                                         Permanent,
		"":                                                         Permanent,
	} {
		if got := ClassifyCode(code); got != want {
			t.Errorf("ClassifyCode(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestErrorClassHTTPStatus(t *testing.T) {
	for status, want := range map[int]Class{502: RetrySame, 500: RetrySame, 503: RetrySame, 429: RetrySame, 404: Permanent, 403: Permanent} {
		e := &Error{Code: CodeHTTPStatusError, HTTPStatus: status}
		if got := e.Class(); got != want {
			t.Errorf("HTTP %d: class %v, want %v", status, got, want)
		}
	}
}

func TestClassOfWrapped(t *testing.T) {
	e := &Error{Action: ActionDescribeInstances, Region: "ap-guangzhou", Code: "OperationDenied.InstanceCreating", Message: "busy", RequestId: "r-9", Attempts: 1}
	wrapped := fmt.Errorf("fleet %q: observe: %w", "web", e)
	if got := ClassOf(wrapped); got != RetryLater {
		t.Fatalf("ClassOf = %v, want retry-later", got)
	}
	if got := ErrorCode(wrapped); got != "OperationDenied.InstanceCreating" {
		t.Fatalf("ErrorCode = %q", got)
	}
	msg := wrapped.Error()
	for _, want := range []string{"DescribeInstances", "ap-guangzhou", "OperationDenied.InstanceCreating", "busy", "r-9", "1 attempt"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	cancelled := &Error{Code: "InternalError", Attempts: 3, Err: context.Canceled}
	if ClassOf(cancelled) != Permanent || !errors.Is(cancelled, context.Canceled) {
		t.Fatalf("a cancelled call must be permanent and wrap context.Canceled")
	}
	if !strings.Contains(cancelled.Error(), "gave up after 3 attempts") {
		t.Fatalf("message %q does not count attempts", cancelled.Error())
	}
	if ClassOf(fmt.Errorf("x: %w", context.DeadlineExceeded)) != RetrySame {
		t.Fatalf("a deadline is a timeout: retry-same")
	}
}
