#!/usr/bin/env bash
# Measures `lightkeeper daemon` as issue 10 asks, with the built binary and
# `lightkeeper emulator` as separate processes, on loopback only:
#
#   A. an idle daemon following 1,000 fleets with 10,000 instances in one
#      region: resident memory (idle and peak) and CPU between and during
#      cycles, sampled from /proc over at least two minutes;
#   B. push to first CreateInstances through fsnotify: a local repository,
#      a commit raising a count, until the emulator logs the create;
#   C. the same through the webhook: a remote repository served over http
#      by git http-backend, a push, then a GitHub-signed POST /hooks/git;
#   D. B and C at scale (issue 21 goal 1): 1,000 fleets with 10,000
#      instances, a commit raising one fleet's count, through fsnotify and
#      the webhook; with BASE=REV (e.g. main) that revision's build runs
#      beside this one, alternately, against the same emulator.
#
# Not run by CI: it takes about six minutes and prints numbers, it checks
# nothing. Usage: scripts/measure-daemon.sh (from anywhere). Knobs:
#   FLEETS=1000 PER_FLEET=10 SAMPLE_SECONDS=150 SAMPLES=5 TIME_LIMIT=1200
#   PARTS=ABC (which of A, B, C and D to run; D is not in the default),
#   BASE=REV and ROUNDS=1 (D: also measure REV's build, alternately),
#   KEEP=1 (keep the logs and repositories in the temporary directory,
#   whose name it prints),
#   BIN=PATH (measure this lightkeeper binary instead of building one from
#   the tree: to run a build of main beside the tree's in one session),
#   DAEMON_ENV="GOMEMLIMIT=off ..." (variables of the measured daemons'
#   environment, in A and D), PUSHES=3 (commits timed at the end of A; 0 for none),
#   TRACE_MS=100 (A: also sample the daemon's VmRSS, RssAnon and RssFile
#   every TRACE_MS ms from its start, and print when the peak came and what
#   was resident then; 0, the default, for none),
#   SCRAPE=15 (A: GET /metrics every SCRAPE s through the window, gzip
#   accepted, as a Prometheus server would; 0, the default, for none)
# Needs go, git (with git-http-backend), curl, awk.
set -euo pipefail
# The whole run is bounded: past TIME_LIMIT seconds timeout(1) sends
# SIGTERM, and the trap of measure-lib.sh stops what was started.
if [ -z "${LK_MEASURE_TIMED:-}" ]; then
	LK_MEASURE_TIMED=1 exec timeout --foreground "${TIME_LIMIT:-1200}" "$0" "$@"
fi
cd "$(dirname "$0")/.."

FLEETS=${FLEETS:-1000}
PER_FLEET=${PER_FLEET:-10}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-150}
SAMPLES=${SAMPLES:-5}
PARTS=${PARTS:-ABC}
TIME_LIMIT=${TIME_LIMIT:-1200}
TOTAL=$((FLEETS * PER_FLEET))

measure_name=measure-daemon measure_tmp=lk-measure
# shellcheck source=scripts/measure-lib.sh
. scripts/measure-lib.sh

# lines FILE PATTERN counts the lines of FILE that hold PATTERN.
lines() { grep -c -F -- "$2" "$1" 2>/dev/null || true; }

# The machine.
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
echo "machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr), $(go version | cut -d' ' -f3)"

bin=$work/lightkeeper
if [ -n "${BIN:-}" ]; then
	cp "$BIN" "$bin" || die "no binary $BIN"
	echo "binary: $(du -h "$bin" | cut -f1) given (BIN=$BIN)"
else
	go build -o "$bin" ./cmd/lightkeeper || die "build failed"
	echo "binary: $(du -h "$bin" | cut -f1) built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
fi
[ -z "${DAEMON_ENV:-}" ] || echo "measured daemon's environment: $DAEMON_ENV"

export TENCENTCLOUD_SECRET_ID=AKIDmeasure TENCENTCLOUD_SECRET_KEY=measure-secret-key
# HOME is the work directory (git's configuration is the script's own);
# Go's caches stay the caller's, so that D's BASE build does not download
# and compile every module again while the machine should be quiet.
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$work/.gitconfig
export GIT_AUTHOR_NAME=measure GIT_AUTHOR_EMAIL=measure@example.com GIT_COMMITTER_NAME=measure GIT_COMMITTER_EMAIL=measure@example.com
unset TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_SECURITY_TOKEN

