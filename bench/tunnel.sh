#!/usr/bin/env bash
# tunnel.sh — wsferry end to end beside the direct loopback baseline, in one run:
# bulk MiB/s each way (direct, through -D SOCKS5, through -L), CPU seconds of
# wsferry server+client per GiB, resident memory per idle tunneled connection,
# new connections per second with p50/p99 latency. Prints a table and writes it
# to bench/RESULTS.md. Prints, never asserts. Bounded: about 2 minutes.
#
#   bash bench/tunnel.sh [BUILD_DIR]     (default build; make bench runs it)
#
# Ends only the processes it started, by PID. Loopback only.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
RESULTS=bench/RESULTS.md
RUNS=3                 # each bulk figure: median of RUNS, with min-max
BULK=1G                # bytes per bulk run (1 GiB)
IDLE_COUNT=1000
IDLE_HOLD=10           # seconds the idle connections are held
RATE_SECS=5
STEP_TIMEOUT=120       # no single step may take longer than this

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi

TMP=$(mktemp -d /tmp/wsf-tunnel-bench.XXXXXX) || exit 1
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

NOTES=$TMP/notes
: >"$NOTES"
note() { printf '%s\n' "$*" >>"$NOTES"; }

# kv LINE KEY: the value of KEY=value in a wsf_load output line.
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }

