#!/usr/bin/env bash
# mux.sh — --mux and --pool beside one WebSocket per tunnel, in ONE run on
# loopback: two keyed ws:// wsferry pairs side by side, the client of one
# with --mux (default 4 streams per carrier), each -L to bench/wsf_load's
# sink. Bulk MiB/s down and up (BULK_MIB a run, median of RUNS with
# min-max, the pairs interleaved) and CPU seconds per GiB of server+client
# (utime+stime from /proc). Then new tunnels per second with p50/p99 at
# concurrency 32 (RATE_SECS a run, median of RATE_RUNS, interleaved) for
# three clients of the plain pair's server (it serves every kind on one
# port): one WebSocket per tunnel, --mux, --pool 8; once on loopback as it
# is and once through bench/delay_proxy.py, which gives the client-server
# link DELAY_MS each way (a round trip of 2 x DELAY_MS, plus one before a
# new connection's first byte, as a TCP handshake costs; this machine has
# no netem). A tunnel tool's client and server are never on one host: the
# round trips a new tunnel saves are what --mux and --pool are for, and
# loopback has none to save. Prints markdown tables with the ratios to
# the plain client and writes bench/RESULTS-mux.md.
#
#   bash bench/mux.sh [BUILD_DIR]     (default build)
#
# Loopback only; every process is started here and ended by PID; every step
# is bounded. Prints, never asserts. About three minutes.
set -u

BENCH=mux
OUT=bench/RESULTS-mux.md
RUNS=${RUNS:-3}
BULK_MIB=${BULK_MIB:-512}
RATE_SECS=${RATE_SECS:-5}
RATE_RUNS=${RATE_RUNS:-3}
DELAY_MS=${DELAY_MS:-5}
NPORTS=10
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
"$WSF" keygen >"$TMP/key"
declare -A VIA ROOTS LABEL
i=0
for mode in plain mux; do
	sp=${PORTS[$i]} lp=${PORTS[$((i + 1))]}
	i=$((i + 2))
	flag=""
	[ $mode = mux ] && flag=--mux
	start "$mode-server" "$WSF" server "ws://127.0.0.1:$sp" --key-file "$TMP/key" --log-level error
	s=$LAST
	wait_port "$sp" || { echo "mux.sh: $mode server did not listen" >&2; exit 1; }
	start "$mode-client" "$WSF" client "ws://127.0.0.1:$sp" --key-file "$TMP/key" $flag \
		-L "127.0.0.1:$lp:127.0.0.1:$SINK" --log-level error
	c=$LAST
	wait_port "$lp" || { echo "mux.sh: $mode client did not listen" >&2; exit 1; }
	VIA[$mode]="127.0.0.1:$lp" ROOTS[$mode]="$s $c"
done
LABEL[plain]="ws://, keyed, one WebSocket per tunnel" LABEL[mux]="ws://, keyed, client --mux (4 streams a carrier)"
LABEL[pool]="ws://, keyed, client --pool 8"
SP=${PORTS[0]} SPLAIN=${ROOTS[plain]%% *}
# The rate clients: --pool 8 on loopback, and all three through the delay.
client() { # NAME URL LOCAL_PORT FLAG...: VIA[NAME], ROOTS[NAME]
	local name=$1 url=$2 lp=$3
	shift 3
	start "$name-client" "$WSF" client "$url" --key-file "$TMP/key" "$@" \
		-L "127.0.0.1:$lp:127.0.0.1:$SINK" --log-level error
	VIA[$name]="127.0.0.1:$lp" ROOTS[$name]="$SPLAIN $LAST"
}
client pool "ws://127.0.0.1:$SP" "${PORTS[4]}" --pool 8
DP=${PORTS[5]}
start delay /usr/bin/python3 bench/delay_proxy.py "$DP" "$SP" "$DELAY_MS"
wait_port "$DP" || { echo "mux.sh: delay_proxy did not listen" >&2; exit 1; }
client d-plain "ws://127.0.0.1:$DP" "${PORTS[6]}"
client d-mux "ws://127.0.0.1:$DP" "${PORTS[7]}" --mux
client d-pool "ws://127.0.0.1:$DP" "${PORTS[8]}" --pool 8
for p in 4 6 7 8; do
	wait_port "${PORTS[$p]}" || { echo "mux.sh: client on ${PORTS[$p]} did not listen" >&2; exit 1; }
done

