#!/bin/sh
# man_test.sh — the manual pages render without a warning (groff -ww), their
# NAME lines parse for whatis/apropos (lexgrog, when man-db is installed),
# and every long option the binary knows is documented in wsferry.1.
cd "$(dirname "$0")/../.." || exit 1
pass=0
fail=0
for page in man/*.[1-8]; do
	if out=$(groff -ww -z -man -t "$page" 2>&1) && [ -z "$out" ]; then
		pass=$((pass + 1))
	else
		echo "FAIL $page: $out"
		fail=$((fail + 1))
	fi
	if command -v lexgrog >/dev/null; then
		if lexgrog "$page" >/dev/null 2>&1; then
			pass=$((pass + 1))
		else
			echo "FAIL $page: lexgrog cannot read its NAME section"
			fail=$((fail + 1))
		fi
	fi
done
for opt in $(grep -ho '{"[a-z-]*", ' bin/*.c | sed -E 's/\{"([a-z-]*)", /\1/' | sort -u); do
	if grep -q -- "-\\\\-$(echo "$opt" | sed 's/-/\\\\-/g')" man/wsferry.1; then
		pass=$((pass + 1))
	else
		echo "FAIL --$opt is not documented in man/wsferry.1"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
