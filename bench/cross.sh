#!/usr/bin/env bash
# cross.sh — what each router build costs, relative to the native static
# build, in one run: client and server of the same build (router builds
# under qemu-ARCH-static, called explicitly), a -L forward to wsf_load's
# endpoint, bulk MiB/s each way over ws:// and wss://, and new wss://
# tunnels per second (each a TLS handshake, resumed); then the CPU seconds
# server + client spent per GiB, which a busy shared machine disturbs less
# than MiB/s. Prints tables with every figure as a ratio to native, and the
# exact commands, and writes them to bench/RESULTS-cross.md.
#
#   bash bench/cross.sh [BUILD_DIR]   (wsf_load from BUILD_DIR, default build;
#                                      make bench-cross builds everything first)
#
# qemu-user translates each guest instruction into several host ones, at a
# cost that differs per ISA and per instruction mix: these ratios compare
# the builds' cost on this machine, never a router's speed (a 1 GHz MIPS
# 24Kc moves far less than qemu-mipsel here). What they do show: which
# build does more work per byte (software AES vs ChaCha20, 32- vs 64-bit
# bignums, code size), under the same emulator. Prints, never asserts.
# Ends only the processes it started, by PID. Loopback only. About 2 minutes.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LOAD=$BUILD/bench/wsf_load
RESULTS=bench/RESULTS-cross.md
BYTES=${CROSS_BENCH_BYTES:-128M}  # per bulk run
RATE_SECS=3
STEP_TIMEOUT=120
ARCHES=${CROSS:-aarch64 armhf mipsel}
declare -A QEMU=([aarch64]=qemu-aarch64-static [armhf]=qemu-arm-static [mipsel]=qemu-mipsel-static)

[ -x "$LOAD" ] || make --no-print-directory "$LOAD" >/dev/null || exit 1
for a in native $ARCHES; do
	d=build-static; [ "$a" = native ] || d=build-static-$a
	if [ ! -x "$d/wsferry" ]; then
		echo "cross.sh: $d/wsferry missing (make static-all)" >&2
		exit 1
	fi
	if [ "$a" != native ] && ! command -v "${QEMU[$a]}" >/dev/null; then
		echo "cross.sh: ${QEMU[$a]} missing (apt-get install qemu-user-static)" >&2
		exit 1
	fi
done

