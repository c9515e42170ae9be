#!/usr/bin/env bash
# udp.sh — UDP through wsferry beside the direct loopback baseline, in one run:
# datagrams/s and MB/s with 1200-byte datagrams (WireGuard-like) echoed
# through -L udp:// (ws://) and SOCKS-free direct, WINDOW datagrams in
# flight; DNS query latency p50/p99 against dnsmasq, direct and through
# -L udp://. Prints a table (and writes it to bench/RESULTS-udp.md). Prints,
# never asserts. Bounded: about a minute.
#
#   bash bench/udp.sh [BUILD_DIR]     (default build; make bench-udp runs it)
#
# Ends only the processes it started, by PID. Loopback only.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/udp_load
RESULTS=bench/RESULTS-udp.md
SECS=${SECS:-5}        # per throughput run
WINDOW=${WINDOW:-64}   # datagrams in flight
SIZE=1200
QUERIES=${QUERIES:-2000}

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { echo "udp.sh: dnsmasq missing (Debian package dnsmasq-base)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/wsf-udp-bench.XXXXXX) || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $PIDS; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { # a free-looking port in 20000..29999 (loopback, nothing listening)
	while :; do
		p=$((20000 + RANDOM % 10000))
		if ! ss -Hlnu "sport = :$p" 2>/dev/null | grep -q . &&
		   ! ss -Hlnt "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

ECHO=$(port); DNS=$(port); SRV=$(port); LE=$(port); LD=$(port)
"$LOAD" echo "$ECHO" & PIDS="$PIDS $!"
printf '10.1.2.3 a.wsf.test\n' >"$TMP/hosts"
"$DNSMASQ" --keep-in-foreground --port="$DNS" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --addn-hosts="$TMP/hosts" --local=/wsf.test/ --pid-file= \
	$( [ "$(id -u)" = 0 ] && echo --user=root ) --log-facility="$TMP/dnsmasq.log" &
PIDS="$PIDS $!"
"$WSF" server "ws://127.0.0.1:$SRV" -q 2>"$TMP/server.log" & PIDS="$PIDS $!"
sleep 0.3
"$WSF" client "ws://127.0.0.1:$SRV" -q -L "udp://$LE:127.0.0.1:$ECHO" \
	-L "udp://$LD:127.0.0.1:$DNS" 2>"$TMP/client.log" & PIDS="$PIDS $!"
sleep 0.5

row() { printf '| %-34s | %s |\n' "$1" "$2"; }
{
	echo "# UDP through wsferry (bench/udp.sh), one run"
	echo
	echo "$(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -sr); ${SIZE}-byte datagrams echoed,"
	echo "$WINDOW in flight, ${SECS} s each; DNS: $QUERIES A queries one at a time to dnsmasq."
	echo
	echo "| path | result |"
	echo "|---|---|"
	row "direct, 1200 B echo" "$("$LOAD" rate "$ECHO" "$SIZE" "$SECS" "$WINDOW")"
	row "-L udp:// (ws://), 1200 B echo" "$("$LOAD" rate "$LE" "$SIZE" "$SECS" "$WINDOW")"
	row "direct, DNS round trip" "$("$LOAD" dns "$DNS" a.wsf.test "$QUERIES")"
	row "-L udp:// (ws://), DNS round trip" "$("$LOAD" dns "$LD" a.wsf.test "$QUERIES")"
	echo
	echo "Commands: \`$LOAD rate PORT $SIZE $SECS $WINDOW\` against \`udp_load echo\`,"
	echo "\`$LOAD dns PORT a.wsf.test $QUERIES\`; wsferry server and client on one machine."
} | tee "$TMP/table"
cp "$TMP/table" "$RESULTS"
