package emulator

import (
	"crypto/hmac"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// maxSkew is how far X-TC-Timestamp may be from the server's clock by
// default, as the service documents.
const maxSkew = 5 * time.Minute

// authenticate checks X-TC-Action, X-TC-Timestamp and the TC3-HMAC-SHA256
// Authorization header against the configured credentials, the way the
// service does: the signature covers the content type, the host and the
// exact body, under a key derived from the date of the timestamp.
func (s *Server) authenticate(r *http.Request, c *call) *apiError {
	if c.action == "" {
		return errf(codeMissingParameter, "the header X-TC-Action is required")
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/json") {
		return errf(codeInvalidRequest, "Content-Type %q is not supported; send application/json", ct)
	}
	tsHeader := r.Header.Get("X-TC-Timestamp")
	if tsHeader == "" {
		return errf(codeMissingParameter, "the header X-TC-Timestamp is required")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return errf(codeInvalidParameter, "the header X-TC-Timestamp %q is not a unix time in seconds", tsHeader)
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return errf(codeAuthInvalidAuthorization, "the Authorization header is missing; sign the request with TC3-HMAC-SHA256")
	}
	p, err := lighthouse.ParseAuthorization(authz)
	if err != nil {
		return errf(codeAuthInvalidAuthorization, "%v", err)
	}
	if p.SignedHeaders != "content-type;host" {
		return errf(codeAuthInvalidAuthorization, "SignedHeaders %q is not supported; sign content-type;host", p.SignedHeaders)
	}
	if limit := s.cfg.MaxClockSkew; limit > 0 {
		if skew := c.now.Sub(time.Unix(ts, 0)); skew > limit || skew < -limit {
			return errf(codeAuthSignatureExpire, "the request timestamp %d is %s away from the server time; the signature has expired (allowed skew %s), check the client clock", ts, skew.Round(time.Second).Abs(), limit)
		}
	}
	key, ok := s.cfg.Credentials[p.SecretID]
	if !ok {
		return errf(codeAuthSecretIDNotFound, "the SecretId is not found; check the credentials")
	}
	c.secretID = p.SecretID
	in := lighthouse.SignInput{
		Service:     lighthouse.Service,
		Host:        r.Host,
		ContentType: ct,
		Timestamp:   ts,
		Body:        c.body,
	}
	wantScope := time.Unix(ts, 0).UTC().Format("2006-01-02") + "/" + lighthouse.Service + "/tc3_request"
	if p.CredentialScope != wantScope {
		return errf(codeAuthSignatureFailure, "the credential scope %q does not match the timestamp and service (want %q)", p.CredentialScope, wantScope)
	}
	want := lighthouse.Signature(key, in)
	if !hmac.Equal([]byte(want), []byte(p.Signature)) {
		return errf(codeAuthSignatureFailure, "the request signature we calculated does not match the signature you provided; check the SecretKey and that the body, Host and Content-Type are sent as signed")
	}
	// A temporary key is sent with its session token in X-TC-Token (the
	// SDK's client.go sets the header when the credential has a token); a
	// wrong or missing one is AuthFailure.TokenFailure (common error codes,
	// https://cloud.tencent.com/document/product/213/30435). The message
	// never repeats the token.
	if tok, ok := s.cfg.SessionTokens[p.SecretID]; ok {
		got := r.Header.Get("X-TC-Token")
		if got == "" {
			return errf(codeAuthTokenFailure, "the SecretId is a temporary key: the header X-TC-Token with its session token is required")
		}
		if !hmac.Equal([]byte(got), []byte(tok)) {
			return errf(codeAuthTokenFailure, "the X-TC-Token does not match the session token of the SecretId")
		}
	}
	return nil
}