# start_emulator NAME: starts an emulator logging to $work/NAME.log and
# sets emu_pid, emu_url and emu_log.
start_emulator() {
	local port
	port=$(free_port)
	emu_log=$work/$1.log
	"$bin" emulator --listen "127.0.0.1:$port" --no-rate-limits --quota GENERAL_BUNDLE_INSTANCE=$((TOTAL * 2)) \
		--launch-delay 1s >"$emu_log" 2>&1 &
	emu_pid=$!
	pids+=("$emu_pid")
	emu_url=http://127.0.0.1:$port
	wait_for 30 "the emulator" http_ok "$emu_url/_emulator/stats"
}

# start_daemon NAME CONFIG [ENV [BINARY]]: starts a daemon (of BINARY,
# default $bin) with the NAME=VALUE words ENV in its environment, logging
# to $work/NAME.log; sets d_pid and d_log.
start_daemon() {
	d_log=$work/$1.log
	# shellcheck disable=SC2086 # ENV is a list of NAME=VALUE words
	env ${3:-} "${4:-$bin}" daemon --config "$2" >"$d_log" 2>&1 &
	d_pid=$!
	pids+=("$d_pid")
}

stop() { # stop PID: SIGTERM, then wait for it
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# write_config FILE URL PORT STATE INTERVAL [EXTRA...]: a daemon config;
# $API_EXTRA, if set, is a line added under api:.
write_config() {
	local f=$1 url=$2 port=$3 state=$4 interval=$5
	shift 5
	{
		printf 'repository:\n  url: %s\n  path: fleets\n  interval: %s\napi:\n  endpoint: %s\n' "$url" "$interval" "$emu_url"
		[ -z "${API_EXTRA:-}" ] || printf '%s\n' "$API_EXTRA"
		printf 'listen: 127.0.0.1:%s\nstateDirectory: %s\n' "$port" "$state"
		printf '%s\n' "$@"
	} >"$f"
}

fleet() { # fleet NAME REGION COUNT
	printf 'apiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: %s\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n' "$1" "$2" "$3"
}

# ms_of TIME: the slog text time (2026-11-27T20:56:23.405Z) in Unix ms.
ms_of() { date -d "$1" +%s%3N; }

# await_start LOG OFFSET starts waiting for the first CreateInstances the
# emulator logs after byte OFFSET; await_end waits for it and sets t to its
# time (the log line's) in Unix ms. The wait blocks in tail -f (inotify),
# started before the step being timed, instead of polling through it: a
# poll every 20 ms (wait_for: tail, grep, date and sleep each a process)
# took about 0.7 CPU seconds a second on the project's machine, whose 2
# cores the daemon, the emulator and the git server share
# (docs/benchmarks.md, "Eighth round: the harness's own CPU").
await_start() {
	grep -m1 -F 'action=CreateInstances' < <(timeout 60 tail -c +"$(($2 + 1))" -f "$1") >"$work/await.line" &
	await_pid=$!
}
await_end() {
	wait "$await_pid" || die "waited 60s for a CreateInstances"
	t=$(ms_of "$(sed -E 's/^time=([^ ]+) .*/\1/' "$work/await.line")")
}

stats() { # stats NUMBER...: min median max of the numbers
	printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "min %d, median %d, max %d", v[1], v[int((NR + 1) / 2)], v[NR]}'
}

# commit_latencies N REPO FLEET REGION BASE: N times, write FLEET with
# count BASE+i into REPO/fleets and commit it; lat gets the ms from each
# commit to the emulator's first CreateInstances after it, and each round
# waits for the daemon's cycle to end.
commit_latencies() {
	local i n off c0 t
	lat=()
	for i in $(seq "$1"); do
		n=$(lines "$d_log" 'reconcile cycle ended')
		off=$(stat -c %s "$emu_log")
		fleet "$3" "$4" $(($5 + i)) >"$2/fleets/$3.yaml"
		await_start "$emu_log" "$off"
		sleep 0.2 # tail started and waiting before the clock starts
		c0=$(now_ms)
		git -C "$2" commit -qam "$3: $(($5 + i))"
		await_end
		lat+=($((t - c0)))
		more() { [ "$(lines "$d_log" 'reconcile cycle ended')" -gt "$n" ]; }
		wait_for 60 "the cycle to end" more
		sleep 1
	done
}

