# shellcheck shell=bash
# What the measuring scripts share (scripts/measure-*.sh source it from the
# repository root, after setting measure_name, e.g. measure-daemon, and
# measure_tmp, the prefix of their temporary directory):
#   $work, a temporary directory removed at exit unless KEEP=1;
#   pids+=(PID) for each process started: they are stopped at exit;
#   die, now_ms, wait_for, free_port, http_ok.

work=$(mktemp -d "${TMPDIR:-/tmp}/$measure_tmp.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "$measure_name: stopped" >&2; exit 130' INT TERM

die() { echo "$measure_name: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 20 ms. Each poll
# starts processes (about 0.7 CPU s a second on the project's 2 cores), so
# keep it out of any window being timed (measure-daemon.sh's await_start).
wait_for() {
	local limit=$1 what=$2
	shift 2
	local end=$(($(now_ms) + limit * 1000))
	until "$@" >/dev/null; do
		(($(now_ms) < end)) || die "waited ${limit}s for $what"
		sleep 0.02
	done
}

# free_port prints a loopback port nothing listens on, below the usual
# ephemeral range (32768-60999) that outgoing connections take.
free_port() {
	local p i
	for i in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
