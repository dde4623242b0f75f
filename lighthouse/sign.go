package lighthouse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
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
	var sum [sha256.Size]byte
	var hexSum [2 * sha256.Size]byte

	// CanonicalRequest, hashed as it is written.
	bodyHash := sha256.Sum256(in.Body)
	hex.Encode(hexSum[:], bodyHash[:])
	buf := make([]byte, 0, 160+len(in.ContentType)+len(in.Host))
	buf = append(buf, "POST\n/\n\ncontent-type:"...)
	buf = append(buf, in.ContentType...)
	buf = append(buf, "\nhost:"...)
	buf = append(buf, in.Host...)
	buf = append(buf, "\n\ncontent-type;host\n"...)
	buf = append(buf, hexSum[:]...)
	sum = sha256.Sum256(buf)
	hex.Encode(hexSum[:], sum[:])

	// StringToSign, reusing buf.
	date := time.Unix(in.Timestamp, 0).UTC().Format("2006-01-02")
	buf = append(buf[:0], SignAlgorithm+"\n"...)
	buf = strconv.AppendInt(buf, in.Timestamp, 10)
	buf = append(buf, '\n')
	buf = append(buf, date...)
	buf = append(buf, '/')
	buf = append(buf, in.Service...)
	buf = append(buf, "/tc3_request\n"...)
	buf = append(buf, hexSum[:]...)

	kDate := hmacSHA256([]byte("TC3"+secretKey), date)
	kService := hmacSHA256(kDate, in.Service)
	kSigning := hmacSHA256(kService, "tc3_request")
	m := hmac.New(sha256.New, kSigning)
	m.Write(buf)
	return hex.EncodeToString(m.Sum(sum[:0]))
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
