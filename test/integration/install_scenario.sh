#!/bin/sh
# install_scenario.sh — `make install PREFIX=... DESTDIR=...` (under a
# restrictive umask) puts the binary, the library and its header, and every
# man/*.1, *.3, *.5, *.7 page, and nothing else, under DESTDIR/PREFIX: binary
# 755 and identical to the build, library, header and pages 644 (pages in
# their section's directory), directories 755.
cd "$(dirname "$0")/../.." || exit 1
BIN=build/wsferry
dir=$(mktemp -d)
pass=0
fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
trap 'rm -rf "$dir"' EXIT
mode() { stat -c %a "$1" 2>/dev/null; }

root=$dir/dest
prefix=/opt/wsferry-test
(umask 077 && make -s --no-print-directory install PREFIX="$prefix" DESTDIR="$root") \
	>"$dir/make.log" 2>&1
r=$?
[ $r = 0 ] || cat "$dir/make.log"
check "make install PREFIX=$prefix DESTDIR=<tmp> (exit $r)" $r

top=$root$prefix
b=$top/bin/wsferry
[ -f "$b" ] && [ "$(mode "$b")" = 755 ]; check "bin/wsferry installed, mode 755 (got $(mode "$b"))" $?
cmp -s "$b" "$BIN"; check "installed binary is $BIN" $?
out=$("$b" --version 2>&1); check "installed wsferry --version: $out" $?
[ "$(mode "$top/bin")" = 755 ]; check "bin/ is 755 (got $(mode "$top/bin"))" $?

want=3
for f in lib/libwsferry.a:build/libwsferry.a include/wsferry.h:include/wsferry.h; do
	got=$top/${f%%:*}
	[ -f "$got" ] && [ "$(mode "$got")" = 644 ] && cmp -s "$got" "${f#*:}"
	check "${f#*:} -> ${f%%:*}, mode 644 (got $(mode "$got"))" $?
done
for p in man/*.1 man/*.3 man/*.5 man/*.7; do
	[ -f "$p" ] || continue
	want=$((want + 1))
	sec=${p##*.}
	f=$top/share/man/man$sec/$(basename "$p")
	[ -f "$f" ] && [ "$(mode "$f")" = 644 ] && cmp -s "$f" "$p"
	check "$p -> share/man/man$sec/, mode 644 (got $(mode "$f"))" $?
	[ "$(mode "$top/share/man/man$sec")" = 755 ]; check "share/man/man$sec/ is 755" $?
done
n=$(find "$root" -type f | wc -l)
[ "$n" = "$want" ]; check "exactly $want files installed (got $n: $(find "$root" -type f | sed "s|$root||" | tr '\n' ' '))" $?
n=$(find "$root" ! -type f ! -type d | wc -l)
[ "$n" = 0 ]; check "nothing but files and directories" $?
n=$(find "$root" -type d ! -perm 755 | wc -l)
[ "$n" = 0 ]; check "every directory is 755" $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
