/* wsctl.c — small-message WebSocket channel for either role. Messages are
 * reassembled in a 64-byte array (anything longer is a protocol violation
 * here), frames are built straight into the out buffer. */
#include "tun/wsctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "core/rand.h"

#define WSCTL_PONG_TIMEOUT_MS 15000

void wsctl_stop(struct wsctl *w)
{
	if (w->s.fd < 0)
		return;
	rx_timer_cancel(w->rx, &w->timer);
	rx_io_del(w->rx, &w->io);
	stream_close(&w->s);
	buf_free(&w->in);
	buf_free(&w->out);
}

/* Stops, then tells the owner (who may free w inside the callback). */
static void wsctl_fail(struct wsctl *w, enum tunnel_err err)
{
	bool was_handshake = w->handshake;
	wsctl_stop(w);
	if (was_handshake)
		w->ops->on_open(w, err);
	else
		w->ops->on_close(w);
}

static int queue_frame(struct wsctl *w, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t frame[WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD], key[4];
	const uint8_t *mask = NULL;
	if (w->parser.role == WS_ROLE_CLIENT) {
		rand_bytes(key, sizeof(key));
		mask = key;
	}
	size_t len = ws_control_frame(frame, op, p, n, mask);
	return len && buf_append(&w->out, frame, len) == len ? 0 : -1;
}

static void wsctl_want(struct wsctl *w)
{
	unsigned want = RX_READ;
	if (buf_len(&w->out))
		want |= RX_WRITE;
	buf_release_if_empty(&w->in);
	buf_release_if_empty(&w->out);
	rx_io_want(w->rx, &w->io, stream_interest(&w->s, want));
}

static int wsctl_flush(struct wsctl *w)
{
	while (buf_len(&w->out)) {
		long n = stream_write(&w->s, buf_data(&w->out), buf_len(&w->out));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&w->out, (size_t)n);
	}
	return 0;
}

int wsctl_send(struct wsctl *w, const void *p, size_t n)
{
	if (w->s.fd < 0 || w->closing || n > WSCTL_MAX_MESSAGE || queue_frame(w, WS_OP_BINARY, p, n) < 0)
		return -1;
	if (!w->handshake && wsctl_flush(w) < 0)
		return -1; /* the next readiness reports the failure */
	wsctl_want(w);
	return 0;
}

/* 0 to go on, -1 when the channel ended (w may be gone). */
static int on_event(struct wsctl *w, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		if (w->msg_len + ev->len > WSCTL_MAX_MESSAGE)
			return wsctl_fail(w, TUNNEL_ERR_GENERAL), -1;
		memcpy(w->msg + w->msg_len, ev->data, ev->len);
		w->msg_len = (uint16_t)(w->msg_len + ev->len);
		if (ev->fin) {
			size_t n = w->msg_len;
			w->msg_len = 0;
			w->ops->on_message(w, w->msg, n);
		}
		return 0;
	case WS_EV_PING:
		return queue_frame(w, WS_OP_PONG, ev->data, ev->len);
	case WS_EV_PONG:
		return 0;
	case WS_EV_CLOSE:
		wsctl_fail(w, TUNNEL_ERR_GENERAL);
		return -1;
	}
	return 0;
}

static int wsctl_parse(struct wsctl *w)
{
	while (buf_len(&w->in)) {
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&w->parser, buf_data(&w->in), buf_len(&w->in), &used, &ev);
		buf_consume(&w->in, used);
		if (rc == WS_NEED_MORE)
			return 0;
		if (rc < 0)
			return wsctl_fail(w, TUNNEL_ERR_GENERAL), -1;
		if (on_event(w, &ev) < 0)
			return -1;
	}
	return 0;
}

static int wsctl_handshake(struct wsctl *w)
{
	const char *p = (const char *)buf_data(&w->in);
	int end = http_head_end(p, buf_len(&w->in), &w->head_scanned);
	if (end == HTTP_NEED_MORE)
		return 0;
	struct http_response resp;
	enum tunnel_err err = TUNNEL_ERR_GENERAL;
	if (end > 0 && http_parse_response(p, (size_t)end, &resp) > 0)
		err = tunnel_response_err(&resp, &w->expect);
	if (err != TUNNEL_OK)
		return wsctl_fail(w, err), -1;
	buf_consume(&w->in, (size_t)end);
	w->handshake = false;
	w->ops->on_open(w, TUNNEL_OK);
	return 0;
}

