/* front.c — the -D front end: SOCKS5 (RFC 1928/1929), SOCKS4/4a and HTTP
 * proxy (CONNECT and absolute-URI requests) on one port, told apart by the
 * first byte; any other first byte is closed at once. Owns the local connection until its target is known, then hands it
 * to a tunnel; answers the client once the server has dialled (or not).
 * Bytes the client sends ahead of our reply are kept and tunneled. A -D
 * that names an exit (socks5://NAME@, http://NAME@) opens each tunnel to
 * that exit client instead of the server's own dial (VPN mode). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/log.h"
#include "proto/proxy.h"
#include "proto/socks.h"
#include "tun/client/front.h"
#include "tun/client/cli_tunnel.h"
#include "tun/client/httpfilter.h"
#include "tun/client/socks_udp.h"
#include "tun/dgram.h"

#define FRONT_DEADLINE_MS 30000 /* a client that never finishes its request */
/* Reads land on the stack; only an unfinished message is kept on the heap,
 * at its exact size, so a thousand clients idling in their handshake cost
 * no transit buffers (bench/RESULTS.md: 64 KiB each before). */
#define FRONT_STACK (HTTP_MAX_HEAD + 8192)
#define FORWARD_HEAD_MAX HTTP_MAX_HEAD

enum front_mode {
	FRONT_SNIFF = 0,
	FRONT_SOCKS,
	FRONT_HTTP,
};

struct front {
	struct conn_link link;
	struct client *client;
	const struct fwd *fwd;  /* the -D it came from */
	struct rx_io io;
	struct rx_timer deadline;
	int fd;
	enum front_mode mode;
	bool http_connect;     /* CONNECT (reply 200) vs plain proxy (no reply) */
	struct socks_parser socks;
	size_t scanned;        /* http_head_end progress */
	struct buf in;         /* a view of the bytes being processed (never owned) */
	uint8_t *pend;         /* unfinished message kept between reads */
	uint32_t pend_len;
	char target[TUNNEL_MAX_TARGET + 1];
};

static void front_free(struct front *f)
{
	rx_timer_cancel(&f->client->rx, &f->deadline);
	if (f->fd >= 0) {
		rx_io_del(&f->client->rx, &f->io);
		close(f->fd);
	}
	free(f->pend);
	conn_list_remove(&f->client->conns, &f->link);
	free(f);
}

static void front_destroy(struct conn_link *link)
{
	front_free((struct front *)link);
}

/* Best effort: replies are tiny and the socket is fresh. */
static void front_send(int fd, const void *p, size_t n)
{
	if (n && net_write(fd, p, n) != (long)n)
		log_debug("short write of a proxy reply");
}

static void front_reject(struct front *f, const void *reply, size_t n, const char *why)
{
	log_info("c%u proxy client refused: %s", f->link.id, why);
	front_send(f->fd, reply, n);
	front_free(f);
}

/* ---- after the server answered ---- */

/* Through an exit, a refusal by rule is the exit's, not the server's. */
static const char *front_err_text(const struct front *f, enum tunnel_err err)
{
	bool exit = f->fwd && f->fwd->chan[0];
	return exit && err == TUNNEL_ERR_FORBIDDEN ? "destination not allowed by the exit"
	                                           : tunnel_err_text(err);
}

static void front_on_open(void *owner, int tcp_fd, enum tunnel_err err)
{
	struct front *f = owner;
	if (tcp_fd < 0) {
		front_free(f); /* the client left before the answer */
		return;
	}
	if (f->mode == FRONT_SOCKS && f->socks.version == SOCKS4_VERSION) {
		uint8_t reply[SOCKS4_REPLY_LEN];
		front_send(tcp_fd, reply,
		           socks4_reply(reply, err == TUNNEL_OK ? SOCKS4_REP_GRANTED : SOCKS4_REP_REJECTED));
	} else if (f->mode == FRONT_SOCKS) {
		uint8_t reply[SOCKS_MAX_REPLY];
		enum socks_rep rep = (enum socks_rep)tunnel_err_socks_rep(err);
		size_t n = socks_reply(reply, rep, SOCKS_ATYP_IPV4, NULL, 0);
		front_send(tcp_fd, reply, n);
	} else if (err != TUNNEL_OK) {
		char resp[512];
		size_t n = proxy_response_error(resp, sizeof(resp), tunnel_err_proxy_status(err),
		                                front_err_text(f, err));
		front_send(tcp_fd, resp, n);
	} else if (f->http_connect) {
		front_send(tcp_fd, PROXY_CONNECT_OK, strlen(PROXY_CONNECT_OK));
	}
	if (err != TUNNEL_OK)
		log_info("c%u %s: %s", f->link.id, f->target, front_err_text(f, err));
	front_free(f);
}

