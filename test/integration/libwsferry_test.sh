#!/bin/sh
# libwsferry_test.sh — the library example (contrib/libwsferry-example.c:
# a server instance in a thread and client instances in the program's own
# loop, one process) from the build that $WSFERRY belongs to: build/ or
# build-san/ (ASan+UBSan, leaks checked at exit); for build/ it runs again
# under valgrind, which must find no error and no leak. Its checks count.
cd "$(dirname "$0")/../.." || exit 1
BIN=${WSFERRY:-./build/wsferry}
EX=$(dirname "$BIN")/contrib/libwsferry-example
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs the example (under "$@" if given) and adds its own counts.
run_example() {
	timeout -k 5 240 "$@" "$EX" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -ne 0 ] && { cat "$log"; echo "FAIL ${1:-example} (exit $rc)"; }
	pass=$((pass + p))
	fail=$((fail + f))
}

if [ ! -x "$EX" ]; then
	echo "FAIL $EX not built (make all)"
	echo "0 passed, 1 failed"
	exit 1
fi
run_example
case $BIN in
*build-san/*) ;;
*)
	if command -v valgrind >/dev/null; then
		run_example valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
			--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 -q
	else
		echo "FAIL valgrind missing"
		fail=$((fail + 1))
	fi
	;;
esac
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