wait_port() { # PORT: until something listens (bounded 5 s)
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

alive() { kill -0 "$1" 2>/dev/null; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
HZ=$(getconf CLK_TCK)
BIN_SIZE=$(stat -c %s "$WSF")
BIN_STRIPPED=$(strip -o "$TMP/wsferry.stripped" "$WSF" 2>/dev/null && stat -c %s "$TMP/wsferry.stripped")
BIN_SHA=$(sha256sum "$WSF" | cut -c1-12)

# ---------------------------------------------------------------- start
"$LOAD" serve 0 900 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
for _ in $(seq 50); do
	grep -q '^serve port=' "$TMP/serve.out" && break
	sleep 0.1
done
SERVE_PORT=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.out")
[ -n "$SERVE_PORT" ] || { echo "tunnel.sh: wsf_load serve did not start" >&2; exit 1; }

read -r WS_PORT SOCKS_PORT L_PORT <<EOF
$("$LOAD" freeport 3)
EOF
SERVER_CMD="$WSF server ws://127.0.0.1:$WS_PORT --log-level error"
CLIENT_CMD="$WSF client ws://127.0.0.1:$WS_PORT -D 127.0.0.1:$SOCKS_PORT -L 127.0.0.1:$L_PORT:127.0.0.1:$SERVE_PORT --log-level error"
$SERVER_CMD 2>"$TMP/server.err" &
SRV=$!
PIDS="$PIDS $SRV"
wait_port "$WS_PORT" || { echo "tunnel.sh: wsferry server did not listen" >&2; exit 1; }
$CLIENT_CMD 2>"$TMP/client.err" &
CLI=$!
PIDS="$PIDS $CLI"
wait_port "$SOCKS_PORT" && wait_port "$L_PORT" ||
	{ echo "tunnel.sh: wsferry client did not listen" >&2; exit 1; }

DST=127.0.0.1:$SERVE_PORT
declare -A VIA=(
	[direct]="$DST"
	[socks]="--socks 127.0.0.1:$SOCKS_PORT $DST"
	[fwd]="127.0.0.1:$L_PORT"
)
declare -A NAME=([direct]="direct loopback" [socks]="-D SOCKS5" [fwd]="-L forward")
PATHS="direct socks fwd"

echo "wsferry tunnel bench: serve :$SERVE_PORT, server :$WS_PORT (pid $SRV), client -D :$SOCKS_PORT -L :$L_PORT (pid $CLI)" >&2
FDS0_SRV=$(nfds "$SRV") FDS0_CLI=$(nfds "$CLI")
RSS0_SRV=$(rss_kib "$SRV") RSS0_CLI=$(rss_kib "$CLI")

step() { # runs one wsf_load command bounded; prints its output line(s)
	timeout "$STEP_TIMEOUT" "$LOAD" "$@" 2>>"$TMP/load.err"
	local rc=$?
	[ $rc -eq 124 ] && echo "status=timeout"
	return 0
}

check_alive() { # PHASE
	alive "$SRV" || note "- wsferry server (pid $SRV) DIED during $1: $(tail -n 3 "$TMP/server.err" | tr '\n' ' ')"
	alive "$CLI" || note "- wsferry client (pid $CLI) DIED during $1: $(tail -n 3 "$TMP/client.err" | tr '\n' ' ')"
	alive "$SRV" && alive "$CLI"
}

# ---------------------------------------------------------------- idle (fresh processes)
# First, so the "before" figure is not inflated by bulk buffers left cached.
step idle ${VIA[socks]} 10 0 >/dev/null # warm-up: first-use allocations
sleep 0.5
IDLE_B_SRV=$(rss_kib "$SRV") IDLE_B_CLI=$(rss_kib "$CLI")
IDLE_CMD="$LOAD idle ${VIA[socks]} $IDLE_COUNT $IDLE_HOLD"
timeout $((IDLE_HOLD + STEP_TIMEOUT)) $IDLE_CMD >"$TMP/idle.out" 2>>"$TMP/load.err" &
IDLE_PID=$!
PIDS="$PIDS $IDLE_PID"
for _ in $(seq $((STEP_TIMEOUT * 10))); do
	grep -q '^idle count=' "$TMP/idle.out" && break
	alive "$IDLE_PID" || break
	sleep 0.1
done
sleep 1
IDLE_H_SRV=$(rss_kib "$SRV") IDLE_H_CLI=$(rss_kib "$CLI")
IDLE_FD_SRV=$(nfds "$SRV") IDLE_FD_CLI=$(nfds "$CLI")
wait "$IDLE_PID"
IDLE_UP_LINE=$(grep '^idle count=' "$TMP/idle.out")
IDLE_DONE_LINE=$(grep '^idle done' "$TMP/idle.out")
IDLE_UP=$(kv "$IDLE_UP_LINE" up)
: "${IDLE_UP:=0}"
[ "$(kv "$IDLE_DONE_LINE" status)" = ok ] || note "- idle: $IDLE_UP_LINE / $IDLE_DONE_LINE"
sleep 1
IDLE_A_SRV=$(rss_kib "$SRV") IDLE_A_CLI=$(rss_kib "$CLI")
check_alive idle

# ---------------------------------------------------------------- content check (untimed)
for p in socks fwd; do
	for d in up down; do
		out=$(step bulk --check ${VIA[$p]} $d 256M)
		[ "$(kv "$out" status)" = ok ] || note "- content check ${NAME[$p]} $d: $out"
	done
done
CHECK_DONE=1

# ---------------------------------------------------------------- bulk
declare -A MIB CPU CMD
for r in $(seq $RUNS); do
	for d in down up; do
		for p in $PATHS; do
			cmd="$LOAD bulk ${VIA[$p]} $d $BULK"
			CMD[bulk,$p,$d]=$cmd
			s0=$(ticks "$SRV") c0=$(ticks "$CLI") e0=$(ticks "$SERVE_PID")
			out=$(step bulk ${VIA[$p]} $d $BULK)
			s1=$(ticks "$SRV") c1=$(ticks "$CLI") e1=$(ticks "$SERVE_PID")
			if [ "$(kv "$out" status)" != ok ]; then
				note "- bulk ${NAME[$p]} $d run $r: $out"
				check_alive "bulk ${NAME[$p]} $d" || break 3
				continue
			fi
			MIB[$p,$d]="${MIB[$p,$d]:-} $(kv "$out" MiB/s)"
			# bytes are 1 GiB, so seconds are seconds per GiB
			if [ "$p" = direct ]; then # both endpoints: serve + the bulk process
				cpu=$(awk -v a="$e0" -v b="$e1" -v hz="$HZ" -v t="$(kv "$out" cpu)" \
					'BEGIN {printf "%.3f", (b - a) / hz + t}')
			else
				cpu=$(awk -v a="$((s0 + c0))" -v b="$((s1 + c1))" -v hz="$HZ" \
					'BEGIN {printf "%.3f", (b - a) / hz}')
			fi
			CPU[$p,$d]="${CPU[$p,$d]:-} $cpu"
		done
	done
done
check_alive bulk

# ---------------------------------------------------------------- rate
declare -A RATE P50 P99
for c in 1 32; do
	for p in $PATHS; do
		CMD[rate,$p,$c]="$LOAD rate ${VIA[$p]} $c $RATE_SECS"
		out=$(step rate ${VIA[$p]} $c $RATE_SECS)
		[ "$(kv "$out" status)" = ok ] || note "- rate ${NAME[$p]} c=$c: $out"
		RATE[$p,$c]=$(kv "$out" conn/s) P50[$p,$c]=$(kv "$out" p50_ms) P99[$p,$c]=$(kv "$out" p99_ms)
	done
done
check_alive rate
sleep 1
RSS1_SRV=$(rss_kib "$SRV") RSS1_CLI=$(rss_kib "$CLI")
FDS1_SRV=$(nfds "$SRV") FDS1_CLI=$(nfds "$CLI")

# ---------------------------------------------------------------- table
med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
rng() { printf '%s\n' $1 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR) printf "%s–%s", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f×", a / b}'; }
or_dash() { [ -n "$1" ] && printf '%s' "$1" || printf '—'; }

TABLE=$TMP/table
{
	echo "| Figure | Path | Median | Min–max | vs direct | Command |"
	echo "|---|---|---:|---:|---:|---|"
	for d in down up; do
		base=$(med "${MIB[direct,$d]:-}")
		for p in $PATHS; do
			m=$(med "${MIB[$p,$d]:-}")
			echo "| bulk $d MiB/s (n=$RUNS) | ${NAME[$p]} | $(or_dash "$m") | $(or_dash "$(rng "${MIB[$p,$d]:-}")") | $(ratio "$m" "$base") | \`${CMD[bulk,$p,$d]}\` |"
		done
	done
	for d in down up; do
		base=$(med "${CPU[direct,$d]:-}")
		for p in $PATHS; do
			m=$(med "${CPU[$p,$d]:-}")
			who="wsferry server+client"
			[ "$p" = direct ] && who="both endpoints (serve + bulk)"
			echo "| CPU s/GiB $d, $who | ${NAME[$p]} | $(or_dash "$m") | $(or_dash "$(rng "${CPU[$p,$d]:-}")") | $(ratio "$m" "$base") | utime+stime from /proc/PID/stat around the bulk runs |"
		done
	done
	for who in server client; do
		if [ $who = server ]; then b=$IDLE_B_SRV h=$IDLE_H_SRV a=$IDLE_A_SRV; else b=$IDLE_B_CLI h=$IDLE_H_CLI a=$IDLE_A_CLI; fi
		per=$(awk -v b="$b" -v h="$h" -v n="$IDLE_UP" 'BEGIN {if (n > 0) printf "%.2f", (h - b) / n; else print "—"}')
		echo "| RSS KiB wsferry $who: before / holding $IDLE_UP idle / after close | -D SOCKS5 | $b / $h / $a | — | — | \`$IDLE_CMD\` (VmRSS, /proc/PID/status) |"
		echo "| RSS KiB per idle connection, wsferry $who | -D SOCKS5 | $per | — | — | (holding − before) / $IDLE_UP |"
	done
	echo "| wsferry binary size, bytes: as built / stripped | — | $BIN_SIZE / $BIN_STRIPPED | — | — | \`stat -c %s $WSF\`; \`strip -o /tmp/x $WSF\` then its size |"
	for c in 1 32; do
		for f in RATE P50 P99; do
			case $f in RATE) label="conn/s" ;; P50) label="latency p50 ms" ;; P99) label="latency p99 ms" ;; esac
			eval "base=\${$f[direct,$c]:-}"
			for p in $PATHS; do
				eval "v=\${$f[$p,$c]:-}"
				echo "| rate c=$c $label (${RATE_SECS} s, 1 run) | ${NAME[$p]} | $(or_dash "$v") | — | $(ratio "$v" "$base") | \`${CMD[rate,$p,$c]}\` |"
			done
		done
	done
} >"$TABLE"

