/* ping.c — the ming-mong ping endpoint (--ping, path /ws): the upgrade, then
 * the first whole message within 5 s gets proto/ping's verdict as a text
 * reply, a Close 1000 and our FIN. Client pings get pongs meanwhile. Owns
 * its connection from the handoff to the last byte; reads the real clock. */
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "proto/ping.h"
#include "tun/ping/endpoints.h"
#include "tun/wsconn.h"

#define PING_OUT_MAX 4096 /* queued pongs beyond this: stop reading */

struct ping_conn {
	struct wsconn c;  /* first: the endpoint is its connection */
	struct buf msg;   /* the first message, while it arrives */
	const char *name; /* the server name the signature is made with */
};

/* The first message is whole (or too big): reply and Close 1000. */
static void ping_answer(struct ping_conn *p, const uint8_t *msg, size_t len, bool too_big)
{
	struct timespec now;
	char reply[PING_REPLY_MAX];
	struct wsconn *c = &p->c;
	clock_gettime(CLOCK_REALTIME, &now);
	enum ping_verdict v = too_big ? PING_INVALID_FORMAT
	                              : ping_check(msg, len, p->name, (int64_t)now.tv_sec);
	size_t n = ping_reply(reply, sizeof(reply), v, &now);
	log_debug("c%u ping answered: %s", c->link.id, ping_verdict_code(v));
	wsconn_frame(c, WS_OP_TEXT, true, reply, n);
	wsconn_close(c, WS_CLOSE_NORMAL);
	buf_free(&p->msg);
}

static void ping_data(struct wsconn *c, const struct ws_event *ev)
{
	static const uint8_t empty[1];
	struct ping_conn *p = (struct ping_conn *)c;
	if (ev->len > 0 && buf_append(&p->msg, ev->data, ev->len) < ev->len) {
		ping_answer(p, NULL, 0, true); /* out of memory: cannot judge it */
		return;
	}
	if (ev->fin)
		ping_answer(p, p->msg.mem ? buf_data(&p->msg) : empty, buf_len(&p->msg), false);
}

static void ping_error(struct wsconn *c, enum ws_rc rc)
{
	if (rc == WS_ERR_TOO_BIG)
		ping_answer((struct ping_conn *)c, NULL, 0, true); /* SPEC: invalid_format */
	else
		wsconn_close(c, ws_rc_close_code(rc));
}

/* SPEC: no whole message 5 s after the upgrade (trickled bytes do not
 * extend it): disconnect without a word, as the published server does. */
static void ping_deadline(struct wsconn *c)
{
	struct ping_conn *p = (struct ping_conn *)c;
	log_debug("c%u no whole message within %u ms: disconnected", c->link.id, PING_DEADLINE_MS);
	buf_free(&c->out); /* pending pongs are moot */
	buf_free(&p->msg);
	wsconn_hang_up(c);
}

static void ping_free(struct wsconn *c)
{
	buf_free(&((struct ping_conn *)c)->msg);
	free(c);
}

static const struct wsconn_ops ping_ops = {
	.on_data = ping_data,
	.on_deadline = ping_deadline,
	.on_error = ping_error,
	.on_free = ping_free,
};

int ping_accept(struct handoff *h, const char *name)
{
	/* Any Origin is accepted (SPEC): browser pages and file:// alike. */
	struct ping_conn *p = calloc(1, sizeof(*p));
	if (!p) {
		stream_close(&h->s);
		return -1;
	}
	p->c.what = "ping";
	p->name = name;
	if (wsconn_accept(&p->c, h, &ping_ops, PING_MAX_MESSAGE, PING_OUT_MAX,
	                  PING_DEADLINE_MS) < 0) {
		free(p);
		return -1;
	}
	return 0;
}
