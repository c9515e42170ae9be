/* srv_pool.c — a pooled connection on the server: the 101 for its token,
 * then nothing but its request, the first message, within a deadline. The
 * request is a fresh tunnel blob (proto/pool.h) and passes the same MAC,
 * skew and replay rules as an upgrade's cookie before srv_tunnel dials it.
 * Never dials and never relays itself. */
#include "tun/server/srv_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/pool.h"
#include "proto/ws.h"
#include "tun/server/replay_store.h"
#include "tun/server/srv_token.h"
#include "tun/server/srv_tunnel.h"

#define POOL_101_MAX 256

struct srv_pool {
	struct conn_link link;
	struct server *srv;
	struct rx_io io;
	struct rx_timer deadline;
	struct stream s;
	struct ws_parser parser;
	struct buf in;              /* read, not parsed yet */
	struct net_addr addr;
	bool raw;                   /* tls:// */
	bool asked;                 /* the request is whole: reading stopped */
	uint32_t claim;             /* --replay-store ticket while waiting, else 0 */
	struct tunnel_req req;
	size_t have;                /* ws: request bytes gathered from the message */
	uint8_t msg[POOL_REQ_MAX];
	size_t out_len, out_off;    /* the 101 */
	char out[POOL_101_MAX];
};

static void pool_free(struct srv_pool *p)
{
	struct server *srv = p->srv;
	rx_timer_cancel(&srv->rx, &p->deadline);
	if (p->claim)
		replay_store_cancel(srv->store, p->claim);
	if (p->s.fd >= 0) {
		rx_io_del(&srv->rx, &p->io);
		stream_close(&p->s);
	}
	buf_free(&p->in);
	conn_list_remove(&srv->conns, &p->link);
	free(p);
}

static void pool_destroy(struct conn_link *link)
{
	pool_free((struct srv_pool *)link);
}

static void pool_drop(struct srv_pool *p, const char *why)
{
	log_debug("c%u pooled connection closed: %s", p->link.id, why);
	pool_free(p);
}

/* The request passed every check: srv_tunnel takes the connection (and
 * what the client sent behind its request) and dials. */
static void pool_go(struct srv_pool *p)
{
	struct server *srv = p->srv;
	struct handoff h = {.rx = &srv->rx, .conns = &srv->conns, .s = p->s, .id = p->link.id,
	                    .addr = p->addr, .in = p->in, .head_len = 0, .req = NULL,
	                    .peer = p->link.peer, .raw = p->raw};
	rx_io_del(&srv->rx, &p->io);
	p->s.fd = -1;
	p->s.tls = NULL;
	p->in = (struct buf){0};
	log_debug("c%u pooled connection used", p->link.id);
	srv_tunnel_accept_pooled(srv, &h, &p->req); /* counts the peer before we let go */
	buf_free(&h.in);
	pool_free(p);
}

static void pool_on_claim(void *owner, enum replay_store_verdict v)
{
	struct srv_pool *p = owner;
	p->claim = 0;
	if (v == REPLAY_STORE_SEEN) {
		log_warn("c%u replayed pooled request (nonce already claimed in the replay store): "
		         "refused", p->link.id);
		pool_free(p);
		return;
	}
	if (v == REPLAY_STORE_DOWN && !srv_store_down_allows(p->srv, p->link.id)) {
		pool_free(p);
		return;
	}
	pool_go(p);
}

/* A whole request of n bytes at m: the upgrade's rules, then the dial. */
static void pool_request(struct srv_pool *p, const uint8_t *m, size_t n)
{
	struct server *srv = p->srv;
	enum tunnel_decode_rc why;
	unsigned ttl_s = 0;
	long used = pool_req_parse(m, n, srv->cfg->keys, &p->req, &why);
	if (used != (long)n) {
		log_info("c%u pooled request %s: closed", p->link.id,
		         why == TUNNEL_BAD_MAC ? "with a wrong key" : "malformed");
		pool_free(p);
		return;
	}
	p->asked = true;
	rx_timer_cancel(&srv->rx, &p->deadline);
	rx_io_want(&srv->rx, &p->io, 0); /* what follows waits in the socket or in p->in */
	if (!srv_token_accepted(srv, &p->req, p->link.id, &ttl_s)) {
		pool_free(p);
		return;
	}
	if (srv->store && srv->cfg->keys) {
		p->claim = replay_store_claim(srv->store, p->req.nonce, ttl_s, pool_on_claim, p);
		if (p->claim)
			return;
		if (!srv_store_down_allows(srv, p->link.id)) {
			pool_free(p);
			return;
		}
	}
	pool_go(p);
}

/* ws: the request is the payload of the first message; pings are let be,
 * anything else ends the connection. 1 taken (p may be gone), 0 more
 * needed, -1 broken. */
