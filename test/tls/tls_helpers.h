/* tls_helpers.h — shared by the tests under test/tls and bench/tls_bench.c: a
 * scratch directory, shell commands (openssl CLI), and a two-ended poll
 * loop that drives tls_conn pairs exactly as a relay would (interest from
 * tls_conn_interest only). Header-only: every test is its own binary. */
#ifndef WSF_TEST_TLS_HELPERS_H
#define WSF_TEST_TLS_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rx.h"
#include "tls/tls.h"

static char th_dir[64];

/* Creates the scratch directory once; removed by th_cleanup. */
static inline const char *th_tmp(void)
{
	if (!th_dir[0]) {
		strcpy(th_dir, "/tmp/wsf-tls-XXXXXX");
		if (!mkdtemp(th_dir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return th_dir;
}

static inline void th_cleanup(void)
{
	char cmd[128];
	if (!th_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", th_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
}

/* Path inside the scratch dir (rotating static buffers). */
static inline const char *th_path(const char *name)
{
	static char bufs[8][256];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 256, "%s/%s", th_tmp(), name);
	return b;
}

/* Runs a shell command in the scratch dir; its exit status (0 ok). */
__attribute__((format(printf, 1, 2))) static inline int th_sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd %s && (", th_tmp());
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") >/dev/null 2>&1");
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Same, capturing stdout+stderr into out (NUL-terminated). */
__attribute__((format(printf, 3, 4))) static inline int th_sh_out(char *out, size_t cap,
                                                          const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd %s && (", th_tmp());
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") 2>&1");
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t len = fread(out, 1, cap - 1, f);
	out[len] = '\0';
	int rc = pclose(f);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The openssl CLI drives the interop tests; test/deps.sh does not install
 * it, so a machine without it skips them (with a note) rather than fail. */
static inline bool th_have_openssl(void)
{
	if (system("openssl version >/dev/null 2>&1") == 0)
		return true;
	printf("SKIP: openssl CLI not installed (apt-get install openssl)\n");
	return false;
}

static inline char *th_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

static inline void th_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static inline uint64_t th_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void th_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		perror("socketpair");
		exit(1);
	}
}

/* One end of a test connection: what it sends, what it got, how it ended. */
struct th_end {
	struct tls_conn t;
	int fd;
	bool live;               /* t initialised */
	const uint8_t *tx;
	size_t tx_len, tx_off;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	long rc;                 /* first hard error, 0 none */
	bool eof;                /* read returned 0 */
	bool close_after_tx;     /* send close_notify once tx is out */
	bool closing;
	bool echo;               /* send back whatever arrives */
	uint8_t echo_buf[65536];
	size_t echo_len;
};

static inline void th_end_rx(struct th_end *e, const uint8_t *p, size_t n)
{
	if (e->echo && n <= sizeof(e->echo_buf) - e->echo_len) {
		memcpy(e->echo_buf + e->echo_len, p, n);
		e->echo_len += n;
	}
	if (e->rx && n <= e->rx_cap - e->rx_len) {
		memcpy(e->rx + e->rx_len, p, n);
		e->rx_len += n;
	} else if (!e->rx) {
		e->rx_len += n;
	}
}

static inline void th_end_write(struct th_end *e)
{
	while (e->tx_off < e->tx_len) {
		long w = tls_conn_write(&e->t, e->tx + e->tx_off, e->tx_len - e->tx_off);
		if (w == -EAGAIN)
			break;
		if (w < 0) {
			e->rc = w;
			return;
		}
		e->tx_off += (size_t)w;
	}
	while (e->echo_len) {
		long w = tls_conn_write(&e->t, e->echo_buf, e->echo_len);
		if (w == -EAGAIN)
			break;
		if (w < 0) {
			e->rc = w;
			return;
		}
		memmove(e->echo_buf, e->echo_buf + w, e->echo_len - (size_t)w);
		e->echo_len -= (size_t)w;
	}
	if (e->close_after_tx && e->tx_off == e->tx_len && !e->echo_len &&
	    tls_conn_handshake_done(&e->t) && !e->closing) {
		e->closing = true;
		tls_conn_close(&e->t);
	}
}

static inline void th_end_read(struct th_end *e)
{
	uint8_t buf[16384];
	/* Stop reading while an echo is pending: backpressure, as a relay. */
	while (!e->eof && e->echo_len < sizeof(e->echo_buf) - sizeof(buf)) {
		long r = tls_conn_read(&e->t, buf, sizeof(buf));
		if (r == -EAGAIN)
			return;
		if (r == 0) {
			e->eof = true;
			return;
		}
		if (r < 0) {
			e->rc = r;
			return;
		}
		th_end_rx(e, buf, (size_t)r);
	}
}

/* One reactor turn for an end: pump, write, read, write again. */
static inline void th_end_step(struct th_end *e)
{
	if (!e->live || e->rc)
		return;
	int rc = tls_conn_pump(&e->t);
	if (rc < 0) {
		e->rc = rc;
		return;
	}
	th_end_write(e);
	if (!e->rc)
		th_end_read(e);
	if (!e->rc)
		th_end_write(e);
}

typedef bool (*th_done_fn)(struct th_end *a, struct th_end *b);

static inline bool th_both_handshaken(struct th_end *a, struct th_end *b)
{
	return tls_conn_handshake_done(&a->t) && tls_conn_handshake_done(&b->t);
}

static inline bool th_any_error(struct th_end *a, struct th_end *b)
{
	return a->rc || b->rc;
}

static inline bool th_transferred(struct th_end *a, struct th_end *b)
{
	return a->tx_off == a->tx_len && b->tx_off == b->tx_len && a->rx_len >= b->tx_len &&
	       b->rx_len >= a->tx_len;
}

/* Steps both ends, sleeping in poll() on exactly the interest each
 * tls_conn asks for, until done() or timeout. Returns the number of
 * poll() calls (a busy loop shows up as a huge count), or -1 on timeout. */
static inline long th_drive(struct th_end *a, struct th_end *b, th_done_fn done, int timeout_ms)
{
	uint64_t end = th_now_ms() + (uint64_t)timeout_ms;
	long polls = 0;
	for (;;) {
		th_end_step(a);
		th_end_step(b);
		if (done(a, b))
			return polls;
		struct pollfd p[2];
		int n = 0;
		struct th_end *ends[2] = { a, b };
		for (int i = 0; i < 2; i++) {
			unsigned m = ends[i]->live && !ends[i]->rc ? tls_conn_interest(&ends[i]->t) : 0;
			if (!m)
				continue;
			p[n].fd = ends[i]->fd;
			p[n].events = (short)((m & RX_READ ? POLLIN : 0) | (m & RX_WRITE ? POLLOUT : 0));
			p[n].revents = 0;
			n++;
		}
		uint64_t now = th_now_ms();
		if (now >= end)
			return -1;
		if (n == 0)
			return done(a, b) ? polls : -1; /* nobody waits for anything: stuck */
		polls++;
		poll(p, (nfds_t)n, (int)(end - now));
	}
}

static inline void th_end_free(struct th_end *e)
{
	if (e->live)
		tls_conn_free(&e->t);
	e->live = false;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

/* A connected server/client pair over a socketpair. 0 or init error. */
static inline int th_pair(struct th_end *srv, struct th_end *cli, struct tls_server_cfg *scfg,
                   struct tls_client_cfg *ccfg, const char *host)
{
	int sv[2];
	memset(srv, 0, sizeof(*srv));
	memset(cli, 0, sizeof(*cli));
	th_socketpair(sv);
	srv->fd = sv[0];
	cli->fd = sv[1];
	int rc = tls_conn_init_server(&srv->t, scfg, srv->fd);
	if (rc < 0)
		return rc;
	srv->live = true;
	rc = tls_conn_init_client(&cli->t, ccfg, cli->fd, host);
	if (rc < 0)
		return rc;
	cli->live = true;
	return 0;
}

#endif
