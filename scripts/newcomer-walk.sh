#!/usr/bin/env bash
# A newcomer's first hour, as a script, timed step by step:
#   1. a fresh clone of this commit;
#   2. the snapshot packages: those scripts/release-check.sh left in dist/
#      when they are of this commit (CI runs it just before: nothing is
#      built twice), else a GoReleaser snapshot built in the clone;
#   3. the .deb installed with dpkg -i;
#   4. scripts/daemon-demo.sh (from the clone) run with the installed
#      /usr/bin/lightkeeper: the example fleets, the emulator, the daemon;
#   5. a count change pushed (git push) to the repository the daemon follows;
#   6. the change seen on the status page, a fleet's page, /status and
#      /metrics;
#   7. the demo stopped and the package purged, nothing left behind.
# .ci/run calls it after release-check.sh. Installing needs root and dpkg:
# without them it says SKIP and walks with the binary of the linux archive
# instead (4 to 6), as a newcomer without root would. It refuses to run
# where a lightkeeper package is already installed. Needs git and curl.
# Run from anywhere in a clone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
commit=$(git rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/lk-newcomer.XXXXXX")
demo_pid= installed=
t0=$(date +%s.%N)
mark= names=() times=()

fail() {
	echo "newcomer-walk: FAIL: $*" >&2
	[ -f "$work/demo.out" ] && { echo "--- the end of the demo's output" >&2; tail -n 20 "$work/demo.out" >&2; }
	[ -f "$work/demo/daemon.log" ] && { echo "--- the end of the daemon's log" >&2; tail -n 20 "$work/demo/daemon.log" >&2; }
	exit 1
}
cleanup() {
	if [ -n "$demo_pid" ]; then
		kill "$demo_pid" 2>/dev/null || true
		wait "$demo_pid" 2>/dev/null || true
	fi
	if [ -n "$installed" ]; then
		dpkg --purge lightkeeper >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# finish times the step that ran, if any.
finish() {
	local now
	now=$(date +%s.%N)
	[ -z "$mark" ] || times+=("$(awk -v a="$mark" -v b="$now" 'BEGIN { printf "%.1f", b - a }')")
	mark=$now
}

# walk NAME: the next step.
walk() {
	finish
	names+=("$1")
	echo "== $1"
}

for tool in git curl; do
	command -v $tool >/dev/null 2>&1 || fail "$tool is needed"
done

walk "clone"
git clone --quiet --no-hardlinks "$root" "$work/lightkeeper" || fail "git clone $root"
if ! git -C "$work/lightkeeper" cat-file -e "$commit^{commit}" 2>/dev/null; then
	# A detached HEAD that no branch holds: bring the commit over.
	git -C "$root" push --quiet "$work/lightkeeper" "$commit:refs/heads/newcomer-walk" || fail "cannot bring $commit into the clone"
fi
git -C "$work/lightkeeper" checkout --quiet --detach "$commit" || fail "git checkout $commit"
clone=$work/lightkeeper
echo "newcomer-walk: $clone at $commit"

walk "packages"
arch=$(dpkg --print-architecture 2>/dev/null || go env GOARCH)
dist=
if [ -f dist/metadata.json ] && grep -q "\"commit\":\"$commit\"" dist/metadata.json && ls dist/lightkeeper_*_"$arch".deb >/dev/null 2>&1; then
	dist=$root/dist
	echo "newcomer-walk: reusing the snapshot release-check.sh built of this commit, $dist"
else
	echo "newcomer-walk: no snapshot of $commit in dist/: goreleaser release --snapshot --clean in the clone"
	goreleaser=$(go -C "$clone/tools/goreleaser" tool -n goreleaser) || fail "cannot build goreleaser"
	if [ -z "$(git -C "$clone" remote)" ]; then
		export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/lightkeeper/lightkeeper.git
	fi
	(cd "$clone" && "$goreleaser" release --snapshot --clean >"$work/goreleaser.log" 2>&1) || {
		tail -n 30 "$work/goreleaser.log" >&2
		fail "goreleaser release --snapshot --clean"
	}
	dist=$clone/dist
fi
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
deb=$(ls "$dist"/lightkeeper_*_"$arch".deb 2>/dev/null | head -n 1)

walk "install"
if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null 2>&1 && [ -n "$deb" ]; then
	if dpkg-query -W -f '${Status}' lightkeeper 2>/dev/null | grep -q installed; then
		fail "a lightkeeper package is already installed here; remove it first (dpkg --purge lightkeeper)"
	fi
	[ ! -e /usr/bin/lightkeeper ] || fail "/usr/bin/lightkeeper exists already; this walk would replace it"
	echo "\$ dpkg -i $(basename "$deb")"
	installed=1
	dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
	lk=/usr/bin/lightkeeper
else
	echo "newcomer-walk: SKIP: installing needs root, dpkg and a .deb for $arch; walking with the binary of the linux archive"
	goarch=$(go env GOARCH)
	tar -xzf "$dist/lightkeeper_${version}_linux_$goarch.tar.gz" -C "$work" || fail "cannot unpack the linux archive"
	lk=$work/lightkeeper_${version}_linux_$goarch/lightkeeper
fi
out=$("$lk" version) || fail "$lk version"
echo "\$ lightkeeper version"
echo "$out"
case "$out" in
"lightkeeper $version (commit $commit, "*) ;;
*) fail "lightkeeper version printed \"$out\", want $version and commit $commit" ;;
esac

