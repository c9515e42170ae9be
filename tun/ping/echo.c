/* echo.c — the --echo diagnostic endpoint: every WebSocket message comes back
 * with its opcode and payload, streamed frame by frame (never reassembled).
 * Pings, the close handshake and backpressure are tun/wsconn's. */
#include <stdlib.h>

#include "tun/ping/endpoints.h"
#include "tun/wsconn.h"

struct echo {
	struct wsconn c;   /* first: the endpoint is its connection */
	bool msg_started;  /* a frame of the current message was echoed */
};

static void echo_data(struct wsconn *c, const struct ws_event *ev)
{
	struct echo *e = (struct echo *)c;
	if (ev->len == 0 && !ev->fin)
		return;
	wsconn_frame(c, e->msg_started ? WS_OP_CONT : ev->opcode, ev->fin, ev->data, ev->len);
	e->msg_started = !ev->fin;
}

static void echo_deadline(struct wsconn *c)
{
	(void)c; /* no deadline is ever set */
}

static void echo_free(struct wsconn *c)
{
	free(c);
}

static const struct wsconn_ops echo_ops = {
	.on_data = echo_data,
	.on_deadline = echo_deadline,
	.on_free = echo_free,
};

int echo_accept(struct handoff *h, uint64_t max_message)
{
	struct echo *e = calloc(1, sizeof(*e));
	if (!e) {
		stream_close(&h->s);
		return -1;
	}
	e->c.what = "echo";
	/* Out stops reading at half a buffer: a reader that does not read
	 * cannot make us hold more than one buffer of echoes. */
	if (wsconn_accept(&e->c, h, &echo_ops, max_message, BUF_SIZE / 2, 0) < 0) {
		free(e);
		return -1;
	}
	return 0;
}