/* Hands fd and the bytes after the request (copied: the view is transient)
 * to a tunnel. */
static void front_open(struct front *f, const uint8_t *p, size_t n, struct http_filter *filter)
{
	struct client *c = f->client;
	int fd = f->fd;
	struct buf early = {0};
	if (n && buf_append(&early, p, n) != n) {
		buf_free(&early);
		front_free(f);
		http_filter_free(filter);
		return;
	}
	rx_timer_cancel(&c->rx, &f->deadline);
	rx_io_del(&c->rx, &f->io);
	f->fd = -1;
	f->mode = f->mode == FRONT_SNIFF ? FRONT_HTTP : f->mode;
	log_debug("c%u proxy request for %s", f->link.id, f->target);
	/* Through an exit: "NAME:PASSWORD HOST:PORT" (proto/tunnel_exit.h). */
	char wire[TUNNEL_MAX_WIRE_TARGET + 1];
	bool exit = f->fwd && f->fwd->chan[0];
	if (exit)
		snprintf(wire, sizeof(wire), "%s %s", f->fwd->chan, f->target);
	if (filter)
		filter->fwd = f->fwd;
	client_open_tunnel(c, fd, f->link.id, exit ? TUNNEL_EXIT_OPEN : TUNNEL_CONNECT,
	                   exit ? wire : f->target, &early, front_on_open, f,
	                   filter ? &filter->base : NULL);
}


/* ---- SOCKS5 ---- */

static void socks_target(struct front *f, const struct socks_event *ev)
{
	char host[SOCKS_HOST_TEXT_MAX];
	if (ev->atyp == SOCKS_ATYP_IPV4) {
		inet_ntop(AF_INET, ev->host.p, host, sizeof(host));
		snprintf(f->target, sizeof(f->target), "%s:%u", host, ev->port);
	} else if (ev->atyp == SOCKS_ATYP_IPV6) {
		inet_ntop(AF_INET6, ev->host.p, host, sizeof(host));
		snprintf(f->target, sizeof(f->target), "[%s]:%u", host, ev->port);
	} else {
		/* A "domain" holding ':' is IPv6 text (socks5h clients send that). */
		bool v6 = memchr(ev->host.p, ':', ev->host.len) != NULL;
		snprintf(f->target, sizeof(f->target), v6 ? "[%.*s]:%u" : "%.*s:%u", (int)ev->host.len,
		         (const char *)ev->host.p, ev->port);
	}
}

/* RFC 1928 §7: the TCP connection now only keeps the association alive. */
static void socks_associate(struct front *f, const struct socks_event *ev)
{
	struct client *c = f->client;
	if (f->fwd && f->fwd->chan[0]) {
		uint8_t reply[SOCKS_MAX_REPLY];
		size_t n = socks_reply(reply, SOCKS_REP_CMD_UNSUPPORTED, SOCKS_ATYP_IPV4, NULL, 0);
		front_reject(f, reply, n, "UDP ASSOCIATE does not go through an exit (TCP only)");
		return;
	}
	int fd = f->fd;
	unsigned id = f->link.id;
	unsigned idle_ms = f->fwd ? f->fwd->udp_idle_ms : DGRAM_DEFAULT_IDLE_MS;
	rx_io_del(&c->rx, &f->io);
	f->fd = -1;
	front_free(f);
	socks_udp_associate(c, fd, id, ev, idle_ms);
}

/* 1 when the request is complete and the tunnel opening, 2 after a message
 * was answered (more may be buffered), 0 for more bytes, -1 gone. */
