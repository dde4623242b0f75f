#!/usr/bin/env bash
# Checks systemd/lightkeeper.service with systemd-analyze: `verify` must
# pass, and the offline security exposure must be at most MAX_EXPOSURE
# (default 2.0). Skips, saying so, where systemd-analyze is not installed
# (apt-get install systemd). Run from anywhere; .ci/run calls it.
# Arguments are drop-in files (e.g. examples/ha/ha.conf): the unit is
# checked with them applied, in order, as systemd would.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
unit="$here/lightkeeper.service"
max="${MAX_EXPOSURE:-2.0}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd/check.sh: SKIP: systemd-analyze is not installed (apt-get install systemd); the unit was not checked"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify wants every Exec binary to exist: check a copy whose ExecStart runs
# /bin/true, everything else unchanged.
sed -E 's#^ExecStart=/usr/bin/lightkeeper( |$)#ExecStart=/bin/true #' "$unit" >"$tmp/lightkeeper.service"
if ! grep -q '^ExecStart=/bin/true' "$tmp/lightkeeper.service"; then
	echo "systemd/check.sh: FAIL: ExecStart no longer starts with /usr/bin/lightkeeper (where the packages install it); update this script and .goreleaser.yaml" >&2
	exit 1
fi
# A drop-in's sections add to the unit's, as sections repeated in one file do.
for dropin in "$@"; do
	if grep -q '^ExecStart=' "$dropin"; then
		echo "systemd/check.sh: FAIL: $dropin sets ExecStart=; this script checks drop-ins that keep the unit's" >&2
		exit 1
	fi
	{ echo; cat "$dropin"; } >>"$tmp/lightkeeper.service"
	echo "systemd/check.sh: with the drop-in $dropin"
done

out=$(systemd-analyze verify "$tmp/lightkeeper.service" 2>&1) || {
	echo "$out" >&2
	echo "systemd/check.sh: FAIL: systemd-analyze verify" >&2
	exit 1
}
# verify also warns (exit 0) about mistakes in the unit: any line naming it fails.
if grep -q 'lightkeeper.service' <<<"$out"; then
	echo "$out" >&2
	echo "systemd/check.sh: FAIL: systemd-analyze verify warns about the unit" >&2
	exit 1
fi
echo "systemd/check.sh: systemd-analyze verify: ok"

report=$(systemd-analyze security --offline=yes "$tmp/lightkeeper.service" 2>&1) || {
	echo "$report" >&2
	echo "systemd/check.sh: FAIL: systemd-analyze security" >&2
	exit 1
}
score=$(grep -oE 'exposure level for [^:]+: [0-9]+(\.[0-9]+)?' <<<"$report" | awk '{print $NF}')
if [ -z "$score" ]; then
	echo "$report" >&2
	echo "systemd/check.sh: FAIL: no exposure level in the report" >&2
	exit 1
fi
if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
	grep -E '^✗' <<<"$report" >&2 || true
	echo "systemd/check.sh: FAIL: exposure $score is above $max" >&2
	exit 1
fi
echo "systemd/check.sh: systemd-analyze security --offline=yes: exposure $score (at most $max): ok"
