#!/usr/bin/env bash
# Makes, into .release/, what the release packs besides the binaries: the
# shell completions and the man page, printed by the binary itself from each
# command's help (lightkeeper completion, lightkeeper man), and the image
# tool (tools/ociimage) that the Linux builds' post hook runs.
# .goreleaser.yaml runs it as a before hook; it needs only Go.
#   scripts/release-assets.sh [VERSION]   # VERSION goes on the man page
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-}
out=.release
rm -rf "$out"
mkdir -p "$out/bin" "$out/completions" "$out/man"
# The flags of the release builds, so the packages compiled here are reused.
CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$out/bin/lightkeeper" ./cmd/lightkeeper
go build -C tools/ociimage -trimpath -o "$PWD/$out/bin/ociimage" .
lk=$out/bin/lightkeeper
"$lk" completion bash >"$out/completions/lightkeeper.bash"
"$lk" completion zsh >"$out/completions/_lightkeeper"
"$lk" completion fish >"$out/completions/lightkeeper.fish"
"$lk" man | gzip -9n >"$out/man/lightkeeper.1.gz"
