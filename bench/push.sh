#!/bin/bash
# push.sh BUILD — the push service (issue 13) beside a python3-websockets
# broadcast server written for this bench (bench/push_py_server.py), in one
# run, with the same load tool (bench/push_load.c) on loopback:
#   fan-out latency p50/p99: a POST's first byte to its arrival at the last of
#     SUBS subscribers (LAT messages, one at a time),
#   messages/s sustained to SUBS subscribers (a burst of RATE messages, 8
#     POSTs in flight, until every subscriber has every message),
#   RSS per idle subscriber: the server's RSS with SUBS subscribers connected
#     minus its RSS before, divided by SUBS.
# Prints, never asserts. SUBS/LAT/RATE from the environment (1000/200/2000).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
SUBS=${SUBS:-1000}
LAT=${LAT:-200}
RATE=${RATE:-2000}
KEY=bench-push-key-0123456789abcdef
LOAD=$BUILD/bench/push_load
ulimit -n 16384 2>/dev/null || ulimit -n 4096
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# run NAME PID WSPORT WSPATH POSTPORT POSTPATH: the load against one server
run() {
	local name=$1 pid=$2 out=$tmp/$1.out
	local before after
	before=$(rss "$pid")
	mkfifo "$tmp/$name.in"
	"$LOAD" 127.0.0.1 "$3" "$4" "$5" "$6" "$KEY" "$SUBS" "$LAT" "$RATE" <"$tmp/$name.in" >"$out" 2>&1 &
	local load=$!
	exec 5>"$tmp/$name.in"
	for _ in $(seq 600); do grep -q '^subscribers' "$out" && break; sleep 0.1; done
	sleep 1 # idle: let both sides settle
	after=$(rss "$pid")
	echo go >&5
	exec 5>&-
	wait "$load" || { echo "$name: the load tool failed:"; cat "$out"; }
	echo "rss_before_kib $before" >>"$out"
	echo "rss_after_kib $after" >>"$out"
	awk -v b="$before" -v a="$after" -v n="$SUBS" 'BEGIN{printf "rss_per_sub_kib %.2f\n", (a-b)/n}' >>"$out"
}

get() { awk -v k="$2" '$1==k {print $2}' "$tmp/$1.out"; }

p1=$(free_port)
WSFERRY_PUSH_KEY=$KEY "$BUILD/wsferry" server "ws://127.0.0.1:$p1" --push /push \
	--push-max-per-ip $((SUBS + 16)) --max-conns-per-ip $((SUBS + 64)) -q & # all from 127.0.0.1
pids+=($!); wpid=$!
wait_port "$p1" || { echo "wsferry did not start"; exit 1; }
run wsferry "$wpid" "$p1" /push "$p1" /push
kill "$wpid"

p2=$(free_port); p3=$(free_port)
/usr/bin/python3 bench/push_py_server.py "$p2" "$p3" "$KEY" &
pids+=($!); ppid=$!
wait_port "$p2" && wait_port "$p3" || { echo "the python server did not start"; exit 1; }
run python "$ppid" "$p2" /push "$p3" /push
kill "$ppid"

echo "bench/push.sh: $SUBS subscribers, $LAT single messages, a burst of $RATE; $(nproc) CPUs, loopback"
printf '%-34s %12s %16s %8s\n' "" "wsferry" "python3-websockets" "ratio"
row() {
	local a b
	a=$(get wsferry "$2"); b=$(get python "$2")
	printf '%-34s %12s %16s %8s\n' "$1" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", b/a; else print "-" }')"
}
row "fan-out latency p50, ms" latency_p50_ms
row "fan-out latency p99, ms" latency_p99_ms
row "RSS per idle subscriber, KiB" rss_per_sub_kib
printf '%-34s %12s %16s %8s\n' "messages/s to every subscriber" "$(get wsferry messages_per_s)" \
	"$(get python messages_per_s)" "$(awk -v a="$(get wsferry messages_per_s)" -v b="$(get python messages_per_s)" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", a/b; else print "-" }')"
printf '%-34s %12s %16s\n' "deliveries/s (messages x subs)" "$(get wsferry deliveries_per_s)" "$(get python deliveries_per_s)"
echo "(ratio: how many times better wsferry is; latency and RSS: python/wsferry, rate: wsferry/python)"
