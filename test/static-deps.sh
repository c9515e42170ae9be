#!/bin/sh
# static-deps.sh [ARCH [FLAGS]] — what `make static [ARCH=...]` needs beyond a normal
# build: a musl toolchain for ARCH and BearSSL 0.6 compiled with it into
# build-static[-ARCH]/bearssl/{libbearssl.a,inc/} (Debian's libbearssl.a calls
# glibc's fortify __*_chk functions, so musl cannot link it).
#   native (default): Debian's gcc and musl 1.2.3 built from Debian's source
#     package with it, installed (with its own musl-gcc wrapper) in
#     build-static/musl/: not Debian's libc.a of musl-tools, whose objects
#     (-O2, no per-function sections) cost 12 KiB more in the binary.
#   aarch64, armhf, mipsel: the same with Debian's cross gcc (gcc-TRIPLET),
#     in build-static-ARCH/musl/. Not Debian's multiarch
#     musl-dev:ARCH, which would need `dpkg --add-architecture` (three more
#     package indexes on every apt-get update of this shared machine) and a
#     hand-written specs file anyway.
# FLAGS: the Makefile's STATIC_ARCH_OPT_ARCH, added to BearSSL's (not musl's).
# Sources are Debian's own packages (`apt-get source`), kept once in
# build-static/src for every ARCH: the only network is Debian's package
# servers, through apt. Cached: once the library exists this does nothing.
# Never writes outside build-static*/ in the tree; outside it, only apt's
# state and one deb-src entry in sources.list.d.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
arch=${1:-native}
# triplet: Debian's cross toolchain; sdir: this ARCH's build directory
case $arch in
native) triplet="" sdir=build-static ;;
aarch64) triplet=aarch64-linux-gnu ;;
armhf) triplet=arm-linux-gnueabihf ;;
mipsel) triplet=mipsel-linux-gnu ;;
*) echo "static-deps: unknown ARCH '$arch' (native, aarch64, armhf or mipsel)" >&2; exit 2 ;;
esac
[ -n "$triplet" ] && sdir=build-static-$arch
out=$sdir/bearssl
log=$sdir/bearssl-build.log
srclist=/etc/apt/sources.list.d/wsferry-deb-src.sources
mkdir -p build-static/src "$sdir"
# Code flags for musl and BearSSL, as for wsferry's own static objects (the
# Makefile's STATIC_OPT, which says why): a library built with other flags
# is rebuilt (each records its flags beside itself).
opt="-Os -ffunction-sections -fdata-sections -fno-pie -fno-asynchronous-unwind-tables -fno-unwind-tables"
# BearSSL also as link-time-optimisation objects (the Makefile's STATIC_LTO):
# the final link then inlines and drops across the library's boundary.
# Not musl: its startup code and weak aliases are not meant for LTO. Fat
# objects (machine code beside the LTO data): make size-report links once
# without LTO, where each byte keeps the name of the object it came from;
# with the ARCH's own flags (mipsel's MIPS16e), that machine code is what
# the LTO link makes of it, and those bytes are told as they ship.
bopt="$opt${2:+ $2} -flto -ffat-lto-objects"

# One run at a time (make test and a hand-run make static may overlap).
exec 9>build-static/.deps.lock
flock 9

