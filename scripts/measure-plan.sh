#!/usr/bin/env bash
# Measures a steady-state `lightkeeper reconcile --plan` as issue 21 asks:
# the built binary against `lightkeeper emulator`, two processes on
# loopback, over FLEETS fleets of PER_FLEET instances each, round robin over
# REGIONS regions (one bucket for all, as through one endpoint), every
# fleet at its count, so a run is one DescribeInstances sweep a region and
# no other call. It prints each run's wall time and peak resident memory,
# the medians, and the ratio to the rate bound: the sweeps' pages at the
# DescribeInstances limit, the first at once (burst 1), so (pages - 1) /
# limit seconds.
#
#   A. the documented limit, 100 DescribeInstances a second, enforced by
#      the emulator and kept by the client: 100 pages, a 0.99 s bound;
#   B. a higher limit, RATE_B a second (default 1000), kept by the client
#      (`--rate-limit DescribeInstances=RATE_B`) against an emulator without
#      limits: what the client's own work costs once the limit allows more.
#
# With BASE=REV (e.g. main) it also builds that revision and runs it beside
# this one, alternately, against the same emulator (a binary without
# --rate-limit keeps the documented 100/s in B: today's behaviour).
#
# Not run by CI: it checks nothing but the calls, and takes a minute or two.
# Usage: scripts/measure-plan.sh (from anywhere). Knobs: FLEETS=1000
# PER_FLEET=10 REGIONS=1 (at most 5) RUNS=8 RATE_B=1000 PARTS=AB
# TIME_LIMIT=900 KEEP=1 BASE=REV
# BIN=path (measure that binary instead of building one).
# Needs go, git, curl, awk, /usr/bin/time.
set -euo pipefail
if [ -z "${LK_MEASURE_TIMED:-}" ]; then
	LK_MEASURE_TIMED=1 exec timeout --foreground "${TIME_LIMIT:-900}" "$0" "$@"
fi
cd "$(dirname "$0")/.."

