#!/bin/sh
# size.sh [ARCH...] — where the bytes of `make static` go: each ARCH's
# static binary (native, aarch64, armhf, mipsel; default all four) is built
# by make static, then linked once more without LTO, whose link map
# (build-static*-nolto/wsferry.map, -Wl,-Map in the Makefile) names where
# every byte came from (LTO's partitions do not); this sums
# the bytes the map places in the loaded image per origin (our directories
# core/ proto/ tls/ tun/ bin/, BearSSL, musl libc, libgcc, linker padding)
# and per output-section kind (code, read-only data, data; .bss takes no
# file bytes and is shown apart), with the 30 largest input sections of
# the first ARCH (one per function or object, as everything is built
# with -ffunction-sections -fdata-sections), each with our source file
# or the library's object it came from, and the 30 largest objects. The stripped file also holds
# ELF headers and page alignment, which no input section accounts for: the
# "other" column is file size minus the sections' sum.
# Writes bench/RESULTS-size.md (`make size-report`). Strings in mergeable
# sections (.rodata.str*) count at their size before the linker merged
# duplicates, so an origin's strings may be overcounted by a few bytes.
set -e
cd "$(dirname "$0")/.."
arches=${*:-native aarch64 armhf mipsel}
out=bench/RESULTS-size.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sdir() { if [ "$1" = native ]; then echo build-static; else echo "build-static-$1"; fi; }

# The nolto link takes our objects from a thin archive (`ar --thin`; the
# Makefile's rule otherwise): its members are named in the link map by
# their path (build-static-nolto/tun/client/conn.o), where a normal
# archive gives only the member's file name (conn.o), which five pairs of
# our objects share (conn.o, ping.o, route.o, sio.o, sip003.o).
thin_ar() {
	case $1 in
	native) echo "gcc-ar --thin" ;;
	aarch64) echo "aarch64-linux-gnu-gcc-ar --thin" ;;
	armhf) echo "arm-linux-gnueabihf-gcc-ar --thin" ;;
	mipsel) echo "mipsel-linux-gnu-gcc-ar --thin" ;;
	esac
}

