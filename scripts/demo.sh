#!/bin/sh
# The main job on a fresh machine, no Tencent Cloud account needed: plan the
# example fleets, apply them, and plan again to see nothing left to do. The
# cloud is an emulator inside lightkeeper (--emulator FILE), its instances
# kept in ${LK_DEMO_STATE:-${TMPDIR:-/tmp}/lk-demo-script.json}: a file of
# its own (removed first, so each demo starts empty), not the README's
# /tmp/lk-demo.json, so the README's next block still starts from nothing.
# Each step prints the command it runs, whole: copied into a shell (with
# lightkeeper on PATH), it does the same. Exit status 0 when all three
# steps give the expected codes.
#
# It builds lightkeeper from this clone, unless LIGHTKEEPER names a binary
# to run instead (LIGHTKEEPER=/usr/bin/lightkeeper: the one a package
# installed).
set -u
cd "$(dirname "$0")/.."
state=${LK_DEMO_STATE:-${TMPDIR:-/tmp}/lk-demo-script.json}
rm -f "$state"
# The Windows example fleet (batch) logs in with a password read from here.
export BATCH_PASSWORD="${BATCH_PASSWORD:-Demo-Passw0rd-2026!}"
bin=${LIGHTKEEPER:-}
if [ -z "$bin" ]; then
	bin="${TMPDIR:-/tmp}/lightkeeper-demo-$$"
	trap 'rm -f "$bin"' EXIT
	go build -o "$bin" ./cmd/lightkeeper || exit 1
fi

# step COMMENT ARGS...: print "$ lightkeeper ARGS   # COMMENT", run it.
step() {
	comment=$1
	shift
	printf '$ lightkeeper %s   # %s\n' "$*" "$comment"
	"$bin" "$@"
}

printf "\$ export BATCH_PASSWORD='%s'   # the Windows fleet's login password\n" "$BATCH_PASSWORD"
step 'what would be bought' reconcile --plan --emulator "$state" examples/fleets
plan1=$?
echo "(exit $plan1: 2 = changes pending)"; echo
step 'buy it, wait for RUNNING' reconcile --wait=2m --emulator "$state" examples/fleets
apply=$?
echo "(exit $apply: 0 = done)"; echo
step 'nothing left to do' reconcile --plan --emulator "$state" examples/fleets
plan2=$?
echo "(exit $plan2: 0 = no changes)"
[ "$plan1" -eq 2 ] && [ "$apply" -eq 0 ] && [ "$plan2" -eq 0 ]
