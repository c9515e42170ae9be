#!/bin/sh
# run.sh — make bench: every micro-benchmark (build/bench/*_bench), then the
# tunnel end to end (bench/tunnel.sh, which rewrites bench/RESULTS.md).
#   sh bench/run.sh [BUILD_DIR]
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
rc=0
for b in "$BUILD"/bench/*_bench; do
	[ -x "$b" ] || continue
	"./$b" || rc=1
done
bash bench/tunnel.sh "$BUILD" || rc=1
exit $rc