# build_cgiserve builds a tiny CGI server in front of git http-backend (the
# remote of C and D) as $work/cgiserve, once, and sets backend.
build_cgiserve() {
	backend=$(git --exec-path)/git-http-backend
	[ -x "$backend" ] || die "no $backend"
	if [ -x "$work/cgiserve" ]; then return; fi
	cat >"$work/cgiserve.go" <<'EOF'
// Command cgiserve serves git http-backend on ADDR for the repositories
// under ROOT: cgiserve ADDR ROOT BACKEND. It prints a line a request to
// stderr: "served METHOD PATH START END", the times in Unix ms.
//
// cgiserve post URL SECRET BODY posts BODY to URL as a GitHub push event
// signed with SECRET and prints "SENT CODE": the Unix ms at which the
// request went out, once this process has started (a webhook's sender
// starts no process a delivery), and the answer's status code.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 5 && os.Args[1] == "post" {
		mac := hmac.New(sha256.New, []byte(os.Args[3]))
		mac.Write([]byte(os.Args[4]))
		req, err := http.NewRequest(http.MethodPost, os.Args[2], strings.NewReader(os.Args[4]))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		sent := time.Now().UnixMilli()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(sent, resp.StatusCode)
		return
	}
	h := &cgi.Handler{Path: os.Args[3], Env: []string{"GIT_PROJECT_ROOT=" + os.Args[2], "GIT_HTTP_EXPORT_ALL=1"}}
	log.Fatal(http.ListenAndServe(os.Args[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now().UnixMilli()
		h.ServeHTTP(w, r)
		fmt.Fprintf(os.Stderr, "served %s %s %d %d\n", r.Method, r.URL.Path, start, time.Now().UnixMilli())
	})))
}
EOF
	(cd "$work" && GO111MODULE=off go build -o cgiserve cgiserve.go) || die "cannot build the CGI server"
}