{
	echo
	echo "Processes: RSS KiB server $RSS0_SRV at start → $RSS1_SRV at end, client $RSS0_CLI → $RSS1_CLI;"
	echo "open fds server $FDS0_SRV at start, $IDLE_FD_SRV holding $IDLE_UP idle, $FDS1_SRV at end; client $FDS0_CLI, $IDLE_FD_CLI, $FDS1_CLI."
	echo "Content check (256 MiB each way, pattern compared byte for byte, untimed) through -D and -L: $( [ -s "$NOTES" ] && grep -q 'content check' "$NOTES" && echo 'FAILED, see notes' || echo ok)."
	if [ -s "$NOTES" ]; then
		echo
		echo "Notes (anything that went wrong):"
		cat "$NOTES"
	fi
	for f in server client; do
		if [ -s "$TMP/$f.err" ] && grep -qv -e '^wsferry: tunnel server at' -e '^  wsferry client' -e '^wsferry: warning: no --key' "$TMP/$f.err"; then
			echo
			echo "wsferry $f stderr (--log-level error):"
			echo '```'
			grep -v -e '^wsferry: tunnel server at' -e '^  wsferry client' -e '^wsferry: warning: no --key' "$TMP/$f.err" | head -n 20
			echo '```'
		fi
	done
	if [ -s "$TMP/load.err" ]; then
		echo
		echo "wsf_load stderr:"
		echo '```'
		head -n 20 "$TMP/load.err"
		echo '```'
	fi
} >"$TMP/after"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "# wsferry tunnel bench"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), Linux $(uname -r), $CPU_MODEL × $(nproc), $("$WSF" --version) (binary sha256 $BIN_SHA…)."
	echo "Generated by \`bash bench/tunnel.sh $BUILD\`; every figure below was measured in this one run."
	echo
	echo "- sink/source: \`$LOAD serve 0 900\` (port $SERVE_PORT)"
	echo "- server: \`$SERVER_CMD\`"
	echo "- client: \`$CLIENT_CMD\`"
	echo
	echo "Bulk runs interleave the paths (direct, -D, -L) each repetition; the rates are one $RATE_SECS s run each."
	echo "Ratios: bulk and conn/s above 1× beat the direct loopback baseline, latency and CPU above 1× cost more."
	echo "CPU of the direct row is what the two endpoints spend on one loopback TCP connection; wsferry rows count only wsferry."
	echo
	cat "$TABLE"
	cat "$TMP/after"
} >"$TMP/results.md"
cp "$TMP/results.md" "$RESULTS"
cat "$TMP/results.md"
