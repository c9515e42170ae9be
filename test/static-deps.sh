#!/bin/sh
# static-deps.sh — what `make static` needs beyond a normal build: musl-gcc,
# and BearSSL 0.6 compiled with it into build-static/bearssl/{libbearssl.a,inc/}
# (Debian's libbearssl.a calls glibc's fortify __*_chk functions, so musl
# cannot link it). The source is Debian's own package (`apt-get source`):
# the only network is Debian's package servers, through apt. Cached: once the
# library exists this does nothing. Never writes outside build-static/ in the
# tree; outside it, only apt's state and one deb-src entry in sources.list.d.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
out=build-static/bearssl
log=build-static/bearssl-build.log
srclist=/etc/apt/sources.list.d/wsferry-deb-src.sources
mkdir -p build-static/src

# One run at a time (make test and a hand-run make static may overlap).
exec 9>build-static/.deps.lock
flock 9

say() { echo "static-deps: $*"; }
die() { echo "static-deps: $*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || die "run as root, or $*"; }
export DEBIAN_FRONTEND=noninteractive
APT="-q -o DPkg::Lock::Timeout=120"

# musl-tools: musl-gcc; dpkg-dev: dpkg-source for apt-get source; file: the
# static scenario's "statically linked" check.
missing=""
for p in musl-tools dpkg-dev file; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	as_root "install:$missing"
	say "installing$missing"
	apt-get update $APT >/dev/null || die "apt-get update failed (no route to Debian's servers?)"
	apt-get install -y $APT --no-install-recommends $missing >/dev/null ||
		die "could not install$missing"
fi

[ -f "$out/libbearssl.a" ] && [ -f "$out/inc/bearssl.h" ] && exit 0
start=$(date +%s)

# Source index: apt must know bearssl's source package. This machine's
# Debian entries (deb822 .sources, or one-line sources.list) carry only
# "Types: deb"; rather than edit them, add one deb-src stanza with the same
# mirror and key, and fetch only its index.
if ! apt-cache showsrc bearssl 2>/dev/null | grep -q '^Package: bearssl'; then
	as_root "add a deb-src entry for Debian and run: apt-get update"
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	uri="" key=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$srclist" ] || continue
		# the paragraph whose Suites name the release itself (not -security)
		set -- $(awk -v s="$suite" 'BEGIN { RS = "" }
			$0 ~ "(^|\n)Suites:([^\n]* )?" s "( |\n|$)" {
				u = ""; k = ""
				n = split($0, l, "\n")
				for (i = 1; i <= n; i++) {
					if (l[i] ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", l[i]); split(l[i], w, " "); u = w[1] }
					if (l[i] ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", l[i]); k = l[i] }
				}
				if (u != "") { print u, k; exit }
			}' "$f")
		[ -n "${1:-}" ] && uri=$1 && key=${2:-} && break
	done
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i+1) == s) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	[ -n "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.gpg
	say "adding $srclist (deb-src $uri $suite main)"
	cat >"$srclist" <<EOF
# Added by wsferry's test/static-deps.sh: BearSSL's source for the static
# musl build (apt-get source bearssl). Safe to remove.
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $key
EOF
	# Fetch this one index only; keep every other list as it is.
	apt-get update $APT -o Dir::Etc::sourcelist="$srclist" -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 >/dev/null ||
		die "apt-get update of $srclist failed (no route to $uri?)"
	apt-cache showsrc bearssl 2>/dev/null | grep -q '^Package: bearssl' ||
		die "no source package for bearssl in $uri $suite"
fi

cd build-static/src
if ! ls -d bearssl-*/ >/dev/null 2>&1; then
	say "apt-get source bearssl"
	# root would hand the download to the _apt user, who cannot write here
	apt-get source $APT -o APT::Sandbox::User=root bearssl >/dev/null ||
		die "apt-get source bearssl failed"
fi
src=$(ls -d bearssl-*/ | head -n 1)
src=${src%/}

# BearSSL's own build (conf/Unix.mk); every variable we change is given here.
# Per-function and per-object sections so our --gc-sections drops what the
# chosen profiles never call.
say "building $src with musl-gcc (log: $log)"
make -C "$src" -j"$(nproc)" CONF=Unix BUILD=build-musl CC=musl-gcc LD=musl-gcc AR=ar \
	CFLAGS="-W -Wall -Os -ffunction-sections -fdata-sections" lib >"$top/$log" 2>&1 ||
	{ tail -n 20 "$top/$log" >&2; die "BearSSL build failed"; }
cd "$top"
if nm "build-static/src/$src/build-musl/libbearssl.a" 2>/dev/null | grep -q ' U __.*_chk$'; then
	die "libbearssl.a was built against glibc (fortify symbols)"
fi
# Publish whole or not at all: the cache test above trusts these files.
rm -rf "$out.tmp"
mkdir -p "$out.tmp/inc"
cp "build-static/src/$src/build-musl/libbearssl.a" "$out.tmp/"
cp "build-static/src/$src"/inc/*.h "$out.tmp/inc/"
rm -rf "$out"
mv "$out.tmp" "$out"
say "BearSSL ready in $out ($(($(date +%s) - start)) s)"
