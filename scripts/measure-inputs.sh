#!/usr/bin/env bash
# Measures what issue 15 ("bound every input the daemon reads") asks about
# the fleet repository, with the built binary and `lightkeeper emulator` as
# separate processes, a local repository and loopback only:
#
#   Z. a commit with a 300 MB file of zeros under repository.path, next to
#      one valid fleet (zeros.bin), and the same file named zeros.yaml;
#   K. a commit with 20 copies of a 1 MiB fleet file with 75,000 unknown
#      keys (identical files: one blob);
#   V. `lightkeeper validate` on the 20 copies of K.
#
# For each daemon it prints the peak resident memory (VmHWM) once /status
# names the commit, the size of /status and the seconds to load; for V the
# maximum resident set size from /usr/bin/time.
#
# Not run by CI: it prints numbers, it checks nothing. Usage:
#   scripts/measure-inputs.sh            (builds ./cmd/lightkeeper)
#   BIN=/path/to/lightkeeper scripts/measure-inputs.sh
# Knobs: PARTS=ZKV, ZERO_MB=300, KEYS=75000, COPIES=20, KEEP=1.
# Needs go, git, curl, jq, /usr/bin/time.
set -euo pipefail
if [ -z "${LK_MEASURE_TIMED:-}" ]; then
	LK_MEASURE_TIMED=1 exec timeout --foreground "${TIME_LIMIT:-900}" "$0" "$@"
fi
cd "$(dirname "$0")/.."

PARTS=${PARTS:-ZKV}
ZERO_MB=${ZERO_MB:-300}
KEYS=${KEYS:-75000}
COPIES=${COPIES:-20}

measure_name=measure-inputs measure_tmp=lk-inputs
# shellcheck source=scripts/measure-lib.sh
. scripts/measure-lib.sh

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "machine: $(nproc) CPUs ($cpu), $(uname -sr), $(go version | cut -d' ' -f3)"
bin=${BIN:-}
if [ -z "$bin" ]; then
	bin=$work/lightkeeper
	go build -o "$bin" ./cmd/lightkeeper || die "build failed"
	echo "binary built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
fi

export TENCENTCLOUD_SECRET_ID=AKIDmeasure TENCENTCLOUD_SECRET_KEY=measure-secret-key
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$work/.gitconfig
export GIT_AUTHOR_NAME=measure GIT_AUTHOR_EMAIL=measure@example.com GIT_COMMITTER_NAME=measure GIT_COMMITTER_EMAIL=measure@example.com

port=$(free_port)
"$bin" emulator --listen "127.0.0.1:$port" >"$work/emulator.log" 2>&1 &
pids+=($!)
emu_url=http://127.0.0.1:$port
wait_for 30 "the emulator" http_ok "$emu_url/_emulator/stats"

fleet() { # fleet NAME
	printf 'apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: ap-guangzhou\n  count: 0\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n' "$1"
}

# new_repo NAME: a repository with fleets/web.yaml, committed.
new_repo() {
	repo=$work/$1
	git init -q -b main "$repo"
	mkdir -p "$repo/fleets"
	fleet web >"$repo/fleets/web.yaml"
	git -C "$repo" add -A
	git -C "$repo" commit -qm "web"
}

# measure_daemon NAME REPO: starts a daemon on REPO (path fleets), waits
# until /status names REPO's head, prints the numbers and stops it.
measure_daemon() {
	local name=$1 repo=$2 dport cfg head t0 pid st
	dport=$(free_port)
	cfg=$work/$name.yaml
	printf 'repository:\n  url: %s\n  path: fleets\n  interval: 1h\napi:\n  endpoint: %s\nlisten: 127.0.0.1:%s\nstateDirectory: %s\n' \
		"$repo" "$emu_url" "$dport" "$work/state-$name" >"$cfg"
	head=$(git -C "$repo" rev-parse HEAD)
	t0=$(now_ms)
	"$bin" daemon --config "$cfg" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 3000); do
		if st=$(curl -fsS --max-time 30 "http://127.0.0.1:$dport/status" 2>/dev/null) &&
			[ "$(jq -r '.revision.id // ""' <<<"$st")" = "$head" ]; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || { tail -5 "$work/$name.log" >&2; die "$name: the daemon exited"; }
		sleep 0.1
	done
	local secs hwm size page problems lines
	secs=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN {printf "%.1f", (b - a) / 1000}')
	hwm=$(awk '/^VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$pid/status")
	size=$(curl -fsS "http://127.0.0.1:$dport/status" | wc -c)
	page=$(curl -fsS "http://127.0.0.1:$dport/" | wc -c)
	problems=$(jq -r 'if .invalid then "invalid, \(.invalid.errors | length) problems listed" else "valid" end' <<<"$st")
	lines=$(grep -c 'level=ERROR' "$work/$name.log" || true)
	printf '%-10s peak RSS (VmHWM) %8s   /status %9d bytes   page %9d bytes   %s, %s ERROR log lines, %ss to load\n' \
		"$name" "$hwm" "$size" "$page" "$problems" "$lines" "$secs"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
}

if [[ $PARTS == *Z* ]]; then
	new_repo zeros
	head -c $((ZERO_MB * 1000 * 1000)) /dev/zero >"$repo/fleets/zeros.bin"
	git -C "$repo" add -A && git -C "$repo" commit -qm "zeros"
	echo "Z: ${ZERO_MB} MB of zeros, repository $(du -sh "$repo/.git" | cut -f1) of objects"
	rm "$repo/fleets/zeros.bin" # only the commit matters; no work tree copy
	measure_daemon zeros.bin "$repo"
	new_repo zerosyaml
	head -c $((ZERO_MB * 1000 * 1000)) /dev/zero >"$repo/fleets/zeros.yaml"
	git -C "$repo" add -A && git -C "$repo" commit -qm "zeros"
	rm "$repo/fleets/zeros.yaml"
	measure_daemon zeros.yaml "$repo"
fi

if [[ $PARTS == *K* || $PARTS == *V* ]]; then
	new_repo keys
	{
		fleet web
		seq -f '  k%06g: 1' 0 $((KEYS - 1))
	} >"$work/keys.yaml"
	for i in $(seq -w 1 "$COPIES"); do cp "$work/keys.yaml" "$repo/fleets/keys-$i.yaml"; done
	git -C "$repo" add -A && git -C "$repo" commit -qm "keys"
	echo "K: $COPIES copies of a $(wc -c <"$work/keys.yaml")-byte fleet with $KEYS unknown keys"
	if [[ $PARTS == *K* ]]; then
		measure_daemon keys "$repo"
	fi
	if [[ $PARTS == *V* ]]; then
		set +e
		/usr/bin/time -f '%M %e' -o "$work/time" "$bin" validate "$repo/fleets" >"$work/validate.out" 2>"$work/validate.err"
		code=$?
		set -e
		read -r kb secs < <(tail -1 "$work/time")
		printf '%-10s peak RSS (max RSS)  %5.0f MB   exit %d, %d lines on stdout, %d bytes, %ss\n' validate "$((kb / 1024))" "$code" \
			"$(wc -l <"$work/validate.out")" "$(wc -c <"$work/validate.out")" "$secs"
	fi
fi
