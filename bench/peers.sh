#!/usr/bin/env bash
# peers.sh — wsferry beside the peers that Debian packages, in ONE run on
# loopback: the direct baseline; wsferry ws:// and wss:// through -D SOCKS5 and
# through -L; v2ray (socks inbound -> VLESS over WebSocket, plain and TLS);
# shadowsocks-libev + v2ray-plugin (WebSocket mode); haproxy (tcp, splice);
# socat (TCP forward); stunnel4 (TLS forward, client -> server -> sink);
# microsocks (SOCKS5 only, a baseline). For each path: bulk MiB/s each way
# (runs of about BULK_SECS each, median of 3 with min-max, each run with the
# share of the CPU other processes took meanwhile), CPU seconds per GiB of every
# process of that tunnel (utime+stime from /proc/PID/stat), new tunneled
# connections per second with p50/p99 latency at concurrency 1 and 32 (5 s
# each), RSS per idle tunneled connection (500 held, summed over the tunnel's
# processes) and the size of each peer's main executable. Prints markdown
# tables with ratios to direct and to wsferry and writes them to bench/PEERS.md.
# The load is bench/wsf_load; a small helper built here (lpup, see below)
# measures up through tunnels that drop TCP half-close, and down to the last
# byte as well as to EOF (some tunnels hold a finished connection open).
#
#   bash bench/peers.sh [BUILD_DIR]        (default build; make bench-peers runs it)
#
# Missing peers are installed with apt-get (root only); a peer that cannot be
# had is skipped with the reason printed. Every config lives in a temp dir,
# every listener binds 127.0.0.1, every process is started here and ended by
# PID on exit, every step is bounded by timeout, and a time budget skips what
# is left (noted) rather than run long. Prints, never asserts. 8 to 20 minutes, by how busy the machine is.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WSF=$BUILD/wsferry
LOAD=$BUILD/bench/wsf_load
OUT=bench/PEERS.md
INVOKED="bash bench/peers.sh${1:+ $1}"
RUNS=${RUNS:-3}         # each bulk figure: median of RUNS, with min-max
# Each bulk run lasts about BULK_SECS: its size comes from the path's speed in
# the probes, within BULK_MIN_MIB..BULK_MAX_MIB (a fixed 512 MiB lasted 0.15 s
# through a fast path, where a scheduler hiccup of the shared machine is a
# third of the figure, and 5 s through a slow one).
BULK_SECS=${BULK_SECS:-1.5}
BULK_MIN_MIB=${BULK_MIN_MIB:-256}
BULK_MAX_MIB=${BULK_MAX_MIB:-2048}
OTHERS_MAX=${OTHERS_MAX:-50} # %: a bulk run while others took more is run again (once)
XCHECK_MIB=512
IDLE_COUNT=${IDLE_COUNT:-500}
IDLE_HOLD=5             # seconds the idle connections are held
RATE_SECS=${RATE_SECS:-5}
STEP_TIMEOUT=60         # no single load step may take longer than this
BUDGET=${BUDGET:-1200}  # seconds; past this, what is left is skipped (noted)
T_START=$SECONDS
LOADAVG0=$(cut -d' ' -f1-3 /proc/loadavg)

