/* wsconn.c — the WebSocket plumbing shared by the public endpoints: read,
 * parse while answers fit, pong, close handshake, flush, half-close, linger
 * (RFC 6455 §5.5, §7.1.1). */
#include "tun/wsconn.h"

#include <errno.h>
#include <stdlib.h>

#include "core/log.h"

#define WSCONN_LINGER_MS 2000  /* wait for the peer's FIN after our close */
#define WSCONN_MIN_ROOM 256    /* a whole control frame or a header must fit */

#define WSCONN_OF(field, ptr) ((struct wsconn *)((char *)(ptr) - offsetof(struct wsconn, field)))

void wsconn_destroy(struct wsconn *c)
{
	rx_timer_cancel(c->rx, &c->timer);
	rx_timer_cancel(c->rx, &c->kick);
	rx_io_del(c->rx, &c->io);
	stream_close(&c->s);
	buf_free(&c->in);
	buf_free(&c->out);
	conn_list_remove(c->conns, &c->link);
	c->ops->on_free(c);
}

static void wsconn_destroy_link(struct conn_link *link)
{
	wsconn_destroy((struct wsconn *)link);
}

void wsconn_frame(struct wsconn *c, enum ws_opcode op, bool fin, const void *p, size_t n)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_frame_header(hdr, op, fin, n, NULL);
	buf_append(&c->out, hdr, hn);
	buf_append(&c->out, p, n);
}

static void wsconn_on_timer(struct rx *rx, struct rx_timer *t);
static void wsconn_on_kick(struct rx *rx, struct rx_timer *t);

void wsconn_deadline(struct wsconn *c, unsigned ms)
{
	rx_timer_arm(c->rx, &c->timer, rx_now(c->rx) + ms, wsconn_on_timer);
}

void wsconn_close(struct wsconn *c, uint16_t code)
{
	uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	wsconn_frame(c, WS_OP_CLOSE, true, payload, code ? 2 : 0);
	c->state = WSCONN_CLOSING;
	/* Once flushed, the half-close re-arms this for the FIN; a peer whose
	 * window stays shut is cut when it passes (the timer sees !OPEN). */
	wsconn_deadline(c, WSCONN_LINGER_MS);
}

void wsconn_hang_up(struct wsconn *c)
{
	stream_shutdown(&c->s);
	c->state = WSCONN_DRAINING;
	wsconn_deadline(c, WSCONN_LINGER_MS);
}

static void wsconn_event(struct wsconn *c, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		c->ops->on_data(c, ev);
		return;
	case WS_EV_PING:
		wsconn_frame(c, WS_OP_PONG, true, ev->data, ev->len);
		return;
	case WS_EV_PONG:
		return;
	case WS_EV_CLOSE:
		log_debug("c%u %s: close %u received", c->link.id, c->what, ev->close_code);
		wsconn_close(c, ev->close_code); /* §5.5.1: echo its code */
		return;
	}
}

/* Parses what is buffered while the answers fit. */
static void wsconn_pump(struct wsconn *c)
{
	while (c->state == WSCONN_OPEN && buf_len(&c->in) > 0 && buf_len(&c->out) < c->out_high) {
		if (buf_alloc(&c->out) < 0)
			return;
		size_t room = buf_room(&c->out);
		if (room < WSCONN_MIN_ROOM)
			return;
		size_t n = buf_len(&c->in);
		if (n > room - WS_MAX_HEADER)
			n = room - WS_MAX_HEADER; /* a data slice and its header fit in out */
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&c->parser, buf_data(&c->in), n, &used, &ev);
		buf_consume(&c->in, used);
		if (rc == WS_EVENT) {
			wsconn_event(c, &ev);
		} else if (rc < 0) {
			log_debug("c%u %s: %s", c->link.id, c->what, ws_strerror(rc));
			if (c->ops->on_error)
				c->ops->on_error(c, rc);
			else
				wsconn_close(c, ws_rc_close_code(rc));
		} else {
			return;
		}
	}
}

/* 0 while the connection lives, -1 once it must be destroyed. */
static int wsconn_read(struct wsconn *c)
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
	c->last_rx_ms = rx_now(c->rx);
	if (c->state == WSCONN_DRAINING)
		buf_consume(&c->in, (size_t)n + buf_len(&c->in));
	else
		buf_produced(&c->in, (size_t)n);
	return 0;
}

static int wsconn_flush(struct wsconn *c)
{
	while (buf_len(&c->out) > 0) {
		long n = stream_write(&c->s, buf_data(&c->out), buf_len(&c->out));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&c->out, (size_t)n);
	}
	/* §7.1.1: the server closes TCP first; half-close and wait for the
	 * peer's FIN so unread bytes do not turn our close into a RST. */
	if (c->state == WSCONN_CLOSING)
		wsconn_hang_up(c);
	return 0;
}

static void wsconn_update_interest(struct wsconn *c)
{
	unsigned want = 0;
	if (c->state == WSCONN_DRAINING || (c->state == WSCONN_OPEN && buf_len(&c->out) < c->out_high))
		want |= RX_READ;
	if (buf_len(&c->out) > 0)
		want |= RX_WRITE;
	buf_release_if_empty(&c->in);
	buf_release_if_empty(&c->out);
	rx_io_want(c->rx, &c->io, stream_interest(&c->s, want));
}

