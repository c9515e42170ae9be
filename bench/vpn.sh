#!/usr/bin/env bash
# vpn.sh — a 1 GiB HTTP download through VPN mode (-D socks5://NAME@ on one
# client, -R tunnel://NAME@ on another, the exit dialling) beside the plain
# proxy (-D, the server dialling) and the backend direct, in one run (issue
# 11, item 4). The backend is nginx serving a sparse 1 GiB file; the client
# is curl --socks5-hostname. Prints MiB/s (and the ratio to the plain -D)
# and the CPU seconds the wsferry processes spent per GiB; writes the table
# to bench/RESULTS-vpn.md. One run each: compare within the table. Prints,
# never asserts.
#
#   bash bench/vpn.sh [BUILD_DIR]     (default build)
#
# Ends only the processes it started, by PID. Loopback only.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
RESULTS=bench/RESULTS-vpn.md
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
STEP_TIMEOUT=120

[ -x "$WSF" ] || make --no-print-directory "$WSF" >/dev/null || exit 1
[ -x "$NGINX" ] || { echo "vpn.sh: nginx is needed (Debian package nginx)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/wsf-vpn-bench.XXXXXX) || exit 1
chmod 755 "$TMP"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
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

wait_port() { # PORT: until something listens (bounded 5 s)
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "vpn.sh: nothing listens on $1" >&2
	return 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { # PID...: utime+stime of each, summed
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

BE=$(free_port); SP=$(free_port); DP=$(free_port); VP=$(free_port)
mkdir -p "$TMP/www" "$TMP/ng"
truncate -s 1G "$TMP/www/big"
cat >"$TMP/ng/nginx.conf" <<NGX
user root;
worker_processes 1;
daemon off;
error_log $TMP/ng/error.log warn;
pid $TMP/ng/nginx.pid;
events { worker_connections 256; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path $TMP/ng; proxy_temp_path $TMP/ng; fastcgi_temp_path $TMP/ng;
	uwsgi_temp_path $TMP/ng; scgi_temp_path $TMP/ng;
	server { listen 127.0.0.1:$BE; root $TMP/www; }
}
NGX
"$NGINX" -c "$TMP/ng/nginx.conf" -p "$TMP/ng" 2>"$TMP/ng/stderr" &
PIDS="$PIDS $!"
wait_port "$BE" || exit 1

KEY=$("$WSF" keygen)
"$WSF" server "ws://127.0.0.1:$SP" --key "$KEY" -q 2>"$TMP/server.log" &
SRV=$!; PIDS="$PIDS $SRV"
wait_port "$SP" || exit 1
"$WSF" client "ws://127.0.0.1:$SP" --key "$KEY" -q -R "tunnel://bench:pw@" 2>"$TMP/exit.log" &
EX=$!; PIDS="$PIDS $EX"
"$WSF" client "ws://127.0.0.1:$SP" --key "$KEY" -q -D "$DP" -D "socks5://bench:pw@$VP" \
	2>"$TMP/entry.log" &
EN=$!; PIDS="$PIDS $EN"
wait_port "$DP" && wait_port "$VP" || exit 1
sleep 1 # the exit's registration

HZ=$(getconf CLK_TCK)
ROWS=""
BASE=""
measure() { # NAME PROXY_PORT (empty: direct)
	local t0 t1 sp mib px=()
	[ -n "$2" ] && px=(--socks5-hostname "127.0.0.1:$2")
	t0=$(cpu_ticks "$SRV" "$EX" "$EN")
	sp=$(timeout "$STEP_TIMEOUT" curl -sS "${px[@]}" -o /dev/null \
		-w '%{speed_download} %{size_download}' "http://127.0.0.1:$BE/big")
	t1=$(cpu_ticks "$SRV" "$EX" "$EN")
	set -- "$1" "$2" $sp
	if [ "${4:-0}" != 1073741824 ]; then
		ROWS="$ROWS| $1 | failed (${4:-0} bytes) | | |\n"
		return
	fi
	mib=$(awk -v s="$3" 'BEGIN { printf "%.0f", s / 1048576 }')
	[ -n "$2" ] && [ -z "$BASE" ] && BASE=$mib
	local ratio cpu
	ratio=$(awk -v a="$mib" -v d="${BASE:-$mib}" 'BEGIN { printf "%.2f", a / d }')
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
	ROWS="$ROWS| $1 | $mib | $ratio | $cpu |\n"
	echo "$1: $mib MiB/s (x$ratio of plain -D), wsferry CPU $cpu s" >&2
}

# warm-up: the file into the page cache, each path's first connection made
for p in "" "$DP" "$VP"; do
	px=()
	[ -n "$p" ] && px=(--socks5-hostname "127.0.0.1:$p")
	timeout "$STEP_TIMEOUT" curl -sS "${px[@]}" -o /dev/null -r 0-67108863 \
		"http://127.0.0.1:$BE/big"
done
measure "wsferry -D (the server dials)" "$DP"
measure "wsferry -D socks5://NAME@ (the exit dials)" "$VP"
measure "direct (nginx static, no proxy)" ""

{
	echo "# VPN mode: 1 GiB HTTP download, one run"
	echo
	echo "\`bash bench/vpn.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), load"
	echo "average $(cut -d' ' -f1 /proc/loadavg) at the end (the machine is shared);"
	echo "curl --socks5-hostname -o /dev/null from nginx serving a sparse 1 GiB file,"
	echo "all on 127.0.0.1, ws:// with --key. CPU: user+system seconds of the wsferry"
	echo "server, the exit client and the entry client during that download. The"
	echo "x column is the ratio to the plain -D of the same run."
	echo
	echo "| path | MiB/s | x plain -D | wsferry CPU s/GiB |"
	echo "|---|---|---|---|"
	printf "%b" "$ROWS"
} | tee "$RESULTS"
