#!/bin/sh
# static_scenario.sh — the `make static` binary: --version names the revision
# it was built from (a new revision rebuilds bin/main.o), fully static (file,
# ldd), stripped, within the size budget, and a server + client -L round trip
# (and wss://, once the command line offers TLS) works with every libbearssl
# file hidden by bind mounts in a private mount namespace, where the dynamic
# build is shown not to start, as a control.
cd "$(dirname "$0")/../.." || exit 1
SBIN=build-static/wsferry
DYN=${WSFERRY:-./build/wsferry}
PY=/usr/bin/python3
BUDGET_KIB=${STATIC_BUDGET_KIB:-400}
dir=$(mktemp -d)
pass=0
fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
trap 'rm -rf "$dir"' EXIT

if [ ! -x "$SBIN" ]; then
	echo "building $SBIN (make static)"
	if ! make --no-print-directory static >"$dir/make.log" 2>&1; then
		tail -n 25 "$dir/make.log"
		if grep -q '^static-deps: ' "$dir/make.log"; then
			echo "FAIL make static: could not get the compiler or musl's and BearSSL's sources from Debian (see above)"
		else
			echo "FAIL make static: the build failed (see above)"
		fi
		fail=$((fail+1)); finish
	fi
fi

# --version: a new revision must reach main.o (it once kept the old one).
# Up to date first; then claim another revision: make must want main.o
# rebuilt; make static rebuilds it and the binary names the tree's revision.
make --no-print-directory static >"$dir/make1.log" 2>&1; r=$?
[ $r = 0 ] || tail -n 20 "$dir/make1.log"
check "make static" $r
make -q --no-print-directory STATIC=1 build-static/bin/main.o >/dev/null 2>&1
check "build-static/bin/main.o up to date after make static" $?
make -q --no-print-directory STATIC=1 VERSION=0000000-stamp-test build-static/bin/main.o >/dev/null 2>&1
[ $? = 1 ]; check "another revision makes build-static/bin/main.o out of date" $?
make --no-print-directory static >"$dir/make2.log" 2>&1; r=$?
[ $r = 0 ] || tail -n 20 "$dir/make2.log"
check "make static after a revision change" $r
want=$(git describe --always --dirty 2>/dev/null || echo unknown)
got=$("$SBIN" --version 2>&1); r=$?
[ $r = 0 ] && [ "$got" = "wsferry $want" ]; check "--version is 'wsferry $want' (got '$got', exit $r)" $?

# SQLite is compiled out of the router build, and the binary says so.
out=$(WSFERRY_PUSH_KEY=static-scenario-push-key "$SBIN" server ws://127.0.0.1:1 --push /p \
	--push-db "$dir/x.db" 2>&1); r=$?
case $r:$out in 2:*"without SQLite"*) r=0 ;; *) r=1 ;; esac
check "--push-db on the static build: exit 2, built without SQLite (got: $out)" $r
! grep -qa "SQLite format 3" "$SBIN"; check "no SQLite linked into $SBIN" $?

out=$(file -L "$SBIN" 2>&1)
case $out in *"statically linked"*) r=0 ;; *) r=1 ;; esac
check "file says statically linked: $out" $r
case $out in *", stripped"*) r=0 ;; *) r=1 ;; esac
check "stripped" $r
out=$(ldd "$SBIN" 2>&1)
case $out in *"not a dynamic executable"*) r=0 ;; *) r=1 ;; esac
check "ldd says not a dynamic executable: $out" $r
size=$(wc -c <"$SBIN")
echo "$SBIN: $size bytes ($((size / 1024)) KiB), budget $BUDGET_KIB KiB"
[ "$size" -le $((BUDGET_KIB * 1024)) ]; check "size $size bytes <= $BUDGET_KIB KiB" $?

# The round trips run in a fresh mount namespace where each installed
# libbearssl file (the .so.0.6 every symlink names, the .a) is an empty file.
hide=""
for f in $(dpkg -L libbearssl0 libbearssl-dev 2>/dev/null | grep '/lib/.*/libbearssl[^/]*$'); do
	[ -f "$f" ] && [ ! -L "$f" ] && hide="$hide $f"
done
: >"$dir/empty"
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cat >"$dir/echo.py" <<'PYEOF'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
def serve(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
PYEOF
cat >"$dir/roundtrip.py" <<'PYEOF'
import os, socket, sys, time
data = os.urandom(300000)
deadline = time.time() + 20
while True:
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.1)
c.settimeout(20)
c.sendall(data); c.shutdown(socket.SHUT_WR)
got = b""
while len(got) < len(data):
    b = c.recv(65536)
    if not b:
        break
    got += b
