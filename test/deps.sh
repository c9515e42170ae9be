#!/bin/sh
# deps.sh — install what a fresh Debian machine lacks for building (and, with
# "test", for testing). Idempotent: only missing packages are installed.
# With "test" it then checks that every real peer the integration tests drive
# (nginx, haproxy, tinyproxy, node with its ws module, python3's websockets, faketime,
# curl, openssl, valgrind, groff, dnsmasq, dig, ip, nft, shadowsocks-libev ...) actually runs, and fails naming what is
# missing: a test that cannot find its peer counts as failed, never skipped.
set -e
want="libbearssl-dev libsqlite3-dev make gcc"
# cross: what test/cross.py drives (the cross compilers come with make static)
cross="qemu-user-static python3 openssl file"
if [ "${1:-}" = "cross" ]; then
	want="$want $cross"
elif [ "${1:-}" = "test" ]; then
	want="$want clang libclang-rt-14-dev python3 python3-websockets curl valgrind \
		nodejs node-ws groff-base faketime tinyproxy nginx openssl ca-certificates \
		procps util-linux file dnsmasq-base bind9-dnsutils sqlite3 chromium npm \
		iproute2 nftables busybox openssh-server openssh-client socat shadowsocks-libev $cross haproxy redis-server \
		prometheus"
fi
# npm packages the browser and Socket.IO tests drive, in test/npm/ (ignored
# by git), pinned by major version.
NPM_PACKAGES="puppeteer-core@22 socket.io-client@4"
# has PACKAGE: installed, or (nginx) any flavour that provides the binary
has() {
	dpkg -s "$1" >/dev/null 2>&1 && return 0
	[ "$1" = nginx ] && [ -x /usr/sbin/nginx ] && return 0
	[ "$1" = npm ] && command -v npm >/dev/null # nodesource's nodejs brings its own
}
missing=""
for p in $want; do
	has "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: run as root, or install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" = "test" ] || exit 0
# (cross.py names a missing qemu-ARCH-static itself)

npm_dir="$(dirname "$0")/npm"
if [ ! -d "$npm_dir/node_modules/puppeteer-core" ] || [ ! -d "$npm_dir/node_modules/socket.io-client" ]; then
	echo "deps: npm install $NPM_PACKAGES (test/npm)"
	mkdir -p "$npm_dir"
	(cd "$npm_dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --silent \
		$NPM_PACKAGES >/dev/null)
fi

# The peers, as the tests call them.
bad=""
peer() { # peer WHAT COMMAND...: WHAT is missing unless COMMAND succeeds
	what=$1; shift
	"$@" >/dev/null 2>&1 || bad="$bad
  $what"
}
peer "nginx (package nginx)" sh -c 'command -v nginx || test -x /usr/sbin/nginx'
peer "tinyproxy (package tinyproxy)" sh -c 'command -v tinyproxy || test -x /usr/bin/tinyproxy'
peer "node (package nodejs)" sh -c 'command -v node || command -v nodejs'
peer "node's ws module in /usr/share/nodejs (package node-ws)" \
	env NODE_PATH=/usr/share/nodejs sh -c 'node -e "require(\"ws\")" || nodejs -e "require(\"ws\")"'
peer "python3 websockets for /usr/bin/python3 (package python3-websockets)" \
	/usr/bin/python3 -c 'import websockets'
peer "sshd (package openssh-server)" sh -c 'command -v sshd || test -x /usr/sbin/sshd'
peer "dnsmasq (package dnsmasq-base)" sh -c 'command -v dnsmasq || test -x /usr/sbin/dnsmasq'
peer "haproxy (package haproxy)" sh -c 'command -v haproxy || test -x /usr/sbin/haproxy'
peer "redis-server (package redis-server)" sh -c 'command -v redis-server'
peer "chromium (package chromium)" sh -c 'command -v chromium'
peer "npm puppeteer-core and socket.io-client in test/npm" \
	env NODE_PATH="$npm_dir/node_modules" node -e 'require("puppeteer-core"); require("socket.io-client")'
peer "ss-server and ss-local (package shadowsocks-libev)" sh -c 'command -v ss-server && command -v ss-local'
for c in socat faketime curl openssl valgrind groff pgrep prlimit unshare file dig sqlite3 ip nft busybox promtool; do
	peer "$c" sh -c "command -v $c"
done
if [ -n "$bad" ]; then
	echo "deps: test peers missing (the tests that need them would fail):$bad" >&2
	exit 1
fi