# How busy the rest of the machine was in each phase: user+nice+system time
# of the whole machine (/proc/stat) less this run's (this shell and everything
# under it, reaped children included), as a share of all cores. irq/softirq
# time is left out: loopback's softirq work is this run's but is accounted to
# no process.
PHASES="" PH_NAME="" PH_B=0 PH_T=0 PH_O=0
phase() { # NAME: ends the phase before (if any), begins NAME
	local b t o
	read -r b t < <(awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
	o=$(ticks $$)
	if [ -n "$PH_NAME" ]; then
		PHASES="$PHASES $PH_NAME $(awk -v b=$((b - PH_B)) -v t=$((t - PH_T)) -v o=$((o - PH_O)) \
			'BEGIN {f = t > 0 ? (b - o) / t * 100 : 0; if (f < 0) f = 0; printf "%.0f%%", f}'),"
	fi
	[ -n "${PEERS_DEBUG:-}" ] && log "phase $PH_NAME: busy $((b - PH_B)) total $((t - PH_T)) ours $((o - PH_O))"
	PH_NAME=$1 PH_B=$b PH_T=$t PH_O=$o
	[ "$1" = end ] || log "phase $1"
}
log() { printf '[peers %3ds] %s\n' $((SECONDS - T_START)) "$*" >&2; }

if [ ! -x "$WSF" ] || [ ! -x "$LOAD" ]; then
	timeout 600 make --no-print-directory "$WSF" "$LOAD" >/dev/null || exit 1
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null # 500 idle conns x 2-4 fds per process

TMP=$(mktemp -d /tmp/wsf-peers-bench.XXXXXX) || exit 1
chmod 700 "$TMP"
# Run copies, so a rebuild in this tree during the run changes nothing here.
WSF_SRC=$WSF LOAD_SRC=$LOAD
cp "$WSF" "$TMP/wsferry" && cp "$LOAD" "$TMP/wsf_load" || exit 1
WSF=$TMP/wsferry LOAD=$TMP/wsf_load
WSF_SHA=$(sha256sum "$WSF" | cut -c1-12)
ALLPIDS=""

# Every process started here, with its descendants (socat forks one per
# connection, ss-local/ss-server start their plugin), is ended by PID.
tree() { # ROOT_PID...: those PIDs and all their live descendants
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

NOTES=$TMP/notes
: >"$NOTES"
note() { printf '%s\n' "$*" >>"$NOTES"; log "note: $*"; }
over_budget() { [ $((SECONDS - T_START)) -ge "$BUDGET" ]; }

kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s|^$2=||p" | head -n 1; }
why() { printf '%s\n' "$1" | sed -n 's/.*why="\([^"]*\)".*/\1/p'; }
alive() { kill -0 "$1" 2>/dev/null; }
wait_port() { # PORT [PID]: until something listens (bounded 8 s)
	for _ in $(seq 80); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		[ -n "${2:-}" ] && ! alive "$2" && return 1
		sleep 0.1
	done
	return 1
}
HZ=$(getconf CLK_TCK)
# CPU ticks of a tunnel: utime+stime of each process and thread, plus
# cutime+cstime (children already reaped, e.g. socat's per-connection forks).
ticks() { # ROOT_PID...
	local f="" p
	for p in $(tree "$@"); do f="$f /proc/$p/stat"; done
	[ -n "$f" ] || { echo 0; return; }
	# cat, not awk FILE...: a process that ended since ps (a socat fork, this
	# very pipeline's ps) is skipped, where awk would stop at the missing file.
	# shellcheck disable=SC2086
	cat $f 2>/dev/null | awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
memsum() { # FIELD ROOT_PID...: sum of FIELD (VmRSS in status, Pss in smaps_rollup), KiB
	local field=$1 file=status f="" p
	shift
	[ "$field" = Pss ] && file=smaps_rollup
	for p in $(tree "$@"); do f="$f /proc/$p/$file"; done
	[ -n "$f" ] || { echo 0; return; }
	# shellcheck disable=SC2086
	cat $f 2>/dev/null | awk -v k="^$field:" '$0 ~ k { s += $2 } END { print s + 0 }'
}
nprocs() { tree "$@" | wc -l; }

# ---------------------------------------------------------------- peers: install
# peer -> Debian packages, executables (first one is "the main executable")
declare -A PKGS=(
	[v2ray]="v2ray"
	[ss]="shadowsocks-libev shadowsocks-v2ray-plugin"
	[haproxy]="haproxy"
	[socat]="socat"
	[stunnel]="stunnel4"
	[microsocks]="microsocks"
)
declare -A EXES=(
	[v2ray]="v2ray"
	[ss]="ss-local ss-server ss-v2ray-plugin"
	[haproxy]="haproxy"
	[socat]="socat"
	[stunnel]="stunnel4"
	[microsocks]="microsocks"
)
PEERS="v2ray ss haproxy socat stunnel microsocks"
declare -A SKIP   # peer -> reason
APT_UPDATED=0
export DEBIAN_FRONTEND=noninteractive
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
apt_install() { # PKG...: 0 when all are installed afterwards; else REASON says why
	local missing="" p c
	REASON=""
	for p in "$@"; do installed "$p" || missing="$missing $p"; done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		REASON="not installed ($missing) and not root, so apt-get cannot install it"
		return 1
	fi
	for p in $missing; do
		c=$(candidate "$p")
		if { [ -z "$c" ] || [ "$c" = "(none)" ]; } && [ $APT_UPDATED = 0 ]; then
			log "apt-get update (no candidate for $p)"
			timeout 300 apt-get update -qq >"$TMP/apt-update.log" 2>&1
			APT_UPDATED=1
			c=$(candidate "$p")
		fi
		if [ -z "$c" ] || [ "$c" = "(none)" ]; then
			REASON="package $p has no installation candidate in the apt sources"
			return 1
		fi
	done
	log "apt-get install -y$missing"
	# shellcheck disable=SC2086
	if ! timeout 600 apt-get install -y --no-install-recommends $missing >"$TMP/apt.log" 2>&1; then
		if [ $APT_UPDATED = 0 ]; then # stale lists give 404s: update once, retry
			timeout 300 apt-get update -qq >"$TMP/apt-update.log" 2>&1
			APT_UPDATED=1
			# shellcheck disable=SC2086
			timeout 600 apt-get install -y --no-install-recommends $missing >"$TMP/apt.log" 2>&1
		fi
	fi
	for p in $missing; do
		installed "$p" || {
			REASON="apt-get install $p failed: $(grep -E '^E:' "$TMP/apt.log" | head -n 2 | tr '\n' ' ')"
			return 1
		}
	done
	INSTALLED_NOW="${INSTALLED_NOW:-}$missing"
	return 0
}
for peer in $PEERS; do
	# shellcheck disable=SC2086
	apt_install ${PKGS[$peer]} || { SKIP[$peer]=$REASON; continue; }
	for e in ${EXES[$peer]}; do
		command -v "$e" >/dev/null || { SKIP[$peer]="executable $e not found after installing ${PKGS[$peer]}"; break; }
	done
done
apt_install openssl || { SKIP[v2ray]="${SKIP[v2ray]:-no openssl for a certificate: $REASON}"; SKIP[stunnel]="${SKIP[stunnel]:-no openssl: $REASON}"; }
if [ -n "${INSTALLED_NOW:-}" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	for s in shadowsocks-libev haproxy stunnel4; do
		systemctl is-active --quiet "$s" 2>/dev/null &&
			note "- apt-get started the system service $s.service (package default, not ours; its ports are not used here)"
	done
fi
for peer in $PEERS; do
	[ -n "${SKIP[$peer]:-}" ] && log "SKIP $peer: ${SKIP[$peer]}"
done

# ---------------------------------------------------------------- helper: lpup
# Two figures wsf_load cannot give, from a helper built here (plain C + POSIX):
#  - "lpup up": wsf_load's "bulk up" ends its upload with a TCP half-close
#    (shutdown(SHUT_WR)) and waits for the sink's byte count. Tunnels that close
#    the whole connection on the client's FIN (found by a probe below) never
#    deliver that count, so for them "up" is measured by lpup instead: the same
#    256 KiB writes of the same pattern, but the length goes first (8 bytes,
#    big-endian; bit 63 asks the sink to verify the pattern) and lpup's own sink
#    replies with its count (bit 63: a byte was wrong) once it has them all.
#  - "lpup down": asks wsf_load's sink for N bytes ('D' + 8-byte N), as wsf_load
#    does, but stops the clock at the last byte instead of at EOF, then waits
#    (at most 3 s) for the EOF and reports how late it came (eof_ms): a tunnel
#    that holds a finished connection open adds that to wsf_load's down time.
# Both time from the first byte written to the end, like wsf_load.
cat >"$TMP/lpup.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define CHUNK (256u * 1024)
#define PERIOD 251u
#define VERIFY (1ull << 63)
static uint8_t pat[CHUNK + PERIOD];
static char why[128] = "protocol";
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double cpu(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}
static int wall(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return snprintf(why, sizeof(why), "write: %s", strerror(errno)), -1;
		b += w, n -= (size_t)w;
	}
	return 0;
}
static int rall(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return snprintf(why, sizeof(why), "read: %s", r ? strerror(errno) : "EOF"), -1;
		b += r, n -= (size_t)r;
	}
	return 0;
}
static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
static int addr(const char *s, struct sockaddr_in *a)
{
	const char *c = strrchr(s, ':');
	char h[64];
	if (!c || c - s >= 64)
		return -1;
	memcpy(h, s, (size_t)(c - s));
	h[c - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, h, &a->sin_addr) == 1 ? 0 : -1;
}
static void tmo(int fd, int secs)
{
	struct timeval tv = {.tv_sec = secs};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
static void *sink_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, bad = 0;
	uint8_t h[8], *buf = malloc(CHUNK);
	uint64_t n, got = 0;
	tmo(fd, 30);
	if (buf && rall(fd, h, 8) == 0) {
		n = get64(h);
		int verify = (n & VERIFY) != 0;
		n &= ~VERIFY;
		while (got < n) {
			size_t k = n - got < CHUNK ? (size_t)(n - got) : CHUNK;
			ssize_t r = read(fd, buf, k);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (verify && !bad && memcmp(buf, pat + got % PERIOD, (size_t)r))
				bad = 1;
			got += (uint64_t)r;
		}
		be64(h, got | (bad ? VERIFY : 0));
		wall(fd, h, 8);
		while (read(fd, buf, CHUNK) > 0) /* until the client closes (bounded: SO_RCVTIMEO) */
			;
	}
	free(buf);
	close(fd);
	return NULL;
}
static int serve(unsigned max_s)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (void *)&a, sizeof(a)) || listen(l, 128) || getsockname(l, (void *)&a, &al))
		return perror("lpup serve"), 1;
	printf("lpup port=%u\n", ntohs(a.sin_port));
	alarm(max_s);
	for (;;) {
		pthread_t t;
		int fd = accept(l, NULL, NULL);
		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, sink_conn, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}