static int pool_parse_ws(struct srv_pool *p)
{
	while (buf_len(&p->in)) {
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&p->parser, buf_data(&p->in), buf_len(&p->in), &used,
		                               &ev);
		if (rc != WS_EVENT) {
			buf_consume(&p->in, used);
			return rc == WS_NEED_MORE ? 0 : -1;
		}
		if (ev.type == WS_EV_DATA) {
			if (ev.opcode != WS_OP_BINARY || p->have + ev.len > sizeof(p->msg))
				return -1;
			memcpy(p->msg + p->have, ev.data, ev.len);
			p->have += ev.len;
		} else if (ev.type != WS_EV_PING && ev.type != WS_EV_PONG) {
			return -1;
		}
		buf_consume(&p->in, used);
		if (ev.type == WS_EV_DATA && ev.fin) {
			pool_request(p, p->msg, p->have);
			return 1;
		}
	}
	return 0;
}

/* tls://: the request's bytes come first, as they are. */
static int pool_parse_raw(struct srv_pool *p)
{
	const uint8_t *d = buf_data(&p->in);
	size_t have = buf_len(&p->in);
	if (have < 2)
		return 0;
	size_t len = 2 + ((size_t)d[0] << 8 | d[1]);
	if (len == 2 || len > POOL_REQ_MAX)
		return -1;
	if (have < len)
		return 0;
	memcpy(p->msg, d, len);
	buf_consume(&p->in, len);
	pool_request(p, p->msg, len);
	return 1;
}

static int pool_flush(struct srv_pool *p)
{
	while (p->out_off < p->out_len) {
		long n = stream_write(&p->s, p->out + p->out_off, p->out_len - p->out_off);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		p->out_off += (size_t)n;
	}
	return 0;
}

/* 0 while the connection waits, -1 when it ended. */
static int pool_read(struct srv_pool *p)
{
	for (int i = 0; i < 4; i++) {
		if (buf_alloc(&p->in) < 0 || buf_room(&p->in) == 0)
			return -1; /* a buffer of bytes and still no request: not ours */
		long n = stream_read(&p->s, buf_tail(&p->in), buf_room(&p->in));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		buf_produced(&p->in, (size_t)n);
	}
	return 0;
}

static void pool_arm(struct srv_pool *p)
{
	unsigned want = RX_READ | (p->out_off < p->out_len ? RX_WRITE : 0);
	rx_io_want(&p->srv->rx, &p->io, stream_interest(&p->s, want));
}

/* Writes what is left of the 101, reads, and takes the request once whole.
 * Both in one step: over TLS a write's pump may decrypt what the client
 * sent, and no readiness would come for it. */
static void pool_step(struct srv_pool *p, unsigned events)
{
	if (stream_pump(&p->s, events) < 0 || pool_flush(p) < 0)
		return pool_drop(p, "the client left");
	int ended = pool_read(p);
	int rc = buf_len(&p->in) == 0 ? 0 : p->raw ? pool_parse_raw(p) : pool_parse_ws(p);
	if (rc > 0)
		return; /* taken, refused or waiting for the replay store */
	if (rc < 0)
		return pool_drop(p, "its first message was not a request");
	if (ended < 0)
		return pool_drop(p, "the client left (unused)");
	buf_release_if_empty(&p->in);
	pool_arm(p);
}

static void pool_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct srv_pool *p = (struct srv_pool *)((char *)io - offsetof(struct srv_pool, io));
	(void)rx;
	if (!p->asked)
		pool_step(p, events);
}

static void pool_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct srv_pool *p = (struct srv_pool *)((char *)t - offsetof(struct srv_pool, deadline));
	(void)rx;
	pool_drop(p, "no request within the pool's hold time");
}

void srv_pool_accept(struct server *srv, struct handoff *h, const struct tunnel_req *token,
                     const char *key, size_t key_len)
{
	struct srv_pool *p = calloc(1, sizeof(*p));
	if (!p) {
		stream_close(&h->s);
		return;
	}
	p->srv = srv;
	p->s = h->s;
	p->addr = h->addr;
	p->raw = h->raw;
	p->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&p->in, h->head_len);
	ws_parser_init(&p->parser, WS_ROLE_SERVER, POOL_REQ_MAX);
	p->out_len = server_101(srv, token, key, key_len, p->out, sizeof(p->out));
	conn_list_add_as(&srv->conns, &p->link, pool_destroy, h->id, h->peer);
	/* Not lingering: a drain closes idle pooled connections at once, and
	 * their clients refill against the next server. */
	if (p->out_len == 0 || rx_io_add(&srv->rx, &p->io, p->s.fd, pool_on_io) < 0) {
		stream_close(&p->s);
		p->s.fd = -1;
		pool_free(p);
		return;
	}
	log_debug("c%u pooled connection ready", p->link.id);
	rx_timer_arm(&srv->rx, &p->deadline, rx_now(&srv->rx) + SRV_POOL_HOLD_MS, pool_on_deadline);
	pool_step(p, 0); /* the 101, and a request pipelined behind the upgrade */
}
