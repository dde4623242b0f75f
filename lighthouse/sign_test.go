package lighthouse

import "testing"

// TestSignatureVector checks the reference test vector, which an independent
// implementation and the official SDK agree on byte for byte.
func TestSignatureVector(t *testing.T) {
	in := SignInput{
		Service:     Service,
		Host:        "lighthouse.tencentcloudapi.com",
		ContentType: "application/json",
		Timestamp:   1700000000,
		Body:        []byte(`{"Limit":1}`),
	}
	if got, want := in.credentialScope(), "2023-11-14/lighthouse/tc3_request"; got != want {
		t.Fatalf("scope = %q, want %q", got, want)
	}
	const want = "4eca928e2d952051940527baa66d5da2a1bd2cf249ffcb10c412fe0662e72502"
	if got := Signature("SECRETEXAMPLE", in); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	auth := Authorization("AKIDEXAMPLE", "SECRETEXAMPLE", in)
	p, err := ParseAuthorization(auth)
	if err != nil {
		t.Fatal(err)
	}
	if p.SecretID != "AKIDEXAMPLE" || p.Signature != want || p.SignedHeaders != "content-type;host" || p.CredentialScope != "2023-11-14/lighthouse/tc3_request" {
		t.Fatalf("parsed %+v", p)
	}
}