int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i % PERIOD);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve((unsigned)atoi(argv[2]));
	struct sockaddr_in s, d;
	int i = 2, socks = 0, check = 0, up = argc > 1 && !strcmp(argv[1], "up");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--socks") && i + 1 < argc && !addr(argv[i + 1], &s))
			socks = 1, i++;
		else if (!strcmp(argv[i], "--check"))
			check = 1;
		else
			break;
	}
	if (argc != i + 2 || (!up && strcmp(argv[1], "down")) || addr(argv[i], &d)) {
		fputs("usage: lpup serve MAX_SECONDS | lpup up|down [--check] [--socks H:P] H:P BYTES\n", stderr);
		return 2;
	}
	uint64_t n = strtoull(argv[i + 1], NULL, 10), moved = 0, got = 0;
	uint8_t b[16], *buf = malloc(CHUNK);
	double t0 = 0, c0 = 0, t1, eof_ms = -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0), bad = 0;
	tmo(fd, 30);
	if (!buf || connect(fd, socks ? (void *)&s : (void *)&d, sizeof(d))) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		goto fail;
	}
	if (socks) {
		uint8_t r[10] = {5, 1, 0, 1};
		memcpy(r + 4, &d.sin_addr, 4);
		memcpy(r + 8, &d.sin_port, 2);
		if (wall(fd, "\5\1\0", 3) || rall(fd, b, 2) || b[1] || wall(fd, r, 10) || rall(fd, b, 10) || b[1])
			goto fail;
	}
	t0 = now(), c0 = cpu();
	if (up) {
		be64(b, n | (check ? VERIFY : 0));
		if (wall(fd, b, 8))
			goto fail;
		for (; moved < n; ) {
			size_t k = n - moved < CHUNK ? (size_t)(n - moved) : CHUNK;
			if (wall(fd, pat + moved % PERIOD, k))
				goto fail;
			moved += k;
		}
		if (rall(fd, b, 8))
			goto fail;
		t1 = now();
		got = get64(b) & ~VERIFY;
		bad = (get64(b) & VERIFY) != 0;
	} else {
		b[0] = 'D';
		be64(b + 1, n);
		if (wall(fd, b, 9))
			goto fail;
		while (got < n) {
			size_t k = n - got < CHUNK ? (size_t)(n - got) : CHUNK;
			ssize_t r = read(fd, buf, k);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				snprintf(why, sizeof(why), "read: %s", r ? strerror(errno) : "EOF");
				goto fail;
			}
			if (check && !bad && memcmp(buf, pat + got % PERIOD, (size_t)r))
				bad = 1;
			got += (uint64_t)r;
		}
		t1 = now();
		tmo(fd, 3);
		ssize_t r;
		while ((r = read(fd, buf, CHUNK)) > 0 || (r < 0 && errno == EINTR))
			;
		if (r == 0)
			eof_ms = (now() - t1) * 1000;
	}
	printf("bulk dir=%s bytes=%llu got=%llu secs=%.3f MiB/s=%.1f cpu=%.3f eof_ms=%.1f check=%s status=%s\n",
	       up ? "up" : "down", (unsigned long long)n, (unsigned long long)got, t1 - t0,
	       (double)n / 1048576.0 / (t1 - t0), cpu() - c0, eof_ms, check ? "content" : "count",
	       got != n ? "count_mismatch" : bad ? "content_mismatch" : "ok");
	close(fd);
	return got != n || bad;
fail:
	printf("bulk dir=%s bytes=%llu moved=%llu got=%llu secs=%.3f status=error why=\"%s\"\n",
	       up ? "up" : "down", (unsigned long long)n, (unsigned long long)moved,
	       (unsigned long long)got, t0 ? now() - t0 : 0.0, why);
	close(fd);
	return 1;
}
EOF
LPUP=""
if timeout 60 cc -O2 -o "$TMP/lpup" "$TMP/lpup.c" -lpthread 2>"$TMP/lpup.cc.err"; then
	LPUP=$TMP/lpup
else
	note "- lpup (length-prefixed up, last-byte down) did not build: $(head -n 2 "$TMP/lpup.cc.err" | tr '\n' ' ')"
fi

# Two seconds doing nothing: how busy is the machine before this run loads it?
phase before
sleep 2
phase setup

# ---------------------------------------------------------------- sinks, certificate
CMDS=$TMP/cmds # every process started, as started (for the report)
: >"$CMDS"
LAST=""
start() { # LOGNAME CMD...: runs CMD in the background; LAST = its PID
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	LAST=$!
	ALLPIDS="$ALLPIDS $LAST"
	printf -- '- `%s`\n' "$*" | sed "s|$TMP|\$TMP|g" >>"$CMDS"
}

read -r -a PORTS <<<"$("$LOAD" freeport 40)"
[ "${#PORTS[@]}" -ge 40 ] || { echo "peers.sh: wsf_load freeport failed" >&2; exit 1; }
NP=0
port() { PORT=${PORTS[$NP]}; NP=$((NP + 1)); }

start serve "$LOAD" serve 0 1800
SERVE_PID=$LAST
for _ in $(seq 50); do grep -q '^serve port=' "$TMP/serve.log" && break; sleep 0.1; done
SINK=$(sed -n 's/^serve port=\([0-9]*\).*/\1/p' "$TMP/serve.log")
[ -n "$SINK" ] || { echo "peers.sh: wsf_load serve did not start" >&2; exit 1; }
DST=127.0.0.1:$SINK
LPSINK=""
if [ -n "$LPUP" ]; then
	start lpup "$LPUP" serve 1800
	for _ in $(seq 50); do grep -q '^lpup port=' "$TMP/lpup.log" && break; sleep 0.1; done
	LPSINK=$(sed -n 's/^lpup port=\([0-9]*\).*/\1/p' "$TMP/lpup.log")
	[ -n "$LPSINK" ] || { note "- lpup sink did not start"; LPUP=""; }
fi

CERT=$TMP/cert.pem KEY=$TMP/key.pem
if command -v openssl >/dev/null; then
	timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$KEY" -out "$CERT" >"$TMP/openssl.log" 2>&1 ||
		note "- openssl req failed: $(tail -n 2 "$TMP/openssl.log" | tr '\n' ' ')"
fi
[ -s "$CERT" ] || { SKIP[v2ray]=${SKIP[v2ray]:-"no certificate (openssl)"}; SKIP[stunnel]=${SKIP[stunnel]:-"no certificate (openssl)"}; }

