#!/bin/sh
# run.sh — the whole suite after `make test` built everything: unit tests
# (plain and ASan+UBSan), integration tests against the real binary (plain,
# sanitized, and one scenario under valgrind), the router builds under qemu
# (test/cross.py), then each fuzzer briefly.
# Sums every "N passed, N failed" and prints the total last; the line before
# it says how much of that total is end-to-end scenarios, how much unit
# checks (many of them one per byte or split point) and how much fuzz runs.
cd "$(dirname "$0")/.." || exit 1
PY=/usr/bin/python3
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
total_pass=0
total_fail=0
# per kind (unit, e2e, fuzz): what run() adds to the totals
unit_pass=0; unit_fail=0; e2e_pass=0; e2e_fail=0; fuzz_pass=0; fuzz_fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Runs "$@" with a time bound, shows its output, adds its counts (to the
# totals and to $kind's). A run that prints no count line, or exits non-zero
# with none failed, counts one failure.
run() {
	name=$1; shift
	out="$log/out"
	timeout -k 5 "${T:-300}" "$@" >"$out" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	[ -z "$p" ] && p=0
	[ -z "$f" ] && f=0
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$f" -ne 0 ]; then
		cat "$out"
		echo "FAIL $name (exit $rc): $p passed, $f failed"
	else
		echo "ok   $name: $p passed"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	case $kind in
	unit) unit_pass=$((unit_pass + p)); unit_fail=$((unit_fail + f)) ;;
	e2e) e2e_pass=$((e2e_pass + p)); e2e_fail=$((e2e_fail + f)) ;;
	fuzz) fuzz_pass=$((fuzz_pass + p)); fuzz_fail=$((fuzz_fail + f)) ;;
	esac
}

kind=unit
run "test/layers.sh (include rules)" sh test/layers.sh
for dir in build build-san; do
	for t in $(find "$dir/test" -type f -name '*_test' 2>/dev/null | sort); do
		run "$t" "./$t"
	done
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
kind=e2e
for bin in build/wsferry build-san/wsferry; do
	for t in test/integration/*_test.py; do
		[ -f "$t" ] || continue
		WSFERRY="./$bin" run "$t [$bin]" $PY "$t"
	done
	for t in test/integration/*_test.sh; do
		[ -f "$t" ] || continue
		WSFERRY="./$bin" run "$t [$bin]" sh "$t"
	done
done

for s in test/integration/*_scenario.sh; do
	[ -f "$s" ] || continue
	WSFERRY=./build/wsferry run "$s" sh "$s"
done

# The router builds under qemu-user against each other and the native static
# build ($CROSS: the make variable; unset means all, empty none).
cross=${CROSS-aarch64 armhf mipsel}
if [ -n "$cross" ]; then
	run "test/cross.py $cross" $PY test/cross.py $cross
fi

kind=fuzz
for f in build-fuzz/*_fuzz; do
	[ -x "$f" ] || continue
	T=$((FUZZ_SECONDS + 60)) run "$f ${FUZZ_SECONDS}s" sh test/fuzz.sh "$FUZZ_SECONDS" "$(basename "$f")"
done

echo "of these: $((e2e_pass + e2e_fail)) end-to-end scenarios ($e2e_pass passed, $e2e_fail failed;" \
	"integration tests *_test.py, *_test.sh against build/ and build-san/, and *_scenario.sh)," \
	"$((unit_pass + unit_fail)) unit checks ($unit_pass passed, $unit_fail failed; C unit test" \
	"binaries, plain and sanitized, many of them one check per byte or split point) and" \
	"$((fuzz_pass + fuzz_fail)) fuzz runs ($fuzz_pass passed, $fuzz_fail failed)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