FLEETS=${FLEETS:-1000}
PER_FLEET=${PER_FLEET:-10}
RUNS=${RUNS:-8}
RATE_B=${RATE_B:-1000}
PARTS=${PARTS:-AB}
REGIONS=${REGIONS:-1}
TOTAL=$((FLEETS * PER_FLEET))
all_regions=(ap-guangzhou ap-shanghai ap-beijing ap-hongkong ap-singapore)
((REGIONS >= 1 && REGIONS <= ${#all_regions[@]})) || { echo "REGIONS: 1 to ${#all_regions[@]}" >&2; exit 64; }
PAGES=0
for r in $(seq 0 $((REGIONS - 1))); do
	n=$(((FLEETS - r + REGIONS - 1) / REGIONS * PER_FLEET)) # fleets r, r+REGIONS, ...
	PAGES=$((PAGES + (n + 99) / 100))
done

measure_name=measure-plan measure_tmp=lk-plan
# shellcheck source=scripts/measure-lib.sh
. scripts/measure-lib.sh

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "machine: $(nproc) CPUs ($cpu), $(uname -sr), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"
bin=${BIN:-$work/lightkeeper}
if [ -z "${BIN:-}" ]; then
	go build -o "$bin" ./cmd/lightkeeper || die "build failed"
fi
echo "binary: $bin, built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
bins=(this)
if [ -n "${BASE:-}" ]; then
	mkdir -p "$work/base-src"
	git archive "$BASE" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && go build -o "$work/lightkeeper-base" ./cmd/lightkeeper) || die "building $BASE failed"
	echo "base: $BASE at $(git rev-parse --short "$BASE")"
	bins+=(base)
fi
binary() { if [ "$1" = base ]; then echo "$work/lightkeeper-base"; else echo "$bin"; fi; }

export TENCENTCLOUD_SECRET_ID=AKIDmeasure TENCENTCLOUD_SECRET_KEY=measure-secret-key
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$work/.gitconfig
export GIT_AUTHOR_NAME=measure GIT_AUTHOR_EMAIL=measure@example.com GIT_COMMITTER_NAME=measure GIT_COMMITTER_EMAIL=measure@example.com
unset TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_SECURITY_TOKEN LIGHTKEEPER_ENDPOINT LIGHTKEEPER_SITE

# start_emulator NAME ARGS...: sets emu_pid and emu_url.
start_emulator() {
	local name=$1 port
	shift
	port=$(free_port)
	"$bin" emulator --listen "127.0.0.1:$port" --quota GENERAL_BUNDLE_INSTANCE=$((TOTAL * 2)) --launch-delay 0s "$@" \
		>"$work/$name.log" 2>&1 &
	emu_pid=$!
	pids+=("$emu_pid")
	emu_url=http://127.0.0.1:$port
	wait_for 30 "the emulator" http_ok "$emu_url/_emulator/stats"
}

# describes: DescribeInstances the emulator has answered, any code.
describes() {
	curl -fsS "$emu_url/_emulator/stats" | tr -d ' \n' |
		sed -nE 's/.*"DescribeInstances":\{([^}]*)\}.*/\1/p' | tr ',' '\n' | awk -F: '{n += $2} END {print n + 0}'
}

repo=$work/repo
mkdir -p "$repo/fleets"
for ((i = 0; i < FLEETS; i++)); do
	printf -v name 'fleet-%04d' "$i"
	printf 'apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: %s\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n' \
		"$name" "${all_regions[$((i % REGIONS))]}" "$PER_FLEET" >"$repo/fleets/$name.yaml"
done
git init -q -b main "$repo" && git -C "$repo" add -A && git -C "$repo" commit -qm "$FLEETS fleets"

# The fill: a daemon whose client has no rate limits buys every instance
# from an emulator without limits; its state is then loaded into each
# measured emulator.
start_emulator fill --no-rate-limits
fill_port=$(free_port)
printf 'repository:\n  url: %s\n  path: fleets\n  interval: 1h\napi:\n  endpoint: %s\n  rateLimits: {CreateInstances: 0, DescribeInstances: 0}\nlisten: 127.0.0.1:%s\nstateDirectory: %s\nlimits: {maxCreatesPerRun: %d, maxTotalCount: %d}\n' \
	"$repo" "$emu_url" "$fill_port" "$work/state-fill" "$TOTAL" "$TOTAL" >"$work/fill.yaml"
"$bin" daemon --config "$work/fill.yaml" >"$work/daemon-fill.log" 2>&1 &
fill_pid=$!
pids+=("$fill_pid")
wait_for 600 "the fill" grep -q -F 'reconcile cycle ended' "$work/daemon-fill.log"
kill -TERM "$fill_pid" && wait "$fill_pid" 2>/dev/null || true
curl -fsS "$emu_url/_emulator/state" >"$work/state.json"
kill -TERM "$emu_pid" && wait "$emu_pid" 2>/dev/null || true
echo "fill: $TOTAL instances in $FLEETS fleets over $REGIONS region(s), $PAGES DescribeInstances pages a run"

# measure LABEL RATE ARGS...: RUNS timed runs of reconcile --plan by each
# binary, alternately; RATE is the DescribeInstances limit that paces the
# sweep. ARGS go to a binary only if its reconcile knows --rate-limit.
measure() {
	local label=$1 rate=$2 i b t0 ms rc before after args
	shift 2
	declare -A times=() rss=()
	curl -fsS -X PUT -H "Content-Type: application/json" --data-binary "@$work/state.json" "$emu_url/_emulator/state" >/dev/null
	for i in $(seq "$RUNS"); do
		for b in "${bins[@]}"; do
			args=()
			if "$(binary "$b")" reconcile --help 2>&1 | grep -q -e --rate-limit; then args=("$@"); fi
			before=$(describes)
			t0=${EPOCHREALTIME//[.,]/}
			rc=0
			/usr/bin/time -o "$work/rss" -f %M "$(binary "$b")" reconcile --plan --endpoint "$emu_url" --max-total-count -1 "${args[@]}" "$repo/fleets" >"$work/plan.out" 2>"$work/plan.err" || rc=$?
			ms=$(((${EPOCHREALTIME//[.,]/} - t0) / 1000)) # bash's clock: no date process in the time
			after=$(describes)
			[ "$rc" -eq 0 ] || die "$label ($b): reconcile --plan exited $rc: $(head -c 500 "$work/plan.err")"
			[ $((after - before)) -eq "$PAGES" ] || die "$label ($b): $((after - before)) DescribeInstances, want $PAGES"
			times[$b]+="$ms "
			rss[$b]+="$(tail -n 1 "$work/rss") "
			sleep 0.2
		done
	done
	echo "$label, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for b in "${bins[@]}"; do
		# shellcheck disable=SC2086
		printf '%s\n' ${times[$b]} | sort -n | awk -v label="$b" -v rate="$rate" -v pages="$PAGES" '
			{ v[NR] = $1 }
			END {
				med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				bound = (pages - 1) * 1000 / rate
				printf "  %s: %d runs, %d to %d ms, median %d ms; bound %d ms ((%d - 1) pages / %g a second); median / bound %.3f\n",
					label, NR, v[1], v[NR], med, bound, pages, rate, (bound > 0 ? med / bound : 0)
			}'
		echo "    runs (ms): ${times[$b]}"
		# shellcheck disable=SC2086
		printf '%s\n' ${rss[$b]} | sort -n | awk '{ v[NR] = $1 } END {
			printf "    peak resident (KiB): median %d, %d to %d\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
	done
}

if [[ $PARTS == *A* ]]; then
	start_emulator limited
	measure "A. DescribeInstances 100/s (emulator and client)" 100
	kill -TERM "$emu_pid" && wait "$emu_pid" 2>/dev/null || true
fi
if [[ $PARTS == *B* ]]; then
	start_emulator unlimited --no-rate-limits
	measure "B. DescribeInstances $RATE_B/s (client), emulator without limits" "$RATE_B" --rate-limit "DescribeInstances=$RATE_B"
	kill -TERM "$emu_pid" && wait "$emu_pid" 2>/dev/null || true
fi