int wsconn_send_frame(struct wsconn *c, const void *frame, size_t n, size_t limit)
{
	const uint8_t *p = frame;
	if (c->state != WSCONN_OPEN)
		return 0;
	if (buf_len(&c->out) + n > limit)
		return -1;
	/* Nothing waits: straight to the socket, no buffer touched (a fan-out
	 * to idle subscribers then costs one write each). */
	for (int i = 0; i < 4 && buf_len(&c->out) == 0 && n > 0; i++) {
		long w = stream_write(&c->s, p, n);
		if (w <= 0) {
			if (w != -EAGAIN) /* the read on the next turn finds the cause */
				rx_timer_arm(c->rx, &c->kick, rx_now(c->rx), wsconn_on_kick);
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (n > 0 && (buf_alloc(&c->out) < 0 || buf_room(&c->out) < n))
		return -1;
	if (n > 0)
		buf_append(&c->out, p, n);
	wsconn_update_interest(c);
	return 0;
}

static void wsconn_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct wsconn *c = WSCONN_OF(timer, t);
	(void)rx;
	if (c->state != WSCONN_OPEN) {
		wsconn_destroy(c); /* the linger ended */
		return;
	}
	c->ops->on_deadline(c);
	if (wsconn_flush(c) < 0)
		return wsconn_destroy(c);
	wsconn_update_interest(c);
}

static void wsconn_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct wsconn *c = WSCONN_OF(io, io);
	(void)rx;
	if (stream_pump(&c->s, events) < 0)
		return wsconn_destroy(c);
	bool readable = (events & RX_READ) || c->s.tls; /* TLS: records may have moved */
	for (int i = 0; i < 16 && readable && c->state != WSCONN_CLOSING; i++) {
		if (wsconn_read(c) < 0)
			return wsconn_destroy(c);
		wsconn_pump(c);
		readable = stream_readable_now(&c->s) && buf_room(&c->in) > 0;
	}
	/* Parse and send in turns: bytes already buffered get no readiness of
	 * their own once out has drained (in holds at most two rounds of out). */
	for (int i = 0; i < 16; i++) {
		wsconn_pump(c);
		if (wsconn_flush(c) < 0)
			return wsconn_destroy(c);
		if (c->state != WSCONN_OPEN || !buf_len(&c->in) || buf_len(&c->out) >= c->out_high)
			break;
	}
	wsconn_update_interest(c);
	/* TLS: plaintext the engine took in while we wrote gets no readiness of
	 * its own; come back on the next loop turn while we can consume it. */
	if (stream_readable_now(&c->s) && c->state != WSCONN_CLOSING &&
	    (c->state == WSCONN_DRAINING || buf_len(&c->out) < c->out_high))
		rx_timer_arm(c->rx, &c->kick, rx_now(c->rx), wsconn_on_kick);
}

static void wsconn_on_kick(struct rx *rx, struct rx_timer *t)
{
	wsconn_on_io(rx, &WSCONN_OF(kick, t)->io, RX_READ);
}

/* Public endpoints answer a bad upgrade with its status. */
static void wsconn_refuse(struct handoff *h, int status)
{
	char resp[256];
	uint8_t sink[4096];
	size_t n = ws_response_error(resp, sizeof(resp), status);
	log_debug("c%u not a valid upgrade: %d", h->id, status);
	/* read what already came so close() sends a FIN, not a RST */
	for (int i = 0; i < 16 && stream_read(&h->s, sink, sizeof(sink)) > 0; i++)
		;
	stream_reply_and_close(&h->s, resp, n);
}

int wsconn_accept(struct wsconn *c, struct handoff *h, const struct wsconn_ops *ops,
                  uint64_t max_message, size_t out_high, unsigned deadline_ms)
{
	const char *key;
	size_t key_len;
	char resp[512];
	int status = ws_check_upgrade(h->req, &key, &key_len);
	if (status != 0) {
		wsconn_refuse(h, status);
		return -1;
	}
	size_t n = ws_response_101(resp, sizeof(resp), key, key_len, NULL);
	if (n == 0 || rx_io_add(h->rx, &c->io, h->s.fd, wsconn_on_io) < 0) {
		stream_close(&h->s);
		return -1;
	}
	c->rx = h->rx;
	c->conns = h->conns;
	c->s = h->s;
	c->ops = ops;
	c->out_high = out_high;
	c->last_rx_ms = rx_now(h->rx); /* the request was its last word */
	/* Same id (every log line) and same per-address count as the request. */
	conn_list_add_as(h->conns, &c->link, wsconn_destroy_link, h->id, h->peer);
	ws_parser_init(&c->parser, WS_ROLE_SERVER, max_message);
	c->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&c->in, h->head_len);
	buf_append(&c->out, resp, n);
	if (deadline_ms)
		wsconn_deadline(c, deadline_ms);
	log_debug("c%u %s session opened", c->link.id, c->what);
	if (ops->on_open)
		ops->on_open(c);
	wsconn_on_io(h->rx, &c->io, 0);
	return 0;
}
