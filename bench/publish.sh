#!/usr/bin/env bash
# publish.sh — a 1 GiB HTTP download through a published route (-R http://)
# and through a channel (-R/-L tcp://NAME@), beside the plain tunnel (-L),
# nginx proxying the same backend, and the backend direct, in one run (issue
# 11). The backend is nginx serving a sparse 1 GiB file; the client is curl.
# Prints MiB/s (and the ratio to direct) and the CPU seconds the wsferry
# processes spent per GiB; writes the table to bench/RESULTS-publish.md.
# One run each: compare within the table. Prints, never asserts.
#
#   bash bench/publish.sh [BUILD_DIR]     (default build)
#
# Ends only the processes it started, by PID. Loopback only.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
RESULTS=bench/RESULTS-publish.md
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
STEP_TIMEOUT=120

[ -x "$WSF" ] || make --no-print-directory "$WSF" >/dev/null || exit 1
[ -x "$NGINX" ] || { echo "publish.sh: nginx is needed (Debian package nginx)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/wsf-publish-bench.XXXXXX) || exit 1
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
	echo "publish.sh: nothing listens on $1" >&2
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

BE=$(free_port); NG=$(free_port); SP=$(free_port); LP=$(free_port); CP=$(free_port)
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
	server {
		listen 127.0.0.1:$NG;
		location / {
			proxy_pass http://127.0.0.1:$BE;
			proxy_http_version 1.1;
			proxy_buffering off;   # streamed, as wsferry does
		}
	}
}
NGX
"$NGINX" -c "$TMP/ng/nginx.conf" -p "$TMP/ng" 2>"$TMP/ng/stderr" &
PIDS="$PIDS $!"
wait_port "$BE" && wait_port "$NG" || exit 1

KEY=$("$WSF" keygen)
"$WSF" server "ws://127.0.0.1:$SP" --key "$KEY" -q 2>"$TMP/server.log" &
SRV=$!; PIDS="$PIDS $SRV"
wait_port "$SP" || exit 1
"$WSF" client "ws://127.0.0.1:$SP" --key "$KEY" -q \
	-R "http://127.0.0.1:$BE?mode=path&value=/r" -R "tcp://bench:pw@127.0.0.1:$BE" \
	-L "$LP:127.0.0.1:$BE" 2>"$TMP/client-a.log" &
CA=$!; PIDS="$PIDS $CA"
"$WSF" client "ws://127.0.0.1:$SP" --key "$KEY" -q -L "tcp://bench:pw@$CP" 2>"$TMP/client-b.log" &
CB=$!; PIDS="$PIDS $CB"
wait_port "$LP" && wait_port "$CP" || exit 1
sleep 1 # registrations

HZ=$(getconf CLK_TCK)
ROWS=""
DIRECT=""
measure() { # NAME URL
	local t0 t1 sp mib
	t0=$(cpu_ticks "$SRV" "$CA" "$CB")
	sp=$(timeout "$STEP_TIMEOUT" curl -sS -o /dev/null -w '%{speed_download} %{size_download}' "$2")
	t1=$(cpu_ticks "$SRV" "$CA" "$CB")
	set -- "$1" "$2" $sp
	if [ "${4:-0}" != 1073741824 ]; then
		ROWS="$ROWS| $1 | failed (${4:-0} bytes) | | |\n"
		return
	fi
	mib=$(awk -v s="$3" 'BEGIN { printf "%.0f", s / 1048576 }')
	[ -z "$DIRECT" ] && DIRECT=$mib
	local ratio cpu
	ratio=$(awk -v a="$mib" -v d="$DIRECT" 'BEGIN { printf "%.2f", a / d }')
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
	ROWS="$ROWS| $1 | $mib | $ratio | $cpu |\n"
	echo "$1: $mib MiB/s (x$ratio of direct), wsferry CPU $cpu s" >&2
}

# warm-up: the file into the page cache, every path's first connection made
for u in "http://127.0.0.1:$BE/big" "http://127.0.0.1:$SP/r/big"; do
	timeout "$STEP_TIMEOUT" curl -sS -o /dev/null -r 0-67108863 "$u"
done
measure "direct (nginx static)" "http://127.0.0.1:$BE/big"
measure "nginx proxy_pass (buffering off)" "http://127.0.0.1:$NG/big"
measure "wsferry plain tunnel (-L)" "http://127.0.0.1:$LP/big"
measure "wsferry route (-R http://?mode=path)" "http://127.0.0.1:$SP/r/big"
measure "wsferry channel (-R/-L tcp://NAME@)" "http://127.0.0.1:$CP/big"

{
	echo "# Publish: 1 GiB HTTP download, one run"
	echo
	echo "\`bash bench/publish.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r);"
	echo "curl -o /dev/null from nginx serving a sparse 1 GiB file (sendfile), all on"
	echo "127.0.0.1. CPU: user+system seconds of the wsferry server and both clients"
	echo "during that download (ws://, no TLS; --key on)."
	echo
	echo "| path | MiB/s | x direct | wsferry CPU s/GiB |"
	echo "|---|---|---|---|"
	printf "%b" "$ROWS"
} | tee "$RESULTS"