walk "daemon demo"
# Free ports for the emulator and the daemon: none answers there now.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}
api_port=$(free_port 19100)
listen_port=$(free_port $((api_port + 1)))
[ "$listen_port" != "$api_port" ] || listen_port=$((api_port + 1))
listen=127.0.0.1:$listen_port
echo "\$ LIGHTKEEPER=$lk scripts/daemon-demo.sh"
LIGHTKEEPER=$lk LK_DEMO_STAY=1 LK_DEMO_DIR="$work/demo" LK_DEMO_API="127.0.0.1:$api_port" LK_DEMO_LISTEN="$listen" \
	sh "$clone/scripts/daemon-demo.sh" </dev/null >"$work/demo.out" 2>&1 &
demo_pid=$!
for _ in $(seq 240); do
	grep -q "keep running" "$work/demo.out" && break
	kill -0 "$demo_pid" 2>/dev/null || fail "scripts/daemon-demo.sh exited"
	sleep 0.5
done
grep -q "keep running" "$work/demo.out" || fail "scripts/daemon-demo.sh did not get to its count change in 2 minutes"
sed -n 's/^\(The status page: .*\)$/newcomer-walk: \1/p' "$work/demo.out"

walk "push a count change"
metric() { curl -fs "http://$listen/metrics" | sed -n "s/^$1 //p"; }
before=$(metric 'lightkeeper_creates_total{result="created"}')
git -C "$work/demo/fleets" config receive.denyCurrentBranch updateInstead
git clone --quiet "$work/demo/fleets" "$work/mine"
sed -i.orig 's/count: 1/count: 2/' "$work/mine/bastion.yml" && rm -f "$work/mine/bastion.yml.orig"
git -C "$work/mine" -c user.name=newcomer -c user.email=newcomer@localhost commit --quiet -am 'bastion: 2 instances'
echo "\$ git commit -am 'bastion: 2 instances' && git push"
git -C "$work/mine" push --quiet origin HEAD:main || fail "git push"
pushed=$(git -C "$work/mine" rev-parse HEAD)

walk "see it"
want=$((before + 1))
for _ in $(seq 120); do
	[ "$(metric 'lightkeeper_creates_total{result="created"}')" = "$want" ] && break
	sleep 0.5
done
[ "$(metric 'lightkeeper_creates_total{result="created"}')" = "$want" ] || fail "the daemon did not buy bastion's second instance in a minute"
metrics=$(curl -fs "http://$listen/metrics")
grep -qx 'lightkeeper_fleet_instances{fleet="bastion",state="desired"} 2' <<<"$metrics" || fail "/metrics does not have bastion at 2"
grep -qx 'lightkeeper_fleet_instances{fleet="bastion",state="live"} 2' <<<"$metrics" || fail "/metrics does not have 2 live bastion instances"
grep -q "^lightkeeper_revision_info{last_good=\"true\",revision=\"$pushed\"} 1" <<<"$metrics" || fail "/metrics does not reconcile the pushed commit ${pushed:0:12}"
echo "newcomer-walk: /metrics: lightkeeper_creates_total{result=\"created\"} $want, bastion desired 2 and live 2, revision ${pushed:0:12}"
page=$(curl -fs "http://$listen/")
grep -q "${pushed:0:12}</code> bastion: 2 instances" <<<"$page" || fail "the status page does not reconcile the pushed commit"
grep -q 'started by watch' <<<"$page" || fail "the status page shows no cycle started by the watch of the repository"
fleet=$(curl -fs "http://$listen/fleets/bastion")
grep -q '<td[^>]*>bastion-1</td>' <<<"$fleet" || fail "the page of bastion does not list bastion-1"
status=$(curl -fs "http://$listen/status/fleets/bastion")
grep -q '"desired": 2' <<<"$status" && grep -q '"name": "bastion-1"' <<<"$status" || fail "/status/fleets/bastion does not list bastion-1"
echo "newcomer-walk: the status page reconciles ${pushed:0:12}; /fleets/bastion and /status/fleets/bastion list bastion-1"

walk "stop and uninstall"
kill "$demo_pid"
wait "$demo_pid" 2>/dev/null || true
demo_pid=
if [ -n "$installed" ]; then
	echo "\$ dpkg --purge lightkeeper"
	dpkg --purge lightkeeper >/dev/null || fail "dpkg --purge lightkeeper"
	installed=
	for f in /usr/bin/lightkeeper /etc/lightkeeper /usr/lib/systemd/system/lightkeeper.service; do
		[ ! -e "$f" ] || fail "$f is left after dpkg --purge"
	done
fi
if pgrep -f "$lk (emulator|daemon)" >/dev/null 2>&1; then
	fail "the demo left a lightkeeper process running"
fi
finish

total=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
summary=
for i in "${!names[@]}"; do
	summary+="${summary:+, }${names[$i]} ${times[$i]} s"
done
echo "newcomer-walk: ok in $total s ($summary)"
