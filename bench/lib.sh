# lib.sh — what the side-by-side benches (encrypt.sh, mux.sh, metrics.sh)
# share: the build and a private copy of the binaries, every process started
# through start() and ended by PID at exit, bounded load steps, CPU ticks from
# /proc, and wsf_load's sink on a free port (SINK). Source it after setting
# BENCH (the bench's name, for logs and the temporary folder) and OUT; the
# first argument of the script is the build folder (default build); NPORTS
# free loopback ports (default 8) wait in PORTS.
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
STEP_TIMEOUT=120

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	timeout 600 make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi
TMP=$(mktemp -d /tmp/wsf-$BENCH-bench.XXXXXX) || exit 1
cp "$WSF" "$TMP/wsferry" && cp "$LOAD" "$TMP/wsf_load" || exit 1
WSF=$TMP/wsferry LOAD=$TMP/wsf_load
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$BENCH" "$*" >&2; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
HZ=$(getconf CLK_TCK)
ticks() { # PID...: utime+stime
	local p t=0
	for p in "$@"; do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')))
	done
	echo $t
}
wait_port() {
	for _ in $(seq 80); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
step() {
	timeout "$STEP_TIMEOUT" "$LOAD" "$@" 2>>"$TMP/load.err"
	[ $? -eq 124 ] && echo "status=timeout"
	return 0
}
start() { # LOG CMD...: LAST = its PID
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	LAST=$!
	PIDS="$PIDS $LAST"
}

read -r -a PORTS <<<"$("$LOAD" freeport "${NPORTS:-8}")"
start serve "$LOAD" serve 0 600
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.log" && break; sleep 0.1; done
SINK=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.log")
[ -n "$SINK" ] || { echo "$BENCH.sh: wsf_load serve did not start" >&2; exit 1; }