# breakdown MAP SDIR: "org ORIGIN code rodata data bss" lines, "sym BYTES
# SECTION (SOURCE)" per input section and "obj BYTES OBJECT (ORIGIN)" per
# object; ORIGIN is our top directory (tun/) or BearSSL, libc, libgcc,
# padding; SOURCE is our source file (tun/relay.c) or the origin and its
# archive member (BearSSL ssl_hs_server.o).
breakdown() {
	awk -v sdir="$2" '
	# ours: the path below SDIR (the thin archive names members by path)
	function ours(f) {
		sub(/^\.\//, "", f)
		if (index(f, sdir "/") == 1) return substr(f, length(sdir) + 2)
		return ""
	}
	function origin(f,   o) {
		if (f ~ /libbearssl\.a/) return "BearSSL"
		if (f ~ /libc\.a|crt[0-9a-z]*\.o|\/musl\//) return "libc"
		# from gcc: libgcc.a and its crtbegin/crtend objects
		if (f ~ /libgcc|\/gcc(-cross)?\//) return "libgcc"
		# from ld itself: on mipsel, the stubs that set $t9 before each call into
		# the abicalls code of musl from ours (the map names no file)
		if (f == "linker") return "ld-stubs"
		o = ours(f)
		if (o ~ /\(/) return "ours?"
		if (o != "") { split(o, p, "/"); return p[1] "/" }
		return "other-obj"
	}
	# the object, for the lists: our source path, or the archive member
	function object(f,   o) {
		o = ours(f)
		if (o != "" && o !~ /\(/) { sub(/\.o$/, ".c", o); return o }
		sub(/.*\(/, "", f); sub(/\)$/, "", f); sub(/.*\//, "", f)
		return f
	}
	function kind(o) {
		if (o ~ /^\.(text|init|fini|plt|MIPS\.stubs)/) return "code"
		if (o ~ /^\.(rodata|eh_frame|gcc_except|ARM\.ex|MIPS\.abiflags|note|init_array|fini_array)/) return "rodata"
		if (o ~ /^\.(tbss|bss|sbss)/) return "bss"
		if (o ~ /^\.(data|sdata|got|tdata|ctors|dtors)/) return "data"
		return ""
	}
	function hex(s,   i, v) {
		v = 0; s = tolower(substr(s, 3))
		for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	/^[.a-zA-Z_]/ { split($1, w, " "); osec = w[1]; k = kind(osec); pend = ""; next }
	k == "" { next }
	# an input section on one line, or its name alone with the rest below
	/^ [.*]/ && NF == 1 { pend = ($1 ~ /^\*\(/) ? "" : $1; next }
	{
		if (pend != "" && $1 ~ /^0x/ && $2 ~ /^0x/) { name = pend; addr = $1; size = $2; file = $3; pend = "" }
		else if ($1 ~ /^[.*]/ && $2 ~ /^0x/ && $3 ~ /^0x/) { name = $1; size = $3; file = $4 }
		else next
		if (name == "*fill*") { o = "padding"; file = "" }
		else if (file == "") next
		else o = origin(file)
		b = hex(size)
		if (b == 0) next
		sum[o, k] += b; orig[o] = 1
		if (k != "bss" && file != "") {
			f = object(file); src = (o ~ /\/$/) ? f : o " " f
			s = name; sub(/^\.(text|rodata|data|sdata|bss)\./, "", s)
			# strings and constants: gcc names them by function (F.str1.1)
			# or not at all (.rodata.str1.1, whose file is in brackets)
			if (s ~ /\.str[0-9.]*$/) { sub(/\.str[0-9.]*$/, "", s); s = "strings of " s }
			if (s ~ /\.cst[0-9.]*$/) { sub(/\.cst[0-9.]*$/, "", s); s = "constants of " s }
			if (s ~ /^\./ || s ~ /^(str|cst)[0-9]/ || s == "") s = name
			symb[s " (" src ")"] += b
			objb[f " (" o ")"] += b
		}
	}
	END {
		for (o in orig) printf "org %s %d %d %d %d\n", o, sum[o, "code"], sum[o, "rodata"], sum[o, "data"], sum[o, "bss"]
		for (s in symb) printf "sym %d %s\n", symb[s], s
		for (s in objb) printf "obj %d %s\n", objb[s], s
	}' "$1"
}

{
	echo "# Static binary size: where the bytes go"
	echo
	echo "Made by \`make size-report\` (bench/size.sh $arches) on $(date -u +%Y-%m-%d) at $(git describe --always --dirty)."
	echo "\"stripped bytes\": the binary \`make static ARCH=...\` ships (link-time optimised). LTO"
	echo "merges every object into a few anonymous partitions, so the origins come from the same"
	echo "build linked once more without LTO (\`STATIC_LTO=-fno-lto\`, in build-static*-nolto/, size in"
	echo "\"without LTO\"): bytes summed per origin from its link map's input sections (code ="
	echo ".text, rodata = .rodata and friends, data = .data/.got; bss is zero-filled memory, not"
	echo "file bytes). \"other\" = that file's size minus every counted section: ELF headers and"
	echo "alignment (negative where merged strings were counted before the merge)."
	echo "Ours is attributed by source file (the nolto link takes our objects from a thin archive,"
	echo "which the map names by path), summed by top directory; libgcc includes gcc's crtbegin/crtend."
	echo "Budget (issue 17): 300 KiB = 307,200 bytes stripped."
	echo
}>"$tmp/head"

for a in $arches; do
	s=$(sdir "$a")
	make --no-print-directory static ARCH="$a" >"$tmp/make.$a" 2>&1 || { cat "$tmp/make.$a"; exit 1; }
	echo "$(wc -c <"$s/wsferry")" >"$tmp/size.$a"
	# The same link without LTO, in $s-nolto (its BearSSL and musl are $s's)
	d=$s-nolto
	mkdir -p "$d"
	for l in bearssl musl; do [ -d "$s/$l" ] && ln -sfn "../$s/$l" "$d/$l"; done
	rm -f "$d/libwsferry-int.a"
	make --no-print-directory static ARCH="$a" STATIC_LTO=-fno-lto SDIR="$d" SAR="$(thin_ar "$a")" >"$tmp/make.$a" 2>&1 ||
		{ cat "$tmp/make.$a"; exit 1; }
	[ -f "$d/wsferry.map" ] || { echo "size.sh: no $d/wsferry.map" >&2; exit 1; }
	echo "$(wc -c <"$d/wsferry")" >"$tmp/nolto.$a"
	breakdown "$d/wsferry.map" "$d" >"$tmp/bd.$a"
done

{
	cat "$tmp/head"
	echo "| ARCH | stripped bytes | KiB | without LTO | ours | BearSSL | libc | libgcc | padding, ld stubs | other |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for a in $arches; do
		awk -v a="$a" -v n="$(cat "$tmp/size.$a")" -v m="$(cat "$tmp/nolto.$a")" '
		$1 == "org" { t = $3 + $4 + $5; all += t
			if ($2 ~ /\/$/) ours += t; else g[$2] += t }
		END { printf "| %s | %d | %.1f | %d | %d | %d | %d | %d | %d | %d |\n", a, n, n / 1024, m,
			ours, g["BearSSL"], g["libc"], g["libgcc"], g["padding"] + g["ld-stubs"], m - all }' "$tmp/bd.$a"
	done
	for a in $arches; do
		echo
		echo "## $a by origin (bytes)"
		echo
		echo "| origin | code | rodata | data | total | bss |"
		echo "|---|---:|---:|---:|---:|---:|"
		awk '$1 == "org" { printf "%d | %s | %d | %d | %d | %d | %d |\n", $3 + $4 + $5, $2, $3, $4, $5, $3 + $4 + $5, $6 }' "$tmp/bd.$a" |
			sort -rn | cut -d'|' -f2- | sed 's/^ /| /'
	done
	first=$(echo "$arches" | awk '{ print $1 }')
	echo
	echo "## The 30 largest input sections ($first)"
	echo
	echo "| bytes | section (source file, or library and object) |"
	echo "|---:|---|"
	awk '$1 == "sym" { $1 = ""; print }' "$tmp/bd.$first" | sort -rn | head -n 30 |
		awk '{ b = $1; $1 = ""; sub(/^ /, ""); printf "| %d | %s |\n", b, $0 }'
	echo
	echo "## Ours by folder ($first, bytes of code, rodata and data)"
	echo
	echo "| bytes | folder |"
	echo "|---:|---|"
	awk '$1 == "obj" && $4 ~ /\/\)$/ { d = $3; sub(/\/[^\/]*$/, "/", d); b[d] += $2 }
		END { for (d in b) printf "| %d | %s |\n", b[d], d }' "$tmp/bd.$first" | sort -t'|' -k2 -rn
	echo
	echo "## The 30 largest objects ($first)"
	echo
	echo "| bytes | object (origin) |"
	echo "|---:|---|"
	awk '$1 == "obj" { $1 = ""; print }' "$tmp/bd.$first" | sort -rn | head -n 30 |
		awk '{ b = $1; $1 = ""; sub(/^ /, ""); printf "| %d | %s |\n", b, $0 }'
} >"$out"
cat "$out"
