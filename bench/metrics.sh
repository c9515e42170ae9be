#!/usr/bin/env bash
# metrics.sh — what --metrics costs the native bulk path, in ONE run on
# loopback: two keyed wsferry pairs side by side, the server of one without
# --metrics and of the other with it (scraped every 0.5 s by a loop here,
# much more often than Prometheus would), each -L to bench/wsf_load's sink;
# a third pair identical to the first shows how far two equal pairs differ
# on this machine (the noise any --metrics difference must exceed). Bulk MiB/s down and up (BULK_MIB a
# run, median of RUNS with min-max, the pairs interleaved), CPU seconds per
# GiB of server+client (utime+stime from /proc), new tunnels per second with
# p50/p99 at concurrency 32 (RATE_SECS). Prints a markdown table with the
# ratio to the pair without --metrics and writes bench/RESULTS-metrics.md.
#
#   bash bench/metrics.sh [BUILD_DIR]     (default build)
#
# Loopback only; every process is started here and ended by PID; every step
# is bounded. Prints, never asserts. About a minute.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
OUT=bench/RESULTS-metrics.md
RUNS=${RUNS:-5}
BULK_MIB=${BULK_MIB:-256}
RATE_SECS=${RATE_SECS:-5}
STEP_TIMEOUT=120

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	timeout 600 make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi
TMP=$(mktemp -d /tmp/wsf-metrics-bench.XXXXXX) || exit 1
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
log() { printf '[metrics] %s\n' "$*" >&2; }
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

read -r -a PORTS <<<"$("$LOAD" freeport 8)"
MPORT=${PORTS[6]}
start serve "$LOAD" serve 0 600
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.log" && break; sleep 0.1; done
SINK=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.log")
[ -n "$SINK" ] || { echo "metrics.sh: wsf_load serve did not start" >&2; exit 1; }
"$WSF" keygen >"$TMP/key"
declare -A VIA ROOTS LABEL
i=0
for mode in plain control metrics; do
	sp=${PORTS[$i]} lp=${PORTS[$((i + 1))]}
	i=$((i + 2))
	flag=""
	[ $mode = metrics ] && flag="--metrics $MPORT"
	start "$mode-server" "$WSF" server "ws://127.0.0.1:$sp" --key-file "$TMP/key" $flag --log-level error
	s=$LAST
	wait_port "$sp" || { echo "metrics.sh: $mode server did not listen" >&2; exit 1; }
	start "$mode-client" "$WSF" client "ws://127.0.0.1:$sp" --key-file "$TMP/key" \
		-L "127.0.0.1:$lp:127.0.0.1:$SINK" --log-level error
	c=$LAST
	wait_port "$lp" || { echo "metrics.sh: $mode client did not listen" >&2; exit 1; }
	VIA[$mode]="127.0.0.1:$lp" ROOTS[$mode]="$s $c"
done
LABEL[plain]="ws://, keyed" LABEL[control]="ws://, keyed (a second, identical pair: the noise)"
LABEL[metrics]="ws://, keyed, server --metrics (scraped every 0.5 s)"
wait_port "$MPORT" || { echo "metrics.sh: the metrics listener did not listen" >&2; exit 1; }
scrape() { # one GET /metrics, the answer read to its end
	exec 3<>"/dev/tcp/127.0.0.1/$MPORT" || return 1
	printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' >&3
	cat <&3 >"$TMP/scrape.tmp"
	exec 3<&-
	grep -q '^wsferry_bytes_total' "$TMP/scrape.tmp" || return 1
	mv "$TMP/scrape.tmp" "$TMP/last-scrape"
	echo >>"$TMP/scrapes"
}
( for _ in $(seq 100000); do scrape; sleep 0.5; done ) >/dev/null 2>&1 &
PIDS="$PIDS $!"

declare -A MIB CPU
BYTES=$((BULK_MIB << 20))
MODES=(plain control metrics)
for r in $(seq "$RUNS"); do
	for d in down up; do
		# each run starts with another pair: no pair always goes last
		for k in 0 1 2; do
			m=${MODES[$(((r + k) % 3))]}
			t0=$(ticks ${ROOTS[$m]})
			out=$(step bulk --check ${VIA[$m]} $d "${BULK_MIB}M")
			t1=$(ticks ${ROOTS[$m]})
			[ "$(kv "$out" status)" = ok ] || { log "$m bulk $d run $r: $out"; continue; }
			MIB[$m,$d]="${MIB[$m,$d]:-} $(kv "$out" MiB/s)"
			CPU[$m,$d]="${CPU[$m,$d]:-} $(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n=$BYTES \
				'BEGIN {printf "%.3f", (b - a) / hz * 1073741824 / n}')"
		done
	done
done
declare -A RATE P50 P99
for m in plain control metrics; do
	out=$(step rate ${VIA[$m]} 32 "$RATE_SECS")
	RATE[$m]=$(kv "$out" conn/s) P50[$m]=$(kv "$out" p50_ms) P99[$m]=$(kv "$out" p99_ms)
	sleep 0.5
done

med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
rng() { printf '%s\n' $1 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) printf " (%s–%s)", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f×", a / b}'; }
{
	echo "# server --metrics beside no --metrics (native bulk path, ws://)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Generated by \`make bench-metrics\` = \`bash bench/metrics.sh $BUILD\` (one run; bulk: ${BULK_MIB} MiB through -L with"
	echo "wsf_load --check, median of $RUNS with min–max, the three pairs interleaved in rotating order; rate: concurrency 32"
	echo "for ${RATE_SECS} s). CPU is wsferry server + client per GiB moved. The machine is shared"
	echo "(2 cores, other helpers' builds and tests running): compare the ratios, not the MiB/s,"
	echo "and the metrics pair's ratio with the control pair's (two identical pairs)."
	echo
	echo "| pair | down MiB/s | up MiB/s | down ratio | up ratio | CPU s/GiB down | CPU s/GiB up | tunnels/s c=32 | p50 ms | p99 ms |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for m in plain control metrics; do
		dn=$(med "${MIB[$m,down]:-}") up=$(med "${MIB[$m,up]:-}")
		echo "| ${LABEL[$m]} | ${dn:-—}$(rng "${MIB[$m,down]:-}") | ${up:-—}$(rng "${MIB[$m,up]:-}") | $(ratio "$dn" "$(med "${MIB[plain,down]:-}")") | $(ratio "$up" "$(med "${MIB[plain,up]:-}")") | $(med "${CPU[$m,down]:-}") | $(med "${CPU[$m,up]:-}") | ${RATE[$m]:-—} | ${P50[$m]:-—} | ${P99[$m]:-—} |"
	done
	echo
	echo "Scrapes answered during the run: $(wc -l <"$TMP/scrapes" 2>/dev/null || echo 0); the last one:"
	echo
	echo '```'
	grep -E '^wsferry_(bytes_total|tunnels_total|tunnels_open)' "$TMP/last-scrape" 2>/dev/null
	echo '```'
} | tee "$OUT"