# ---------------------------------------------------------------- paths
# Each path: how the load tool enters it (VIA: plain H:P or --socks H:P DST),
# its processes (ROOTS), the wsferry path its ratio is taken against (REF:
# same entry, SOCKS or forward, and same confidentiality, plain or encrypted)
# and its main executable(s).
PATHS=""
declare -A LABEL VIA LPVIA ROOTS REF BINS
add_path() { # ID LABEL REF PEER BINS VIA...
	local id=$1
	LABEL[$id]=$2 REF[$id]=$3 BINS[$id]=$5
	shift 5
	VIA[$id]="$*"
	PATHS="$PATHS $id"
}
fail_path() { # ID PEER REASON
	SKIP[$2]=${SKIP[$2]:-$3}
	log "SKIP $2: $3"
}
logtail() { tail -n 3 "$TMP/$1.log" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

add_path direct "direct loopback" "" direct "" "$DST"
ROOTS[direct]=""

# wsferry: one server+client pair per path, so no path's memory or CPU
# figures carry another's.
for t in ws wss; do
	for e in D L; do
		port; sp=$PORT
		port; cp=$PORT
		id=wsf_${t}_$e
		extra=()
		[ $t = wss ] && extra=(--cert "$CERT" --cert-key "$KEY")
		start "$id.srv" "$WSF" server "$t://127.0.0.1:$sp" "${extra[@]}" --log-level error
		s=$LAST
		wait_port "$sp" "$s" || { note "- wsferry $t server did not listen: $(logtail "$id.srv")"; continue; }
		extra=()
		[ $t = wss ] && extra=(--insecure)
		if [ $e = D ]; then
			start "$id.cli" "$WSF" client "$t://127.0.0.1:$sp" "${extra[@]}" -D "127.0.0.1:$cp" --log-level error
			via="--socks 127.0.0.1:$cp $DST"
		else
			start "$id.cli" "$WSF" client "$t://127.0.0.1:$sp" "${extra[@]}" -L "127.0.0.1:$cp:$DST" --log-level error
			via="127.0.0.1:$cp"
		fi
		c=$LAST
		wait_port "$cp" "$c" || { note "- wsferry $t client did not listen: $(logtail "$id.cli")"; continue; }
		add_path "$id" "wsferry $t -$e" "$id" wsferry "$WSF" $via
		ROOTS[$id]="$s $c"
		[ $e = D ] && LPVIA[$id]="--socks 127.0.0.1:$cp 127.0.0.1:$LPSINK"
	done
done
WSF_SOCKS=wsf_ws_D WSF_FWD=wsf_ws_L WSF_TSOCKS=wsf_wss_D WSF_TFWD=wsf_wss_L

# v2ray: socks inbound -> VLESS (encryption none) over WebSocket -> VLESS
# inbound -> freedom; then the same with TLS (self-signed, allowInsecure).
if [ -z "${SKIP[v2ray]:-}" ]; then
	UUID=$(cat /proc/sys/kernel/random/uuid)
	for t in ws wss; do
		port; sp=$PORT
		port; cp=$PORT
		sec='"security": "none"'
		ssec=$sec
		if [ $t = wss ]; then
			ssec='"security": "tls", "tlsSettings": {"certificates": [{"certificateFile": "'$CERT'", "keyFile": "'$KEY'"}]}'
			sec='"security": "tls", "tlsSettings": {"serverName": "localhost", "allowInsecure": true}'
		fi
		cat >"$TMP/v2ray-$t-server.json" <<EOF
{
  "log": {"loglevel": "none", "access": "none"},
  "inbounds": [{"listen": "127.0.0.1", "port": $sp, "protocol": "vless",
    "settings": {"clients": [{"id": "$UUID"}], "decryption": "none"},
    "streamSettings": {"network": "ws", "wsSettings": {"path": "/v2"}, $ssec}}],
  "outbounds": [{"protocol": "freedom"}]
}
EOF
		cat >"$TMP/v2ray-$t-client.json" <<EOF
{
  "log": {"loglevel": "none", "access": "none"},
  "inbounds": [{"listen": "127.0.0.1", "port": $cp, "protocol": "socks",
    "settings": {"auth": "noauth", "udp": false}}],
  "outbounds": [{"protocol": "vless",
    "settings": {"vnext": [{"address": "127.0.0.1", "port": $sp, "users": [{"id": "$UUID", "encryption": "none"}]}]},
    "streamSettings": {"network": "ws", "wsSettings": {"path": "/v2"}, $sec}}]
}
EOF
		start "v2ray-$t-server" v2ray -config "$TMP/v2ray-$t-server.json"
		s=$LAST
		start "v2ray-$t-client" v2ray -config "$TMP/v2ray-$t-client.json"
		c=$LAST
		if ! wait_port "$sp" "$s" || ! wait_port "$cp" "$c"; then
			fail_path "v2ray_$t" v2ray "v2ray $t did not listen: $(logtail "v2ray-$t-server") $(logtail "v2ray-$t-client")"
			continue
		fi
		lbl="v2ray VLESS+ws (SOCKS)" ref=$WSF_SOCKS
		[ $t = wss ] && lbl="v2ray VLESS+ws+TLS (SOCKS)" ref=$WSF_TSOCKS
		add_path "v2ray_$t" "$lbl" $ref v2ray "$(command -v v2ray)" --socks "127.0.0.1:$cp" "$DST"
		ROOTS[v2ray_$t]="$s $c"
		LPVIA[v2ray_$t]="--socks 127.0.0.1:$cp 127.0.0.1:$LPSINK"
	done
fi

# shadowsocks-libev + v2ray-plugin, websocket mode (the plugin's default;
# its client multiplexes with mux=1, also its default). AEAD cipher as in
# Debian's default config. ss-local is the SOCKS5 entry.
if [ -z "${SKIP[ss]:-}" ]; then
	port; sp=$PORT
	port; cp=$PORT
	SSPW=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	start ss-server ss-server -s 127.0.0.1 -p "$sp" -k "$SSPW" -m chacha20-ietf-poly1305 -t 300 \
		--plugin ss-v2ray-plugin --plugin-opts "server;path=/ss;loglevel=none"
	s=$LAST
	start ss-local ss-local -s 127.0.0.1 -p "$sp" -b 127.0.0.1 -l "$cp" -k "$SSPW" -m chacha20-ietf-poly1305 -t 300 \
		--plugin ss-v2ray-plugin --plugin-opts "path=/ss;loglevel=none"
	c=$LAST
	if wait_port "$sp" "$s" && wait_port "$cp" "$c"; then
		add_path ss "ss-libev + v2ray-plugin ws (SOCKS)" $WSF_TSOCKS ss \
			"$(command -v ss-local) $(command -v ss-v2ray-plugin)" --socks "127.0.0.1:$cp" "$DST"
		ROOTS[ss]="$s $c"
		LPVIA[ss]="--socks 127.0.0.1:$cp 127.0.0.1:$LPSINK"
	else
		fail_path ss ss "did not listen: $(logtail ss-server) $(logtail ss-local)"
	fi
	sed -i "s/$SSPW/PASSWORD/g" "$CMDS"
fi

# haproxy: tcp mode forward with splice-auto.
if [ -z "${SKIP[haproxy]:-}" ]; then
	port; lp=$PORT
	cat >"$TMP/haproxy.cfg" <<EOF
global
    maxconn 4000
    nbthread 2
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    option splice-auto
listen fwd
    bind 127.0.0.1:$lp
    server sink $DST
EOF
	start haproxy haproxy -db -f "$TMP/haproxy.cfg"
	if wait_port "$lp" "$LAST"; then
		add_path haproxy "haproxy tcp splice (fwd)" $WSF_FWD haproxy "$(command -v haproxy)" "127.0.0.1:$lp"
		ROOTS[haproxy]=$LAST
	else
		fail_path haproxy haproxy "did not listen: $(logtail haproxy)"
	fi
fi

# socat: TCP forward, one fork per connection (its usual form).
if [ -z "${SKIP[socat]:-}" ]; then
	port; lp=$PORT
	start socat socat "TCP-LISTEN:$lp,bind=127.0.0.1,fork,reuseaddr,backlog=1024" "TCP:$DST"
	if wait_port "$lp" "$LAST"; then
		add_path socat "socat TCP fwd (fork)" $WSF_FWD socat "$(command -v socat)" "127.0.0.1:$lp"
		ROOTS[socat]=$LAST
	else
		fail_path socat socat "did not listen: $(logtail socat)"
	fi
fi

# stunnel4: client stunnel (plain in, TLS out) -> server stunnel (TLS in) -> sink.
if [ -z "${SKIP[stunnel]:-}" ]; then
	port; sp=$PORT
	port; lp=$PORT
	cat >"$TMP/stunnel-server.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = 3
[tunnel]
accept = 127.0.0.1:$sp
connect = $DST
cert = $CERT
key = $KEY
EOF
	cat >"$TMP/stunnel-client.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = 3
[tunnel]
client = yes
accept = 127.0.0.1:$lp
connect = 127.0.0.1:$sp
EOF
	start stunnel-server stunnel4 "$TMP/stunnel-server.conf"
	s=$LAST
	start stunnel-client stunnel4 "$TMP/stunnel-client.conf"
	c=$LAST
	if wait_port "$sp" "$s" && wait_port "$lp" "$c"; then
		add_path stunnel "stunnel4 TLS fwd" $WSF_TFWD stunnel "$(readlink -f "$(command -v stunnel4)")" "127.0.0.1:$lp"
		ROOTS[stunnel]="$s $c"
	else
		fail_path stunnel stunnel "did not listen: $(logtail stunnel-server) $(logtail stunnel-client)"
	fi
fi

# microsocks: a SOCKS5 server and nothing else (no tunnel): the SOCKS baseline.
if [ -z "${SKIP[microsocks]:-}" ]; then
	port; lp=$PORT
	start microsocks microsocks -i 127.0.0.1 -p "$lp"
	if wait_port "$lp" "$LAST"; then
		add_path microsocks "microsocks (SOCKS only)" $WSF_SOCKS microsocks "$(command -v microsocks)" --socks "127.0.0.1:$lp" "$DST"
		ROOTS[microsocks]=$LAST
		LPVIA[microsocks]="--socks 127.0.0.1:$lp 127.0.0.1:$LPSINK"
	else
		fail_path microsocks microsocks "did not listen: $(logtail microsocks)"
	fi
fi
LPVIA[direct]="127.0.0.1:$LPSINK"
log "paths:$PATHS"

step() { # wsf_load ARGS...: bounded; prints its result line
	timeout "$STEP_TIMEOUT" "$LOAD" "$@" 2>>"$TMP/load.err"
	[ $? -eq 124 ] && echo "status=timeout"
	return 0
}
lstep() { # lpup ARGS...
	timeout "$STEP_TIMEOUT" "$LPUP" "$@" 2>>"$TMP/load.err"
	[ $? -eq 124 ] && echo "status=timeout"
	return 0
}
check_alive() { # ID PHASE
	local p
	for p in ${ROOTS[$1]}; do
		alive "$p" || { note "- ${LABEL[$1]}: process $p DIED during $2"; return 1; }
	done
	return 0
}

# ---------------------------------------------------------------- probes (untimed)
# Content check through every path, each way; and does the path carry a TCP
# half-close? (If not, wsf_load's up cannot finish and lpup measures up.)
phase probes
declare -A UPTOOL CHECK PROBE
for p in $PATHS; do
	out=$(step bulk --check ${VIA[$p]} down 64M)
	CHECK[$p]="down $(kv "$out" status)"
	PROBE[$p,down]=$(kv "$out" MiB/s)
	[ "$(kv "$out" status)" = ok ] || note "- ${LABEL[$p]}: content check down: $out"
	out=$(step bulk --check ${VIA[$p]} up 64M)
	if [ "$(kv "$out" status)" = ok ]; then
		UPTOOL[$p]=wsf_load
		PROBE[$p,up]=$(kv "$out" MiB/s)
		CHECK[$p]="${CHECK[$p]}, up ok"
	elif [ -n "$LPUP" ] && [ -n "${LPVIA[$p]:-}" ]; then
		out2=$(lstep up --check ${LPVIA[$p]} $((64 << 20)))
		if [ "$(kv "$out2" status)" = ok ]; then
			UPTOOL[$p]=lpup
			PROBE[$p,up]=$(kv "$out2" MiB/s)
			CHECK[$p]="${CHECK[$p]}, up ok (lpup)"
			note "- ${LABEL[$p]}: no TCP half-close (wsf_load up: $(why "$out")), so up is measured with lpup (†)"
		else
			UPTOOL[$p]=none
			CHECK[$p]="${CHECK[$p]}, up FAILED"
			note "- ${LABEL[$p]}: up fails both ways: wsf_load: $out; lpup: $out2"
		fi
	else
		UPTOOL[$p]=none
		CHECK[$p]="${CHECK[$p]}, up FAILED"
		note "- ${LABEL[$p]}: content check up: $out"
	fi
done
# lpup beside wsf_load where both work, once each, so the two methods can be compared.
XCHECK=""
if [ -n "$LPUP" ]; then
	for p in direct $WSF_SOCKS; do
		[ "${UPTOOL[$p]:-}" = wsf_load ] || continue
		a=$(kv "$(step bulk ${VIA[$p]} up ${XCHECK_MIB}M)" MiB/s)
		b=$(kv "$(lstep up ${LPVIA[$p]} $((XCHECK_MIB << 20)))" MiB/s)
		XCHECK="$XCHECK ${LABEL[$p]}: wsf_load $a MiB/s, lpup $b MiB/s;"
	done
fi
log "probes done:$XCHECK"

# ---------------------------------------------------------------- idle (fresh processes)
phase idle
declare -A IDLE_UP RSS_B RSS_H PSS_B PSS_H NPROC IDLE_ST
for p in $PATHS; do
	[ "$p" = direct ] && continue
	over_budget && { note "- time budget: idle skipped from ${LABEL[$p]} on"; break; }
	step idle ${VIA[$p]} 10 0 >/dev/null # warm-up: first-use allocations
	sleep 0.5
	RSS_B[$p]=$(memsum VmRSS ${ROOTS[$p]}) PSS_B[$p]=$(memsum Pss ${ROOTS[$p]})
	timeout $((IDLE_HOLD + STEP_TIMEOUT)) "$LOAD" idle ${VIA[$p]} $IDLE_COUNT $IDLE_HOLD >"$TMP/idle.out" 2>>"$TMP/load.err" &
	ip=$!
	ALLPIDS="$ALLPIDS $ip"
	for _ in $(seq $((STEP_TIMEOUT * 10))); do
		grep -q '^idle count=' "$TMP/idle.out" && break
		alive $ip || break
		sleep 0.1
	done
	sleep 1
	RSS_H[$p]=$(memsum VmRSS ${ROOTS[$p]}) PSS_H[$p]=$(memsum Pss ${ROOTS[$p]}) NPROC[$p]=$(nprocs ${ROOTS[$p]})
	wait $ip
	IDLE_UP[$p]=$(kv "$(grep '^idle count=' "$TMP/idle.out")" up)
	IDLE_ST[$p]=$(kv "$(grep '^idle done' "$TMP/idle.out")" status)
	[ "${IDLE_ST[$p]}" = ok ] || note "- ${LABEL[$p]}: idle: $(tr '\n' ' ' <"$TMP/idle.out")"
	check_alive "$p" idle
	sleep 0.5
done
log "idle done"

# ---------------------------------------------------------------- bulk
# Per repetition, each direction in turn through every path (interleaved, so
# a slow minute of the shared machine does not land on one path only). "lb"
# is down again, timed to the last byte by lpup, its EOF delay noted. Each
# path is warmed first (one untimed run each way: the idle phase just
# opened and closed 500 connections through it). Every run notes the share of
# the machine's CPU that processes other than this run's took meanwhile; a
# run during which they took more than OTHERS_MAX % is run once more and the
# second one counts (both shares are kept for the table).
phase bulk
declare -A MIB CPU EOFMS OTH SIZE
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
others_pct() { # BUSY0 TOTAL0 OURS0 BUSY1 TOTAL1 OURS1
	awk -v b=$(($4 - $1)) -v t=$(($5 - $2)) -v o=$(($6 - $3)) \
		'BEGIN {f = t > 0 ? (b - o) / t * 100 : 0; if (f < 0) f = 0; printf "%.0f", f}'
}
run_size() { # ID DIR: MiB for about BULK_SECS, from the probe's speed
	awk -v m="${PROBE[$1,$2]:-${PROBE[$1,down]:-0}}" -v s="$BULK_SECS" -v lo="$BULK_MIN_MIB" -v hi="$BULK_MAX_MIB" \
		'BEGIN {n = int(m * s / 64 + 0.5) * 64; if (n < lo) n = lo; if (n > hi) n = hi; print n}'
}
for p in $PATHS; do
	SIZE[$p,down]=$(run_size "$p" down) SIZE[$p,lb]=$(run_size "$p" down) SIZE[$p,up]=$(run_size "$p" up)
	[ "${UPTOOL[$p]:-}" = wsf_load ] && step bulk ${VIA[$p]} up 64M >/dev/null
	[ "${UPTOOL[$p]:-}" = lpup ] && lstep up ${LPVIA[$p]} $((64 << 20)) >/dev/null
	step bulk ${VIA[$p]} down 64M >/dev/null
done
bulk_once() { # ID DIR TOOL: one timed run; BOUT, CPUS and OTHERS set
	local p=$1 d=$2 tool=$3 mib=${SIZE[$1,$2]} t0 t1 b0 tt0 o0 b1 tt1 o1 ep
	read -r b0 tt0 < <(machine_ticks)
	o0=$(ticks $$)
	if [ "$p" = direct ]; then t0=$(ticks $SERVE_PID); else t0=$(ticks ${ROOTS[$p]}); fi
	if [ "$tool" = lpup ]; then
		BOUT=$(lstep up ${LPVIA[$p]} $((mib << 20)))
	elif [ "$tool" = lpdown ]; then
		BOUT=$(lstep down ${VIA[$p]} $((mib << 20)))
	else
		BOUT=$(step bulk ${VIA[$p]} $d ${mib}M)
	fi
	[ "$p" = socat ] && sleep 0.6 # socat lingers 0.5 s (-t) before its fork exits
	if [ "$p" = direct ]; then t1=$(ticks $SERVE_PID); else t1=$(ticks ${ROOTS[$p]}); fi
	read -r b1 tt1 < <(machine_ticks)
	o1=$(ticks $$)
	OTHERS=$(others_pct "$b0" "$tt0" "$o0" "$b1" "$tt1" "$o1")
	# direct: both endpoints (wsf_load serve + the bulk process);
	# otherwise every process of the tunnel, none of the load tools.
	ep=0
	[ "$p" = direct ] && ep=$(kv "$BOUT" cpu)
	CPUS=$(awk -v a="$t0" -v b="$t1" -v t="${ep:-0}" -v hz="$HZ" -v n=$((mib << 20)) \
		'BEGIN {printf "%.3f", ((b - a) / hz + t) * 1073741824 / n}')
}
for r in $(seq $RUNS); do
	for d in down lb up; do
		for p in $PATHS; do
			over_budget && { note "- time budget: bulk stopped at run $r $d ${LABEL[$p]}"; break 3; }
			tool=wsf_load
			[ $d = up ] && tool=${UPTOOL[$p]:-none}
			[ $d = lb ] && tool=lpdown
			[ "$tool" = lpdown ] && [ -z "$LPUP" ] && continue
			[ "$tool" = none ] && continue
			bulk_once "$p" $d $tool
			oth=$OTHERS
			if [ "$OTHERS" -gt "$OTHERS_MAX" ] && [ "$(kv "$BOUT" status)" = ok ]; then
				sleep 1
				bulk_once "$p" $d $tool
				oth="$oth/$OTHERS"
			fi
			if [ "$(kv "$BOUT" status)" != ok ]; then
				note "- ${LABEL[$p]} bulk $d run $r: $BOUT"
				check_alive "$p" "bulk $d"
				continue
			fi
			MIB[$p,$d]="${MIB[$p,$d]:-} $(kv "$BOUT" MiB/s)"
			OTH[$p,$d]="${OTH[$p,$d]:-} $oth"
			if [ $d = lb ]; then
				EOFMS[$p]="${EOFMS[$p]:-} $(kv "$BOUT" eof_ms)"
				continue
			fi
			CPU[$p,$d]="${CPU[$p,$d]:-} $CPUS"
		done
	done
done
log "bulk done"

# ---------------------------------------------------------------- rate
phase rate
declare -A RATE P50 P99
for c in 1 32; do
	for p in $PATHS; do
		over_budget && { note "- time budget: rate skipped from c=$c ${LABEL[$p]} on"; break 2; }
		out=$(step rate ${VIA[$p]} $c $RATE_SECS)
		[ "$(kv "$out" status)" = ok ] || note "- ${LABEL[$p]} rate c=$c: $out"
		RATE[$p,$c]=$(kv "$out" conn/s) P50[$p,$c]=$(kv "$out" p50_ms) P99[$p,$c]=$(kv "$out" p99_ms)
		check_alive "$p" "rate c=$c"
		sleep 0.5
	done
done
log "rate done"

# ---------------------------------------------------------------- tables
med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
rng() { printf '%s\n' $1 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) printf " (%s–%s)", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a == "—" || b == "—" || b + 0 == 0) print "—"; else printf "%.2f×", a / b}'; }
eofms() { # eof_ms values: median; -1 means no EOF within 3 s
	local m
	m=$(med "$1")
	case $m in "") printf '—' ;; -1*) printf 'none in 3 s' ;; *) printf '%.0f' "$m" ;; esac
}
fig() { # RATE|P50|P99 KEY
	case $1 in RATE) printf '%s' "${RATE[$2]:-}" ;; P50) printf '%s' "${P50[$2]:-}" ;; P99) printf '%s' "${P99[$2]:-}" ;; esac
}
dash() { [ -n "${1:-}" ] && printf '%s' "$1" || printf '—'; }
short() { # wsferry ref id -> short name
	case $1 in wsf_ws_D) echo "ws -D" ;; wsf_ws_L) echo "ws -L" ;; wsf_wss_D) echo "wss -D" ;; wsf_wss_L) echo "wss -L" ;; *) echo "—" ;; esac
}
WSF_STRIPPED=$TMP/wsferry.stripped
strip -o "$WSF_STRIPPED" "$WSF" 2>/dev/null || cp "$WSF" "$WSF_STRIPPED"
size_of() { # BINS: "name KiB" for each, and the sum in bytes in SIZE_SUM
	local b n sz out=""
	SIZE_SUM=0
	for b in $1; do
		sz=$(stat -L -c %s "$b" 2>/dev/null || echo 0)
		n=$(basename "$b")
		[ "$b" = "$WSF" ] && sz=$(stat -c %s "$WSF_STRIPPED") n="wsferry (stripped)"
		SIZE_SUM=$((SIZE_SUM + sz))
		out="$out${out:+ + }$n $(awk -v s="$sz" 'BEGIN {printf "%.0f", s / 1024}') KiB"
	done
	printf '%s' "$out"
}
nlibs() { # BINS: shared libraries the first one loads (ldd)
	local b
	b=$(printf '%s\n' $1 | head -n 1)
	[ "$b" = "$WSF" ] && b=$WSF_STRIPPED
	ldd "$b" 2>/dev/null | grep -c '=>'
}
per_conn() { # HOLD BEFORE UP
	awk -v h="$1" -v b="$2" -v n="$3" 'BEGIN {if (n > 0 && h != "") printf "%.1f", (h - b) / n; else print "—"}'
}

