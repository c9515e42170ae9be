#!/bin/bash
# controller.sh BUILD — does the multi-user table (--controller) slow new
# tunnels down as it fills? New tunnels/s and p50/p99 through `wsferry
# client -L` on a user's path of a server holding that user alone, and of
# one holding it among 10,000 more (added in one POST), beside a server
# without --controller (its plain path), runs interleaved (REPS each,
# RATE_SECS s at CONCURRENCY), in one run. Prints a markdown table.
set -u
BUILD=${1:-build}
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
REPS=${REPS:-3}
RATE_SECS=${RATE_SECS:-5}
CONC=${CONCURRENCY:-32}
USERS=${USERS:-10000}
[ -x "$WSF" ] && [ -x "$LOAD" ] || { echo "controller.sh: needs $WSF and $LOAD" >&2; exit 1; }
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
read -r S0 S1 S2 C1 C2 L0 L1 L2 <<EOF
$("$LOAD" freeport 8)
EOF
KEY=$("$WSF" keygen)
export WSFERRY_KEY=$KEY
CTL_KEY=bench-controller-key-0123456789
printf '%s\n' "$CTL_KEY" >"$TMP/ctl.key"
CMD_0="$WSF server ws://127.0.0.1:$S0 --log-level error"
CMD_1="$WSF server ws://127.0.0.1:$S1 --log-level error --controller $C1 --controller-key-file $TMP/ctl.key"
CMD_2="$WSF server ws://127.0.0.1:$S2 --log-level error --controller $C2 --controller-key-file $TMP/ctl.key"
$CMD_0 2>"$TMP/0.err" & PIDS="$PIDS $!"
$CMD_1 2>"$TMP/1.err" & PIDS="$PIDS $!"
$CMD_2 2>"$TMP/2.err" & PIDS="$PIDS $!"
wait_port "$S0" && wait_port "$C1" && wait_port "$C2" ||
	{ echo "controller.sh: servers did not listen" >&2; exit 1; }
post() { curl -sS --max-time 30 -H "X-API-KEY: $CTL_KEY" --data-binary @"$2" "http://127.0.0.1:$1/"; }
echo "{\"opt\":1,\"args_bunch\":[{\"path\":\"/bench\",\"dst\":\"127.0.0.1:$SERVE\"}]}" >"$TMP/one.json"
awk -v n="$USERS" 'BEGIN { printf "{\"opt\":1,\"args_bunch\":["
	for (i = 0; i < n; i++) printf "%s{\"path\":\"/user%05d\",\"dst\":\"10.9.%d.%d:%d\"}",
		i ? "," : "", i, i % 250, i % 200, 1000 + i
	printf "]}\n" }' >"$TMP/many.json"
post "$C1" "$TMP/one.json" >/dev/null
post "$C2" "$TMP/one.json" >/dev/null
start=$(date +%s%N)
added=$(post "$C2" "$TMP/many.json")
add_ms=$(( ($(date +%s%N) - start) / 1000000 ))
"$WSF" client ws://127.0.0.1:$S0 -L 127.0.0.1:$L0:127.0.0.1:$SERVE --log-level error 2>/dev/null &
PIDS="$PIDS $!"
"$WSF" client ws://127.0.0.1:$S1/bench -L "127.0.0.1:$L1:*" --log-level error 2>/dev/null &
PIDS="$PIDS $!"
"$WSF" client ws://127.0.0.1:$S2/bench -L "127.0.0.1:$L2:*" --log-level error 2>/dev/null &
PIDS="$PIDS $!"
wait_port "$L0" && wait_port "$L1" && wait_port "$L2" ||
	{ echo "controller.sh: clients did not listen" >&2; exit 1; }

declare -A RATE P50 P99
for r in $(seq "$REPS"); do
	for cfg in 0 1 2; do
		port=$L0; [ $cfg = 1 ] && port=$L1; [ $cfg = 2 ] && port=$L2
		out=$(timeout $((RATE_SECS + 30)) "$LOAD" rate 127.0.0.1:$port "$CONC" "$RATE_SECS" 2>/dev/null)
		RATE[$cfg]="${RATE[$cfg]:-} $(kv "$out" conn/s)"
		P50[$cfg]="${P50[$cfg]:-} $(kv "$out" p50_ms)"
		P99[$cfg]="${P99[$cfg]:-} $(kv "$out" p99_ms)"
		[ "$(kv "$out" errors)" = 0 ] || echo "note: $cfg run $r: $out" >&2
	done
done
med() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r0=$(med "${RATE[0]}") r1=$(med "${RATE[1]}") r2=$(med "${RATE[2]}")
echo "| keyed server, client -L, c=$CONC, ${RATE_SECS} s x $REPS interleaved (median) | new tunnels/s | p50 ms | p99 ms | runs (tunnels/s) |"
echo "|---|---:|---:|---:|---|"
echo "| no --controller (plain path) | $r0 | $(med "${P50[0]}") | $(med "${P99[0]}") |${RATE[0]} |"
echo "| --controller, 1 user (its path) | $r1 | $(med "${P50[1]}") | $(med "${P99[1]}") |${RATE[1]} |"
echo "| --controller, $((USERS + 1)) users (the same path) | $r2 | $(med "${P50[2]}") | $(med "${P99[2]}") |${RATE[2]} |"
awk -v a="$r1" -v b="$r2" -v z="$r0" -v n="$((USERS + 1))" 'BEGIN { if (a > 0 && z > 0) printf "\n%d users: %.1f%% of the tunnels/s with 1 user; 1 user: %.1f%% of no controller\n", n, 100 * b / a, 100 * a / z }'
echo "adding $USERS users in one POST ($(wc -c <"$TMP/many.json") bytes): ${add_ms} ms, answer $added"
echo "commands: \`$CMD_0\` / \`$CMD_1\` / \`$CMD_2\`, clients \`$WSF client ws://.../bench -L PORT:*\`, load \`$LOAD rate 127.0.0.1:PORT $CONC $RATE_SECS\`"
