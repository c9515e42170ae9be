#!/bin/bash
# pool.sh BUILD — the warm pool (client --pool N): new tunnels/s and their
# p50/p99 through `wsferry client -L` at concurrency CONCURRENCY, without and
# with --pool, in one run, configurations interleaved (REPS each, RATE_SECS s
# each, medians). Two paths: loopback as it is (CPU-bound: every tunnel still
# costs one connection and one upgrade, made ahead of time or not), and
# through bench/delay_proxy.py, which gives the client-server link a round
# trip of 2 x DELAY_MS (this machine has no netem), for ws:// and wss://.
# Prints a markdown table; writes nothing.
set -u
BUILD=${1:-build}
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
REPS=${REPS:-3}
RATE_SECS=${RATE_SECS:-5}
CONC=${CONCURRENCY:-32}
DELAY_MS=${DELAY_MS:-5}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$WSF" ] && [ -x "$LOAD" ] || { echo "pool.sh: needs $WSF and $LOAD" >&2; exit 1; }
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
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

"$LOAD" serve 0 1800 >"$TMP/serve.out" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.out" && break; sleep 0.1; done
SERVE=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.out")
read -r SWS SWSS DWS DWSS < <("$LOAD" freeport 4)
WSFERRY_KEY=$("$WSF" keygen)
export WSFERRY_KEY
"$WSF" server ws://127.0.0.1:"$SWS" --log-level error 2>"$TMP/sws.err" &
PIDS="$PIDS $!"
"$WSF" server wss://127.0.0.1:"$SWSS" --log-level error 2>"$TMP/swss.err" &
PIDS="$PIDS $!"
$PY "$HERE/delay_proxy.py" "$DWS" "$SWS" "$DELAY_MS" >/dev/null &
PIDS="$PIDS $!"
$PY "$HERE/delay_proxy.py" "$DWSS" "$SWSS" "$DELAY_MS" >/dev/null &
PIDS="$PIDS $!"
for p in $SWS $SWSS $DWS $DWSS; do
	wait_port "$p" || { echo "pool.sh: port $p did not listen" >&2; exit 1; }
done

# name|server URL|client options
CONFIGS=(
	"lo-plain|ws://127.0.0.1:$SWS|"
	"lo-pool8|ws://127.0.0.1:$SWS|--pool 8"
	"ws-plain|ws://127.0.0.1:$DWS|"
	"ws-pool8|ws://127.0.0.1:$DWS|--pool 8"
	"ws-pool32|ws://127.0.0.1:$DWS|--pool 32"
	"wss-plain|wss://127.0.0.1:$DWSS|--insecure"
	"wss-pool8|wss://127.0.0.1:$DWSS|--insecure --pool 8"
	"wss-pool32|wss://127.0.0.1:$DWSS|--insecure --pool 32"
)
NAMES=""
declare -A LPORT CMD RATE P50 P99 ERRS
for cfg in "${CONFIGS[@]}"; do
	IFS='|' read -r name url opts <<<"$cfg"
	lp=$("$LOAD" freeport 1)
	# shellcheck disable=SC2086
	"$WSF" client "$url" $opts -L 127.0.0.1:"$lp":127.0.0.1:"$SERVE" --log-level error \
		2>"$TMP/$name.err" &
	PIDS="$PIDS $!"
	wait_port "$lp" || { echo "pool.sh: client $name did not listen" >&2; exit 1; }
	LPORT[$name]=$lp
	CMD[$name]="wsferry client $url${opts:+ $opts} -L 127.0.0.1:LPORT:127.0.0.1:SINK"
	NAMES="$NAMES $name"
done
sleep 1 # the pools fill

for r in $(seq "$REPS"); do
	for name in $NAMES; do
		out=$(timeout $((RATE_SECS + 60)) "$LOAD" rate 127.0.0.1:"${LPORT[$name]}" "$CONC" \
			"$RATE_SECS" 2>/dev/null)
		RATE[$name]="${RATE[$name]:-} $(kv "$out" conn/s)"
		P50[$name]="${P50[$name]:-} $(kv "$out" p50_ms)"
		P99[$name]="${P99[$name]:-} $(kv "$out" p99_ms)"
		e=$(kv "$out" errors)
		ERRS[$name]=$((${ERRS[$name]:-0} + ${e:-1}))
		sleep 1 # the pool refills between runs, as between bursts
	done
done
med() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| c=$CONC, ${RATE_SECS} s x $REPS interleaved (median) | new tunnels/s | vs plain | p50 ms | p99 ms | errors | runs (tunnels/s) |"
echo "|---|---:|---:|---:|---:|---:|---|"
for name in $NAMES; do
	base=${name%-*}-plain
	rb=$(med "${RATE[$base]}")
	rn=$(med "${RATE[$name]}")
	ratio=$(awk -v a="$rb" -v b="$rn" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "?" }')
	echo "| $name | $rn | $ratio | $(med "${P50[$name]}") | $(med "${P99[$name]}") | ${ERRS[$name]} |${RATE[$name]} |"
done
echo
echo "lo: loopback as it is; ws, wss: through bench/delay_proxy.py, $DELAY_MS ms each way" \
	"(RTT $((2 * DELAY_MS)) ms, plus one RTT before a new connection's first byte)."
echo "load: \`$LOAD rate 127.0.0.1:LPORT $CONC $RATE_SECS\` (connect, 1-byte echo, close)" \
	"against \`$LOAD serve\`; servers \`$WSF server ws://...\` and \`wss://...\`" \
	"(self-signed), WSFERRY_KEY set for all."
for name in $NAMES; do echo "- $name: \`${CMD[$name]}\`"; done