# hook_latencies N CLONE FLEET REGION BASE PORT SECRET: N times, write
# FLEET with count BASE+i into CLONE/fleets, commit, push it to its origin
# and POST a GitHub-signed push event to the daemon on PORT; lat gets the
# ms from each `git push` to the emulator's first CreateInstances after
# it, hook the ms from the POST going out (`cgiserve post`, which takes the
# time once its process has started: until 2026-12-04 curl's start-up,
# 15-25 ms here, was counted), served the ms the git server spent on the
# daemon's requests between the two (from the first request's start to
# the last one's end, as $cgi_log, the CGI server's log, says). Each round
# waits for the daemon's cycle to end and for the daemon's gap between
# webhook cycles (5 s).
hook_latencies() {
	local i n off coff p0 h0 t body code
	lat=() hook=() served=()
	for i in $(seq "$1"); do
		n=$(lines "$d_log" 'reconcile cycle ended')
		off=$(stat -c %s "$emu_log")
		fleet "$3" "$4" $(($5 + i)) >"$2/fleets/$3.yaml"
		git -C "$2" commit -qam "$3: $(($5 + i))"
		await_start "$emu_log" "$off"
		sleep 0.2 # tail started and waiting before the clock starts
		p0=$(now_ms)
		git -C "$2" push -q origin main
		body=$(printf '{"ref":"refs/heads/main","after":"%s"}' "$(git -C "$2" rev-parse HEAD)")
		coff=$(stat -c %s "$cgi_log")
		read -r h0 code < <("$work/cgiserve" post "http://127.0.0.1:$6/hooks/git" "$7" "$body")
		[[ $code == 2* ]] || die "the webhook answered ${code:-nothing}"
		await_end
		lat+=($((t - p0)))
		hook+=($((t - h0)))
		served+=("$(tail -c +$((coff + 1)) "$cgi_log" | awk -v h0="$h0" -v t="$t" '
			$1 == "served" && $4 >= h0 && $5 <= t { if (lo == "" || $4 < lo) lo = $4; if ($5 > hi) hi = $5 }
			END { print (lo == "" ? 0 : hi - lo) }')")
		more() { [ "$(lines "$d_log" 'reconcile cycle ended')" -gt "$n" ]; }
		wait_for 60 "the cycle to end" more
		sleep 5.5
	done
}

###########################################################################
if [[ $PARTS == *A* ]]; then
echo
echo "== A. idle daemon, $FLEETS fleets x $PER_FLEET = $TOTAL instances in ap-guangzhou"
start_emulator emulator-a
repo=$work/repo-a
git init -q -b main "$repo"
mkdir -p "$repo/fleets"
for i in $(seq 0 $((FLEETS - 1))); do
	fleet "$(printf 'fleet-%04d' "$i")" ap-guangzhou "$PER_FLEET" >"$repo/fleets/$(printf 'fleet-%04d' "$i").yaml"
done
git -C "$repo" add -A && git -C "$repo" commit -qm "$FLEETS fleets"

# The fill. `lightkeeper reconcile` creates at the client's default of 5
# CreateInstances a second (half an hour for 10,000), so a first daemon run
# with the client's rate limits off buys them; the daemon measured is a
# second one, with a new state directory and default rate limits.
fill_port=$(free_port)
API_EXTRA='  rateLimits: {CreateInstances: 0, DescribeInstances: 0}' write_config "$work/fill.yaml" "$repo" "$fill_port" "$work/state-fill" 1h \
	"limits: {maxCreatesPerRun: $TOTAL, maxTotalCount: $TOTAL}"
t0=$(now_ms)
start_daemon daemon-fill "$work/fill.yaml"
created() { [ "$(lines "$emu_log" 'action=CreateInstances')" -ge "$TOTAL" ]; }
wait_for 600 "$TOTAL creates" created
wait_for 120 "the fill cycle to end" grep -q -F 'reconcile cycle ended' "$d_log"
echo "fill: $TOTAL instances created by a daemon without client rate limits in $(($(now_ms) - t0)) ms"
stop "$d_pid"

# The measured daemon.
port=$(free_port)
write_config "$work/idle.yaml" "$repo" "$port" "$work/state-idle" 60s \
	"limits: {maxTotalCount: $((TOTAL * 2))}"
tck=$(getconf CLK_TCK)
start_daemon daemon-idle "$work/idle.yaml" "${DAEMON_ENV:-}"
pid=$d_pid
start_ms=$(now_ms)
if [ "${TRACE_MS:-0}" -gt 0 ]; then
	# The trace: ms since start, VmRSS, RssAnon, RssFile (KiB), until the
	# daemon exits.
	(
		iv=$(awk -v m="$TRACE_MS" 'BEGIN {printf "%.3f", m / 1000}')
		while [ -r "/proc/$pid/status" ]; do
			awk -v t=$(($(now_ms) - start_ms)) '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2}
				END {if (r) print t, r, a, f}' "/proc/$pid/status" 2>/dev/null || true
			sleep "$iv"
		done
	) >"$work/trace" &
	trace_pid=$!
	pids+=("$trace_pid")
fi
wait_for 300 "/readyz" http_ok "http://127.0.0.1:$port/readyz"
wait_for 300 "the first cycle to end" grep -q -F 'reconcile cycle ended' "$d_log"
first_ms=$(($(now_ms) - start_ms))
cputicks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
echo "first cycle (sync, load $FLEETS files, observe $TOTAL instances, plan): done $((first_ms)) ms after start," \
	"$(awk -v t="$(cputicks)" -v h="$tck" 'BEGIN {printf "%.2f", t / h}') CPU s so far," \
	"VmHWM $(kib VmHWM) KiB (RssAnon $(kib RssAnon) KiB, RssFile $(kib RssFile) KiB)"
samples=$work/samples
if [ "${SCRAPE:-0}" -gt 0 ]; then
	mu=http://127.0.0.1:$port/metrics
	echo "scraping /metrics every $SCRAPE s: $(curl -s "$mu" | wc -c) bytes ($(curl -s -H 'Accept-Encoding: gzip' "$mu" | wc -c) gzipped), $(curl -s "$mu" | grep -vc '^#') series"
	(while :; do
		curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$mu" || true
		sleep "$SCRAPE"
	done) &
	scrape_pid=$!
	pids+=("$scrape_pid")
fi
sleep 2
end=$(($(now_ms) + SAMPLE_SECONDS * 1000))
while (($(now_ms) < end)); do
	echo "$(now_ms) $(kib VmRSS) $(kib VmHWM) $(cputicks)" >>"$samples"
	sleep 1
done
[ -z "${scrape_pid:-}" ] || kill "$scrape_pid" 2>/dev/null || true
# Cycles in the window: each "reconcile cycle ended" line gives its end and
# length; a sample interval that overlaps a cycle (padded by a second) counts
# as cycle time, the rest as idle time.
grep -F 'reconcile cycle ended' "$d_log" | sed -E 's/^time=([^ ]+) .* seconds=([0-9.e+-]+).*/\1 \2/' |
	while read -r t s; do echo "$(ms_of "$t") $s"; done >"$work/cycles"
awk -v h="$tck" '
	FILENAME == ARGV[1] { ce[NR] = $1; cs[NR] = $1 - $2 * 1000; n = NR; next }
	{ t[FNR] = $1; rss[FNR] = $2; hwm[FNR] = $3; cpu[FNR] = $4; m = FNR }
	END {
		for (i = 2; i <= m; i++) {
			d = cpu[i] - cpu[i - 1]; busy = 0
			for (c = 1; c <= n; c++) if (t[i] >= cs[c] - 1000 && t[i - 1] <= ce[c] + 1000) { busy = c; break }
			if (busy) { ct[busy] += d; seen[busy] = 1 } else { it += d; ims += t[i] - t[i - 1] }
		}
		minr = rss[1]; maxr = rss[1]
		for (i = 1; i <= m; i++) { if (rss[i] < minr) minr = rss[i]; if (rss[i] > maxr) maxr = rss[i] }
		printf "sampled %d s (every 1 s): VmRSS %.1f-%.1f MiB, VmHWM (peak since start) %.1f MiB (%.1f MB)\n", (t[m] - t[1]) / 1000, minr / 1024, maxr / 1024, hwm[m] / 1024, hwm[m] * 1.024 / 1000
		printf "between cycles: %.2f CPU s in %.0f s (%.3f%% of one CPU)\n", it / h, ims / 1000, ims ? 100 * it / h / (ims / 1000) : 0
		k = 0
		for (c = 1; c <= n; c++) if (seen[c]) { k++; printf "cycle %d in the window: %.2f s long, %.2f CPU s\n", k, ce[c] / 1000 - cs[c] / 1000, ct[c] / h }
		if (!k) print "no cycle in the window: raise SAMPLE_SECONDS"
	}' "$work/cycles" "$samples"
if [ -n "${trace_pid:-}" ]; then
	# The peak of the trace, and the cycles (start, end) in ms since start.
	grep -F 'reconcile cycle ended' "$d_log" | sed -E 's/^time=([^ ]+) .* seconds=([0-9.e+-]+).*/\1 \2/' |
		while read -r t s; do echo "$(($(ms_of "$t") - start_ms)) $s"; done >"$work/trace-cycles"
	awk '
		FILENAME == ARGV[1] { e[NR] = $1; b[NR] = $1 - $2 * 1000; n = NR; next }
		$2 > pr { pr = $2; pt = $1; pa = $3; pf = $4 }
		END {
			where = "between cycles"
			for (c = 1; c <= n; c++) if (pt >= b[c] && pt <= e[c] + 200) where = sprintf("in cycle %d (%.1f-%.1f s after start)", c, b[c] / 1000, e[c] / 1000)
			printf "trace: peak VmRSS %.1f MiB at %.1f s after start, %s: RssAnon %.1f MiB, RssFile %.1f MiB\n", pr / 1024, pt / 1000, where, pa / 1024, pf / 1024
		}' "$work/trace-cycles" "$work/trace"
	for c in $(awk '{printf "%d:%d\n", $1 - $2 * 1000, $1}' "$work/trace-cycles"); do
		awk -v b="${c%%:*}" -v e="${c##*:}" '$1 >= b && $1 <= e + 200 && $2 > m { m = $2; a = $3; f = $4; t = $1 }
			END { if (m) printf "  cycle %.1f-%.1f s: peak VmRSS %.1f MiB at %.1f s (RssAnon %.1f, RssFile %.1f MiB)\n", b / 1000, e / 1000, m / 1024, t / 1000, a / 1024, f / 1024 }' "$work/trace"
	done
fi
echo "at the end: VmRSS $(kib VmRSS) KiB = RssAnon $(kib RssAnon) KiB (the heap, stacks, runtime) + RssFile $(kib RssFile) KiB (the binary's pages), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${PUSHES:-3}" -gt 0 ]; then
# fsnotify at this scale: the cycle after a commit observes all $TOTAL.
echo "fsnotify, at this scale (a commit raising one fleet's count by 1):"
commit_latencies "${PUSHES:-3}" "$repo" fleet-0000 ap-guangzhou "$PER_FLEET"
echo "  git commit -> first CreateInstances (ms): ${lat[*]} ($(stats "${lat[@]}"))"
fi
stop "$pid"
stop "$emu_pid"
fi
###########################################################################
if [[ $PARTS == *B* ]]; then
echo
echo "== B. push to first CreateInstances through fsnotify (local repository, 5 fleets)"
start_emulator emulator-b
repo=$work/repo-b
git init -q -b main "$repo"
mkdir -p "$repo/fleets"
for f in web api db cache queue; do fleet "$f" ap-shanghai 1 >"$repo/fleets/$f.yaml"; done
git -C "$repo" add -A && git -C "$repo" commit -qm "5 fleets"
port=$(free_port)
write_config "$work/b.yaml" "$repo" "$port" "$work/state-b" 1h
start_daemon daemon-b "$work/b.yaml"
wait_for 60 "/readyz" http_ok "http://127.0.0.1:$port/readyz"
wait_for 60 "the first cycle" grep -q -F 'reconcile cycle ended' "$d_log"
sleep 2
commit_latencies "$SAMPLES" "$repo" web ap-shanghai 1
echo "git commit -> first CreateInstances (ms): ${lat[*]} ($(stats "${lat[@]}"))"
stop "$d_pid"
stop "$emu_pid"
fi
###########################################################################
if [[ $PARTS == *C* ]]; then
echo
echo "== C. push to first CreateInstances through the webhook (remote over http, 5 fleets)"
start_emulator emulator-c
build_cgiserve
mkdir -p "$work/remotes"
git init -q --bare -b main "$work/remotes/fleets.git"
clone=$work/clone-c
git clone -q "$work/remotes/fleets.git" "$clone" 2>/dev/null
mkdir -p "$clone/fleets"
for f in web api db cache queue; do fleet "$f" ap-shanghai 1 >"$clone/fleets/$f.yaml"; done
git -C "$clone" add -A && git -C "$clone" commit -qm "5 fleets" && git -C "$clone" push -q origin main
gport=$(free_port)
cgi_log=$work/cgiserve.log
"$work/cgiserve" "127.0.0.1:$gport" "$work/remotes" "$backend" 2>"$cgi_log" &
pids+=($!)
wait_for 30 "the git server" http_ok "http://127.0.0.1:$gport/fleets.git/info/refs?service=git-upload-pack"
secret=measure-webhook-secret
echo "$secret" >"$work/hook-secret"
port=$(free_port)
write_config "$work/c.yaml" "http://127.0.0.1:$gport/fleets.git" "$port" "$work/state-c" 1h \
	"webhook: {secretFile: $work/hook-secret}"