static void wsctl_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct wsctl *w = (struct wsctl *)((char *)io - offsetof(struct wsctl, io));
	if (stream_pump(&w->s, events) < 0) {
		log_info("control channel TLS: %s", stream_error(&w->s) ? stream_error(&w->s) : "failed");
		return wsctl_fail(w, TUNNEL_ERR_TLS);
	}
	/* TLS: any event may have moved records, and plaintext may wait. */
	bool readable = (events & RX_READ) || w->s.tls;
	for (int i = 0; i < 8 && readable; i++) {
		readable = false;
		if (buf_alloc(&w->in) < 0)
			return wsctl_fail(w, TUNNEL_ERR_GENERAL);
		size_t room = buf_room(&w->in);
		long n = room ? stream_read(&w->s, buf_tail(&w->in), room) : -ENOBUFS;
		if (n == 0 || (n < 0 && n != -EAGAIN))
			return wsctl_fail(w, n == 0 ? TUNNEL_ERR_SERVER_SILENT : TUNNEL_ERR_SERVER_DOWN);
		if (n > 0) {
			buf_produced(&w->in, (size_t)n);
			w->last_rx_ms = rx_now(rx);
			w->ping_outstanding = false;
		}
		if (w->handshake && wsctl_handshake(w) < 0)
			return;
		if (!w->handshake && wsctl_parse(w) < 0)
			return;
		readable = stream_readable_now(&w->s);
	}
	if (wsctl_flush(w) < 0)
		return wsctl_fail(w, TUNNEL_ERR_SERVER_DOWN);
	wsctl_want(w);
}

static void wsctl_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct wsctl *w = (struct wsctl *)((char *)t - offsetof(struct wsctl, timer));
	uint64_t now = rx_now(rx);
	if (w->ping_outstanding && now - w->last_rx_ms >= w->keepalive_ms + w->pong_timeout_ms) {
		log_info("control channel: peer did not answer a ping");
		return wsctl_fail(w, TUNNEL_ERR_TIMEOUT);
	}
	if (!w->handshake && !w->ping_outstanding && now - w->last_rx_ms >= w->keepalive_ms) {
		w->ping_outstanding = true;
		queue_frame(w, WS_OP_PING, NULL, 0);
		if (wsctl_flush(w) < 0)
			return wsctl_fail(w, TUNNEL_ERR_GENERAL);
		wsctl_want(w);
	}
	rx_timer_arm(rx, t, now + (w->keepalive_ms < w->pong_timeout_ms ? w->keepalive_ms
	                                                               : w->pong_timeout_ms),
	             wsctl_on_timer);
}

int wsctl_start(struct wsctl *w, struct rx *rx, struct stream *s, enum ws_role role,
                const void *preamble,
                size_t preamble_len, struct buf *in, const struct tunnel_expect *expect,
                unsigned keepalive_ms,
                const struct wsctl_ops *ops, void *owner)
{
	memset(w, 0, sizeof(*w));
	w->rx = rx;
	w->s = *s;
	w->ops = ops;
	w->owner = owner;
	w->keepalive_ms = keepalive_ms ? keepalive_ms : 30000;
	w->pong_timeout_ms = WSCTL_PONG_TIMEOUT_MS;
	w->handshake = role == WS_ROLE_CLIENT;
	w->last_rx_ms = rx_now(rx);
	if (expect)
		w->expect = *expect;
	ws_parser_init(&w->parser, role, WSCTL_MAX_MESSAGE);
	if (rx_io_add(rx, &w->io, w->s.fd, wsctl_on_io) < 0) {
		stream_close(&w->s);
		return -1;
	}
	if (in) {
		w->in = *in;
		*in = (struct buf){0};
	}
	if (preamble_len)
		buf_append(&w->out, preamble, preamble_len);
	rx_timer_arm(rx, &w->timer, rx_now(rx) + w->keepalive_ms, wsctl_on_timer);
	rx_io_want(rx, &w->io, stream_interest(&w->s, RX_READ | RX_WRITE));
	return 0;
}
