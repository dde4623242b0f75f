#!/bin/sh
# The main job on a fresh machine, no Tencent Cloud account needed: plan the
# example fleets, apply them, and plan again to see nothing left to do. The
# cloud is an emulator inside lightkeeper, its instances kept in
# ${LK_DEMO_STATE:-/tmp/lk-demo.json} (removed first, so each demo starts
# empty). Exit status 0 when all three steps give the expected codes.
set -u
cd "$(dirname "$0")/.."
state=${LK_DEMO_STATE:-/tmp/lk-demo.json}
rm -f "$state"
# The Windows example fleet (batch) logs in with a password read from here.
export BATCH_PASSWORD="${BATCH_PASSWORD:-Demo-Passw0rd-2026!}"
bin="${TMPDIR:-/tmp}/lightkeeper-demo-$$"
trap 'rm -f "$bin"' EXIT
go build -o "$bin" ./cmd/lightkeeper || exit 1
lk() { "$bin" reconcile --emulator "$state" "$@" examples/fleets; }

echo '$ lightkeeper reconcile --plan examples/fleets        # what would be bought'
lk --plan; plan1=$?
echo "(exit $plan1: 2 = changes pending)"; echo
echo '$ lightkeeper reconcile --wait examples/fleets        # buy it, wait for RUNNING'
lk --wait=2m; apply=$?
echo "(exit $apply: 0 = done)"; echo
echo '$ lightkeeper reconcile --plan examples/fleets        # nothing left to do'
lk --plan; plan2=$?
echo "(exit $plan2: 0 = no changes)"
[ "$plan1" -eq 2 ] && [ "$apply" -eq 0 ] && [ "$plan2" -eq 0 ]