start_daemon daemon-c "$work/c.yaml"
wait_for 60 "/readyz" http_ok "http://127.0.0.1:$port/readyz"
wait_for 60 "the first cycle" grep -q -F 'reconcile cycle ended' "$d_log"
sleep 2
hook_latencies "$SAMPLES" "$clone" web ap-shanghai 1 "$port" "$secret"
echo "git push -> first CreateInstances (ms): ${lat[*]} ($(stats "${lat[@]}"))"
echo "POST /hooks/git -> first CreateInstances (ms): ${hook[*]} ($(stats "${hook[@]}")); of which the git server (ms): ${served[*]} ($(stats "${served[@]}"))"
stop "$d_pid"
fi
###########################################################################
if [[ $PARTS == *D* ]]; then
echo
echo "== D. push to first CreateInstances at scale: $FLEETS fleets x $PER_FLEET = $TOTAL instances in ap-guangzhou"
bins=("$bin")
names=(this)
if [ -n "${BASE:-}" ]; then
	mkdir -p "$work/base-src"
	git archive "$BASE" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && go build -o "$work/lightkeeper-base" ./cmd/lightkeeper) || die "building $BASE failed"
	echo "base: $BASE at $(git rev-parse --short "$BASE")"
	bins+=("$work/lightkeeper-base")
	names+=("$BASE")
