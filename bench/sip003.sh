#!/usr/bin/env bash
# sip003.sh — shadowsocks-libev with wsferry as its SIP003 plugin (ws, wss,
# tls) beside shadowsocks-libev with v2ray-plugin (websocket, websocket+TLS)
# and beside shadowsocks without a plugin, in ONE run on loopback. Each path
# is ss-local (SOCKS5 entry) -> [plugin client -> plugin server] -> ss-server
# -> bench/wsf_load's sink (up: peers.sh's lpup sink). For each: bulk MiB/s
# down and up (BULK_MIB a run, median of RUNS, with min-max), CPU seconds per
# GiB of every process of the path (ss-local, ss-server and their plugins:
# utime+stime from /proc), new connections per second with p50/p99 at
# concurrency 32 (RATE_SECS). Prints a markdown table with ratios to the
# no-plugin path and writes bench/SIP003.md. v2ray-plugin multiplexes by
# default (mux=1: one WebSocket for many connections, so no TLS handshake per
# connection); wsferry opens one WebSocket per connection.
#
#   bash bench/sip003.sh [BUILD_DIR]     (default build)
#
# Peers come from Debian (shadowsocks-libev, shadowsocks-v2ray-plugin),
# installed with apt-get when missing (root only); a path that cannot start
# is reported, not measured. Every listener binds 127.0.0.1, every process
# is started here and ended by PID, every step is bounded. Prints, never
# asserts. About 2 minutes.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
OUT=bench/SIP003.md
RUNS=${RUNS:-3}
BULK_MIB=${BULK_MIB:-256}
RATE_SECS=${RATE_SECS:-5}
STEP_TIMEOUT=60
METHOD=chacha20-ietf-poly1305
SSPW=bench-sip003
T_START=$SECONDS
log() { printf '[sip003 %3ds] %s\n' $((SECONDS - T_START)) "$*" >&2; }

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	timeout 600 make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi
for pkg in shadowsocks-libev shadowsocks-v2ray-plugin; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
	[ "$(id -u)" = 0 ] || { echo "sip003.sh: $pkg missing (run as root to install)" >&2; exit 1; }
	log "installing $pkg"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends \
		"$pkg" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
			--no-install-recommends "$pkg" >/dev/null 2>&1; } || { echo "sip003.sh: cannot install $pkg" >&2; exit 1; }
done
V2P=$(command -v ss-v2ray-plugin || command -v v2ray-plugin)

TMP=$(mktemp -d /tmp/wsf-sip003-bench.XXXXXX) || exit 1
chmod 700 "$TMP"
cp "$WSF" "$TMP/wsferry" && cp "$LOAD" "$TMP/wsf_load" || exit 1
WSF=$TMP/wsferry LOAD=$TMP/wsf_load
ALLPIDS=""

