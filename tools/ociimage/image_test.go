package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildImage builds an image of a stand-in binary and returns the archive
// and the binary.
func buildImage(t *testing.T, arch string) (archive, binary string) {
	t.Helper()
	dir := t.TempDir()
	binary = filepath.Join(dir, "lightkeeper")
	if err := os.WriteFile(binary, []byte("#!/bin/true\nnot really lightkeeper\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	license := filepath.Join(dir, "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(dir, "image.tar")
	var out, errOut bytes.Buffer
	code := run([]string{"build", "--binary", binary, "--arch", arch, "--version", "1.2.3", "--revision", "0123abcd",
		"--created", "2026-11-30T09:12:44Z", "--license", license, "--output", archive}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("build: exit %d: %s", code, errOut.String())
	}
	return archive, binary
}

func TestBuildThenVerify(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		archive, binary := buildImage(t, arch)
		var out, errOut bytes.Buffer
		if code := run([]string{"verify", "--image", archive, "--arch", arch, "--binary", binary}, &out, &errOut); code != exitOK {
			t.Fatalf("verify %s: exit %d: %s", arch, code, errOut.String())
		}
		for _, want := range []string{
			"linux/" + arch + ", tag 1.2.3",
			`"User": "65532:65532"`,
			`"Entrypoint": [` + "\n" + `    "/usr/bin/lightkeeper"`,
			`"org.opencontainers.image.revision": "0123abcd"`,
			"-rwxr-xr-x     0:0     ",
			"/usr/bin/lightkeeper\n",
			"drwx------ 65532:65532         0 /var/lib/lightkeeper\n",
			"/etc/ssl/certs/ca-certificates.crt\n",
			"/usr/share/doc/lightkeeper/LICENSE\n",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("verify %s printed no %q:\n%s", arch, want, out.String())
			}
		}
	}
}

// The same inputs make the same archive, byte for byte.
func TestBuildIsReproducible(t *testing.T) {
	a, _ := buildImage(t, "amd64")
	b, _ := buildImage(t, "amd64")
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Errorf("two builds of the same inputs differ (%d and %d bytes)", len(da), len(db))
	}
}

func TestVerifyRefuses(t *testing.T) {
	archive, _ := buildImage(t, "amd64")
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("another binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	notImage := filepath.Join(t.TempDir(), "empty.tar")
	if err := os.WriteFile(notImage, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", archive, "--arch", "arm64"}, "want linux/arm64"},
		{[]string{"--image", archive, "--arch", "amd64", "--binary", other}, "/usr/bin/lightkeeper is not " + other},
		{[]string{"--image", notImage, "--arch", "amd64"}, "is not an OCI image layout"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"verify"}, tc.args...), &out, &errOut)
		if code != exitError || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("verify %q: exit %d, stderr %q; want 1 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

func TestCaBundle(t *testing.T) {
	pem := string(caBundle())
	if n := strings.Count(pem, "-----BEGIN CERTIFICATE-----"); n < 100 {
		t.Errorf("the CA bundle holds %d certificates, want the Mozilla store's 100 and more", n)
	}
}
