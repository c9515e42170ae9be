#!/bin/bash
# replay.sh BUILD — the cost of --replay-store per new tunnel: new tunnels/s
# and their p50/p99 through `wsferry client -L` to a keyed server without
# and with --replay-store (a redis-server started here on loopback), runs
# interleaved (REPS each, RATE_SECS s at CONCURRENCY), in one run. Prints a
# markdown table; writes nothing. Needs redis-server (Debian redis-server).
set -u
BUILD=${1:-build}
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
REPS=${REPS:-3}
RATE_SECS=${RATE_SECS:-5}
CONC=${CONCURRENCY:-32}
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$WSF" ] && [ -x "$LOAD" ] && [ -x "$REDIS" ] ||
	{ echo "replay.sh: needs $WSF, $LOAD and redis-server" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
wait_port() {
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

"$LOAD" serve 0 900 >"$TMP/serve.out" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.out" && break; sleep 0.1; done
SERVE=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.out")
read -r RP S1 S2 L1 L2 <<EOF
$("$LOAD" freeport 5)
EOF
"$REDIS" --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_port "$RP" || { echo "replay.sh: redis-server did not start" >&2; exit 1; }
KEY=$("$WSF" keygen)
export WSFERRY_KEY=$KEY
CMD_A="$WSF server ws://127.0.0.1:$S1 --log-level error"
CMD_B="$WSF server ws://127.0.0.1:$S2 --log-level error --replay-store redis://127.0.0.1:$RP"
$CMD_A 2>"$TMP/a.err" & PIDS="$PIDS $!"
$CMD_B 2>"$TMP/b.err" & PIDS="$PIDS $!"
wait_port "$S1" && wait_port "$S2" || { echo "replay.sh: servers did not listen" >&2; exit 1; }
"$WSF" client ws://127.0.0.1:$S1 -L 127.0.0.1:$L1:127.0.0.1:$SERVE --log-level error 2>/dev/null &
PIDS="$PIDS $!"
"$WSF" client ws://127.0.0.1:$S2 -L 127.0.0.1:$L2:127.0.0.1:$SERVE --log-level error 2>/dev/null &
PIDS="$PIDS $!"
wait_port "$L1" && wait_port "$L2" || { echo "replay.sh: clients did not listen" >&2; exit 1; }

declare -A RATE P50 P99
for r in $(seq "$REPS"); do
	for cfg in a b; do
		port=$L1; [ $cfg = b ] && port=$L2
		out=$(timeout $((RATE_SECS + 30)) "$LOAD" rate 127.0.0.1:$port "$CONC" "$RATE_SECS" 2>/dev/null)
		RATE[$cfg]="${RATE[$cfg]:-} $(kv "$out" conn/s)"
		P50[$cfg]="${P50[$cfg]:-} $(kv "$out" p50_ms)"
		P99[$cfg]="${P99[$cfg]:-} $(kv "$out" p99_ms)"
		[ "$(kv "$out" errors)" = 0 ] || echo "note: $cfg run $r: $out" >&2
	done
done
med() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
keys=$(redis-cli -p "$RP" dbsize 2>/dev/null || echo "?")
ra=$(med "${RATE[a]}") rb=$(med "${RATE[b]}")
echo "| keyed server, client -L, c=$CONC, ${RATE_SECS} s x $REPS interleaved (median) | new tunnels/s | p50 ms | p99 ms | runs (tunnels/s) |"
echo "|---|---:|---:|---:|---|"
echo "| own nonce table | $ra | $(med "${P50[a]}") | $(med "${P99[a]}") |${RATE[a]} |"
echo "| --replay-store redis (loopback) | $rb | $(med "${P50[b]}") | $(med "${P99[b]}") |${RATE[b]} |"
awk -v a="$ra" -v b="$rb" 'BEGIN { if (a > 0) printf "\nwith the store: %.1f%% of the tunnels/s without it\n", 100 * b / a }'
echo "nonces in Redis after the run: $keys"
echo "commands: \`$CMD_A\` / \`$CMD_B\`, clients \`$WSF client ws://... -L ...\`, load \`$LOAD rate 127.0.0.1:PORT $CONC $RATE_SECS\`"
