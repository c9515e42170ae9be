#!/bin/sh
# valgrind_scenario.sh — server and client under valgrind (memcheck, full
# leak check) carry real traffic: SOCKS5 and HTTP proxy requests through -D,
# an -L transfer, a refused destination, a WebSocket echo session and a
# stealth drop, and 3 MiB through a --mux client (spliced big frames), a
# --pool client (first bytes behind the pooled request) and a --mux
# --encrypt client of a keyed --encrypt server (sealed carriers, the vector
# ChaCha20); after SIGTERM each must report no error and no leak.
cd "$(dirname "$0")/../.." || exit 1
BIN=${WSFERRY:-./build/wsferry}
PY=/usr/bin/python3
dir=$(mktemp -d)
pass=0
fail=0
pids=""
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { i=0; while [ $i -lt 200 ]; do $PY -c "import socket,sys;socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; i=$((i+1)); done; return 1; }
check() { if [ "$2" = 0 ]; then pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; [ -n "$KEEP" ] && echo "logs in $dir" && return; rm -rf "$dir"; }
trap cleanup EXIT

if ! command -v valgrind >/dev/null; then echo "valgrind missing"; echo "0 passed, 1 failed"; exit 1; fi
SP=$(free_port); DP=$(free_port); LP=$(free_port); HP=$(free_port); MP=$(free_port); PP=$(free_port)
KP=$(free_port); EP=$(free_port); KEY=$("$BIN" keygen)
mkdir -p "$dir/www" && echo "hello through the tunnel" > "$dir/www/index.html"
head -c 3145728 /dev/urandom > "$dir/www/big.bin"
want=$(sha256sum < "$dir/www/big.bin")
$PY -m http.server "$HP" --bind 127.0.0.1 --directory "$dir/www" >/dev/null 2>&1 &
pids="$pids $!"
VG="valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
$VG --log-file="$dir/server.vg" "$BIN" server --echo /echo "ws://127.0.0.1:$SP" 2>"$dir/server.err" &
spid=$!
wait_port "$SP"
$VG --log-file="$dir/client.vg" "$BIN" client "ws://127.0.0.1:$SP" -D "$DP" -L "$LP:127.0.0.1:$HP" 2>"$dir/client.err" &
cpid=$!
$VG --log-file="$dir/mux.vg" "$BIN" client "ws://127.0.0.1:$SP" --mux -L "$MP:127.0.0.1:$HP" 2>"$dir/mux.err" &
mpid=$!
$VG --log-file="$dir/pool.vg" "$BIN" client "ws://127.0.0.1:$SP" --pool 2 -L "$PP:127.0.0.1:$HP" 2>"$dir/pool.err" &
ppid=$!
$VG --log-file="$dir/sealsrv.vg" "$BIN" server "ws://127.0.0.1:$KP" --key "$KEY" --encrypt 2>"$dir/sealsrv.err" &
kpid=$!
wait_port "$KP"
$VG --log-file="$dir/sealed.vg" "$BIN" client "ws://127.0.0.1:$KP" --key "$KEY" --mux --encrypt -L "$EP:127.0.0.1:$HP" 2>"$dir/sealed.err" &
epid=$!
wait_port "$DP"; wait_port "$LP"; wait_port "$HP"; wait_port "$MP"; wait_port "$PP"; wait_port "$EP"

out=$(curl -s -m 20 --socks5-hostname "127.0.0.1:$DP" "http://127.0.0.1:$HP/index.html")
[ "$out" = "hello through the tunnel" ]; check "socks5 through -D" $?
out=$(curl -s -m 20 -x "http://127.0.0.1:$DP" "http://127.0.0.1:$HP/index.html")
[ "$out" = "hello through the tunnel" ]; check "plain http proxy through -D" $?
out=$(curl -s -m 20 -p -x "http://127.0.0.1:$DP" "http://127.0.0.1:$HP/index.html")
[ "$out" = "hello through the tunnel" ]; check "CONNECT through -D" $?
out=$(curl -s -m 20 "http://127.0.0.1:$LP/index.html")
[ "$out" = "hello through the tunnel" ]; check "-L forward" $?
for via in "$MP:--mux" "$PP:--pool" "$EP:--mux --encrypt"; do
	got=$(curl -s -m 60 "http://127.0.0.1:${via%%:*}/big.bin" | sha256sum)
	[ "$got" = "$want" ]; check "3 MiB through ${via#*:} byte-exact" $?
done
CP=$(free_port)
code=$(curl -s -m 20 -o /dev/null -w "%{http_code}" -x "http://127.0.0.1:$DP" "http://127.0.0.1:$CP/")
[ "$code" = 502 ]; check "refused destination is 502 (got $code)" $?
out=$(curl -s -m 20 "http://127.0.0.1:$SP/nothing-here"; echo "rc=$?")
[ "$out" = "rc=52" ]; check "stealth drop (got $out)" $?
$PY - "$SP" <<'PYEOF'
import asyncio, sys, websockets
async def main():
    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/echo") as ws:
        await ws.send("ping me"); assert await ws.recv() == "ping me"
        await ws.send(b"\x01" * 70000); assert len(await ws.recv()) == 70000
asyncio.run(main())
PYEOF
check "echo session" $?

kill -TERM "$cpid" "$mpid" "$ppid" "$spid" "$epid" "$kpid"
wait "$cpid"; crc=$?
wait "$mpid"; mrc=$?
wait "$ppid"; prc=$?
wait "$spid"; src=$?
wait "$epid"; erc=$?
wait "$kpid"; krc=$?
[ $crc = 0 ]; check "client under valgrind exits 0 (got $crc)" $?
[ $mrc = 0 ]; check "--mux client under valgrind exits 0 (got $mrc)" $?
[ $prc = 0 ]; check "--pool client under valgrind exits 0 (got $prc)" $?
[ $src = 0 ]; check "server under valgrind exits 0 (got $src)" $?
[ $erc = 0 ]; check "--mux --encrypt client under valgrind exits 0 (got $erc)" $?
[ $krc = 0 ]; check "--encrypt server under valgrind exits 0 (got $krc)" $?
for who in server client mux pool sealsrv sealed; do
	if grep -q "ERROR SUMMARY: 0 errors" "$dir/$who.vg"; then
		pass=$((pass+1))
	else
		echo "FAIL valgrind found errors or leaks in the $who:"; sed -n '/HEAP SUMMARY/,$p' "$dir/$who.vg" | head -60
		grep -B2 -A20 "Invalid\|uninitialised\|definitely lost in" "$dir/$who.vg" | head -60
		fail=$((fail+1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