say() { echo "static-deps: $*"; }
die() { echo "static-deps: $*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || die "run as root, or $*"; }
export DEBIAN_FRONTEND=noninteractive
# `make static ARCH=armhf` hands ARCH (and every other command-line variable,
# through MAKEFLAGS) to the makes below, where musl's own ARCH would lose.
unset ARCH MAKEFLAGS MFLAGS MAKELEVEL
APT="-q -o DPkg::Lock::Timeout=120"

# dpkg-dev: dpkg-source for apt-get source; file: the static scenario's
# "statically linked" check; gcc-TRIPLET: the cross gcc and binutils (musl
# is built below).
if [ -n "$triplet" ]; then want="gcc-$triplet dpkg-dev file make"; else want="gcc dpkg-dev file make"; fi
missing=""
for p in $want; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	as_root "install:$missing"
	say "installing$missing"
	apt-get update $APT >/dev/null || die "apt-get update failed (no route to Debian's servers?)"
	apt-get install -y $APT --no-install-recommends $missing >/dev/null ||
		die "could not install$missing"
fi

# source_pkg NAME: Debian's source package NAME unpacked in build-static/src
# (once for every ARCH). Apt must know NAME's source package. This machine's
# Debian entries (deb822 .sources, or one-line sources.list) carry only
# "Types: deb"; rather than edit them, add one deb-src stanza with the same
# mirror and key, and fetch only its index.
source_pkg() {
	pkg=$1 # (set -- below reuses the positional parameters)
	if ! apt-cache showsrc "$pkg" 2>/dev/null | grep -q "^Package: $pkg\$"; then
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
		cat >"$srclist" <<-EOF
	# Added by wsferry's test/static-deps.sh: the sources of BearSSL (and of
	# musl, for the cross builds) for make static (apt-get source). Safe to remove.
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
		apt-cache showsrc "$pkg" 2>/dev/null | grep -q "^Package: $pkg\$" ||
			die "no source package for $pkg in $uri $suite"
	fi

	ls -d build-static/src/"$pkg"-*/ >/dev/null 2>&1 && return 0
	say "apt-get source $pkg"
	# root would hand the download to the _apt user, who cannot write here
	(cd build-static/src && apt-get source $APT -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
		die "apt-get source $pkg failed"
}

# The C compiler for BearSSL and wsferry: musl's own wrapper around gcc (or
# gcc-TRIPLET), from musl built here (out of its source tree, so one tree
# serves every ARCH).
tgcc=${triplet:+$triplet-}gcc
cc=$top/$sdir/musl/bin/musl-gcc ar=$tgcc-ar
if ! [ -x "$cc" ] || ! [ -f "$sdir/musl/lib/libc.a" ] ||
	[ "$(cat "$sdir/musl/cflags" 2>/dev/null)" != "$opt" ]; then
	start=$(date +%s)
	source_pkg musl
	msrc=$(cd build-static/src && ls -d musl-*/ | head -n 1)
	msrc=$top/build-static/src/${msrc%/}
	mlog=$sdir/musl-build.log
	say "building musl ($(basename "$msrc")) with $tgcc (log: $mlog)"
	rm -rf "$sdir/musl-obj" "$sdir/musl"
	mkdir -p "$sdir/musl-obj"
	(cd "$sdir/musl-obj" &&
		"$msrc/configure" ${triplet:+--target="$triplet"} CROSS_COMPILE="${triplet:+$triplet-}" CC="$tgcc" \
			CFLAGS="$opt" --prefix="$top/$sdir/musl" --disable-shared --enable-wrapper=gcc &&
		make -j"$(nproc)" && make install) >"$mlog" 2>&1 ||
		{ tail -n 20 "$mlog" >&2; die "musl build for $arch failed"; }
	rm -rf "$sdir/musl-obj"
	echo "$opt" >"$sdir/musl/cflags"
	say "musl for $arch ready in $sdir/musl ($(($(date +%s) - start)) s)"
fi

# mipsel: the Makefile's STATIC_ARCH_OPT_mipsel compiles our code as
# MIPS16e (-mips16), and its LTO link, which compiles every LTO object with
# the link's flags, BearSSL's too. BearSSL's constant-time crypto cores, on
# the path of every byte of wss:// and of each handshake, stay MIPS32 (32
# registers; MIPS16e has 8): compiled here once more without LTO, so the
# link takes their code as it is, and replaced in the archive. Plain MIPS32
# objects that call into MIPS16e code: -mno-abicalls as the Makefile's,
# -minterlink-compressed so a tail call is never a direct jump to a MIPS16e
# function (which needs jalx).
mips32=""
[ "$arch" = mipsel ] && mips32="chacha20_ct poly1305_ctmul aes_ct* ghash_ctmul* ec_* i31_*"
m32opt="$opt -mno-abicalls -minterlink-compressed"

# The library records its flags and compiler: either changed rebuilds it.
bstamp="$bopt (cc $cc)${mips32:+ (MIPS32: $mips32 with $m32opt)}"
[ -f "$out/libbearssl.a" ] && [ -f "$out/inc/bearssl.h" ] &&
	[ "$(cat "$out/cflags" 2>/dev/null)" = "$bstamp" ] && exit 0
start=$(date +%s)
source_pkg bearssl
src=$(cd build-static/src && ls -d bearssl-*/ | head -n 1)
src=${src%/}

# BearSSL's own build (conf/Unix.mk); every variable we change is given here.
# Per-function and per-object sections so our --gc-sections drops what the
# chosen profiles never call. A flags change rebuilds from clean.
bdir=build-musl${triplet:+-$arch}
rm -rf "build-static/src/$src/$bdir"
say "building $src with $(basename "$cc")${triplet:+ for $arch} (log: $log)"
cd build-static/src
make -C "$src" -j"$(nproc)" CONF=Unix BUILD="$bdir" CC="$cc" LD="$cc" AR="$ar" \
	CFLAGS="-W -Wall $bopt" lib >"$top/$log" 2>&1 ||
	{ tail -n 20 "$top/$log" >&2; die "BearSSL build failed"; }
for pat in $mips32; do
	for o in "$src/$bdir"/obj/$pat.o; do
		[ -f "$o" ] || continue
		n=$(basename "$o" .o)
		c=$(find "$src/src" -name "$n.c" | head -n 1)
		(cd "$src" && "$cc" $m32opt -W -Wall -Isrc -Iinc -c "${c#"$src"/}" -o "$bdir/obj/$n.o") >>"$top/$log" 2>&1 ||
			{ tail -n 20 "$top/$log" >&2; die "BearSSL: $n.c as MIPS32 failed"; }
		"$ar" r "$src/$bdir/libbearssl.a" "$o"
	done
done
cd "$top"
if nm "build-static/src/$src/$bdir/libbearssl.a" 2>/dev/null | grep -q ' U __.*_chk$'; then
	die "libbearssl.a was built against glibc (fortify symbols)"
fi
# Publish whole or not at all: the cache test above trusts these files.
rm -rf "$out.tmp"
mkdir -p "$out.tmp/inc"
cp "build-static/src/$src/$bdir/libbearssl.a" "$out.tmp/"
cp "build-static/src/$src"/inc/*.h "$out.tmp/inc/"
echo "$bstamp" >"$out.tmp/cflags"
rm -rf "$out"
mv "$out.tmp" "$out"
say "BearSSL ready in $out ($(($(date +%s) - start)) s)"