TMP=$(mktemp -d /tmp/wsf-cross-bench.XXXXXX) || exit 1
PIDS=""
stop() { # PID...: SIGTERM, SIGKILL after 2 s
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
cleanup() { stop $PIDS; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
wait_port() { # PORT: until something listens (bounded 10 s)
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
step() { timeout "$STEP_TIMEOUT" "$LOAD" "$@" 2>>"$TMP/load.err" || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

"$LOAD" serve 0 1800 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.out" && break; sleep 0.1; done
SERVE_PORT=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.out")
[ -n "$SERVE_PORT" ] || { echo "cross.sh: wsf_load serve did not start" >&2; exit 1; }

declare -A VAL CMD
NOTES=""
for a in native $ARCHES; do
	d=build-static; [ "$a" = native ] || d=build-static-$a
	run="$d/wsferry"; [ "$a" = native ] || run="${QEMU[$a]} $d/wsferry"
	for leg in ws wss; do
		read -r SP LP <<<"$("$LOAD" freeport 2)"
		$run server "$leg://127.0.0.1:$SP" --log-level error 2>"$TMP/server.err" &
		srv=$!
		wait_port "$SP" || { NOTES="$NOTES\n- $a $leg: server did not listen: $(tail -n 2 "$TMP/server.err")"; stop $srv; continue; }
		cflags=""; [ "$leg" = wss ] && cflags="--insecure"
		$run client "$leg://127.0.0.1:$SP" $cflags -q --log-level error \
			-L "127.0.0.1:$LP:127.0.0.1:$SERVE_PORT" 2>"$TMP/client.err" &
		cli=$!
		PIDS="$SERVE_PID $srv $cli"
		wait_port "$LP" || { NOTES="$NOTES\n- $a $leg: client did not listen"; stop $cli $srv; continue; }
		step bulk 127.0.0.1:"$LP" down 1M >/dev/null # warm-up: first tunnel, session cached
		for dir in down up; do
			t0=$(($(ticks $srv) + $(ticks $cli)))
			out=$(step bulk 127.0.0.1:"$LP" "$dir" "$BYTES")
			t1=$(($(ticks $srv) + $(ticks $cli)))
			CMD[bulk,$leg,$dir]="wsf_load bulk 127.0.0.1:LPORT $dir $BYTES"
			if [ "$(kv "$out" status)" = ok ]; then
				VAL[$a,$leg,$dir]=$(kv "$out" MiB/s)
				# CPU seconds of server + client (qemu included) per GiB moved
				VAL[$a,cpu,$leg,$dir]=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v b="$(kv "$out" bytes)" \
					'BEGIN {printf "%.2f", t / hz / (b / 1073741824)}')
			else
				NOTES="$NOTES\n- $a $leg bulk $dir: ${out:-no output}"
			fi
		done
		if [ "$leg" = wss ]; then
			out=$(step rate 127.0.0.1:"$LP" 4 "$RATE_SECS")
			CMD[rate]="wsf_load rate 127.0.0.1:LPORT 4 $RATE_SECS"
			if [ "$(kv "$out" status)" = ok ]; then
				VAL[$a,rate]=$(kv "$out" conn/s)
			else
				NOTES="$NOTES\n- $a wss rate: ${out:-no output}"
			fi
		fi
		stop $cli $srv
		PIDS=$SERVE_PID
	done
done

cell() { # KEY: "value (ratio to native)"
	local v=${VAL[$1]:-} n=${VAL[native,${1#*,}]:-}
	[ -n "$v" ] || { printf 'n/a'; return; }
	if [ -n "$n" ] && [ "$1" != "native,${1#*,}" ]; then
		awk -v v="$v" -v n="$n" 'BEGIN {printf "%.2f (%.2fx)", v, (n > 0 ? v / n : 0)}'
	else
		printf '%.2f (1x)' "$v"
	fi
}
report() {
	echo "# bench/cross.sh"
	echo
	echo "## Router builds under qemu-user, relative to the native static build ($(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, one run)"
	echo
	echo "Client and server of the same build, -L to wsf_load serve, $BYTES per bulk run; ratios to native in the same run."
	echo "qemu measures relative cost on this machine, not a router's speed."
	echo
	printf '| build | bytes | ws down MiB/s | ws up MiB/s | wss down MiB/s | wss up MiB/s | new wss tunnels/s, c=4 |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|\n'
	for a in native $ARCHES; do
		d=build-static; [ "$a" = native ] || d=build-static-$a
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$a" "$(stat -c %s "$d/wsferry")" \
			"$(cell "$a,ws,down")" "$(cell "$a,ws,up")" "$(cell "$a,wss,down")" "$(cell "$a,wss,up")" \
			"$(cell "$a,rate")"
	done
	echo
	echo "CPU seconds per GiB moved, server + client (each its qemu process); ratios to native:"
	echo
	printf '| build | ws down | ws up | wss down | wss up |\n'
	printf '|---|---:|---:|---:|---:|\n'
	for a in native $ARCHES; do
		printf '| %s | %s | %s | %s | %s |\n' "$a" "$(cell "$a,cpu,ws,down")" "$(cell "$a,cpu,ws,up")" \
			"$(cell "$a,cpu,wss,down")" "$(cell "$a,cpu,wss,up")"
	done
	echo
	echo "Commands: build-static[-ARCH]/wsferry server ws[s]://127.0.0.1:PORT --log-level error;"
	echo "build-static[-ARCH]/wsferry client ws[s]://127.0.0.1:PORT [--insecure] -L 127.0.0.1:LPORT:127.0.0.1:SERVE;"
	echo "router builds prefixed by qemu-ARCH-static; ${CMD[bulk,ws,down]:-}; ${CMD[bulk,ws,up]:-}; ${CMD[rate]:-}."
	[ -n "$NOTES" ] && printf 'Notes:%b\n' "$NOTES"
}
report | tee "$RESULTS"
exit 0