tree() { # ROOT_PID...: those PIDs and all their live descendants (the plugins)
	[ $# -gt 0 ] || return 0
	ps -e -o pid=,ppid= 2>/dev/null | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
		{ pp[$1] = $2; ids[NR] = $1 }
		END {
			do { ch = 0
				for (i in ids) { p = ids[i]
					if (!(p in want) && (pp[p] in want)) { want[p] = 1; ch = 1 } }
			} while (ch)
			for (p in want) if (p in pp) print p
		}'
}
cleanup() {
	local all p
	all=$(tree $ALLPIDS)
	for p in $all; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 20); do
		local live=0
		for p in $all; do kill -0 "$p" 2>/dev/null && live=1; done
		[ $live = 0 ] && break
		sleep 0.1
	done
	for p in $all; do kill -KILL "$p" 2>/dev/null; done
	for p in $ALLPIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HZ=$(getconf CLK_TCK)
ticks() { # ROOT_PID...: utime+stime(+reaped children) of the trees
	local f="" p
	for p in $(tree "$@"); do f="$f /proc/$p/stat"; done
	[ -n "$f" ] || { echo 0; return; }
	# shellcheck disable=SC2086
	cat $f 2>/dev/null | awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
wait_port() { # PORT: until something listens (bounded 8 s)
	for _ in $(seq 80); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
step() { # wsf_load ARGS...: bounded; prints its result line
	timeout "$STEP_TIMEOUT" "$LOAD" "$@" 2>>"$TMP/load.err"
	[ $? -eq 124 ] && echo "status=timeout"
	return 0
}
LAST=""
start() { # LOGNAME CMD...
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	LAST=$!
	ALLPIDS="$ALLPIDS $LAST"
}

read -r -a PORTS <<<"$("$LOAD" freeport 20)"
NP=0
port() { PORT=${PORTS[$NP]}; NP=$((NP + 1)); }
start serve "$LOAD" serve 0 900
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.log" && break; sleep 0.1; done
SINK=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.log")
[ -n "$SINK" ] || { echo "sip003.sh: wsf_load serve did not start" >&2; exit 1; }
DST=127.0.0.1:$SINK
# ss-local closes the whole connection on a client's FIN, so wsf_load's "up"
# (which half-closes and waits for the sink's count) cannot finish through
# it: up is measured with bench/peers.sh's length-prefixed helper (lpup),
# taken from there so the two benches time up the same way.
sed -n '/^cat >"$TMP\/lpup.c" <<.EOF.$/,/^EOF$/p' bench/peers.sh | sed '1d;$d' >"$TMP/lpup.c"
timeout 60 cc -O2 -o "$TMP/lpup" "$TMP/lpup.c" -lpthread 2>"$TMP/lpup.err" ||
	{ echo "sip003.sh: lpup did not build: $(head -n 2 "$TMP/lpup.err")" >&2; exit 1; }
start lpup "$TMP/lpup" serve 900
for _ in $(seq 50); do grep -q '^lpup port=' "$TMP/lpup.log" && break; sleep 0.1; done
LPSINK=$(sed -n 's/^lpup port=\([0-9]*\).*/\1/p' "$TMP/lpup.log")
[ -n "$LPSINK" ] || { echo "sip003.sh: lpup serve did not start" >&2; exit 1; }

# Certificates: ours (pin) for wsferry wss/tls; v2ray-plugin's client takes
# cert= as the CA to trust, with host= the name in it.
"$WSF" cert --name 127.0.0.1 --name localhost --out-cert "$TMP/c.pem" --out-key "$TMP/k.pem" \
	>"$TMP/cert.log" 2>&1 || { echo "sip003.sh: wsferry cert failed" >&2; exit 1; }
FP=$(grep -o '[0-9a-f]\{64\}' "$TMP/cert.log" | head -n 1)
"$WSF" keygen >"$TMP/key" && chmod 600 "$TMP/key"

declare -A LABEL VIA LPVIA ROOTS BIN
PATHS=""
ss_path() { # ID LABEL PLUGIN SERVER_OPTS CLIENT_OPTS
	local id=$1 label=$2 plugin=$3 sopts=$4 copts=$5 sp cp s l
	port; sp=$PORT
	port; cp=$PORT
	if [ -n "$plugin" ]; then
		start "$id-server" ss-server -s 127.0.0.1 -p "$sp" -k "$SSPW" -m $METHOD -t 300 \
			--plugin "$plugin" --plugin-opts "$sopts"
		s=$LAST
		start "$id-local" ss-local -s 127.0.0.1 -p "$sp" -b 127.0.0.1 -l "$cp" -k "$SSPW" \
			-m $METHOD -t 300 --plugin "$plugin" --plugin-opts "$copts"
		l=$LAST
	else
		start "$id-server" ss-server -s 127.0.0.1 -p "$sp" -k "$SSPW" -m $METHOD -t 300
		s=$LAST
		start "$id-local" ss-local -s 127.0.0.1 -p "$sp" -b 127.0.0.1 -l "$cp" -k "$SSPW" \
			-m $METHOD -t 300
		l=$LAST
	fi
	if ! wait_port "$sp" || ! wait_port "$cp"; then
		log "$label: did not listen: $(tail -n 2 "$TMP/$id-server.log" "$TMP/$id-local.log" | tr '\n' ' ')"
		return
	fi
	# The plugins start in the background: one small fetch proves the path.
	local out
	for _ in $(seq 20); do
		out=$(step bulk --socks "127.0.0.1:$cp" "$DST" down 64K)
		[ "$(kv "$out" status)" = ok ] && break
		sleep 0.25
	done
	if [ "$(kv "$out" status)" != ok ]; then
		log "$label: not working: $out $(tail -n 2 "$TMP/$id-local.log" | tr '\n' ' ')"
		return
	fi
	LABEL[$id]=$label VIA[$id]="--socks 127.0.0.1:$cp $DST" ROOTS[$id]="$s $l"
	LPVIA[$id]="--socks 127.0.0.1:$cp 127.0.0.1:$LPSINK"
	BIN[$id]=${plugin:-none}
	PATHS="$PATHS $id"
}

ss_path plain "ss-libev, no plugin" "" "" ""
ss_path wsf_ws "ss + wsferry ws" "$WSF" "server;ws;key-file=$TMP/key;loglevel=error" \
	"ws;key-file=$TMP/key;loglevel=error"
ss_path wsf_wss "ss + wsferry wss" "$WSF" \
	"server;wss;path=/s;cert=$TMP/c.pem;cert-key=$TMP/k.pem;key-file=$TMP/key;loglevel=error" \
	"wss;path=/s;pin=$FP;key-file=$TMP/key;loglevel=error"
ss_path wsf_tls "ss + wsferry tls" "$WSF" \
	"server;tls;cert=$TMP/c.pem;cert-key=$TMP/k.pem;key-file=$TMP/key;loglevel=error" \
	"tls;pin=$FP;key-file=$TMP/key;loglevel=error"
ss_path v2p_ws "ss + v2ray-plugin ws" "$V2P" "server;path=/s;loglevel=none" "path=/s;loglevel=none"
ss_path v2p_tls "ss + v2ray-plugin ws+TLS" "$V2P" \
	"server;tls;host=localhost;path=/s;cert=$TMP/c.pem;key=$TMP/k.pem;loglevel=none" \
	"tls;host=localhost;path=/s;cert=$TMP/c.pem;loglevel=none"
log "paths:$PATHS"

declare -A MIB CPU RATE P50 P99
BYTES=$((BULK_MIB << 20))
for r in $(seq "$RUNS"); do
	for d in down up; do
		for p in $PATHS; do # interleaved: a slow moment hits every path alike
			t0=$(ticks ${ROOTS[$p]})
			if [ $d = up ]; then
				out=$(timeout "$STEP_TIMEOUT" "$TMP/lpup" up ${LPVIA[$p]} $BYTES 2>>"$TMP/load.err")
			else
				out=$(step bulk ${VIA[$p]} $d "${BULK_MIB}M")
			fi
			t1=$(ticks ${ROOTS[$p]})
			if [ "$(kv "$out" status)" != ok ]; then
				log "${LABEL[$p]} bulk $d run $r: $out"
				continue
			fi
			MIB[$p,$d]="${MIB[$p,$d]:-} $(kv "$out" MiB/s)"
			CPU[$p,$d]="${CPU[$p,$d]:-} $(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n=$BYTES \
				'BEGIN {printf "%.3f", (b - a) / hz * 1073741824 / n}')"
		done
	done
done
log "bulk done"
for p in $PATHS; do
	out=$(step rate ${VIA[$p]} 32 "$RATE_SECS")
	[ "$(kv "$out" status)" = ok ] || log "${LABEL[$p]} rate: $out"
	RATE[$p]=$(kv "$out" conn/s) P50[$p]=$(kv "$out" p50_ms) P99[$p]=$(kv "$out" p99_ms)
	sleep 0.5
done
log "rate done"

med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
rng() { printf '%s\n' $1 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) printf " (%s–%s)", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f×", a / b}'; }
{
	echo "# shadowsocks + wsferry (SIP003) beside shadowsocks + v2ray-plugin"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Generated by \`bash bench/sip003.sh $BUILD\` (one run; bulk: ${BULK_MIB} MiB, median of $RUNS with min–max;"
	echo "rate: concurrency 32 for ${RATE_SECS} s). Every path enters at ss-local's SOCKS5 and ends at wsf_load's sink;"
	echo "CPU counts ss-local, ss-server and their plugins. ss $METHOD; ratios to ss without a plugin."
	echo
	echo "| path | down MiB/s | up MiB/s | down vs no plugin | CPU s/GiB down | CPU s/GiB up | conn/s c=32 | p50 ms | p99 ms |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	base=$(med "${MIB[plain,down]:-}")
	for p in $PATHS; do
		dn=$(med "${MIB[$p,down]:-}") up=$(med "${MIB[$p,up]:-}")
		echo "| ${LABEL[$p]} | ${dn:-—}$(rng "${MIB[$p,down]:-}") | ${up:-—}$(rng "${MIB[$p,up]:-}") | $(ratio "$dn" "$base") | $(med "${CPU[$p,down]:-}") | $(med "${CPU[$p,up]:-}") | ${RATE[$p]:-—} | ${P50[$p]:-—} | ${P99[$p]:-—} |"
	done
	echo
	echo "Plugins: wsferry $(wc -c <"$WSF") bytes ($BUILD/wsferry), v2ray-plugin $(wc -c <"$V2P") bytes ($V2P)."
} | tee "$OUT"
