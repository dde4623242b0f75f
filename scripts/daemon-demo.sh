#!/bin/sh
# The daemon on a fresh machine, no Tencent Cloud account needed, in one
# command: a local git repository of the example fleets, `lightkeeper
# emulator` standing in for Tencent Cloud, and `lightkeeper daemon` with
# examples/daemon/local.yaml, its status page on a printed URL. Once the
# first cycle has bought the fleets, it commits a count change (web: 3 -> 4)
# and waits until the daemon has bought the instance missing.
#
# Then, when its input is a terminal, it keeps both running until Ctrl-C:
# commit to the repository it names and watch the page. Otherwise (CI, a
# pipe) it stops them and exits 0, unless LK_DEMO_STAY=1. Exit status 1
# when a step fails, with the end of the logs.
#
# Each command it runs on your behalf is printed whole, as you would type
# it. It builds lightkeeper from this clone, unless LIGHTKEEPER names a
# binary to run instead (LIGHTKEEPER=/usr/bin/lightkeeper: the one a package
# installed). Needs git and curl.
#
# Environment: LK_DEMO_DIR (default ${TMPDIR:-/tmp}/lk-daemon-demo; emptied
# first), LK_DEMO_API (the emulator's address, default 127.0.0.1:9100),
# LK_DEMO_LISTEN (the daemon's, default 127.0.0.1:9180).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${LK_DEMO_DIR:-${TMPDIR:-/tmp}/lk-daemon-demo}
api=${LK_DEMO_API:-127.0.0.1:9100}
listen=${LK_DEMO_LISTEN:-127.0.0.1:9180}
for tool in git curl; do
	command -v $tool >/dev/null 2>&1 || {
		echo "daemon-demo: $tool is needed; install it" >&2
		exit 1
	}
done

emulator= daemon= bin=${LIGHTKEEPER:-}
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$emulator" ] && kill "$emulator" 2>/dev/null && wait "$emulator" 2>/dev/null
	[ -z "${LIGHTKEEPER:-}" ] && [ -n "$bin" ] && rm -f "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "daemon-demo: FAIL: $*" >&2
	for log in "$dir/emulator.log" "$dir/daemon.log"; do
		[ -f "$log" ] && { echo "--- the end of $log" >&2; tail -n 15 "$log" >&2; }
	done
	exit 1
}

# quote ARG: ARG as a shell reads it back.
quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@,+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# run CMD...: print it as typed, then run it.
run() {
	line='$'
	for arg in "$@"; do
		line="$line $(quote "$arg")"
	done
	echo "$line"
	"$@"
}

if [ -z "$bin" ]; then
	bin="${TMPDIR:-/tmp}/lightkeeper-daemon-demo-$$"
	echo "== building lightkeeper from $root"
	go build -o "$bin" ./cmd/lightkeeper || fail "go build ./cmd/lightkeeper"
fi
lightkeeper() { "$bin" "$@"; }

echo "== a git repository of the example fleets, and the daemon's configuration, in $dir"
rm -rf "$dir" && mkdir -p "$dir" || fail "cannot make $dir"
cd "$dir" || fail "cd $dir"
# A commit needs an identity: the demo's, unless git has one from the
# environment or your configuration.
git config --get user.email >/dev/null 2>&1 || export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-lightkeeper demo}" \
	GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@localhost}" GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-lightkeeper demo}" \
	GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-demo@localhost}"
run git init -q -b main fleets || fail "git init"
run cp "$root"/examples/fleets/*.y*ml fleets/ || fail "cp"
run git -C fleets add . && run git -C fleets commit -q -m 'four fleets' || fail "git commit"
sed -e "s#127\.0\.0\.1:9100#$api#" -e "s#127\.0\.0\.1:9180#$listen#" "$root/examples/daemon/local.yaml" >local.yaml || fail "cannot write local.yaml"
echo "(local.yaml is examples/daemon/local.yaml, the emulator at $api, the page at $listen)"

echo
echo "== the emulator and the daemon, with the emulator's key in the environment of both"
export TENCENTCLOUD_SECRET_ID=AKIDlocal TENCENTCLOUD_SECRET_KEY=localsecret
export BATCH_PASSWORD="${BATCH_PASSWORD:-Demo-Passw0rd-2026!}" # the Windows fleet's login
unset LIGHTKEEPER_SITE TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_SECURITY_TOKEN
echo "\$ export TENCENTCLOUD_SECRET_ID=AKIDlocal TENCENTCLOUD_SECRET_KEY=localsecret BATCH_PASSWORD='$BATCH_PASSWORD'"
run lightkeeper daemon --config local.yaml --check || fail "lightkeeper daemon --check"
echo "\$ lightkeeper emulator --listen $api --launch-delay 2s 2>emulator.log &"
"$bin" emulator --listen "$api" --launch-delay 2s 2>emulator.log & # not the function: $! must be the process
emulator=$!
echo "\$ lightkeeper daemon --config local.yaml 2>daemon.log &"
"$bin" daemon --config local.yaml 2>daemon.log &
daemon=$!

metric() { curl -fs "http://$listen/metrics" 2>/dev/null | sed -n "s/^$1 //p"; }
# until SECONDS WHAT CMD...: retry CMD every half second.
until_ok() {
	limit=$(($1 * 2)) what=$2
	shift 2
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -ge $limit ] && fail "$what: not after $((limit / 2)) s"
		kill -0 "$daemon" 2>/dev/null || fail "the daemon exited"
		kill -0 "$emulator" 2>/dev/null || fail "the emulator exited"
		sleep 0.5
	done
}
first_cycle() { [ "$(metric 'lightkeeper_reconcile_runs_total{result="success"}')" != "" ] && [ "$(metric 'lightkeeper_reconcile_runs_total{result="success"}')" != 0 ]; }
until_ok 60 "the first cycle" first_cycle
created=$(metric 'lightkeeper_creates_total{result="created"}')
echo
echo "The status page: http://$listen/   (the fleets, their instances, the events)"
echo "The first cycle bought $created instances: lightkeeper_creates_total{result=\"created\"} $created"

echo
echo "== a count change, committed: web goes from 3 to 4 instances"
want=$((created + 1))
run sed -i.orig 's/count: 3/count: 4/' fleets/web.yaml && rm -f fleets/web.yaml.orig
run git -C fleets commit -q -am 'web: 4 instances' || fail "git commit"
applied() { [ "$(metric 'lightkeeper_creates_total{result="created"}')" = "$want" ]; }
until_ok 60 "the daemon buys the fifth web instance" applied
echo "The daemon saw the commit and bought 1 more: lightkeeper_creates_total{result=\"created\"} $want"
echo "web's instances: http://$listen/fleets/web   (JSON: http://$listen/status/fleets/web)"

if [ "${LK_DEMO_STAY:-}" = 1 ] || [ -t 0 ]; then
	echo
	echo "The emulator and the daemon keep running; Ctrl-C stops them. Try:"
	echo "  cd $dir"
	echo "  sed -i 's/count: 1/count: 2/' fleets/bastion.yml && git -C fleets commit -qam 'bastion: 2'"
	echo "  sed -i 's/count: 4/count: -4/' fleets/web.yaml && git -C fleets commit -qam 'web: broken'   # invalid: reported, not applied"
	echo "The logs: $dir/daemon.log, $dir/emulator.log"
	wait "$daemon"
	daemon=
	fail "the daemon exited"
fi
echo
echo "daemon-demo: ok (its input is not a terminal: stopping the emulator and the daemon)"
