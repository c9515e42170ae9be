#!/bin/sh
# deps.sh — install what a fresh Debian machine lacks for building (and, with
# "test", for testing). Idempotent: only missing packages are installed.
set -e
want="libbearssl-dev make gcc"
if [ "${1:-}" = "test" ]; then
	want="$want clang libclang-rt-14-dev python3 python3-websockets curl valgrind \
		nodejs node-ws groff-base faketime tinyproxy nginx-light openssl ca-certificates"
fi
missing=""
for p in $want; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root, or install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
