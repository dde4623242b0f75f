package emulator

import "fmt"

// apiError is an error the API answers with its envelope
// {"Response":{"Error":{"Code","Message"},"RequestId"}} and HTTP 200.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes the emulator answers with. Names follow the documented codes
// (lighthouse-api.md section 2 and the SDK's errors.go).
const (
	codeInternalError        = "InternalError"
	codeInvalidAction        = "InvalidAction"
	codeNoSuchVersion        = "NoSuchVersion"
	codeMissingParameter     = "MissingParameter"
	codeUnknownParameter     = "UnknownParameter"
	codeInvalidParameter     = "InvalidParameter"
	codeInvalidParamValue    = "InvalidParameterValue"
	codeInvalidRequest       = "InvalidRequest"
	codeRequestLimitExceeded = "RequestLimitExceeded"
	codeRequestSizeExceeded  = "RequestSizeLimitExceeded"
	codeDryRunOperation      = "DryRunOperation"

	codeAuthInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	codeAuthSecretIDNotFound     = "AuthFailure.SecretIdNotFound"
	codeAuthSignatureExpire      = "AuthFailure.SignatureExpire"
	codeAuthSignatureFailure     = "AuthFailure.SignatureFailure"
	codeAuthInvalidRegion        = "AuthFailure.InvalidRegion"
	codeAuthTokenFailure         = "AuthFailure.TokenFailure"

	codeParameterConflict        = "InvalidParameter.ParameterConflict"
	codeBundleIDNotFound         = "InvalidParameter.BundleIdNotFound"
	codeBundleBlueprintNotMatch  = "InvalidParameter.BundleAndBlueprintNotMatch"
	codeFilterValueLimitExceeded = "InvalidParameter.FilterValueLimitExceeded"
	codeInvalidFilter            = "InvalidParameter.InvalidFilter"
	codeFilterNotSupportedName   = "InvalidParameter.InvalidFilterNotSupportedName"

	codeClientTokenTooLong      = "InvalidParameterValue.ClientTokenTooLong"
	codeInstanceNameTooLong     = "InvalidParameterValue.InstanceNameTooLong"
	codeInstanceIDMalformed     = "InvalidParameterValue.InstanceIdMalformed"
	codeBlueprintIDMalformed    = "InvalidParameterValue.BlueprintIdMalformed"
	codeKeyPairIDMalformed      = "InvalidParameterValue.KeyPairIdMalformed"
	codeFirewallIDMalformed     = "InvalidParameterValue.FirewallTemplateIdMalformed"
	codeDuplicated              = "InvalidParameterValue.Duplicated"
	codeValueLimitExceeded      = "InvalidParameterValue.LimitExceeded"
	codeOutOfRange              = "InvalidParameterValue.OutOfRange"
	codeNegative                = "InvalidParameterValue.Negative"
	codeZoneInvalid             = "InvalidParameterValue.ZoneInvalid"
	codeInvalidPassword         = "InvalidParameterValue.InvalidPassword"
	codeNotSupportPlatform      = "InvalidParameterValue.BundleNotSupportBlueprintPlatform"
	codeInvalidQuotaName        = "InvalidParameterValue.InvalidResourceQuotaResourceName"
	codeBlueprintIDNotFound     = "ResourceNotFound.BlueprintIdNotFound"
	codeFirewallNotFound        = "ResourceNotFound.FirewallTemplateNotFound"
	codeKeyPairNotFound         = "ResourceNotFound.KeyPairNotFound"
	codeInstanceIDNotFound      = "ResourceNotFound.InstanceIdNotFound"
	codeBundleSoldOut           = "ResourcesSoldOut.BundleSoldOut"
	codeBundleUnavailable       = "ResourceUnavailable.BundleUnavailable"
	codeQuotaExceeded           = "LimitExceeded.InstanceQuotaLimitExceeded"
	codeIsolateLimitExceeded    = "LimitExceeded.IsolateResourcesLimitExceeded"
	codeInsufficientBalance     = "FailedOperation.InsufficientBalance"
	codeInitCommandTooLong      = "FailedOperation.InitCommandContentTooLong"
	codeLinuxPassword           = "UnsupportedOperation.InstanceLinuxUnixCreatingNotSupportPassword"
	codeWindowsKeyPair          = "UnsupportedOperation.WindowsNotSupportKeyPair"
	codeInvalidInstanceState    = "UnsupportedOperation.InvalidInstanceState"
	codeResourceNotReturnable   = "UnsupportedOperation.ResourceNotReturnable"
	codeLatestOpUnfinished      = "UnsupportedOperation.LatestOperationUnfinished"
	codeInstanceCreating        = "OperationDenied.InstanceCreating"
	codeOperationInProgress     = "OperationDenied.InstanceOperationInProgress"
	codeIdempotentParamMismatch = "UnsupportedOperation.IdempotentParameterMismatch"
	codeBundleMissingBlueprint  = "MissingParameter.BundleMissingParameterBlueprintId"
	codeOrderFieldRequired      = "MissingParameter.OrderFieldRequired"

	codeRenewFailed             = "FailedOperation.RenewResourcesFailed"
	codeModifyBundleFailed      = "FailedOperation.ModifyInstancesBundleFailed"
	codeNotSupportModifyType    = "InvalidParameterValue.NotSupportModifyInstanceBundleType"
	codeBundleNotSupportModify  = "OperationDenied.BundleNotSupportModify"
	codeInstanceExpired         = "UnsupportedOperation.InstanceExpired"
	codeNotAllowChangePlatform  = "InvalidParameterValue.NotAllowToChangePlatformType"
	codeBlueprintConfigNotMatch = "InvalidParameterValue.BlueprintConfigNotMatch"
	codeInvalidParamCombination = "InvalidParameterValue.InvalidParameterCombination"
	codeNoAutoGeneratePassword  = "UnsupportedOperation.OperationNotSupportAutoGeneratePassword"
)
