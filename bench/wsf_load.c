/* wsf_load.c — load generator and sink for measuring wsferry end to end
 * (bench/tunnel.sh). Plain C11 + POSIX, no project code, IPv4 loopback.
 *
 *   wsf_load serve PORT [MAX_SECONDS]     epoll sink/source on 127.0.0.1:PORT
 *                                         (0 picks a port; prints "serve port=P")
 *       first byte of a connection is its command:
 *       'D' + 8-byte big-endian N  send N pattern bytes, then close
 *       'U'                        read to EOF, reply 8-byte big-endian count, close
 *       'V'                        as 'U', also checks the pattern; bit 63 of the
 *                                  reply is set when a byte was wrong
 *       'E'                        echo until EOF
 *   wsf_load bulk [--socks H:P] [--check] HOST:PORT up|down BYTES
 *   wsf_load idle [--socks H:P] HOST:PORT COUNT SECONDS
 *   wsf_load rate [--socks H:P] HOST:PORT CONCURRENCY SECONDS
 *   wsf_load freeport [N]                 N currently free loopback ports
 *
 * Output is one "key=value" line per result so scripts can pick fields.
 * Every blocking socket has a 30 s timeout; every loop is bounded by a count
 * or a deadline. Exit 0 when every check passed, 1 otherwise, 2 on usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256u * 1024)  /* every read/write of bulk data */
#define PERIOD 251u          /* pattern byte i is i % PERIOD */
#define IO_TIMEOUT_S 30      /* a blocking call stuck this long is a stall */

static uint8_t pattern[CHUNK + PERIOD];

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i % PERIOD);
}

/* True when p[0..n) equals the pattern starting at stream offset pos. */
static bool pattern_ok(const uint8_t *p, size_t n, uint64_t pos)
{
	while (n > 0) {
		size_t k = n < CHUNK ? n : CHUNK;
		if (memcmp(p, pattern + pos % PERIOD, k) != 0)
			return false;
		p += k, n -= k, pos += k;
	}
	return true;
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -1;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	/* Size suffixes for convenience: 1G, 64M, 4K (binary). */
	if (*end == 'K' || *end == 'k')
		x <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		x <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		x <<= 30, end++;
	if (*end)
		return -1;
	*v = x;
	return 0;
}

/* ---------------------------------------------------------------- client side */

struct target {
	struct sockaddr_in dst;
	struct sockaddr_in socks;
	bool use_socks;
};

/* Why the last open_conn/read/write failed, per thread. */
static _Thread_local char why[160];

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, sizeof(why), "write: %s",
			         errno == EAGAIN ? "timed out (30 s)" : strerror(errno));
			return -1;
		}
		b += w, n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes; -1 on error, EOF or timeout. */
static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(why, sizeof(why), "read: unexpected EOF");
			return -1;
		}
		if (r < 0) {
			snprintf(why, sizeof(why), "read: %s",
			         errno == EAGAIN ? "timed out (30 s)" : strerror(errno));
			return -1;
		}
		b += r, n -= (size_t)r;
	}
	return 0;
}

