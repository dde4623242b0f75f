package reconcile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Error codes reconcile acts on.
const (
	codeIdempotentMismatch = "UnsupportedOperation.IdempotentParameterMismatch"
	codeNotReturnable      = "UnsupportedOperation.ResourceNotReturnable"
	codeIsolateLimit       = "LimitExceeded.IsolateResourcesLimitExceeded"
)

// codeInsufficientBalance refuses a purchase the account balance does not
// cover (a create, a renewal).
const codeInsufficientBalance = "FailedOperation.InsufficientBalance"

// fleetHints turns the API's refusals of a create into what a person should
// change: the field of the spec at fault and how to fix it. Codes from the
// CreateInstances error list (lighthouse-api.md section 5).
var fleetHints = []struct {
	prefix, field, hint string
}{
	{"LimitExceeded.InstanceQuotaLimitExceeded", "spec.count", "the region's instance quota for this bundle type is used up; lower spec.count, or raise the quota (DescribeGeneralResourceQuotas shows it)"},
	{"FailedOperation.InsufficientBalance", "", "the account balance does not cover the purchase; top up the account, or lower spec.count"},
	{"ResourcesSoldOut", "spec.zones", "the bundle is sold out there; choose other spec.zones (or none, to let the cloud pick) or another spec.bundleId"},
	{"InvalidParameter.BundleAndBlueprintNotMatch", "spec.blueprintId", "the blueprint cannot run on this bundle; pick a blueprint the bundle supports (DescribeBundles, DescribeBlueprints)"},
	{"InvalidParameterValue.BundleNotSupportBlueprintPlatform", "spec.blueprintId", "the bundle does not support the blueprint's platform (Linux/Windows); change spec.bundleId or spec.blueprintId"},
	{"MissingParameter.BundleMissingParameterBlueprintId", "spec.blueprintId", "this bundle needs a blueprint"},
	{"InvalidParameter.BundleIdNotFound", "spec.bundleId", "no such bundle in this region; list them with DescribeBundles"},
	{"ResourceUnavailable.BundleUnavailable", "spec.bundleId", "the bundle is not sold any more; pick a current one (DescribeBundles)"},
	{"ResourceNotFound.BlueprintIdNotFound", "spec.blueprintId", "no such blueprint in this region; list them with DescribeBlueprints"},
	{"InvalidParameterValue.BlueprintIdMalformed", "spec.blueprintId", "the blueprint ID is malformed (lhbp-xxxxxxxx)"},
	{"ResourceNotFound.KeyPairNotFound", "spec.login.keyIds", "no such key pair in this region; create it or fix the ID (key pairs are per region)"},
	{"InvalidParameterValue.KeyPairIdMalformed", "spec.login.keyIds", "a key pair ID is malformed (lhkp-xxxxxxxx)"},
	{"UnsupportedOperation.InstanceLinuxUnixCreatingNotSupportPassword", "spec.login", "a Linux blueprint cannot be created with a password on this site; use spec.login.keyIds"},
	{"UnsupportedOperation.WindowsNotSupportKeyPair", "spec.login", "a Windows blueprint takes no key pairs; use spec.login.passwordFrom"},
	{"InvalidParameterValue.InvalidPassword", "spec.login.passwordFrom", "the service refuses the password; see the password rules in docs/fleet-spec.md"},
	{"InvalidParameterValue.ZoneInvalid", "spec.zones", "a zone is not in the region; list them with DescribeZones"},
	{"InvalidParameterValue.InstanceNameTooLong", "spec.instanceName", "the rendered name is too long; shorten the template or the fleet name"},
	{"UnknownParameter", "", "the site refuses a parameter; if it is Tags, this is the international site: run with --site intl (tags are then not written)"},
	{"AuthFailure", "", "the API key is wrong, expired or lacks permission; check the credentials lightkeeper found (lightkeeper reconcile --help lists the places)"},
	{"UnauthorizedOperation", "", "the API key lacks permission for this action; grant it in CAM"},
}

// fleetError describes a failed call as a FleetError naming the field to
// change.
func fleetError(err error) *FleetError {
	code := lighthouse.ErrorCode(err)
	fe := &FleetError{Code: code, Message: err.Error()}
	for _, h := range fleetHints {
		if code == h.prefix || strings.HasPrefix(code, h.prefix+".") {
			fe.Field = h.field
			msg := message(err)
			if h.field != "" {
				fe.Message = fmt.Sprintf("%s: %s (%s: %s)", h.field, h.hint, code, msg)
			} else {
				fe.Message = fmt.Sprintf("%s (%s: %s)", h.hint, code, msg)
			}
			return fe
		}
	}
	return fe
}

// message is the service's message of err, or err itself.
func message(err error) string {
	var le *lighthouse.Error
	if errors.As(err, &le) && le.Message != "" {
		return le.Message
	}
	return err.Error()
}

// ambiguous reports whether a failed create may have bought an instance.
func ambiguous(err error) bool {
	var le *lighthouse.Error
	if errors.As(err, &le) {
		// The client marks a call Ambiguous whenever some attempt may have
		// been carried out (lost response, timeout after sending, 5xx,
		// InternalError); RequestLimitExceeded alone means not carried out.
		return le.Ambiguous
	}
	// Not an API error: the client returns those only for a request it
	// never sent (the context ended before, or during, the rate-limit wait),
	// so nothing can have been bought.
	return false
}
