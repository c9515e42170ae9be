#!/bin/sh
# openwrt_pkg_scenario.sh — contrib/openwrt/Makefile, the OpenWrt package,
# driven by stand-ins written here for what OpenWrt's build system gives it
# (rules.mk, package.mk: the variables, Download, BuildPackage running
# Build/Prepare, Build/Configure, Build/Compile and Package/install), with
# this machine's gcc as the "target" compiler and BearSSL's Debian source
# (build-static/src, from `make static`) packed as the bearssl-0.6.tar.gz
# the package downloads. Checks: the package's recipes run, the tree's
# source and BearSSL build with them, the install root holds exactly
# usr/bin/wsferry (naming the tree's revision), etc/init.d/wsferry
# (executable, procd) and etc/config/wsferry, PKG_VERSION is numeric (apk),
# the BearSSL download's hash is the published one. Not OpenWrt itself: its
# SDK cannot be fetched here.
cd "$(dirname "$0")/../.." || exit 1
TOP=$(pwd)
dir=$(mktemp -d)
pass=0
fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
trap '[ -n "$KEEP" ] && echo "kept $dir" || rm -rf "$dir"' EXIT

src=$(ls -d build-static/src/bearssl-*/ 2>/dev/null | head -n 1)
if [ -z "$src" ]; then
	sh test/static-deps.sh >"$dir/deps.log" 2>&1 || { tail -n 5 "$dir/deps.log"; }
	src=$(ls -d build-static/src/bearssl-*/ 2>/dev/null | head -n 1)
fi
[ -n "$src" ]; check "BearSSL's Debian source in build-static/src (make static)" $?
[ -n "$src" ] || { echo "$pass passed, $fail failed"; exit 1; }

owrt=$dir/openwrt
mkdir -p "$owrt/include" "$owrt/dl" "$owrt/build_dir" "$owrt/root" "$owrt/package"
# bearssl-0.6.tar.gz as upstream lays it out (top directory bearssl-0.6),
# made from Debian's source tree without its build outputs.
mkdir -p "$dir/bs"
cp -r "$src" "$dir/bs/bearssl-0.6"
rm -rf "$dir/bs/bearssl-0.6"/build* "$dir/bs/bearssl-0.6/debian"
tar -C "$dir/bs" -czf "$owrt/dl/bearssl-0.6.tar.gz" bearssl-0.6

cat >"$owrt/rules.mk" <<'EOF'
# stand-in for OpenWrt's rules.mk: the variables the package uses
INCLUDE_DIR := $(TOPDIR)/include
BUILD_DIR := $(TOPDIR)/build_dir
DL_DIR := $(TOPDIR)/dl
TAR := tar
CP := cp -fpR
INSTALL_DIR := install -d -m0755
INSTALL_BIN := install -m0755
INSTALL_CONF := install -m0600
TARGET_CC := gcc
TARGET_AR := ar
TARGET_CFLAGS := -Os -pipe
TARGET_LDFLAGS :=
EOF
cat >"$owrt/include/package.mk" <<'EOF'
# stand-in for OpenWrt's package.mk: Download records the file (and prints
# its hash), BuildPackage makes `compile` run the package's recipes in
# OpenWrt's order and `info` print what the checks read.
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
define Download
$(eval $(Download/$(1)))
DL_FILES += $(FILE)=$(HASH)
endef
define BuildPackage
compile:
	$$(Build/Prepare)
	$$(Build/Configure)
	$$(Build/Compile)
	$$(call Package/$(1)/install,$$(ROOT))
info:
	@echo "version=$$(PKG_VERSION)"
	@echo "downloads=$$(DL_FILES)"
	@printf '%s\n' "conffiles=$$(strip $$(Package/$(1)/conffiles))"
endef
EOF
# a copy of the package directory, as in an SDK, told where the tree is
cp -r contrib/openwrt "$owrt/package/wsferry"

make -s -C "$owrt/package/wsferry" TOPDIR="$owrt" WSFERRY_SRC="$TOP" info >"$dir/info" 2>&1
r=$?
[ $r = 0 ] || cat "$dir/info"
check "the package Makefile parses (make info, exit $r)" $r
grep -q '^version=0\.[0-9][0-9]*$' "$dir/info"
check "PKG_VERSION is numeric for apk: $(grep '^version=' "$dir/info")" $?
grep -q 'downloads=bearssl-0.6.tar.gz=6705bba1714961b41a728dfc5debbe348d2966c117649392f8c8139efc83ff14' "$dir/info"
check "BearSSL 0.6 download with the published SHA-256" $?
grep -q '^conffiles=/etc/config/wsferry /etc/wsferry/$' "$dir/info"
check "conffiles: /etc/config/wsferry and /etc/wsferry/" $?

start=$(date +%s)
make -C "$owrt/package/wsferry" -j2 TOPDIR="$owrt" WSFERRY_SRC="$TOP" ROOT="$owrt/root" \
	compile >"$dir/compile.log" 2>&1
r=$?
[ $r = 0 ] || tail -n 30 "$dir/compile.log"
check "Build/Prepare, Build/Compile (BearSSL lib, wsferry) and Package/install run (exit $r, $(($(date +%s) - start)) s)" $r

files=$(cd "$owrt/root" 2>/dev/null && find . -type f | sort | tr '\n' ' ')
[ "$files" = "./etc/config/wsferry ./etc/init.d/wsferry ./usr/bin/wsferry " ]
check "installed exactly etc/config/wsferry etc/init.d/wsferry usr/bin/wsferry (got: $files)" $?
[ -d "$owrt/root/etc/wsferry" ]; check "etc/wsferry/ made for the key" $?
[ -x "$owrt/root/etc/init.d/wsferry" ] && head -n 1 "$owrt/root/etc/init.d/wsferry" | grep -q '^#!/bin/sh /etc/rc.common$' &&
	grep -q '^USE_PROCD=1$' "$owrt/root/etc/init.d/wsferry"
check "init script executable, rc.common, USE_PROCD" $?
want="wsferry $(git describe --always --dirty 2>/dev/null || echo unknown)"
got=$("$owrt/root/usr/bin/wsferry" --version 2>&1)
[ "$got" = "$want" ]; check "usr/bin/wsferry --version: '$got' (want '$want')" $?
# the package's binary is a working wsferry: keygen, and a server starts
k=$("$owrt/root/usr/bin/wsferry" keygen 2>&1); r=$?
[ $r = 0 ] && [ ${#k} -ge 32 ]; check "usr/bin/wsferry keygen" $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