static int tcp_connect(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* bounds connect too */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* RFC 1928: no-auth greeting, then CONNECT to an IPv4 address, each step
 * waiting for its reply (no pipelining, as most clients do). */
static int socks_handshake(int fd, const struct sockaddr_in *dst)
{
	uint8_t b[262];
	if (write_all(fd, "\x05\x01\x00", 3) < 0 || read_full(fd, b, 2) < 0)
		return -1;
	if (b[0] != 5 || b[1] != 0) {
		snprintf(why, sizeof(why), "socks: method reply %02x %02x", b[0], b[1]);
		return -1;
	}
	uint8_t req[10] = {5, 1, 0, 1};
	memcpy(req + 4, &dst->sin_addr, 4);
	memcpy(req + 8, &dst->sin_port, 2);
	if (write_all(fd, req, sizeof(req)) < 0 || read_full(fd, b, 4) < 0)
		return -1;
	if (b[0] != 5 || b[1] != 0) {
		snprintf(why, sizeof(why), "socks: CONNECT reply %02x %02x", b[0], b[1]);
		return -1;
	}
	size_t rest = b[3] == 1 ? 4 + 2 : b[3] == 4 ? 16 + 2 : 0;
	if (b[3] == 3) {
		if (read_full(fd, b, 1) < 0)
			return -1;
		rest = (size_t)b[0] + 2;
	}
	if (rest == 0) {
		snprintf(why, sizeof(why), "socks: bad address type %u", b[3]);
		return -1;
	}
	return read_full(fd, b, rest);
}

static int open_conn(const struct target *t)
{
	int fd = tcp_connect(t->use_socks ? &t->socks : &t->dst);
	if (fd >= 0 && t->use_socks && socks_handshake(fd, &t->dst) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Parses [--socks H:P] [--check] HOST:PORT; returns the index of the next arg. */
static int parse_target(int argc, char **argv, int i, struct target *t, bool *check)
{
	memset(t, 0, sizeof(*t));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socks") == 0 && i + 1 < argc) {
			if (parse_addr(argv[++i], &t->socks) < 0)
				return -1;
			t->use_socks = true;
		} else if (check && strcmp(argv[i], "--check") == 0) {
			*check = true;
		} else {
			return -1;
		}
	}
	if (i >= argc || parse_addr(argv[i], &t->dst) < 0)
		return -1;
	return i + 1;
}

/* ---------------------------------------------------------------- bulk */

static int cmd_bulk(const struct target *t, bool up, uint64_t bytes, bool check)
{
	static uint8_t rbuf[CHUNK];
	const char *dir = up ? "up" : "down";
	int fd = open_conn(t);
	if (fd < 0) {
		printf("bulk dir=%s status=error why=\"%s\"\n", dir, why);
		return 1;
	}
	uint64_t moved = 0, got = 0;
	bool bad = false;
	double t0 = now_s(), c0 = cpu_s();
	if (up) {
		uint8_t cmd = check ? 'V' : 'U';
		if (write_all(fd, &cmd, 1) < 0)
			goto fail;
		while (moved < bytes) {
			uint64_t left = bytes - moved;
			size_t k = left < CHUNK ? (size_t)left : CHUNK;
			if (write_all(fd, pattern + moved % PERIOD, k) < 0)
				goto fail;
			moved += k;
		}
		shutdown(fd, SHUT_WR);
		uint8_t reply[8];
		if (read_full(fd, reply, 8) < 0)
			goto fail;
		got = get_be64(reply);
		if (check && (got >> 63)) {
			bad = true;
			got &= ~(1ull << 63);
		}
	} else {
		uint8_t cmd[9] = {'D'};
		put_be64(cmd + 1, bytes);
		if (write_all(fd, cmd, sizeof(cmd)) < 0)
			goto fail;
		for (;;) {
			ssize_t r = read(fd, rbuf, sizeof(rbuf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				break;
			if (r < 0) {
				snprintf(why, sizeof(why), "read: %s",
				         errno == EAGAIN ? "timed out (30 s)" : strerror(errno));
				goto fail;
			}
			if (check && !bad && !pattern_ok(rbuf, (size_t)r, got))
				bad = true;
			got += (uint64_t)r;
		}
		moved = got;
	}
	double secs = now_s() - t0;
	const char *status = got != bytes ? "count_mismatch" : bad ? "content_mismatch" : "ok";
	printf("bulk dir=%s bytes=%llu got=%llu secs=%.3f MiB/s=%.1f cpu=%.3f check=%s status=%s\n",
	       dir, (unsigned long long)bytes, (unsigned long long)got, secs,
	       (double)moved / (1 << 20) / secs, cpu_s() - c0, check ? "content" : "count", status);
	close(fd);
	return strcmp(status, "ok") != 0;
fail:
	printf("bulk dir=%s bytes=%llu moved=%llu got=%llu secs=%.3f status=error why=\"%s\"\n", dir,
	       (unsigned long long)bytes, (unsigned long long)moved, (unsigned long long)got,
	       now_s() - t0, why);
	close(fd);
	return 1;
}

/* ---------------------------------------------------------------- idle */

static int echo_once(int fd, const char *msg, size_t n)
{
	char b[2];
	if (write_all(fd, msg, n) < 0 || read_full(fd, b, 1) < 0)
		return -1;
	if (b[0] != msg[n - 1]) {
		snprintf(why, sizeof(why), "echo: wrong byte");
		return -1;
	}
	return 0;
}

static int cmd_idle(const struct target *t, long count, double hold)
{
	int *fds = calloc((size_t)count, sizeof(int));
	if (!fds)
		return 1;
	long up = 0, failed = 0;
	double t0 = now_s();
	for (long i = 0; i < count; i++) {
		fds[i] = open_conn(t);
		if (fds[i] >= 0 && echo_once(fds[i], "Ex", 2) < 0) {
			close(fds[i]);
			fds[i] = -1;
		}
		if (fds[i] < 0) {
			if (failed++ < 5)
				fprintf(stderr, "idle: connection %ld: %s\n", i, why);
			continue;
		}
		up++;
	}
	double open_s = now_s() - t0;
	printf("idle count=%ld up=%ld failed=%ld open_secs=%.3f holding=%.0f\n", count, up, failed,
	       open_s, hold);
	fflush(stdout);
	struct timespec ts = {.tv_sec = (time_t)hold, .tv_nsec = (long)((hold - (time_t)hold) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	long alive = 0, lost = 0;
	for (long i = 0; i < count; i++) {
		if (fds[i] < 0)
			continue;
		if (echo_once(fds[i], "y", 1) == 0)
			alive++;
		else if (lost++ < 5)
			fprintf(stderr, "idle: connection %ld after hold: %s\n", i, why);
	}
	for (long i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("idle done count=%ld alive_after_hold=%ld status=%s\n", count, alive,
	       alive == count ? "ok" : "lost");
	free(fds);
	return alive != count;
}

/* ---------------------------------------------------------------- rate */

struct worker {
	pthread_t th;
	const struct target *t;
	double deadline;
	uint32_t *lat_us; /* latency of each good connection, microseconds */
	size_t n, cap;
	long errors;
	char first_err[160];
};

#define MAX_ERRORS_PER_WORKER 1000 /* a broken path stops quickly */

static void *rate_worker(void *arg)
{
	struct worker *w = arg;
	while (now_s() < w->deadline && w->errors < MAX_ERRORS_PER_WORKER) {
		double t0 = now_s();
		int fd = open_conn(w->t);
		int ok = fd >= 0 && echo_once(fd, "Ex", 2) == 0;
		double t1 = now_s();
		if (fd >= 0)
			close(fd);
		if (!ok) {
			if (w->errors++ == 0)
				snprintf(w->first_err, sizeof(w->first_err), "%s", why);
			continue;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 4096;
			uint32_t *p = realloc(w->lat_us, cap * sizeof(*p));
			if (!p)
				break;
			w->lat_us = p, w->cap = cap;
		}
		double us = (t1 - t0) * 1e6;
		w->lat_us[w->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

static int cmd_rate(const struct target *t, long conc, double secs)
{
	struct worker *w = calloc((size_t)conc, sizeof(*w));
	if (!w)
		return 1;
	double t0 = now_s();
	long started = 0;
	for (long i = 0; i < conc; i++) {
		w[i].t = t;
		w[i].deadline = t0 + secs;
		if (pthread_create(&w[i].th, NULL, rate_worker, &w[i]) != 0)
			break;
		started++;
	}
	size_t total = 0;
	long errors = 0;
	const char *first = NULL;
	for (long i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
		errors += w[i].errors;
		if (w[i].errors && !first)
			first = w[i].first_err;
	}
	double elapsed = now_s() - t0;
	uint32_t *all = malloc((total ? total : 1) * sizeof(*all));
	size_t k = 0;
	for (long i = 0; i < started && all; i++) {
		memcpy(all + k, w[i].lat_us, w[i].n * sizeof(*all));
		k += w[i].n;
	}
	if (all)
		qsort(all, k, sizeof(*all), cmp_u32);
	printf("rate conc=%ld secs=%.2f conns=%zu errors=%ld conn/s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f status=%s%s%s%s\n",
	       started, elapsed, total, errors, (double)total / elapsed, pct_ms(all, k, 0.50),
	       pct_ms(all, k, 0.99), k ? all[k - 1] / 1000.0 : 0.0,
	       errors || started != conc ? "errors" : "ok", first ? " first_error=\"" : "",
	       first ? first : "", first ? "\"" : "");
	for (long i = 0; i < started; i++)
		free(w[i].lat_us);
	free(w);
	free(all);
	return errors != 0 || started != conc;
}

/* ---------------------------------------------------------------- serve */

enum sstate { S_CMD, S_DHDR, S_SEND, S_DRAIN, S_UP, S_UPREPLY, S_ECHO };

struct sconn {
	int fd;
	enum sstate st;
	uint8_t cmd;
	uint8_t hdr[8];
	unsigned hlen;
	uint64_t left;    /* S_SEND: bytes still to send */
	uint64_t pos;     /* S_SEND: offset sent; S_UP: bytes received */
	bool bad;         /* 'V': a byte differed from the pattern */
	uint8_t reply[8];
	unsigned rlen;    /* S_UPREPLY: reply bytes sent */
	uint8_t *pend;    /* S_ECHO: bytes read but not yet echoed */
	size_t plen, poff;
	uint32_t events;  /* current epoll interest */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct {
	unsigned long accepted, open, peak, cmd[4], errors;
} st;

static int ep;
static uint8_t scratch[CHUNK];

static void s_close(struct sconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
	st.open--;
}

static void s_want(struct sconn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

/* Echo bytes; a short write parks the rest and waits for EPOLLOUT.
 * Returns -1 when the connection is gone. */
static int s_echo(struct sconn *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	ssize_t w = write(c->fd, p, n);
	if (w < 0 && errno != EAGAIN)
		return -1;
	if (w < 0)
		w = 0;
	if ((size_t)w < n) {
		c->plen = n - (size_t)w;
		c->poff = 0;
		c->pend = malloc(c->plen);
		if (!c->pend)
			return -1;
		memcpy(c->pend, p + w, c->plen);
		s_want(c, EPOLLOUT);
	}
	return 0;
}

/* Feeds bytes read in the current state; -1 closes the connection. */
static int s_feed(struct sconn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		switch (c->st) {
		case S_CMD:
			c->cmd = p[0];
			p++, n--;
			if (c->cmd == 'D')
				c->st = S_DHDR, st.cmd[0]++;
			else if (c->cmd == 'U' || c->cmd == 'V')
				c->st = S_UP, st.cmd[1]++;
			else if (c->cmd == 'E')
				c->st = S_ECHO, st.cmd[2]++;
			else
				return st.cmd[3]++, -1;
			break;
		case S_DHDR: {
			size_t k = 8 - c->hlen < n ? 8 - c->hlen : n;
			memcpy(c->hdr + c->hlen, p, k);
			c->hlen += (unsigned)k;
			p += k, n -= k;
			if (c->hlen == 8) {
				c->left = get_be64(c->hdr);
				c->st = S_SEND;
				s_want(c, EPOLLOUT);
			}
			break;
		}
		case S_UP:
			if (c->cmd == 'V' && !c->bad && !pattern_ok(p, n, c->pos))
				c->bad = true;
			c->pos += n;
			n = 0;
			break;
		case S_ECHO:
			return s_echo(c, p, n);
		default:
			n = 0; /* S_SEND, S_DRAIN, S_UPREPLY: input is ignored */
			break;
		}
	}
	return 0;
}

static int s_readable(struct sconn *c)
{
	for (int i = 0; i < 4; i++) { /* bounded so one busy peer cannot starve others */
		ssize_t r = read(c->fd, scratch, sizeof(scratch));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (c->st != S_UP)
				return -1;
			put_be64(c->reply, c->pos | (c->bad ? 1ull << 63 : 0));
			c->st = S_UPREPLY;
			s_want(c, EPOLLOUT);
			return 0;
		}
		if (s_feed(c, scratch, (size_t)r) < 0)
			return -1;
		if (c->events != EPOLLIN)
			return 0;
	}
	return 0;
}

static int s_writable(struct sconn *c)
{
	if (c->st == S_SEND) {
		for (int i = 0; i < 4 && c->left > 0; i++) {
			size_t k = c->left < CHUNK ? (size_t)c->left : CHUNK;
			ssize_t w = write(c->fd, pattern + c->pos % PERIOD, k);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (w < 0)
				return -1;
			c->pos += (uint64_t)w, c->left -= (uint64_t)w;
		}
		if (c->left == 0) {
			/* Graceful end: FIN now, close once the peer closes too. */
			shutdown(c->fd, SHUT_WR);
			c->st = S_DRAIN;
			s_want(c, EPOLLIN);
		}
		return 0;
	}
	if (c->st == S_UPREPLY) {
		ssize_t w = write(c->fd, c->reply + c->rlen, 8 - c->rlen);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w < 0)
			return -1;
		c->rlen += (unsigned)w;
		return c->rlen == 8 ? -1 : 0; /* done: close */
	}
	if (c->st == S_ECHO && c->pend) {
		ssize_t w = write(c->fd, c->pend + c->poff, c->plen - c->poff);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w < 0)
			return -1;
		c->poff += (size_t)w;
		if (c->poff == c->plen) {
			free(c->pend);
			c->pend = NULL;
			s_want(c, EPOLLIN);
		}
	}
	return 0;
}

static void s_accept(int lfd)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				st.errors++;
				if (st.errors < 10)
					fprintf(stderr, "serve: accept: %s\n", strerror(errno));
			}
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct sconn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			free(c);
			continue;
		}
		st.accepted++;
		if (++st.open > st.peak)
			st.peak = st.open;
	}
}

static int cmd_serve(unsigned port, double max_s)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		fprintf(stderr, "serve: 127.0.0.1:%u: %s\n", port, strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("serve port=%u pid=%ld\n", ntohs(a.sin_port), (long)getpid());
	fflush(stdout);
	double deadline = now_s() + max_s;
	struct epoll_event evs[256];
	while (!stop && now_s() < deadline) {
		int n = epoll_wait(ep, evs, 256, 500);
		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;
			if (!c) {
				s_accept(lfd);
				continue;
			}
			uint32_t ev = evs[i].events;
			int rc = 0;
			if (ev & EPOLLOUT)
				rc = s_writable(c);
			else if (ev & EPOLLIN)
				rc = s_readable(c);
			else if (ev & (EPOLLERR | EPOLLHUP))
				rc = -1;
			if (rc < 0)
				s_close(c);
		}
	}
	fprintf(stderr, "serve: exit accepted=%lu open=%lu peak_open=%lu D=%lu U=%lu E=%lu "
	        "bad_cmd=%lu accept_errors=%lu\n", st.accepted, st.open, st.peak, st.cmd[0],
	        st.cmd[1], st.cmd[2], st.cmd[3], st.errors);
	return 0;
}

/* ---------------------------------------------------------------- freeport */

static int cmd_freeport(long n)
{
	int fds[64];
	if (n < 1 || n > 64)
		return 2;
	for (long i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t alen = sizeof(a);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &alen) < 0)
			return perror("freeport"), 1;
		printf("%s%u", i ? " " : "", ntohs(a.sin_port));
	}
	printf("\n");
	for (long i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

/* ---------------------------------------------------------------- main */

static int usage(void)
{
	fputs("usage: wsf_load serve PORT [MAX_SECONDS]\n"
	      "       wsf_load bulk [--socks H:P] [--check] HOST:PORT up|down BYTES\n"
	      "       wsf_load idle [--socks H:P] HOST:PORT COUNT SECONDS\n"
	      "       wsf_load rate [--socks H:P] HOST:PORT CONCURRENCY SECONDS\n"
	      "       wsf_load freeport [N]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	pattern_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	struct target t;
	uint64_t a, b;
	bool check = false;
	int i;
	if (strcmp(mode, "serve") == 0) {
		if (argc < 3 || argc > 4 || parse_u64(argv[2], &a) < 0 || a > 65535)
			return usage();
		b = 3600;
		if (argc == 4 && (parse_u64(argv[3], &b) < 0 || b == 0))
			return usage();
		return cmd_serve((unsigned)a, (double)b);
	}
	if (strcmp(mode, "freeport") == 0)
		return cmd_freeport(argc > 2 ? atol(argv[2]) : 1);
	if (strcmp(mode, "bulk") == 0) {
		i = parse_target(argc, argv, 2, &t, &check);
		if (i < 0 || argc - i != 2 || (strcmp(argv[i], "up") && strcmp(argv[i], "down")) ||
		    parse_u64(argv[i + 1], &a) < 0)
			return usage();
		return cmd_bulk(&t, strcmp(argv[i], "up") == 0, a, check);
	}
	if (strcmp(mode, "idle") == 0 || strcmp(mode, "rate") == 0) {
		i = parse_target(argc, argv, 2, &t, NULL);
		if (i < 0 || argc - i != 2 || parse_u64(argv[i], &a) < 0 || a == 0 || a > 1000000 ||
		    parse_u64(argv[i + 1], &b) < 0 || b > 3600)
			return usage();
		return mode[0] == 'i' ? cmd_idle(&t, (long)a, (double)b)
		                      : cmd_rate(&t, (long)a, (double)b);
	}
	return usage();
}
