/* ping_cmd.c — `wsferry ping URL`: the ming-mong client. One connection
 * driven with poll(2) under a single deadline: the upgrade, a signed ping,
 * the reply printed with its round trip, a polite close. Exit 0 on a pong,
 * 1 on anything else at run time, 2 on bad usage. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "tls/tls.h"
#include "tun/stream.h"
#include "core/dns.h"
#include "core/dns_block.h"
#include "core/net.h"
#include "core/rand.h"
#include "proto/conf.h"
#include "proto/http.h"
#include "proto/ping.h"
#include "proto/url.h"
#include "proto/ws.h"
#include "tun/server/srv_config.h"

#define PING_CMD_TIMEOUT_MS 10000      /* --timeout default: the whole exchange */
#define PING_CMD_MAX_TIMEOUT_MS 3600000
#define PING_CMD_CLOSE_WAIT_MS 1000    /* for the server's close after the reply */
#define PING_CMD_DEFAULT_PATH "/ws"    /* ming-mong's endpoint */
#define PING_CMD_RX (HTTP_MAX_HEAD + WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD)

struct ping_cmd {
	struct url url;
	bool have_url;
	const char *name;
	uint64_t timeout_ms;
	bool insecure;          /* wss://: trust like `wsferry client` does */
	const char *pin, *ca;
};

/* The connection: bytes read but not parsed yet, and the reply's message. */
struct ping_io {
	int fd;                  /* while connecting; then s owns it */
	struct stream s;         /* plain, or TLS for wss:// */
	uint64_t deadline_ms;    /* monotonic */
	const char *where;       /* HOST:PORT for messages */
	struct ws_parser parser;
	uint8_t rx[PING_CMD_RX];
	size_t rx_off, rx_len;
	uint8_t msg[PING_MAX_MESSAGE];
	size_t msg_len;
	uint16_t close_code;     /* the server's close frame, if one came */
	bool closed;
	bool have_msg;           /* the reply is whole: later messages are ignored */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Integers, not double: the only floating point of the product cost the
 * static mipsel build libgcc's soft-float calls (MIPS16e has no FPU
 * instructions). */
static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line on stderr; returns the exit status 1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "wsferry: ping: %s\n", line);
	return 1;
}

/* ---- options ---- */

static int opt_name(void *ctx, const char *val, const char **why)
{
	struct ping_cmd *c = ctx;
	if (!*val || strlen(val) > 255) {
		*why = "a server name of 1 to 255 characters";
		return -1;
	}
	c->name = val;
	return 0;
}

static int opt_timeout(void *ctx, const char *val, const char **why)
{
	struct ping_cmd *c = ctx;
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms == 0 || ms > PING_CMD_MAX_TIMEOUT_MS) {
		*why = "a duration above 0 and up to 1h, e.g. 10, 500ms, 1m";
		return -1;
	}
	c->timeout_ms = ms;
	return 0;
}

static int positional_url(void *ctx, const char *val, const char **why)
{
	struct ping_cmd *c = ctx;
	if (c->have_url) {
		*why = "only one URL";
		return -1;
	}
	if (url_parse(val, &c->url, why) < 0)
		return -1;
	if (c->url.scheme == URL_TLS) {
		*why = "the ping endpoint speaks WebSocket: use ws:// or wss://";
		return -1;
	}
	c->have_url = true;
	return 0;
}

static int opt_insecure(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct ping_cmd *)ctx)->insecure = true;
	return 0;
}

static int opt_pin(void *ctx, const char *val, const char **why)
{
	uint8_t pin[32];
	if (tls_pin_parse(val, pin) < 0)
		return *why = "the SHA-256 fingerprint the server prints: 64 hex digits", -1;
	((struct ping_cmd *)ctx)->pin = val;
	return 0;
}

static int opt_ca(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct ping_cmd *)ctx)->ca = val;
	return 0;
}

static const struct opt ping_opts[] = {
	{"name", 0, true, false, opt_name},
	{"timeout", 0, true, false, opt_timeout},
	{"insecure", 0, false, false, opt_insecure},
	{"pin", 0, true, false, opt_pin},
	{"ca", 0, true, false, opt_ca},
	COMMON_OPTS,
	{0},
};

/* ---- I/O under the deadline ---- */

/* 1 when fd is ready for events, -ETIMEDOUT past the deadline, or -errno. */
static int io_wait(const struct ping_io *io, short events)
{
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= io->deadline_ms)
			return -ETIMEDOUT;
		uint64_t left = io->deadline_ms - now;
		struct pollfd p = {.fd = io->s.fd >= 0 ? io->s.fd : io->fd, .events = events};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -errno;
	}
}

