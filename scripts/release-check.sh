#!/usr/bin/env bash
# Builds a snapshot release with GoReleaser (.goreleaser.yaml; nothing is
# published) and checks what a user gets:
#   - every archive holds exactly the expected files, and checksums.txt
#     matches every artifact;
#   - the .deb holds the expected files; installed with dpkg -i, its
#     /usr/bin/lightkeeper prints the stamped version and commit, its unit
#     passes systemd-analyze verify, /etc/lightkeeper/config.yaml is a
#     conffile, nothing is enabled; dpkg --purge then leaves nothing behind;
#   - the .rpm holds the same files (listed with rpm where it is installed);
#   - each image (OCI archive) is for its platform, runs as a numeric
#     non-root user with /usr/bin/lightkeeper as entrypoint and holds the
#     very binary of the archive (tools/ociimage verify).
# .ci/run calls it. Installing needs root and dpkg: without them that part
# is skipped, saying so. It refuses to run where a lightkeeper package is
# already installed. Run from anywhere in a clone.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
	echo "release-check: FAIL: $*" >&2
	exit 1
}

# GoReleaser reads the commit, its date and the remote from git. A clone
# without a remote (CI's may have none) would leave them all unset: give
# git a remote URL for this process only, through the environment.
if [ -z "$(git remote)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/lightkeeper/lightkeeper.git
fi
commit=$(git rev-parse HEAD)

# GoReleaser, built from tools/goreleaser/go.mod (cached by the go command).
goreleaser=$(go -C tools/goreleaser tool -n goreleaser)
[ -x "$goreleaser" ] || fail "go -C tools/goreleaser tool -n goreleaser gave no executable ($goreleaser)"

echo "== goreleaser release --snapshot --clean"
start=$(date +%s)
log=$(mktemp)
if ! "$goreleaser" release --snapshot --clean >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	fail "goreleaser release --snapshot --clean"
fi
grep -E '^\s+• [0-9.]+[KM]iB ' "$log" || true # the size report
rm -f "$log"
echo "release-check: snapshot release took $(($(date +%s) - start)) s"

version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
[ -n "$version" ] || fail "no version in dist/metadata.json"
echo "release-check: version $version, commit $commit"

echo "== checksums"
(cd dist && sha256sum --quiet -c checksums.txt) || fail "checksums.txt does not match the artifacts"
for pattern in '*.tar.gz' '*.deb' '*.rpm' '*.oci.tar'; do
	for f in dist/$pattern; do
		[ -e "$f" ] || fail "no dist/$pattern"
		grep -q "  ${f#dist/}\$" dist/checksums.txt || fail "checksums.txt does not list ${f#dist/}"
	done
done

echo "== archives"
for platform in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64; do
	name=lightkeeper_${version}_$platform
	archive=dist/$name.tar.gz
	[ -f "$archive" ] || fail "no $archive"
	want=$(printf "$name/%s\n" LICENSE README.md lightkeeper systemd/lightkeeper.service examples/daemon/config.yaml \
		completions/lightkeeper.bash completions/_lightkeeper completions/lightkeeper.fish man/lightkeeper.1.gz | sort)
	got=$(tar -tzf "$archive" | grep -v '/$' | sort)
	[ "$got" = "$want" ] || fail "$archive holds:
$got
want:
$want"
	echo "release-check: $archive: $(stat -c %s "$archive") bytes, the $(wc -l <<<"$want") expected files"
done

# What the packages install, besides directories.
pkgfiles="/etc/lightkeeper/config.yaml
/usr/bin/lightkeeper
/usr/lib/systemd/system/lightkeeper.service
/usr/share/bash-completion/completions/lightkeeper
/usr/share/doc/lightkeeper/LICENSE
/usr/share/doc/lightkeeper/README.md
/usr/share/fish/vendor_completions.d/lightkeeper.fish
/usr/share/man/man1/lightkeeper.1.gz"
debfiles=$(printf '%s\n/usr/share/zsh/vendor-completions/_lightkeeper\n' "$pkgfiles" | sort)
rpmfiles=$(printf '%s\n/usr/share/zsh/site-functions/_lightkeeper\n' "$pkgfiles" | sort)

echo "== packages"
for f in dist/*.deb; do
	command -v dpkg-deb >/dev/null 2>&1 || {
		echo "release-check: SKIP: dpkg-deb is not installed; the .deb files were not opened"
		break
	}
	got=$(dpkg-deb -c "$f" | awk '$1 !~ /^d/ {print substr($6, 2)}' | sort)
	[ "$got" = "$debfiles" ] || fail "$f holds:
$got
want:
$debfiles"
	[ "$(dpkg-deb -f "$f" Package)" = lightkeeper ] || fail "$f: the package is not named lightkeeper"
	[ "$(dpkg-deb -I "$f" conffiles)" = /etc/lightkeeper/config.yaml ] || fail "$f: conffiles is not /etc/lightkeeper/config.yaml"
	# The maintainer scripts may reload systemd, restart a running service
	# on upgrade and stop it on removal; never enable or start it.
	scripts=$(dpkg-deb -I "$f" postinst prerm postrm)
	if grep -E '^[^#]*systemctl[^#]*[[:space:]](enable|start|restart|reenable|preset)([[:space:]]|$)' <<<"$scripts" | grep -q .; then
		fail "$f: a maintainer script enables or starts the service"
	fi
	echo "release-check: $f: $(stat -c %s "$f") bytes, the expected files"
done
for f in dist/*.rpm; do
	if ! command -v rpm >/dev/null 2>&1; then
		echo "release-check: SKIP: rpm is not installed; the .rpm files were built but not opened"
		break
	fi
	got=$(rpm -qlp --nosignature "$f" 2>/dev/null | sort)
	got=$(comm -12 <(echo "$got") <(echo "$rpmfiles"))
	[ "$got" = "$rpmfiles" ] || fail "$f lacks files: $(comm -13 <(echo "$got") <(echo "$rpmfiles"))"
	echo "release-check: $f: $(stat -c %s "$f") bytes, the expected files"
done

echo "== images"
for arch in amd64 arm64; do
	image=dist/lightkeeper_${version}_linux_$arch.oci.tar
	binary=$(mktemp)
	tar -xzOf "dist/lightkeeper_${version}_linux_$arch.tar.gz" "lightkeeper_${version}_linux_$arch/lightkeeper" >"$binary"
	.release/bin/ociimage verify --image "$image" --arch "$arch" --binary "$binary" || fail "$image"
	rm -f "$binary"
done

echo "== install the .deb"
if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null 2>&1; then
	echo "release-check: SKIP: installing needs root and dpkg; the .deb was checked but not installed"
	exit 0
fi
arch=$(dpkg --print-architecture)
deb=$(ls dist/lightkeeper_*_"$arch".deb 2>/dev/null) || {
	echo "release-check: SKIP: no .deb for this machine's architecture ($arch)"
	exit 0
}
if dpkg-query -W -f '${Status}' lightkeeper 2>/dev/null | grep -q installed; then
	fail "a lightkeeper package is already installed here; remove it first (dpkg --purge lightkeeper)"
fi
for f in $debfiles; do
	[ ! -e "$f" ] || fail "$f exists already; this check would replace it"
done
trap 'dpkg --purge lightkeeper >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
out=$(/usr/bin/lightkeeper version)
echo "release-check: /usr/bin/lightkeeper version: $out"
case "$out" in
"lightkeeper $version (commit $commit, "*) ;;
*) fail "lightkeeper version printed \"$out\", want the version $version and the commit $commit" ;;
esac
# A minimized system (a container image) may tell dpkg to leave out some
# paths, such as /usr/share/man: those are not expected to be installed.
excluded() {
	local pattern
	while read -r pattern; do
		# shellcheck disable=SC2053 # the pattern is a glob
		[[ -n $pattern && $1 == $pattern ]] && return 0
	done < <(sed -n 's/^path-exclude[= ]//p' /etc/dpkg/dpkg.cfg.d/* 2>/dev/null)
	return 1
}
for f in $debfiles; do
	[ -f "$f" ] || excluded "$f" || fail "dpkg -i did not install $f"
done
[ "$(stat -c %a /etc/lightkeeper/config.yaml)" = 644 ] || fail "/etc/lightkeeper/config.yaml is not mode 644"
dpkg-query -W -f '${Conffiles}' lightkeeper | grep -q '^ /etc/lightkeeper/config.yaml ' || fail "/etc/lightkeeper/config.yaml is not a conffile"
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify /usr/lib/systemd/system/lightkeeper.service 2>&1) || fail "systemd-analyze verify: $out"
	if grep -q lightkeeper.service <<<"$out"; then
		fail "systemd-analyze verify warns: $out"
	fi
	echo "release-check: systemd-analyze verify /usr/lib/systemd/system/lightkeeper.service: ok"
else
	echo "release-check: SKIP: systemd-analyze is not installed; the installed unit was not verified"
fi
if ls /etc/systemd/system/*.wants/lightkeeper.service >/dev/null 2>&1; then
	fail "installing the package enabled the service"
fi
if command -v systemctl >/dev/null 2>&1; then
	state=$(systemctl is-enabled lightkeeper.service 2>/dev/null) || true
	[ "$state" = disabled ] || fail "systemctl is-enabled lightkeeper.service: \"$state\", want disabled"
fi
out=$(bash -c 'source /usr/share/bash-completion/completions/lightkeeper; COMP_WORDS=(lightkeeper rec); COMP_CWORD=1; _lightkeeper; echo "${COMPREPLY[*]}"')
[ "$out" = reconcile ] || fail "the installed bash completion completes 'lightkeeper rec' to \"$out\""
if command -v man >/dev/null 2>&1 && ! excluded /usr/share/man/man1/lightkeeper.1.gz; then
	man -l /usr/share/man/man1/lightkeeper.1.gz 2>/dev/null | grep -q -- '--max-creates' || fail "man -l /usr/share/man/man1/lightkeeper.1.gz shows no --max-creates"
fi

echo "== purge the .deb"
dpkg --purge lightkeeper >/dev/null || fail "dpkg --purge lightkeeper"
trap - EXIT
for f in $debfiles /etc/lightkeeper /usr/share/doc/lightkeeper; do
	[ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
! dpkg-query -W lightkeeper >/dev/null 2>&1 || fail "dpkg still knows the package after --purge"
echo "release-check: installed, checked and purged $deb: ok"