fi
start_emulator emulator-d
build_cgiserve
mkdir -p "$work/remotes-d"
git init -q --bare -b main "$work/remotes-d/fleets.git"
repo=$work/repo-d
git clone -q "$work/remotes-d/fleets.git" "$repo" 2>/dev/null
mkdir -p "$repo/fleets"
for i in $(seq 0 $((FLEETS - 1))); do
	fleet "$(printf 'fleet-%04d' "$i")" ap-guangzhou "$PER_FLEET" >"$repo/fleets/$(printf 'fleet-%04d' "$i").yaml"
done
git -C "$repo" add -A && git -C "$repo" commit -qm "$FLEETS fleets" && git -C "$repo" push -q origin main
gport=$(free_port)
cgi_log=$work/cgiserve-d.log
"$work/cgiserve" "127.0.0.1:$gport" "$work/remotes-d" "$backend" 2>"$cgi_log" &
pids+=($!)
wait_for 30 "the git server" http_ok "http://127.0.0.1:$gport/fleets.git/info/refs?service=git-upload-pack"
secret=measure-webhook-secret
echo "$secret" >"$work/hook-secret"
# The fill, as in A: a daemon without client rate limits buys them.
fill_port=$(free_port)
API_EXTRA='  rateLimits: {CreateInstances: 0, DescribeInstances: 0}' write_config "$work/fill-d.yaml" "$repo" "$fill_port" "$work/state-fill-d" 1h \
	"limits: {maxCreatesPerRun: $TOTAL, maxTotalCount: $TOTAL}"