/* TLS failures say why (unknown CA, pin mismatch ...), others their errno. */
static const char *io_strerror(const struct ping_io *io, int rc)
{
	const char *tls = stream_error(&io->s);
	return tls ? tls : strerror(-rc);
}

/* Waits until the stream can move (TLS: until the engine's records do),
 * app_want being RX_READ or RX_WRITE. 0, or -errno. */
static int io_wait_stream(struct ping_io *io, unsigned app_want)
{
	size_t room;
	if (io->s.tls && stream_pump(&io->s, 0) < 0)
		return -EPROTO;
	/* The handshake may have finished inside that pump: the engine then
	 * takes application data at once, while the interest it reports is a
	 * read; polling for it would wait on a server that waits for us (seen
	 * on slow clients, qemu). */
	if (io->s.tls && (app_want & RX_WRITE) && tls_conn_send_buf(io->s.tls, &room) && room)
		return 0;
	unsigned want = stream_interest(&io->s, app_want);
	if (!want)
		return io->s.tls ? 0 : -EIO; /* TLS: the engine moved, try again */
	int rc = io_wait(io, (short)((want & RX_READ ? POLLIN : 0) | (want & RX_WRITE ? POLLOUT : 0)));
	if (rc < 0)
		return rc;
	return io->s.tls && stream_pump(&io->s, 0) < 0 ? -EPROTO : 0;
}