static int socks_step(struct front *f)
{
	const struct client_config *cfg = f->client->cfg;
	struct socks_event ev;
	size_t used = 0;
	uint8_t reply[SOCKS_MAX_REPLY];
	enum socks_rc rc = socks_parser_feed(&f->socks, buf_data(&f->in), buf_len(&f->in), &used, &ev);
	if (rc < 0) {
		size_t n = socks_error_reply(rc, reply);
		front_reject(f, reply, n, socks_strerror(rc));
		return -1;
	}
	if (rc == SOCKS_NEED_MORE)
		return 0;
	if (ev.type == SOCKS_EV_GREETING) {
		uint8_t m = socks_pick_method(ev.methods, cfg->proxy_user != NULL);
		size_t n = socks_choose_method(&f->socks, m, reply);
		if (m == SOCKS_METHOD_NONE_ACCEPTABLE) {
			front_reject(f, reply, n, "no acceptable SOCKS5 auth method");
			return -1;
		}
		front_send(f->fd, reply, n);
	} else if (ev.type == SOCKS_EV_AUTH) {
		bool ok = socks_auth_match(ev.user, ev.pass, cfg->proxy_user, cfg->proxy_pass);
		size_t n = socks_auth_verdict(&f->socks, ok, reply);
		if (!ok) {
			front_reject(f, reply, n, "wrong SOCKS5 username or password");
			return -1;
		}
		front_send(f->fd, reply, n);
	} else if (ev.version == SOCKS4_VERSION && cfg->proxy_user) {
		/* SOCKS4 has a user id but no password: it cannot pass the check. */
		front_reject(f, reply, socks4_reply(reply, SOCKS4_REP_REJECTED),
		             "SOCKS4 carries no password and --proxy-user is set");
		return -1;
	} else if (ev.cmd == SOCKS_CMD_UDP_ASSOCIATE) {
		socks_associate(f, &ev);
		return 1;
	} else {
		socks_target(f, &ev);
		buf_consume(&f->in, used);
		front_open(f, buf_data(&f->in), buf_len(&f->in), NULL);
		return 1;
	}
	buf_consume(&f->in, used);
	return 2;
}

/* ---- HTTP proxy ---- */

static void http_reject(struct front *f, int status, const char *why)
{
	char resp[512];
	size_t n = status == 407 ? proxy_response_407(resp, sizeof(resp))
	                         : proxy_response_error(resp, sizeof(resp), status, why);
	front_reject(f, resp, n, why);
}

static void target_from(struct front *f, const struct proxy_target *t)
{
	snprintf(f->target, sizeof(f->target), t->host_is_v6 ? "[%.*s]:%u" : "%.*s:%u",
	         (int)t->host.len, t->host.p, t->port);
}

/* Plain proxying: the rewritten head, then the bytes after the original
 * head, become the tunnel's first data; a filter rewrites every request that
 * follows on this kept-alive connection (and moves to a new tunnel when one
 * names another host). */
static int http_plain(struct front *f, const struct http_request *req, size_t head_len)
{
	struct proxy_uri uri;
	struct proxy_body body;
	enum proxy_rc rc = proxy_parse_absolute(req->target, &uri);
	if (rc == PROXY_OK)
		rc = proxy_request_body(req, &body);
	if (rc < 0) {
		http_reject(f, proxy_rc_status(rc), proxy_strerror(rc));
		return -1;
	}
	target_from(f, &uri.dest);
	(void)head_len;
	struct http_filter *filter = http_filter_new(f->client, f->link.id, f->target, front_resume);
	if (!filter)
		return http_reject(f, 500, "out of memory"), -1;
	/* The raw request, head included, goes through the filter, which
	 * rewrites this head and every one after it. */
	front_open(f, buf_data(&f->in), buf_len(&f->in), filter);
	return 1;
}

static int http_step(struct front *f)
{
	const struct client_config *cfg = f->client->cfg;
	const char *p = (const char *)buf_data(&f->in);
	int end = http_head_end(p, buf_len(&f->in), &f->scanned);
	if (end == HTTP_NEED_MORE)
		return 0;
	struct http_request req;
	if (end < 0 || http_parse_request(p, (size_t)end, &req) < 0) {
		http_reject(f, end < 0 ? http_rc_status(end) : 400, "malformed request");
		return -1;
	}
	if (cfg->proxy_user && !proxy_auth_ok(&req, cfg->proxy_user, cfg->proxy_pass)) {
		http_reject(f, 407, "proxy credentials missing or wrong");
		return -1;
	}
	if (!http_slice_eq(req.method, "CONNECT"))
		return http_plain(f, &req, (size_t)end);
	struct proxy_target t;
	enum proxy_rc rc = proxy_parse_connect(req.target, &t);
	if (rc < 0) {
		http_reject(f, proxy_rc_status(rc), proxy_strerror(rc));
		return -1;
	}
	target_from(f, &t);
	f->http_connect = true;
	buf_consume(&f->in, (size_t)end);
	front_open(f, buf_data(&f->in), buf_len(&f->in), NULL);
	return 1;
}

