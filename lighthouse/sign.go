package lighthouse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Service and Version identify the Lighthouse API on the wire.
const (
	Service = "lighthouse"
	Version = "2020-03-24"
)

// SignAlgorithm is the only signature algorithm lightkeeper speaks.
const SignAlgorithm = "TC3-HMAC-SHA256"

// SignInput is everything a TC3-HMAC-SHA256 signature covers. The client
// fills it to sign a request; the emulator fills it to verify one.
type SignInput struct {
	Service     string // "lighthouse"
	Host        string // the Host header, e.g. "lighthouse.tencentcloudapi.com"
	ContentType string // "application/json"
	Timestamp   int64  // X-TC-Timestamp, unix seconds
	Body        []byte // the exact request body
}

// credentialScope is "<UTC date>/<service>/tc3_request".
func (in SignInput) credentialScope() string {
	return time.Unix(in.Timestamp, 0).UTC().Format("2006-01-02") + "/" + in.Service + "/tc3_request"
}

// Signature returns the lowercase hex TC3-HMAC-SHA256 signature of in under
// secretKey, as the official SDK computes it (POST, path "/", empty query,
// signed headers content-type and host).
func Signature(secretKey string, in SignInput) string {
	bodyHash := sha256.Sum256(in.Body)
	canonical := strings.Join([]string{
		"POST",
		"/",
		"",
		"content-type:" + in.ContentType + "\nhost:" + in.Host + "\n",
		"content-type;host",
		hex.EncodeToString(bodyHash[:]),
	}, "\n")
	canonicalHash := sha256.Sum256([]byte(canonical))
	scope := in.credentialScope()
	stringToSign := SignAlgorithm + "\n" + fmt.Sprint(in.Timestamp) + "\n" + scope + "\n" + hex.EncodeToString(canonicalHash[:])

	date := scope[:len("2006-01-02")]
	kDate := hmacSHA256([]byte("TC3"+secretKey), date)
	kService := hmacSHA256(kDate, in.Service)
	kSigning := hmacSHA256(kService, "tc3_request")
	return hex.EncodeToString(hmacSHA256(kSigning, stringToSign))
}

// Authorization returns the value of the Authorization header for in.
func Authorization(secretID, secretKey string, in SignInput) string {
	return SignAlgorithm + " Credential=" + secretID + "/" + in.credentialScope() +
		", SignedHeaders=content-type;host, Signature=" + Signature(secretKey, in)
}

// ParsedAuthorization is an Authorization header taken apart.
type ParsedAuthorization struct {
	SecretID        string
	CredentialScope string // "<date>/<service>/tc3_request"
	SignedHeaders   string
	Signature       string
}

// ParseAuthorization splits a TC3-HMAC-SHA256 Authorization header. It
// checks the shape only; the emulator recomputes the signature to verify it.
func ParseAuthorization(h string) (ParsedAuthorization, error) {
	var p ParsedAuthorization
	rest, ok := strings.CutPrefix(h, SignAlgorithm+" ")
	if !ok {
		return p, fmt.Errorf("authorization header does not start with %q", SignAlgorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return p, fmt.Errorf("authorization header: malformed part %q", part)
		}
		switch k {
		case "Credential":
			id, scope, ok := strings.Cut(v, "/")
			if !ok {
				return p, fmt.Errorf("authorization header: malformed Credential")
			}
			p.SecretID, p.CredentialScope = id, scope
		case "SignedHeaders":
			p.SignedHeaders = v
		case "Signature":
			p.Signature = v
		}
	}
	if p.SecretID == "" || p.CredentialScope == "" || p.SignedHeaders == "" || p.Signature == "" {
		return p, fmt.Errorf("authorization header: missing Credential, SignedHeaders or Signature")
	}
	return p, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