declare -A MIB CPU
BYTES=$((BULK_MIB << 20))
for r in $(seq "$RUNS"); do
	for d in down up; do
		for m in plain mux; do
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
declare -A RATE P50 P99 CPT CONC
RATE_MODES="plain mux pool d-plain d-mux d-pool d4-plain d4-mux d4-pool"
# d4-*: the delayed clients again at concurrency 4, within what a pool of 8 feeds
for m in plain mux pool; do
	VIA[d4-$m]=${VIA[d-$m]} ROOTS[d4-$m]=${ROOTS[d-$m]} CONC[d4-$m]=4
done
sleep 1 # the pools fill
for r in $(seq "$RATE_RUNS"); do
	for m in $RATE_MODES; do
		t0=$(ticks ${ROOTS[$m]})
		out=$(step rate ${VIA[$m]} "${CONC[$m]:-32}" "$RATE_SECS")
		t1=$(ticks ${ROOTS[$m]})
		[ "$(kv "$out" errors)" = 0 ] || log "$m rate run $r: $out"
		RATE[$m]="${RATE[$m]:-} $(kv "$out" conn/s)"
		P50[$m]="${P50[$m]:-} $(kv "$out" p50_ms)" P99[$m]="${P99[$m]:-} $(kv "$out" p99_ms)"
		CPT[$m]="${CPT[$m]:-} $(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$(kv "$out" conns)" \
			'BEGIN {if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n}')"
		sleep 1 # the pools refill
	done
done

med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
rng() { printf '%s\n' $1 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) printf " (%s–%s)", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f×", a / b}'; }
{
	echo "# --mux and --pool beside one WebSocket per tunnel (keyed ws://)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) CPUs, load before: $LOAD_BEFORE."
	echo "Generated by \`bash bench/mux.sh $BUILD\` (one run). The machine is shared (2 CPUs):"
	echo "ratios within this run, not absolutes."
	echo
	echo "## Bulk"
	echo
	echo "${BULK_MIB} MiB through -L with wsf_load --check, median of $RUNS with min–max, the two"
	echo "pairs interleaved. CPU is wsferry server + client per GiB moved."
	echo
	echo "| pair | down MiB/s | up MiB/s | down ratio | up ratio | CPU s/GiB down | CPU s/GiB up |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for m in plain mux; do
		dn=$(med "${MIB[$m,down]:-}") up=$(med "${MIB[$m,up]:-}")
		echo "| ${LABEL[$m]} | ${dn:-—}$(rng "${MIB[$m,down]:-}") | ${up:-—}$(rng "${MIB[$m,up]:-}") | $(ratio "$dn" "$(med "${MIB[plain,down]:-}")") | $(ratio "$up" "$(med "${MIB[plain,up]:-}")") | $(med "${CPU[$m,down]:-}") | $(med "${CPU[$m,up]:-}") |"
	done
	echo
	echo "## New tunnels at concurrency 32 (and 4)"
	echo
	echo "Each a new -L connection (connect, 2 bytes, the 1-byte echo, close; latency is that"
	echo "whole exchange) for ${RATE_SECS} s, medians of $RATE_RUNS interleaved runs (all runs in the last"
	echo "column); with --mux a new stream on a carrier, with --pool a warm connection, otherwise"
	echo "a new WebSocket. \"loopback\": client to server directly; \"${DELAY_MS} ms\": through"
	echo "bench/delay_proxy.py, ${DELAY_MS} ms each way (RTT $((2 * DELAY_MS)) ms, plus one RTT before a"
	echo "new connection's first byte). CPU is wsferry server + client per new tunnel."
	echo
	echo "| link | c | client | tunnels/s | vs plain | p50 ms | p99 ms | CPU µs/tunnel | runs (tunnels/s) |"
	echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
	for m in $RATE_MODES; do
		link=loopback base=plain name=$m
		case $m in
		d-*) link="${DELAY_MS} ms" base=d-plain name=${m#d-} ;;
		d4-*) link="${DELAY_MS} ms" base=d4-plain name=${m#d4-} ;;
		esac
		rt=$(med "${RATE[$m]:-}")
		echo "| $link | ${CONC[$m]:-32} | ${LABEL[$name]#ws://, keyed, } | ${rt:-—} | $(ratio "$rt" "$(med "${RATE[$base]:-}")") | $(med "${P50[$m]:-}") | $(med "${P99[$m]:-}") | $(med "${CPT[$m]:-}") |${RATE[$m]:-} |"
	done
} | tee "$OUT"
