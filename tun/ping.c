/* ping.c — the ming-mong ping endpoint (--ping, path /ws): the upgrade, then
 * the first whole message within 5 s gets proto/ping's verdict as a text
 * reply, a Close 1000 and our FIN. Client pings get pongs meanwhile. Owns
 * its connection from the handoff to the last byte; reads the real clock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/ping.h"
#include "proto/ws.h"
#include "tun/server_int.h"

#define PING_LINGER_MS 2000   /* wait for the peer's FIN after our close */
#define PING_OUT_MAX 4096     /* queued pongs beyond this: stop reading */

enum ping_conn_state {
	PING_CONN_OPEN = 0,  /* waiting for the first whole message */
	PING_CONN_CLOSING,   /* reply and close frame queued: flush, then FIN */
	PING_CONN_DRAINING,  /* half-closed: discard input until the peer's FIN */
};

struct ping_conn {
	struct conn_link link;
	struct server *srv;
	struct rx_io io;
	struct rx_timer timer; /* the first-message deadline, then the linger */
	struct stream s;
	enum ping_conn_state state;
	struct ws_parser parser;
	struct buf in, out;
	struct buf msg;        /* the first message, while it arrives */
};

static void ping_conn_destroy(struct conn_link *link)
{
	struct ping_conn *c = (struct ping_conn *)link;
	rx_timer_cancel(&c->srv->rx, &c->timer);
	rx_io_del(&c->srv->rx, &c->io);
	stream_close(&c->s);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->msg);
	conn_list_remove(&c->srv->conns, &c->link);
	free(c);
}

static void ping_conn_frame(struct ping_conn *c, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_frame_header(hdr, op, true, n, NULL);
	buf_append(&c->out, hdr, hn);
	buf_append(&c->out, p, n);
}

static void ping_conn_close(struct ping_conn *c, uint16_t code)
{
	uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	ping_conn_frame(c, WS_OP_CLOSE, payload, code ? 2 : 0);
	c->state = PING_CONN_CLOSING;
	buf_free(&c->msg);
}

static void ping_conn_on_timer(struct rx *rx, struct rx_timer *t);

/* The first message is whole (or too big): reply, Close 1000, and from now
 * on the timer bounds the flush and the wait for the peer's FIN. */
static void ping_conn_answer(struct ping_conn *c, const uint8_t *msg, size_t len, bool too_big)
{
	struct timespec now;
	char reply[PING_REPLY_MAX];
	clock_gettime(CLOCK_REALTIME, &now);
	enum ping_verdict v = too_big ? PING_INVALID_FORMAT
	                              : ping_check(msg, len, c->srv->cfg->ping_name, (int64_t)now.tv_sec);
	size_t n = ping_reply(reply, sizeof(reply), v, &now);
	log_debug("c%u ping answered: %s", c->link.id, ping_verdict_code(v));
	ping_conn_frame(c, WS_OP_TEXT, reply, n);
	ping_conn_close(c, WS_CLOSE_NORMAL);
	rx_timer_arm(&c->srv->rx, &c->timer, rx_now(&c->srv->rx) + PING_LINGER_MS,
	             ping_conn_on_timer);
}

static void ping_conn_data(struct ping_conn *c, const struct ws_event *ev)
{
	static const uint8_t empty[1];
	if (ev->len > 0 && buf_append(&c->msg, ev->data, ev->len) < ev->len) {
		ping_conn_answer(c, NULL, 0, true); /* out of memory: cannot judge it */
		return;
	}
	if (ev->fin)
		ping_conn_answer(c, c->msg.mem ? buf_data(&c->msg) : empty, buf_len(&c->msg), false);
}

static void ping_conn_event(struct ping_conn *c, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		ping_conn_data(c, ev);
		return;
	case WS_EV_PING:
		ping_conn_frame(c, WS_OP_PONG, ev->data, ev->len);
		return;
	case WS_EV_PONG:
		return;
	case WS_EV_CLOSE:
		log_debug("c%u close %u before a whole message", c->link.id, ev->close_code);
		ping_conn_close(c, ev->close_code); /* RFC 6455 §5.5.1: echo its code */
		return;
	}
}

/* Parses what is buffered until the first message is answered. */
static void ping_conn_pump(struct ping_conn *c)
{
	while (c->state == PING_CONN_OPEN && buf_len(&c->in) > 0 &&
	       buf_len(&c->out) < PING_OUT_MAX) {
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&c->parser, buf_data(&c->in), buf_len(&c->in), &used, &ev);
		buf_consume(&c->in, used);
		if (rc == WS_EVENT) {
			ping_conn_event(c, &ev);
		} else if (rc == WS_ERR_TOO_BIG) {
			ping_conn_answer(c, NULL, 0, true); /* SPEC: over the cap is invalid_format */
		} else if (rc < 0) {
			log_debug("c%u %s", c->link.id, ws_strerror(rc));
			ping_conn_close(c, ws_rc_close_code(rc));
		} else {
			return;
		}
	}
}

/* 0 while the connection lives, -1 once it must be destroyed. */
static int ping_conn_read(struct ping_conn *c)
{
	if (buf_alloc(&c->in) < 0)
		return -1;
	size_t room = buf_room(&c->in);
	if (room == 0)
		return 0;
	long n = stream_read(&c->s, buf_tail(&c->in), room);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return -1; /* EOF or reset: nobody left to answer */
	if (c->state == PING_CONN_DRAINING)
		buf_consume(&c->in, (size_t)n + buf_len(&c->in));
	else
		buf_produced(&c->in, (size_t)n);
	return 0;
}

