#!/usr/bin/env bash
# Measures what issue 21 asks of `lightkeeper validate` (goal 4: at most
# half of kubeconform's wall time, at most twice its peak memory): each
# command is a whole process on the same generated files and the same
# schema, timed by /usr/bin/time (wall seconds and maximum resident set
# size), the commands one after the other in turns (the order rotating
# each round, so none always runs first), RUNS rounds, and the medians
# compared. The commands:
#
#   kc     kubeconform v0.7.0 (built from the Go module proxy into the
#          temporary directory; never part of the repository) with
#          -schema-location schema/fleet.schema.json, 4 workers (default);
#   this   this tree's `lightkeeper validate --max-total-count -1`;
#   noplain  the same with the plain-file fast path (schema.ReadPlain and
#          the schema's quick check) switched off in a patched copy, so
#          every file takes the YAML parser and the validator: what that
#          second reading path buys;
#   base   BASE's validate (default main), built from `git archive`.
#
# Every command must report all files valid. Not run by CI: it prints
# numbers and checks nothing else. Usage: scripts/measure-validate.sh
# Knobs: N=10000 (files), RUNS=8, BASE=main (empty: leave it out),
# TIME_LIMIT=900, KEEP=1. Needs go, git, tar, /usr/bin/time.
set -euo pipefail
if [ -z "${LK_MEASURE_TIMED:-}" ]; then
	LK_MEASURE_TIMED=1 exec timeout --foreground "${TIME_LIMIT:-900}" "$0" "$@"
fi
cd "$(dirname "$0")/.."

N=${N:-10000}
RUNS=${RUNS:-8}
BASE=${BASE-main}

measure_name=measure-validate measure_tmp=lk-validate
# shellcheck source=scripts/measure-lib.sh
. scripts/measure-lib.sh

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "machine: $(nproc) CPUs ($cpu), $(uname -sr), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# build NAME DIR: builds DIR's ./cmd/lightkeeper as $work/NAME.
build() { (cd "$2" && go build -o "$work/$1" ./cmd/lightkeeper) || die "building $1 failed"; }

go build -o "$work/this" ./cmd/lightkeeper || die "build failed"
echo "this: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)')"
names=(kc this noplain)

# noplain: this tree with parsePlain's answer ignored.
mkdir -p "$work/noplain-src"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$work/noplain-src"
parse=$work/noplain-src/spec/parse.go
grep -q 'if fleets, ok := parsePlain(' "$parse" || die "spec/parse.go has no parsePlain call to switch off"
sed -i 's/if fleets, ok := parsePlain(\(.*\)); ok {/if fleets, ok := parsePlain(\1); ok \&\& false {/' "$parse"
grep -q 'ok && false {' "$parse" || die "patching spec/parse.go failed"
build noplain "$work/noplain-src"

if [ -n "$BASE" ]; then
	mkdir -p "$work/base-src"
	git archive "$BASE" | tar -x -C "$work/base-src"
	build base "$work/base-src"
	echo "base: $BASE at $(git rev-parse --short "$BASE")"
	names+=(base)
fi

GOBIN=$work GOFLAGS=-mod=mod go install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0 || die "building kubeconform failed"
mv "$work/kubeconform" "$work/kc"

go run ./internal/fleetgen/cmd/fleetgen -n "$N" -o "$work/fleets" || die "fleetgen failed"
cp schema/fleet.schema.json "$work/fleet.schema.json"

# run NAME: one timed run; appends "wall KiB" to $work/NAME.times.
run() {
	local out=$work/$1.out rc=0
	case $1 in
	kc) /usr/bin/time -o "$work/t" -f "%e %M" "$work/kc" -summary -schema-location "$work/fleet.schema.json" "$work/fleets" >"$out" 2>&1 || rc=$? ;;
	*) /usr/bin/time -o "$work/t" -f "%e %M" "$work/$1" validate --max-total-count -1 "$work/fleets" >"$out" 2>&1 || rc=$? ;;
	esac
	[ "$rc" -eq 0 ] || die "$1 exited $rc: $(head -c 500 "$out")"
	case $1 in
	kc) grep -q "Valid: $N," "$out" || die "kc did not find $N valid: $(tail -c 300 "$out")" ;;
	*) grep -q -E "(^|[^0-9])$N " "$out" || die "$1 did not report $N: $(tail -c 300 "$out")" ;;
	esac
	cat "$work/t" >>"$work/$1.times"
}

loads=()
for i in $(seq "$RUNS"); do
	k=$((i % ${#names[@]}))
	for j in $(seq 0 $((${#names[@]} - 1))); do
		run "${names[$(((j + k) % ${#names[@]}))]}"
	done
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
done
echo "$N files, $RUNS rounds; load average (1 min) after each round: ${loads[*]}"

# median FILE COLUMN
median() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
kc_wall=$(median "$work/kc.times" 1)
kc_rss=$(median "$work/kc.times" 2)
printf '%-8s %10s %12s %12s %12s\n' command "wall (s)" "peak (MiB)" "wall / kc" "peak / kc"
for n in "${names[@]}"; do
	w=$(median "$work/$n.times" 1)
	m=$(median "$work/$n.times" 2)
	awk -v n="$n" -v w="$w" -v m="$m" -v kw="$kc_wall" -v km="$kc_rss" \
		'BEGIN {printf "%-8s %10.3f %12.1f %12.3f %12.3f\n", n, w, m / 1024, w / kw, m / km}'
	echo "         runs (wall KiB): $(tr '\n' ',' <"$work/$n.times" | sed 's/,$//; s/,/; /g')"
done