start_daemon daemon-fill-d "$work/fill-d.yaml"
created() { [ "$(lines "$emu_log" 'action=CreateInstances')" -ge "$TOTAL" ]; }
wait_for 600 "$TOTAL creates" created
wait_for 120 "the fill cycle to end" grep -q -F 'reconcile cycle ended' "$d_log"
stop "$d_pid"
# Each build in turn, ROUNDS times (default 1): a daemon following the
# local repository (fsnotify; each commit raises fleet-0000's count by
# one), then one following the remote (the webhook; the same commits,
# pushed), each with the default rate limits and a state directory of its
# own.
count=$PER_FLEET
for round in $(seq "${ROUNDS:-1}"); do
	for k in "${!bins[@]}"; do
		b=${bins[$k]} name=${names[$k]}
		port=$(free_port)
		write_config "$work/d-watch-$k-$round.yaml" "$repo" "$port" "$work/state-d-watch-$k-$round" 1h "limits: {maxTotalCount: $((TOTAL * 2))}"
		start_daemon "daemon-d-watch-$k-$round" "$work/d-watch-$k-$round.yaml" "${DAEMON_ENV:-}" "$b"
		wait_for 300 "the first cycle" grep -q -F 'reconcile cycle ended' "$d_log"
		sleep 2
		commit_latencies "$SAMPLES" "$repo" fleet-0000 ap-guangzhou "$count"
		count=$((count + SAMPLES))
		echo "$name, fsnotify, load $(cut -d' ' -f1 /proc/loadavg): git commit -> first CreateInstances (ms): ${lat[*]} ($(stats "${lat[@]}"))"
		stop "$d_pid"
		git -C "$repo" push -q origin main
		port=$(free_port)
		write_config "$work/d-hook-$k-$round.yaml" "http://127.0.0.1:$gport/fleets.git" "$port" "$work/state-d-hook-$k-$round" 1h \
			"limits: {maxTotalCount: $((TOTAL * 2))}" "webhook: {secretFile: $work/hook-secret}"
		start_daemon "daemon-d-hook-$k-$round" "$work/d-hook-$k-$round.yaml" "${DAEMON_ENV:-}" "$b"
		wait_for 300 "the first cycle" grep -q -F 'reconcile cycle ended' "$d_log"
		sleep 5.5
		hook_latencies "$SAMPLES" "$repo" fleet-0000 ap-guangzhou "$count" "$port" "$secret"
		count=$((count + SAMPLES))
		echo "$name, webhook, load $(cut -d' ' -f1 /proc/loadavg): git push -> first CreateInstances (ms): ${lat[*]} ($(stats "${lat[@]}")); POST /hooks/git -> first CreateInstances (ms): ${hook[*]} ($(stats "${hook[@]}")); of which the git server (ms): ${served[*]} ($(stats "${served[@]}"))"
		stop "$d_pid"
	done
done
stop "$emu_pid"
fi