/* RFC 6455 §7.1.1: the server closes TCP first; half-close and wait for the
 * peer's FIN so unread bytes do not turn our close into a RST. */
static void ping_conn_half_close(struct ping_conn *c)
{
	stream_shutdown(&c->s);
	c->state = PING_CONN_DRAINING;
	buf_free(&c->msg);
	rx_timer_arm(&c->srv->rx, &c->timer, rx_now(&c->srv->rx) + PING_LINGER_MS,
	             ping_conn_on_timer);
}

static int ping_conn_flush(struct ping_conn *c)
{
	while (buf_len(&c->out) > 0) {
		long n = stream_write(&c->s, buf_data(&c->out), buf_len(&c->out));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&c->out, (size_t)n);
	}
	if (c->state == PING_CONN_CLOSING)
		ping_conn_half_close(c);
	return 0;
}

static void ping_conn_update_interest(struct ping_conn *c)
{
	unsigned want = 0;
	if (c->state == PING_CONN_DRAINING ||
	    (c->state == PING_CONN_OPEN && buf_len(&c->out) < PING_OUT_MAX))
		want |= RX_READ;
	if (buf_len(&c->out) > 0)
		want |= RX_WRITE;
	buf_release_if_empty(&c->in);
	buf_release_if_empty(&c->out);
	rx_io_want(&c->srv->rx, &c->io, stream_interest(&c->s, want));
}

/* SPEC: no whole message 5 s after the upgrade (trickled bytes do not
 * extend it): disconnect without a word, as the published server does.
 * Once answered, the same timer ends the flush and the linger. */
static void ping_conn_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct ping_conn *c = (struct ping_conn *)((char *)t - offsetof(struct ping_conn, timer));
	(void)rx;
	if (c->state != PING_CONN_OPEN) {
		ping_conn_destroy(&c->link);
		return;
	}
	log_debug("c%u no whole message within %u ms: disconnected", c->link.id, PING_DEADLINE_MS);
	buf_free(&c->out); /* pending pongs are moot */
	ping_conn_half_close(c);
	ping_conn_update_interest(c);
}

static void ping_conn_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct ping_conn *c = (struct ping_conn *)((char *)io - offsetof(struct ping_conn, io));
	(void)rx;
	if (stream_pump(&c->s, events) < 0) {
		ping_conn_destroy(&c->link);
		return;
	}
	bool readable = (events & RX_READ) || c->s.tls; /* TLS: records may have moved */
	for (int i = 0; i < 16 && readable && c->state != PING_CONN_CLOSING; i++) {
		if (ping_conn_read(c) < 0) {
			ping_conn_destroy(&c->link);
			return;
		}
		ping_conn_pump(c);
		readable = stream_readable_now(&c->s);
	}
	ping_conn_pump(c);
	if (ping_conn_flush(c) < 0) {
		ping_conn_destroy(&c->link);
		return;
	}
	ping_conn_update_interest(c);
}

/* A public endpoint: a bad upgrade (a plain GET of /ws) gets its status. */
static void ping_refuse(struct handoff *h, int status)
{
	char resp[256];
	uint8_t sink[4096];
	size_t n = ws_response_error(resp, sizeof(resp), status);
	log_debug("c%u not a valid upgrade for the ping endpoint: %d", h->id, status);
	/* read what already came so close() sends a FIN, not a RST */
	for (int i = 0; i < 16 && stream_read(&h->s, sink, sizeof(sink)) > 0; i++)
		;
	stream_reply_and_close(&h->s, resp, n);
}

static void ping_conn_start(struct server *srv, struct ping_conn *c, struct handoff *h,
                            const char *resp, size_t n)
{
	c->srv = srv;
	c->s = h->s;
	/* Same id (every log line) and same per-address count as the request. */
	conn_list_add_as(&srv->conns, &c->link, ping_conn_destroy, h->id, h->peer);
	ws_parser_init(&c->parser, WS_ROLE_SERVER, PING_MAX_MESSAGE);
	c->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&c->in, h->head_len);
	buf_append(&c->out, resp, n);
	rx_timer_arm(&srv->rx, &c->timer, rx_now(&srv->rx) + PING_DEADLINE_MS, ping_conn_on_timer);
	log_debug("c%u ping session opened", c->link.id);
	ping_conn_on_io(&srv->rx, &c->io, 0);
}

int ping_accept(struct server *srv, struct handoff *h)
{
	const char *key;
	size_t key_len;
	int status = ws_check_upgrade(h->req, &key, &key_len);
	if (status != 0) {
		ping_refuse(h, status);
		return -1;
	}
	/* Any Origin is accepted (SPEC): browser pages and file:// alike. */
	struct ping_conn *c = calloc(1, sizeof(*c));
	char resp[512];
	size_t n = ws_response_101(resp, sizeof(resp), key, key_len, NULL);
	if (!c || n == 0 || rx_io_add(&srv->rx, &c->io, h->s.fd, ping_conn_on_io) < 0) {
		free(c);
		stream_close(&h->s);
		return -1;
	}
	ping_conn_start(srv, c, h, resp, n);
	return 0;
}
