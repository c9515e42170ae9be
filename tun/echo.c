/* echo.c — the --echo diagnostic endpoint: every WebSocket message comes back
 * with its opcode and payload (streamed frame by frame, never reassembled),
 * pings get pongs, a close gets its code echoed (RFC 6455 §5.5.1).
 * Owns its connection from the handoff to the last byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/ws.h"
#include "tun/server_int.h"

#define ECHO_LINGER_MS 2000  /* wait for the peer's FIN after our close frame */
#define ECHO_OUT_MIN_ROOM 256 /* a whole control frame or header must fit */

enum echo_state {
	ECHO_OPEN = 0,
	ECHO_CLOSING,  /* close frame queued: flush, then half-close */
	ECHO_DRAINING, /* half-closed: discard input until the peer's FIN */
};

struct echo {
	struct conn_link link;
	struct server *srv;
	struct rx_io io;
	struct rx_timer linger;
	struct stream s;
	enum echo_state state;
	bool msg_started; /* a frame of the current message was echoed */
	struct ws_parser parser;
	struct buf in, out;
};

static void echo_destroy(struct conn_link *link)
{
	struct echo *e = (struct echo *)link;
	rx_timer_cancel(&e->srv->rx, &e->linger);
	rx_io_del(&e->srv->rx, &e->io);
	stream_close(&e->s);
	buf_free(&e->in);
	buf_free(&e->out);
	conn_list_remove(&e->srv->conns, &e->link);
	free(e);
}

static void echo_frame(struct echo *e, enum ws_opcode op, bool fin, const uint8_t *p, size_t n)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_frame_header(hdr, op, fin, n, NULL);
	buf_append(&e->out, hdr, hn);
	buf_append(&e->out, p, n);
}

static void echo_close(struct echo *e, uint16_t code)
{
	uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	echo_frame(e, WS_OP_CLOSE, true, payload, code ? 2 : 0);
	e->state = ECHO_CLOSING;
}

static void echo_event(struct echo *e, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		if (ev->len == 0 && !ev->fin)
			return;
		echo_frame(e, e->msg_started ? WS_OP_CONT : ev->opcode, ev->fin, ev->data, ev->len);
		e->msg_started = !ev->fin;
		return;
	case WS_EV_PING:
		echo_frame(e, WS_OP_PONG, true, ev->data, ev->len);
		return;
	case WS_EV_PONG:
		return;
	case WS_EV_CLOSE:
		log_debug("c%u close %u received", e->link.id, ev->close_code);
		echo_close(e, ev->close_code);
		return;
	}
}

/* Parses what is buffered while the answers fit in out. */
static void echo_pump(struct echo *e)
{
	while (e->state == ECHO_OPEN && buf_len(&e->in) > 0) {
		if (buf_alloc(&e->out) < 0)
			return;
		size_t room = buf_room(&e->out);
		if (room < ECHO_OUT_MIN_ROOM)
			return;
		size_t n = buf_len(&e->in);
		if (n > room - WS_MAX_HEADER)
			n = room - WS_MAX_HEADER;
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&e->parser, buf_data(&e->in), n, &used, &ev);
		buf_consume(&e->in, used);
		if (rc == WS_EVENT) {
			echo_event(e, &ev);
		} else if (rc < 0) {
			log_debug("c%u %s", e->link.id, ws_strerror(rc));
			echo_close(e, ws_rc_close_code(rc));
		} else {
			return;
		}
	}
}

/* 0 while the connection lives, -1 once it must be destroyed. */
static int echo_read(struct echo *e)
{
	if (buf_alloc(&e->in) < 0)
		return -1;
	size_t room = buf_room(&e->in);
	if (room == 0)
		return 0;
	long n = stream_read(&e->s, buf_tail(&e->in), room);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return -1; /* EOF or reset: nothing left to answer */
	if (e->state == ECHO_DRAINING)
		buf_consume(&e->in, (size_t)n + buf_len(&e->in));
	else
		buf_produced(&e->in, (size_t)n);
	return 0;
}

static void echo_on_linger(struct rx *rx, struct rx_timer *t)
{
	struct echo *e = (struct echo *)((char *)t - offsetof(struct echo, linger));
	(void)rx;
	echo_destroy(&e->link);
}

static int echo_flush(struct echo *e)
{
	while (buf_len(&e->out) > 0) {
		long n = stream_write(&e->s, buf_data(&e->out), buf_len(&e->out));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&e->out, (size_t)n);
	}
	if (e->state == ECHO_CLOSING) {
		/* RFC 6455 §7.1.1: the server closes TCP first; half-close and wait for
		 * the peer's FIN so unread bytes do not turn our close into a RST. */
		stream_shutdown(&e->s);
		e->state = ECHO_DRAINING;
		rx_timer_arm(&e->srv->rx, &e->linger, rx_now(&e->srv->rx) + ECHO_LINGER_MS,
		             echo_on_linger);
	}
	return 0;
}

static void echo_update_interest(struct echo *e)
{
	unsigned want = 0;
	if (e->state == ECHO_DRAINING || (e->state == ECHO_OPEN && buf_len(&e->out) < BUF_SIZE / 2))
		want |= RX_READ;
	if (buf_len(&e->out) > 0)
		want |= RX_WRITE;
	buf_release_if_empty(&e->in);
	buf_release_if_empty(&e->out);
	rx_io_want(&e->srv->rx, &e->io, stream_interest(&e->s, want));
}

static void echo_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct echo *e = (struct echo *)((char *)io - offsetof(struct echo, io));
	(void)rx;
	if (stream_pump(&e->s, events) < 0) {
		echo_destroy(&e->link);
		return;
	}
	bool readable = (events & RX_READ) || e->s.tls; /* TLS: records may have moved */
	for (int i = 0; i < 16 && readable && e->state != ECHO_CLOSING; i++) {
		if (echo_read(e) < 0) {
			echo_destroy(&e->link);
			return;
		}
		echo_pump(e);
		readable = stream_readable_now(&e->s) && buf_room(&e->in) > 0;
	}
	echo_pump(e);
	if (echo_flush(e) < 0) {
		echo_destroy(&e->link);
		return;
	}
	echo_update_interest(e);
}

static void echo_refuse(struct handoff *h, int status)
{
	char resp[256];
	size_t n = ws_response_error(resp, sizeof(resp), status);
	log_debug("c%u not a valid upgrade: %d", h->id, status);
	stream_reply_and_close(&h->s, resp, n);
}

int echo_accept(struct server *srv, struct handoff *h)
{
	const char *key;
	size_t key_len;
	int status = ws_check_upgrade(h->req, &key, &key_len);
	if (status != 0) {
		echo_refuse(h, status);
		return -1;
	}
	struct echo *e = calloc(1, sizeof(*e));
	char resp[512];
	size_t n = ws_response_101(resp, sizeof(resp), key, key_len, NULL);
	if (!e || n == 0 || rx_io_add(&srv->rx, &e->io, h->s.fd, echo_on_io) < 0) {
		free(e);
		stream_close(&h->s);
		return -1;
	}
	e->srv = srv;
	e->s = h->s;
	/* Same id (every log line) and same per-address count as the request. */
	conn_list_add_as(&srv->conns, &e->link, echo_destroy, h->id, h->peer);
	ws_parser_init(&e->parser, WS_ROLE_SERVER, srv->cfg->max_message);
	e->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&e->in, h->head_len);
	buf_append(&e->out, resp, n);
	log_debug("c%u echo session opened", e->link.id);
	echo_on_io(&srv->rx, &e->io, 0);
	return 0;
}