print("echoed %d of %d bytes, %s" % (len(got), len(data), "equal" if got == data else "DIFFERENT"))
sys.exit(0 if got == data else 1)
PYEOF
# tunnel.sh: the ws:// and wss:// legs ($LEGS) with $BIN as server and
# client, the echo server behind; its inputs come in the environment.
cat >"$dir/tunnel.sh" <<'EOF'
say() { if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fi; }
# wait_up PID PORT: until PORT accepts, or PID has exited (5 s at most)
wait_up() {
	i=0
	while [ $i -lt 50 ] && kill -0 "$1" 2>/dev/null; do
		$PY -c "import socket;socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null && return 0
		sleep 0.1; i=$((i+1))
	done
	return 1
}
logs() { for l in "$@"; do echo "--- $l:"; cat "$dir/$l"; done; }
$PY "$dir/echo.py" "$EP" & epid=$!
wait_up $epid "$EP"
case " $LEGS " in *" ws "*)
	"$BIN" server -q "ws://127.0.0.1:$SP" 2>"$dir/server.err" & spid=$!
	wait_up $spid "$SP"
	"$BIN" client -q "ws://127.0.0.1:$SP" -L "$LP:127.0.0.1:$EP" 2>"$dir/client.err" & cpid=$!
	out=$(timeout 40 $PY "$dir/roundtrip.py" "$LP" 2>&1); r=$?
	[ $r = 0 ] || { echo "$out"; logs server.err client.err; }
	say "client -L -> server -> echo round trip: $(echo "$out" | tail -n 1)" $r
	kill -TERM $cpid $spid 2>/dev/null
	wait $cpid; c=$?; wait $spid; s=$?
	[ $c = 0 ] && [ $s = 0 ]; say "client and server exit 0 on SIGTERM (client $c, server $s)" $?
esac
# TLS, once the command line offers it: a build that still refuses wss://
# says so in its usage error.
case " $LEGS " in *" wss "*)
	"$BIN" server "wss://127.0.0.1:$TSP" 2>"$dir/tserver.err" & tspid=$!
	if ! wait_up $tspid "$TSP" && grep -q "does not have\|not in this build" "$dir/tserver.err"; then
		echo "SKIP wss:// round trip: $(grep wss "$dir/tserver.err" | head -n 1)"
	else
		"$BIN" client --insecure "wss://127.0.0.1:$TSP" -L "$TLP:127.0.0.1:$EP" \
			2>"$dir/tclient.err" & tcpid=$!
		out=$(timeout 40 $PY "$dir/roundtrip.py" "$TLP" 2>&1); r=$?
		[ $r = 0 ] || { echo "$out"; logs tserver.err tclient.err; }
		say "wss:// client -L -> server -> echo round trip: $(echo "$out" | tail -n 1)" $r
		kill -TERM $tcpid 2>/dev/null; wait $tcpid
	fi
	kill -TERM $tspid 2>/dev/null; wait $tspid
esac
kill $epid 2>/dev/null
exit 0
EOF
# inner.sh, inside the namespace: hide BearSSL, the control, then the legs.
cat >"$dir/inner.sh" <<'EOF'
say() { if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fi; }
for f in $hide; do
	mount --bind "$dir/empty" "$f" || { echo "FAIL bind mount over $f"; exit 1; }
done
for f in $hide; do [ ! -s "$f" ]; say "$f is empty in the namespace" $?; done
if [ -n "$hide" ] && [ -x "$DYN" ] && ldd "$DYN" 2>/dev/null | grep -q libbearssl; then
	"$DYN" --version >/dev/null 2>&1; [ $? != 0 ]
	say "control: the dynamic $DYN cannot start without libbearssl" $?
fi
v=$("$BIN" --version 2>&1); say "static --version without BearSSL: $v" $?
exec sh "$dir/tunnel.sh"
EOF
ports() { echo "EP=$(free_port) SP=$(free_port) LP=$(free_port) TSP=$(free_port) TLP=$(free_port)"; }
env hide="$hide" dir="$dir" BIN="$SBIN" DYN="$DYN" PY="$PY" LEGS="ws wss" $(ports) \
	timeout -k 5 120 unshare -m sh "$dir/inner.sh" >"$dir/inner.out" 2>&1
r=$?
cat "$dir/inner.out"
[ $r = 0 ]; check "unshare -m sh (exit $r; needs root or CAP_SYS_ADMIN)" $?
n=$(grep -c '^PASS ' "$dir/inner.out"); pass=$((pass + n))
n=$(grep -c '^FAIL ' "$dir/inner.out"); fail=$((fail + n))
grep -q '^[A-Z]* client -L' "$dir/inner.out" || { echo "FAIL the plain round trip did not run"; fail=$((fail+1)); }
# A wss:// failure the dynamic build shares is TLS's own (its tests own it),
# not the static build's: reported, not counted here.
if grep -q '^FAIL wss://' "$dir/inner.out" && [ -x "$DYN" ]; then
	env dir="$dir" BIN="$DYN" PY="$PY" LEGS="wss" $(ports) \
		timeout -k 5 60 sh "$dir/tunnel.sh" >"$dir/dyn.out" 2>&1
	if grep -q '^FAIL wss://' "$dir/dyn.out"; then
		echo "NOTE the wss:// failure above happens with the dynamic $DYN too: not counted here"
		fail=$((fail - 1))
	else
		echo "the dynamic $DYN passes the same wss:// round trip"
	fi
fi
finish