static int io_write_all(struct ping_io *io, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		long w = stream_write(&io->s, b, n);
		if (w == -EAGAIN || w == 0) {
			int rc = io_wait_stream(io, RX_WRITE);
			if (rc < 0)
				return rc;
			continue;
		}
		if (w < 0)
			return (int)w;
		b += w;
		n -= (size_t)w;
	}
	/* TLS: records sealed in the engine still have to leave it */
	for (int i = 0; i < 64 && io->s.tls && !stream_flushed(&io->s); i++) {
		int rc = io_wait_stream(io, RX_WRITE);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Appends what the socket has to rx: >0 bytes, 0 at EOF, or -errno. */
static long io_read_some(struct ping_io *io)
{
	if (io->rx_off > 0) {
		memmove(io->rx, io->rx + io->rx_off, io->rx_len);
		io->rx_off = 0;
	}
	for (;;) {
		long n = stream_read(&io->s, io->rx + io->rx_len, sizeof(io->rx) - io->rx_len);
		if (n >= 0) {
			io->rx_len += (size_t)n;
			return n;
		}
		if (n != -EAGAIN)
			return n;
		int rc = io_wait_stream(io, RX_READ);
		if (rc < 0)
			return rc;
	}
}

/* A masked client frame (RFC 6455 §5.3), payload up to one control frame
 * or one request. */
static int io_send_frame(struct ping_io *io, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t frame[WS_MAX_HEADER + PING_REQUEST_MAX], key[4];
	if (n > PING_REQUEST_MAX || rand_bytes(key, sizeof(key)) < 0)
		return -EIO;
	size_t hn = ws_frame_header(frame, op, true, n, key);
	memcpy(frame + hn, p, n);
	ws_mask(frame + hn, n, key, 0);
	return io_write_all(io, frame, hn + n);
}

/* ---- the steps ---- */

static void host_port(const struct url *u, char *out, size_t cap)
{
	snprintf(out, cap, u->host_is_v6 ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
}

static int dial_one(struct ping_io *io, const struct net_addr *a)
{
	int fd = net_connect(a);
	if (fd < 0)
		return fd;
	io->fd = fd;
	int rc = io_wait(io, POLLOUT);
	if (rc > 0)
		rc = net_connect_result(fd);
	if (rc < 0) {
		close(fd);
		io->fd = -1;
	}
	return rc < 0 ? rc : 0;
}

/* Resolves and connects, trying each address in turn. 0 or exit status 1. */
static int dial(struct ping_io *io, const struct url *u)
{
	struct net_addr addrs[DNS_MAX_ADDRS];
	int n = dns_resolve_blocking(u->host, u->port, NULL, addrs, DNS_MAX_ADDRS);
	if (n <= 0)
		return fail("cannot resolve %s: %s", u->host, dns_strerror(n));
	int rc = -EHOSTUNREACH;
	for (int i = 0; i < n && rc != -ETIMEDOUT; i++)
		if ((rc = dial_one(io, &addrs[i])) == 0)
			break;
	if (rc == -ETIMEDOUT)
		return fail("cannot connect to %s: timed out", io->where);
	if (rc < 0)
		return fail("cannot connect to %s: %s", io->where, strerror(-rc));
	net_set_nodelay(io->fd);
	return 0;
}

static int send_upgrade(struct ping_io *io, const struct url *u, char key[WS_KEY_LEN + 1])
{
	uint8_t nonce[16];
	char host[URL_MAX_HOST + 16], req[URL_MAX_HOST + URL_MAX_PATH + 256];
	const char *path = strcmp(u->path, "/") == 0 ? PING_CMD_DEFAULT_PATH : u->path;
	if (rand_bytes(nonce, sizeof(nonce)) < 0)
		return fail("no random bytes for the WebSocket key");
	ws_make_key(nonce, key);
	if (u->port == url_default_port(u->scheme))
		snprintf(host, sizeof(host), u->host_is_v6 ? "[%s]" : "%s", u->host);
	else
		host_port(u, host, sizeof(host));
	size_t n = ws_client_request(req, sizeof(req), host, path, key, NULL);
	if (n == 0)
		return fail("cannot build an upgrade request for %s%s", host, path);
	int rc = io_write_all(io, req, n);
	if (rc < 0)
		return fail("sending the upgrade to %s: %s", io->where, io_strerror(io, rc));
	return 0;
}

/* Reads the server's answer to the upgrade; frames after it stay in rx. */
static int read_upgrade(struct ping_io *io, const char *key)
{
	size_t scanned = 0;
	int end;
	static struct http_response resp;
	while ((end = http_head_end((const char *)io->rx, io->rx_len, &scanned)) == HTTP_NEED_MORE) {
		long n = io_read_some(io);
		if (n == -ETIMEDOUT)
			return fail("no answer to the upgrade from %s (timed out)", io->where);
		if (n == 0)
			return fail("%s closed the connection without answering the upgrade "
			            "(no ping endpoint at this path?)", io->where);
		if (n < 0)
			return fail("reading from %s: %s", io->where, io_strerror(io, (int)n));
	}
	if (end < 0 || http_parse_response((const char *)io->rx, (size_t)end, &resp) < 0)
		return fail("%s answered something that is not HTTP", io->where);
	if (resp.status != 101)
		return fail("%s answered HTTP %d %.*s instead of a WebSocket upgrade", io->where,
		            resp.status, (int)resp.reason.len, resp.reason.p);
	if (ws_check_response(&resp, key) < 0)
		return fail("%s answered 101 with a wrong Sec-WebSocket-Accept", io->where);
	io->rx_off = (size_t)end;
	io->rx_len -= (size_t)end;
	return 0;
}

/* 1 when the first message is whole, 0 to go on, -1 on the server's close.
 * A failed pong shows up as the next read's error. */
static int on_event(struct ping_io *io, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		if (io->have_msg)
			return 0;
		if (ev->len > 0) /* bounded by max_message */
			memcpy(io->msg + io->msg_len, ev->data, ev->len);
		io->msg_len += ev->len;
		io->have_msg = ev->fin;
		return ev->fin ? 1 : 0;
	case WS_EV_PING:
		io_send_frame(io, WS_OP_PONG, ev->data, ev->len);
		return 0;
	case WS_EV_PONG:
		return 0;
	case WS_EV_CLOSE:
		io->closed = true;
		io->close_code = ev->close_code;
		return -1;
	}
	return 0;
}

/* Parses rx until a whole message: 1, or -1 (closed, or a frame error). */
static int parse_some(struct ping_io *io, enum ws_rc *err)
{
	*err = WS_NEED_MORE;
	while (io->rx_len > 0) {
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&io->parser, io->rx + io->rx_off, io->rx_len, &used, &ev);
		io->rx_off += used;
		io->rx_len -= used;
		if (rc < 0)
			return *err = rc, -1;
		if (rc == WS_NEED_MORE)
			return 0;
		int r = on_event(io, &ev);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Waits for the first whole message. 0, or exit status 1 (printed). */
static int read_message(struct ping_io *io, const char *what)
{
	for (;;) {
		enum ws_rc err;
		int r = parse_some(io, &err);
		if (r > 0)
			return 0;
		if (r < 0 && io->closed)
			return fail("%s closed the WebSocket (code %u) without %s", io->where,
			            io->close_code, what);
		if (r < 0)
			return fail("bad frame from %s: %s", io->where, ws_strerror(err));
		long n = io_read_some(io);
		if (n == -ETIMEDOUT)
			return fail("no %s from %s (timed out)", what, io->where);
		if (n == 0)
			return fail("%s closed the connection without %s", io->where, what);
		if (n < 0)
			return fail("reading from %s: %s", io->where, io_strerror(io, (int)n));
	}
}

/* After the reply: answer the server's Close 1000 (briefly awaited). */
static void close_politely(struct ping_io *io)
{
	uint64_t soon = mono_ms() + PING_CMD_CLOSE_WAIT_MS;
	uint8_t code[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
	enum ws_rc err;
	if (soon < io->deadline_ms)
		io->deadline_ms = soon;
	for (int i = 0; i < 64 && !io->closed; i++) {
		if (parse_some(io, &err) < 0 && !io->closed)
			return;
		if (!io->closed && io_read_some(io) <= 0)
			return;
	}
	if (io->closed)
		io_send_frame(io, WS_OP_CLOSE, code, sizeof(code));
}

/* Printable ASCII only: a reply must not drive the terminal. */
static void print_sanitized(const uint8_t *p, size_t n)
{
	char line[PING_MAX_MESSAGE + 1];
	for (size_t i = 0; i < n; i++)
		line[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	line[n] = '\0';
	printf("%s\n", line);
}

static int report(struct ping_io *io, uint64_t rtt_ns)
{
	char code[PING_CODE_MAX];
	enum ping_answer a = ping_answer_read(io->msg, io->msg_len, code);
	print_sanitized(io->msg, io->msg_len);
	if (a == PING_ANSWER_PONG) {
		/* in whole microseconds: the static build formats no floats */
		unsigned long long us = (rtt_ns + 500) / 1000;
		printf("pong from %s: round trip %llu.%03llu ms\n", io->where, us / 1000, us % 1000);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	fflush(stdout);
	if (a == PING_ANSWER_ERROR)
		return fail("%s answered %s%s", io->where, code,
		            strcmp(code, "invalid_signature") == 0
		                ? " (another --name, or a clock more than a day off?)" : "");
	return fail("%s answered something that is not a ming-mong reply", io->where);
}

/* The signed ping, its reply and the close. */
static int exchange(struct ping_io *io, const char *name)
{
	struct timespec now;
	char req[PING_REQUEST_MAX];
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n = ping_request(req, sizeof(req), name, &now);
	uint64_t t0 = mono_ns();
	int rc = io_send_frame(io, WS_OP_TEXT, req, n);
	if (rc < 0)
		return fail("sending the ping to %s: %s", io->where, io_strerror(io, rc));
	if (read_message(io, "a reply") != 0)
		return 1;
	uint64_t rtt_ns = mono_ns() - t0;
	close_politely(io);
	return report(io, rtt_ns);
}

static struct tls_client_cfg ping_tls;

/* The connected socket as a stream: TLS for wss://, verified like the client
 * verifies (CA and host name, or --pin, or --insecure). 0 or exit status 1. */
static int ping_stream(struct ping_io *io, const struct ping_cmd *c)
{
	char err[TLS_ERRLEN];
	int fd = io->fd;
	io->fd = -1;
	if (c->url.scheme != URL_WSS) {
		stream_plain(&io->s, fd);
		return 0;
	}
	int rc = 0;
	if (c->insecure)
		tls_client_cfg_init_insecure(&ping_tls);
	else if (c->pin)
		rc = tls_client_cfg_init_pin(&ping_tls, c->pin, err, sizeof(err));
	else
		rc = tls_client_cfg_init_ca(&ping_tls, c->ca ? c->ca : TLS_SYSTEM_CA, err, sizeof(err));
	if (rc < 0 || stream_tls_client(&io->s, fd, &ping_tls, c->url.host) < 0) {
		close(fd);
		return fail("TLS: %s", rc < 0 ? err : "out of memory");
	}
	return 0;
}

static int run(const struct ping_cmd *c)
{
	static struct ping_io io; /* ~16 KiB of buffers: off the stack */
	char where[URL_MAX_HOST + 16], key[WS_KEY_LEN + 1];
	host_port(&c->url, where, sizeof(where));
	io = (struct ping_io){.fd = -1, .where = where, .deadline_ms = mono_ms() + c->timeout_ms};
	ws_parser_init(&io.parser, WS_ROLE_CLIENT, PING_MAX_MESSAGE);
	io.s.fd = -1;
	int rc = dial(&io, &c->url);
	if (rc == 0)
		rc = ping_stream(&io, c);
	if (rc == 0)
		rc = send_upgrade(&io, &c->url, key);
	if (rc == 0)
		rc = read_upgrade(&io, key);
	if (rc == 0)
		rc = exchange(&io, c->name);
	if (io.s.fd >= 0)
		stream_close(&io.s);
	else if (io.fd >= 0)
		close(io.fd);
	if (c->url.scheme == URL_WSS)
		tls_client_cfg_free(&ping_tls);
	return rc;
}

int cmd_ping(int argc, char **argv)
{
	struct ping_cmd c = {.name = SERVER_PING_DEFAULT_NAME, .timeout_ms = PING_CMD_TIMEOUT_MS};
	if (opts_parse(ping_opts, argc, argv, &c, positional_url) < 0)
		return 2;
	if (!c.have_url)
		return opts_usage_error("ping", "needs the server's URL, e.g. ws://HOST:PORT/ws");
	return run(&c);
}
