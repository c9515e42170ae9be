#!/bin/sh
# fuzz.sh SECONDS [NAME...] — run each libFuzzer target (or the named ones)
# for SECONDS on a scratch copy of its seed corpus; new inputs are not kept
# (keep them by copying from the printed directory). Prints a count line.
cd "$(dirname "$0")/.." || exit 1
secs=${1:-20}
shift
names=$*
[ -z "$names" ] && names=$(cd build-fuzz && ls *_fuzz 2>/dev/null)
pass=0
fail=0
for name in $names; do
	base=${name%_fuzz}
	work=$(mktemp -d)
	cp -r "test/fuzz/corpus/$base/." "$work/" 2>/dev/null
	dict=""
	[ -f "test/fuzz/$base.dict" ] && dict="-dict=test/fuzz/$base.dict"
	if "build-fuzz/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/" $dict "$work" >"$work.log" 2>&1; then
		echo "fuzz $name: $(grep -E 'stat::number_of_executed_units' "$work.log" | awk '{print $2}') runs in ${secs}s, no crash"
		pass=$((pass + 1))
	else
		tail -n 40 "$work.log"
		echo "fuzz $name: CRASH, artifacts in $work"
		fail=$((fail + 1))
		continue
	fi
	rm -rf "$work" "$work.log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