/* ---- reading ---- */

/* An HTTP request starts with its method, a token (RFC 9110 §5.6.2). */
static bool http_tchar(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* SOCKS5 and SOCKS4 by their version byte, HTTP by a method's first
 * character; anything else (a TLS ClientHello, a stray SOCKS6) is answered
 * by closing at once rather than left to the deadline. 0 or -1 (freed). */
static int front_sniff(struct front *f)
{
	uint8_t b = buf_data(&f->in)[0];
	if (b == SOCKS_VERSION || b == SOCKS4_VERSION)
		f->mode = FRONT_SOCKS;
	else if (http_tchar(b))
		f->mode = FRONT_HTTP;
	else
		return front_reject(f, NULL, 0, "neither SOCKS4, SOCKS5 nor HTTP"), -1;
	return 0;
}

/* Runs the front end over the view f->in. 1 when f is done with it (freed, or
 * the tunnel opening), 0 when it needs more bytes (the view's rest is kept). */
static int front_process(struct front *f)
{
	if (f->mode == FRONT_SNIFF && front_sniff(f) < 0)
		return 1;
	int rc;
	if (f->mode == FRONT_HTTP) {
		rc = http_step(f);
	} else {
		/* Greeting, auth and request may arrive in one read (pipelining). */
		while ((rc = socks_step(f)) == 2 && buf_len(&f->in))
			;
		if (rc == 2)
			rc = 0;
	}
	if (rc != 0)
		return 1;
	uint8_t *keep = buf_len(&f->in) ? realloc(f->pend, buf_len(&f->in)) : f->pend;
	if (buf_len(&f->in) && !keep) {
		front_free(f);
		return 1;
	}
	if (buf_len(&f->in))
		memmove(keep, buf_data(&f->in), buf_len(&f->in));
	f->pend = keep;
	f->pend_len = (uint32_t)buf_len(&f->in);
	f->in = (struct buf){0};
	return 0;
}

static void front_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct front *f = (struct front *)((char *)io - offsetof(struct front, io));
	uint8_t stack[FRONT_STACK];
	(void)rx;
	(void)events;
	if (f->pend_len) /* memcpy(dst, NULL, 0) is undefined */
		memcpy(stack, f->pend, f->pend_len);
	size_t have = f->pend_len;
	long n = have < sizeof(stack) ? net_read(f->fd, stack + have, sizeof(stack) - have)
	                              : -ENOBUFS;
	if (n == -EAGAIN)
		return;
	if (n <= 0)
		return front_free(f);
	f->in = (struct buf){.mem = stack, .len = (uint32_t)(have + (size_t)n)};
	front_process(f);
}

static void front_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct front *f = (struct front *)((char *)t - offsetof(struct front, deadline));
	(void)rx;
	log_info("c%u proxy client sent no whole request in time", f->link.id);
	front_free(f);
}

static struct front *front_new(struct client *c, int fd)
{
	struct front *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return NULL;
	}
	f->client = c;
	f->fd = fd;
	conn_list_add(&c->conns, &f->link, front_destroy);
	rx_io_add(&c->rx, &f->io, fd, front_on_io);
	rx_io_want(&c->rx, &f->io, RX_READ);
	rx_timer_arm(&c->rx, &f->deadline, rx_now(&c->rx) + FRONT_DEADLINE_MS, front_on_deadline);
	return f;
}

void front_accept(struct client *c, const struct fwd *fwd, int fd, const struct net_addr *peer)
{
	struct front *f = front_new(c, fd);
	(void)peer;
	if (f)
		f->fwd = fwd;
}

void front_resume(struct client *c, const struct fwd *fwd, int fd, unsigned id, struct buf *in)
{
	struct front *f = front_new(c, fd);
	if (!f) {
		buf_free(in);
		return;
	}
	f->fwd = fwd;
	f->link.id = id;
	f->mode = FRONT_HTTP;
	if (buf_len(in)) {
		f->in = (struct buf){.mem = buf_data(in), .len = (uint32_t)buf_len(in)};
		front_process(f);
	}
	buf_free(in);
}
