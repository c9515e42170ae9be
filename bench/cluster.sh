#!/bin/bash
# cluster.sh BUILD — wsferry behind haproxy (TCP mode, send-proxy-v2, round
# robin) with 1, 2 and 3 nodes on this machine: new tunnels/s (c=CONCURRENCY,
# RATE_SECS s) and bulk MiB/s down (BULK bytes) through one `wsferry client -L`,
# one run; plus the same without haproxy (the client straight to one node) as
# the baseline. Prints a markdown table. Needs haproxy (Debian haproxy).
set -u
BUILD=${1:-build}
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
RATE_SECS=${RATE_SECS:-5}
CONC=${CONCURRENCY:-32}
BULK=${BULK:-1073741824}
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$WSF" ] && [ -x "$LOAD" ] && [ -x "$HAPROXY" ] ||
	{ echo "cluster.sh: needs $WSF, $LOAD and haproxy" >&2; exit 1; }
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
"$LOAD" serve 0 1800 >"$TMP/serve.out" 2>/dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.out" && break; sleep 0.1; done
SERVE=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.out")
set -- $("$LOAD" freeport 6)
N1=$1 N2=$2 N3=$3 HP=$4 LP=$5 LPD=$6
export WSFERRY_KEY=$("$WSF" keygen)
for p in $N1 $N2 $N3; do
	"$WSF" server ws://127.0.0.1:$p --log-level error --proxy-protocol 127.0.0.1 2>/dev/null &
	PIDS="$PIDS $!"
	wait_port $p || { echo "cluster.sh: node :$p did not listen" >&2; exit 1; }
done
# the baseline: a node without haproxy (no --proxy-protocol)
read -r NB <<<"$("$LOAD" freeport 1)"
"$WSF" server ws://127.0.0.1:$NB --log-level error 2>/dev/null &
PIDS="$PIDS $!"
wait_port $NB
"$WSF" client ws://127.0.0.1:$NB -L 127.0.0.1:$LPD:127.0.0.1:$SERVE --log-level error 2>/dev/null &
PIDS="$PIDS $!"
wait_port $LPD

run_pair() { # PORT: one rate and one bulk run through it
	local r b
	r=$(timeout $((RATE_SECS + 30)) "$LOAD" rate 127.0.0.1:$1 "$CONC" "$RATE_SECS" 2>/dev/null)
	b=$(timeout 120 "$LOAD" bulk 127.0.0.1:$1 down "$BULK" 2>/dev/null)
	echo "$(kv "$r" conn/s) $(kv "$r" p99_ms) $(kv "$b" MiB/s) $(kv "$r" errors)"
}
echo "| path (client -L, c=$CONC, ${RATE_SECS} s; bulk $((BULK >> 20)) MiB down) | new tunnels/s | p99 ms | bulk MiB/s |"
echo "|---|---:|---:|---:|"
read -r r p b e <<<"$(run_pair $LPD)"
echo "| one node, no haproxy | $r | $p | $b |"
for n in 1 2 3; do
	servers=""
	i=0
	for p in $N1 $N2 $N3; do
		i=$((i + 1))
		[ $i -le $n ] && servers="$servers    server n$i 127.0.0.1:$p send-proxy-v2
"
	done
	cat >"$TMP/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$HP
    default_backend nodes
backend nodes
    balance roundrobin
$servers
CFG
	"$HAPROXY" -db -f "$TMP/haproxy.cfg" >/dev/null 2>&1 &
	HA=$!
	wait_port $HP || { echo "cluster.sh: haproxy did not listen" >&2; exit 1; }
	"$WSF" client ws://127.0.0.1:$HP -L 127.0.0.1:$LP:127.0.0.1:$SERVE --log-level error 2>/dev/null &
	CL=$!
	wait_port $LP
	read -r r p b e <<<"$(run_pair $LP)"
	echo "| haproxy, $n node(s) | $r | $p | $b |"
	kill -TERM $CL $HA 2>/dev/null
	wait $CL $HA 2>/dev/null
	sleep 0.3
done
echo
echo "commands: nodes \`$WSF server ws://127.0.0.1:PORT --proxy-protocol 127.0.0.1\`, haproxy \`$HAPROXY -db -f haproxy.cfg\` (mode tcp, roundrobin, send-proxy-v2), client \`$WSF client ws://127.0.0.1:HAPORT -L 127.0.0.1:LP:127.0.0.1:SERVE\`, load \`$LOAD rate 127.0.0.1:LP $CONC $RATE_SECS\` and \`$LOAD bulk 127.0.0.1:LP down $BULK\`; $(nproc) cores"
