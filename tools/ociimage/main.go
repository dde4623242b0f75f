// Command ociimage writes lightkeeper's container image for one platform as
// an OCI image layout packed in a tar file (an "oci-archive"), and checks
// such a file. It needs no Docker daemon, no registry and no network: the
// image has no base, only the files lightkeeper needs (the binary, CA
// certificates from golang.org/x/crypto/x509roots/fallback, a passwd entry
// for the non-root user it runs as, its state directory).
//
// The release (.goreleaser.yaml) runs `ociimage build` after each Linux
// build; scripts/release-check.sh runs `ociimage verify` on the result.
//
//	ociimage build --binary FILE --arch amd64|arm64 --version V --revision SHA --created RFC3339 [--license FILE] --output FILE.tar
//	ociimage verify --image FILE.tar --arch amd64|arm64 [--binary FILE]
//
// Load it with `podman load -i FILE.tar`, `skopeo copy oci-archive:FILE.tar
// docker://REGISTRY/lightkeeper:V`, or `docker load -i FILE.tar` (Docker 25
// or later reads OCI archives).
//
// It is its own module so that go-containerregistry stays out of the
// lightkeeper binary's dependencies.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes, as lightkeeper's.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 64
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: ociimage build|verify [flags]; ociimage build --help for the flags")
		return exitUsage
	}
	fs := flag.NewFlagSet("ociimage "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	switch args[0] {
	case "build":
		var o buildOptions
		fs.StringVar(&o.binary, "binary", "", "the lightkeeper binary (linux, the --arch given)")
		fs.StringVar(&o.arch, "arch", "", "the platform's architecture: amd64 or arm64")
		fs.StringVar(&o.version, "version", "", "the version (label org.opencontainers.image.version and the image name's tag)")
		fs.StringVar(&o.revision, "revision", "", "the commit (label org.opencontainers.image.revision)")
		fs.StringVar(&o.created, "created", "", "the image's creation time, RFC 3339 (the commit's, for reproducible images)")
		fs.StringVar(&o.license, "license", "", "a LICENSE file to put at /usr/share/doc/lightkeeper/LICENSE (optional)")
		fs.StringVar(&o.output, "output", "", "the oci-archive `file` to write")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		if fs.NArg() > 0 || o.binary == "" || o.arch == "" || o.version == "" || o.output == "" {
			fmt.Fprintln(stderr, "ociimage build: --binary, --arch, --version and --output are required, and nothing else")
			return exitUsage
		}
		err = build(o)
		if err == nil {
			fmt.Fprintf(stdout, "ociimage: wrote %s\n", o.output)
		}
	case "verify":
		var o verifyOptions
		fs.StringVar(&o.image, "image", "", "the oci-archive `file` to check")
		fs.StringVar(&o.arch, "arch", "", "the architecture it must be for: amd64 or arm64")
		fs.StringVar(&o.binary, "binary", "", "the binary /usr/bin/lightkeeper must be, byte for byte (optional)")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		if fs.NArg() > 0 || o.image == "" || o.arch == "" {
			fmt.Fprintln(stderr, "ociimage verify: --image and --arch are required, and nothing else")
			return exitUsage
		}
		err = verify(o, stdout)
	default:
		fmt.Fprintf(stderr, "ociimage: unknown command %q; want build or verify\n", args[0])
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "ociimage %s: %v\n", args[0], err)
		return exitError
	}
	return exitOK
}