for p in $PATHS; do
	m=$(med "${EOFMS[$p]:-}")
	[ -n "$m" ] && awk -v m="$m" 'BEGIN {exit !(m > 100 || m < 0)}' &&
		note "- ${LABEL[$p]}: EOF reaches the client $(eofms "${EOFMS[$p]}") ms after the last byte (median; the tunnel holds a finished connection open), and wsf_load's down figure, timed to EOF, includes that wait; \"down to last byte\" does not"
done
phase end
TABLE=$TMP/table
{
	echo "#### Bulk throughput, MiB/s (runs of about $BULK_SECS s, sized per path below; median of $RUNS, min–max)"
	echo
	echo "down: wsf_load, to EOF; down to last byte: lpup, to the last byte (EOF came that much later, median ms); up: wsf_load († lpup)."
	echo
	echo "| Path | wsferry ref | down | ×direct | ×wsferry | down to last byte | ×direct | ×wsferry | EOF after, ms | up | ×direct | ×wsferry |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for p in $PATHS; do
		row="| ${LABEL[$p]} | $(short "${REF[$p]}")"
		for d in down lb up; do
			m=$(med "${MIB[$p,$d]:-}")
			mark=""
			[ $d = up ] && [ "${UPTOOL[$p]:-}" = lpup ] && mark=" †"
			row="$row | $(dash "$m")$(rng "${MIB[$p,$d]:-}")$mark | $(ratio "$m" "$(med "${MIB[direct,$d]:-}")") | $(ratio "$m" "$(med "${MIB[${REF[$p]:-x},$d]:-}")")"
			[ $d = lb ] && row="$row | $(eofms "${EOFMS[$p]:-}")"
		done
		echo "$row |"
	done
	echo
	echo "#### CPU seconds per GiB moved (every process of the tunnel; direct: both endpoints), median of $RUNS (min–max)"
	echo
	echo "| Path | down | ×direct | ×wsferry | up | ×direct | ×wsferry |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for p in $PATHS; do
		row="| ${LABEL[$p]}"
		for d in down up; do
			m=$(med "${CPU[$p,$d]:-}")
			mark=""
			[ $d = up ] && [ "${UPTOOL[$p]:-}" = lpup ] && mark=" †"
			row="$row | $(dash "$m")$(rng "${CPU[$p,$d]:-}")$mark | $(ratio "$m" "$(med "${CPU[direct,$d]:-}")") | $(ratio "$m" "$(med "${CPU[${REF[$p]:-x},$d]:-}")")"
		done
		echo "$row |"
	done
	echo
	echo "#### Bulk runs: size (MiB, from the probe's speed) and the share of the machine's CPU other processes took during each run, %"
	echo
	echo "A share above $OTHERS_MAX % ran again at once: \"a/b\" is the share of the discarded run, then of the one that counts."
	echo
	echo "| Path | down MiB | others % down | others % down to last byte | up MiB | others % up |"
	echo "|---|---:|---|---|---:|---|"
	for p in $PATHS; do
		echo "| ${LABEL[$p]} | ${SIZE[$p,down]:-—} | $(dash "${OTH[$p,down]:-}") | $(dash "${OTH[$p,lb]:-}") | ${SIZE[$p,up]:-—} | $(dash "${OTH[$p,up]:-}") |"
	done
	echo
	echo "#### Targets (issue 17), from the medians above"
	echo
	echo "| Target | measured | met |"
	echo "|---|---:|---|"
	target() { # TEXT VALUE_A VALUE_B OP GOAL: A/B against GOAL
		local v
		v=$(awk -v a="$2" -v b="$3" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print ""; else printf "%.2f", a / b}')
		if [ -z "$v" ]; then echo "| $1 | — | not measured |"; return; fi
		echo "| $1 | ${v}× | $(awk -v v="$v" -v g="$5" -v op="$4" 'BEGIN {ok = op == ">=" ? v >= g : v <= g; print ok ? "yes" : "no"}') |"
	}
	target "wss -D bulk down ≥ 1.3× stunnel4" "$(med "${MIB[wsf_wss_D,down]:-}")" "$(med "${MIB[stunnel,down]:-}")" ">=" 1.3
	target "wss -D bulk up ≥ 1.3× stunnel4" "$(med "${MIB[wsf_wss_D,up]:-}")" "$(med "${MIB[stunnel,up]:-}")" ">=" 1.3
	target "wss -D CPU per GiB down ≤ 0.7× stunnel4" "$(med "${CPU[wsf_wss_D,down]:-}")" "$(med "${CPU[stunnel,down]:-}")" "<=" 0.7
	target "wss -D CPU per GiB up ≤ 0.7× stunnel4" "$(med "${CPU[wsf_wss_D,up]:-}")" "$(med "${CPU[stunnel,up]:-}")" "<=" 0.7
	target "ws -D bulk down ≥ 0.9× direct" "$(med "${MIB[wsf_ws_D,down]:-}")" "$(med "${MIB[direct,down]:-}")" ">=" 0.9
	for c in 1 32; do
		echo
		echo "#### New tunneled connections, concurrency $c ($RATE_SECS s, 1 run): connect (+ SOCKS5) + 2-byte echo + close"
		echo
		echo "| Path | conn/s | ×direct | ×wsferry | p50 ms | ×direct | ×wsferry | p99 ms | ×direct | ×wsferry |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for p in $PATHS; do
			row="| ${LABEL[$p]}"
			for f in RATE P50 P99; do
				v=$(fig $f "$p,$c") b=$(fig $f "direct,$c") w=$(fig $f "${REF[$p]:-x},$c")
				row="$row | $(dash "$v") | $(ratio "$v" "$b") | $(ratio "$v" "$w")"
			done
			echo "$row |"
		done
	done
	echo
	echo "#### Memory per idle tunneled connection ($IDLE_COUNT held, summed over the tunnel's processes) and binary size"
	echo
	echo "| Path | held | processes | RSS KiB before → holding | RSS KiB/conn | ×wsferry | PSS KiB/conn | main executable | ×wsferry | shared libs |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"
	size_of "$WSF" >/dev/null
	WSF_SIZE=$SIZE_SUM
	for p in $PATHS; do
		if [ "$p" = direct ]; then
			echo "| ${LABEL[$p]} | — | — | — | — | — | — | — | — | — |"
			continue
		fi
		r=$(per_conn "${RSS_H[$p]:-}" "${RSS_B[$p]:-0}" "${IDLE_UP[$p]:-0}")
		rr=$(per_conn "${RSS_H[${REF[$p]}]:-}" "${RSS_B[${REF[$p]}]:-0}" "${IDLE_UP[${REF[$p]}]:-0}")
		ps_=$(per_conn "${PSS_H[$p]:-}" "${PSS_B[$p]:-0}" "${IDLE_UP[$p]:-0}")
		held="$(dash "${IDLE_UP[$p]:-}")"
		[ -n "${IDLE_ST[$p]:-}" ] && [ "${IDLE_ST[$p]}" != ok ] && held="$held (${IDLE_ST[$p]})"
		sz=$(size_of "${BINS[$p]}")
		size_of "${BINS[$p]}" >/dev/null
		echo "| ${LABEL[$p]} | $held | $(dash "${NPROC[$p]:-}") | $(dash "${RSS_B[$p]:-}") → $(dash "${RSS_H[$p]:-}") | $r | $(ratio "$r" "$rr") | $ps_ | $sz | $(ratio "$SIZE_SUM" "$WSF_SIZE") | $(nlibs "${BINS[$p]}") |"
	done
} >"$TABLE"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
{
	echo "# wsferry beside its peers"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), Linux $(uname -r), $CPU_MODEL × $(nproc), $("$WSF" --version 2>&1 | head -n 1)."
	echo "Generated by \`$INVOKED\` (\`make bench-peers\`) in one run of $((SECONDS - T_START)) s; every figure below was measured in that run, on loopback."
	echo "The machine may be shared, and other work on its cores shows here as noise. Share of the machine's CPU used by"
	echo "processes other than this run's, per phase:${PHASES%,}; load average at start $LOADAVG0, at end $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "How to read it: ×direct compares with the direct loopback connection (bulk and conn/s above 1× beat it;"
	echo "CPU and latency above 1× cost more). ×wsferry compares with the wsferry path of the same kind (\"wsferry ref\":"
	echo "same entry, SOCKS5 or forward, and same confidentiality, plain or encrypted): above 1× is better than wsferry"
	echo "for MiB/s and conn/s, worse for CPU, latency, memory and size. CPU counts every process of the tunnel"
	echo "(client and server side, plugins, forks), never the load tools; the direct row counts both endpoints."
	echo "RSS/PSS per connection = (holding − before) / held, before = after a 10-connection warm-up."
	echo "† up measured with lpup (length-prefixed upload, see notes): the path does not carry a TCP half-close."
	echo
	echo "Which figures to trust on a shared 2-core machine: CPU seconds per GiB. A tunnel's bulk MiB/s is the share of"
	echo "the cores its processes get: a tunnel path keeps four processes busy (both load tools, client, server) where the"
	echo "direct path keeps two, so when other work takes cores, every tunnel falls much further than direct and the"
	echo "×direct ratios shrink, and two tunnels of similar cost swap places from one run to the next. The \"others %\""
	echo "table says how quiet each run was; compare MiB/s only between runs with low shares there."
	echo
	cat "$TABLE"
	echo
	echo "#### Peers"
	echo
	echo "| Peer | Debian package(s) | status |"
	echo "|---|---|---|"
	echo "| wsferry | this tree: \`$WSF_SRC\` ($(stat -c %s "$WSF") bytes as built, sha256 $WSF_SHA…), run from a copy in \$TMP | ran: ws and wss, -D and -L, one server+client pair per path, no --key |"
	for peer in $PEERS; do
		vers=""
		for k in ${PKGS[$peer]}; do vers="$vers${vers:+, }$k $(ver "$k")"; done
		if [ -n "${SKIP[$peer]:-}" ]; then st="SKIPPED: ${SKIP[$peer]}"; else st=ran; fi
		echo "| $peer | $vers | $st |"
	done
	echo
	echo "Setup: sink/source \`$LOAD_SRC serve 0 1800\` (run from \$TMP/wsf_load) on port $SINK; TLS paths share one self-signed EC P-256 certificate"
	echo "made with openssl (wsferry \`--cert\`, v2ray \`certificates\`, stunnel \`cert\`; clients do not verify:"
	echo "wsferry \`--insecure\`, v2ray \`allowInsecure\`, stunnel's default). v2ray: socks inbound → VLESS (encryption"
	echo "none) over WebSocket (path /v2) → VLESS inbound → freedom. shadowsocks-libev: chacha20-ietf-poly1305, v2ray-plugin"
	echo "websocket mode with its defaults (mux=1), loglevel none. haproxy: tcp mode, \`option splice-auto\`, 2 threads."
	echo "socat: \`fork\` (one process per connection). stunnel4: client → server → sink, TLS defaults. Processes:"
	echo
	cat "$CMDS"
	echo
	echo "Content check (64 MiB each way through every path, pattern compared byte for byte, untimed):"
	for p in $PATHS; do echo "${LABEL[$p]}: ${CHECK[$p]:-not run};"; done | tr '\n' ' '
	echo
	if [ -x build-static/wsferry ]; then
		echo
		echo "Binary sizes: wsferry above is \`$WSF_SRC\` stripped and linked to libbearssl.so; the static musl build"
		echo "(\`make static\`, build-static/wsferry, not rebuilt here) is $(stat -c %s build-static/wsferry) bytes with nothing to load."
	fi
	if [ -n "$XCHECK" ]; then
		echo
		echo "lpup and wsf_load measure the same upload where both work (one run each, $XCHECK_MIB MiB):$XCHECK"
	fi
	if [ -s "$NOTES" ]; then
		echo
		echo "Notes (anything that went wrong or differs):"
		echo
		cat "$NOTES"
	fi
	if [ -s "$TMP/load.err" ]; then
		echo
		echo "Load tools' stderr (first 10 lines):"
		echo '```'
		head -n 10 "$TMP/load.err"
		echo '```'
	fi
} >"$TMP/peers.md"
cp "$TMP/peers.md" "$OUT"
cat "$TMP/peers.md"
