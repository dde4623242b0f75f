package emulator_test

import (
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// A temporary key signed by the official SDK (common.NewTokenCredential,
// which sends X-TC-Token) passes the session-token check; the same key
// without its token, or with another, is AuthFailure.TokenFailure.
func TestSDKSessionToken(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.SessionTokens = map[string]string{testID: "sdk-session-token"} })
	client := func(cred common.CredentialIface) *common.Client { return e.sdkClientWith(region, cred) }
	if err := sdkCall(client(common.NewTokenCredential(testID, testKey, "sdk-session-token")), "DescribeRegions", map[string]any{}, nil); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, cred := range []common.CredentialIface{common.NewCredential(testID, testKey), common.NewTokenCredential(testID, testKey, "another-token")} {
		err := sdkCall(client(cred), "DescribeRegions", map[string]any{}, nil)
		if got := sdkCode(t, err); got != "AuthFailure.TokenFailure" {
			t.Errorf("token %q: code %q, want AuthFailure.TokenFailure", cred.GetToken(), got)
		}
	}
}

// The official SDK sees the international site's refusal of Tags as
// UnknownParameter, as any undefined parameter.
func TestSDKIntlSiteTags(t *testing.T) {
	e := newEnv(t, func(c *emulator.Config) { c.Site = emulator.SiteIntl })
	err := sdkCall(e.sdkClient(region, testID, testKey), "CreateInstances",
		basicCreate(map[string]any{"Tags": []map[string]string{{"Key": "k", "Value": "v"}}}), nil)
	if got := sdkCode(t, err); got != "UnknownParameter" {
		t.Fatalf("code %q, want UnknownParameter", got)
	}
}
