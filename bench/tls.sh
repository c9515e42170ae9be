#!/usr/bin/env bash
# tls.sh — ws:// beside wss:// and tls:// in one run, against the direct
# loopback baseline: bulk MiB/s each way through -L (median of 3, min-max),
# CPU seconds of wsferry server+client per GiB, resident memory per idle
# tunnel on each side, and TLS handshakes per second (bench/tls_bench).
# Prints, never asserts (make bench keeps its output in bench/RESULTS-tls.md).
#
#   bash bench/tls.sh [BUILD_DIR]      (make bench runs it)
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
BULK=${BULK:-512M}
IDLE=${IDLE:-500}
make --no-print-directory "$WSF" "$LOAD" "$BUILD/bench/tls_bench" >/dev/null || exit 1
TMP=$(mktemp -d /tmp/wsf-tls-bench.XXXXXX) || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
port() { "$LOAD" freeport 1; }
wait_port() {
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

SINK=$(port)
"$LOAD" serve "$SINK" 600 >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_port "$SINK"

declare -A SRV CLI LPORT
for t in ws wss tls; do
	sp=$(port)
	lp=$(port)
	"$WSF" server "$t://127.0.0.1:$sp" --log-level error 2>"$TMP/$t.srv" &
	SRV[$t]=$!
	PIDS="$PIDS $!"
	wait_port "$sp"
	extra=""
	[ "$t" != ws ] && extra="--insecure"
	"$WSF" client "$t://127.0.0.1:$sp" $extra -L "127.0.0.1:$lp:127.0.0.1:$SINK" \
		--log-level error 2>"$TMP/$t.cli" &
	CLI[$t]=$!
	PIDS="$PIDS $!"
	LPORT[$t]=$lp
	wait_port "$lp"
done

echo "| path | dir | MiB/s median (min-max) | vs direct | wsferry CPU s/GiB |"
echo "|---|---|---:|---:|---:|"
declare -A BASE
for dir in down up; do
	for t in direct ws wss tls; do
		vals=()
		c0=0
		[ "$t" != direct ] && c0=$(($(cpu "${SRV[$t]}") + $(cpu "${CLI[$t]}")))
		for _ in 1 2 3; do
			if [ "$t" = direct ]; then
				out=$(timeout 120 "$LOAD" bulk "127.0.0.1:$SINK" "$dir" "$BULK")
			else
				out=$(timeout 120 "$LOAD" bulk "127.0.0.1:${LPORT[$t]}" "$dir" "$BULK")
			fi
			vals+=("$(kv "$out" MiB/s)")
		done
		med=$(median3 "${vals[@]}")
		lo=$(printf '%s\n' "${vals[@]}" | sort -n | head -1)
		hi=$(printf '%s\n' "${vals[@]}" | sort -n | tail -1)
		[ "$t" = direct ] && BASE[$dir]=$med
		ratio=$(awk -v a="$med" -v b="${BASE[$dir]}" 'BEGIN { printf "%.2f", a / b }')
		cpus="-"
		if [ "$t" != direct ]; then
			c1=$(($(cpu "${SRV[$t]}") + $(cpu "${CLI[$t]}")))
			gib=$(awk -v b="$BULK" 'BEGIN { n = b + 0; u = substr(b, length(b)); if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824; printf "%f", 3 * n / 1073741824 }')
			cpus=$(awk -v c=$((c1 - c0)) -v g="$gib" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c / hz / g }')
		fi
		echo "| $t | $dir | $med ($lo-$hi) | ${ratio}x | $cpus |"
	done
done

echo
echo "| path | server RSS KiB per idle tunnel | client RSS KiB per idle tunnel |"
echo "|---|---:|---:|"
for t in ws wss tls; do
	s0=$(rss "${SRV[$t]}")
	c0=$(rss "${CLI[$t]}")
	"$LOAD" idle "127.0.0.1:${LPORT[$t]}" "$IDLE" 8 >"$TMP/idle.$t" 2>&1 &
	ip=$!
	for _ in $(seq 80); do
		grep -q "up=" "$TMP/idle.$t" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	s1=$(rss "${SRV[$t]}")
	c1=$(rss "${CLI[$t]}")
	kill "$ip" 2>/dev/null
	wait "$ip" 2>/dev/null
	echo "| $t | $(awk -v a="$s0" -v b="$s1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }') | $(awk -v a="$c0" -v b="$c1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }') |"
done

echo
echo "TLS handshakes (bench/tls_bench, both ends in one process):"
"$BUILD/bench/tls_bench" 2>&1 | grep -iE "handshake|resum|connect" | head -6
