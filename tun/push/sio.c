/* sio.c — Socket.IO subscribers: the Engine.IO handshake is the first
 * frame after the 101, the client joins the hub with its "40", then every
 * pushed message reaches it as an event (hub.c builds that frame). Pings:
 * ours pingInterval after the client's last "3" (the server's --keepalive),
 * the next "3" due within pingTimeout (--pong-timeout) or the client is
 * gone; the open packet announces both. Only a "3" answers: Engine.IO
 * clients time their own pings, so ours must come whatever else they say. */
#include "tun/push/sio.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/sio.h"
#include "tun/push/hub.h"
#include "tun/push/req.h"
#include "tun/push/sub.h"

#define SIO_MSG_MAX 256 /* client packets we act on are tiny; bigger ones are events */
#define SIO_MAX_PAYLOAD 4096

struct sio_sub {
	struct push_sub s;        /* first */
	char msg[SIO_MSG_MAX];
	size_t msg_len;
	bool msg_big;
};

static void sio_text(struct wsconn *c, const char *p, size_t n)
{
	wsconn_frame(c, WS_OP_TEXT, true, p, n);
}

static void sio_open(struct wsconn *c)
{
	struct push_sub *s = (struct push_sub *)c;
	uint8_t r[15];
	char open[256];
	rand_bytes(r, sizeof(r));
	sio_sid(r, s->sid);
	sio_text(c, open, sio_open_packet(open, sizeof(open), s->sid, s->hub->sio_interval_ms,
	                                  s->hub->sio_timeout_ms, SIO_MAX_PAYLOAD));
	wsconn_deadline(c, s->hub->sio_interval_ms);
}

static void sio_packet(struct push_sub *s, const char *msg, size_t len)
{
	struct wsconn *c = &s->c;
	const char *ns;
	size_t ns_len;
	char out[256];
	switch (sio_parse(msg, len, &ns, &ns_len)) {
	case SIO_CONNECT:
		if (ns) {
			sio_text(c, out, sio_connect_error(out, sizeof(out), ns, ns_len));
		} else if (!s->joined) {
			sio_text(c, out, sio_connect_packet(out, sizeof(out), s->sid));
			push_hub_join(s->hub, s);
		}
		return;
	case SIO_EIO_PING:
		sio_text(c, "3", 1);
		return;
	case SIO_EIO_PONG:
		if (s->ping_ms) { /* an unasked "3" must not move our timer */
			s->ping_ms = 0;
			wsconn_deadline(c, s->hub->sio_interval_ms);
		}
		return;
	case SIO_DISCONNECT:
	case SIO_EIO_CLOSE:
		wsconn_close(c, WS_CLOSE_NORMAL);
		return;
	case SIO_EVENT:
	case SIO_UPGRADE_PROBE:
		return; /* a listener's emits go nowhere */
	case SIO_INVALID:
		log_debug("c%u push: not an Engine.IO packet: closed", c->link.id);
		wsconn_close(c, WS_CLOSE_PROTOCOL);
		return;
	}
}

static void sio_data(struct wsconn *c, const struct ws_event *ev)
{
	struct sio_sub *x = (struct sio_sub *)c;
	if (ev->first) {
		x->msg_len = 0;
		x->msg_big = false;
	}
	if (x->msg_len + ev->len > sizeof(x->msg))
		x->msg_big = true;
	else
		memcpy(x->msg + x->msg_len, ev->data, ev->len), x->msg_len += ev->len;
	if (!ev->fin)
		return;
	if (x->msg_big)
		return; /* only events are that long */
	sio_packet(&x->s, x->msg, x->msg_len);
}

/* Ours: a ping, then a pong within the timeout, or the client is gone. */
static void sio_deadline(struct wsconn *c)
{
	struct push_sub *s = (struct push_sub *)c;
	if (s->ping_ms) {
		log_info("c%u push: Socket.IO client sent no pong within %u ms: closed", c->link.id,
		         s->hub->sio_timeout_ms);
		wsconn_close(c, WS_CLOSE_GOING_AWAY);
		return;
	}
	sio_text(c, "2", 1);
	s->ping_ms = rx_now(c->rx);
	wsconn_deadline(c, s->hub->sio_timeout_ms);
}

static const struct wsconn_ops sio_ops = {
	.on_open = sio_open,
	.on_data = sio_data,
	.on_deadline = sio_deadline,
	.on_free = push_sub_free,
};

static bool query_is(const struct http_request *req, const char *name, const char *want)
{
	size_t n;
	const char *v = push_query_param(req->target.p, req->target.len, name, &n);
	return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

static void sio_refuse(struct push_hub *hub, struct push_req *r)
{
	static const char polling[] =
		"{\"code\":0,\"message\":\"Transport unknown: this server speaks only the websocket "
		"transport (io(url, {transports: ['websocket']}))\"}";
	static const char version[] =
		"{\"code\":5,\"message\":\"Unsupported protocol version: Engine.IO 4 "
		"(socket.io-client 3 or later) only\"}";
	(void)hub;
	if (!query_is(&r->req, "EIO", "4"))
		push_req_reply(r, 400, "application/json", NULL, version, sizeof(version) - 1);
	else
		push_req_reply(r, 400, "application/json", NULL, polling, sizeof(polling) - 1);
}

void push_sio_route(struct push_hub *hub, struct handoff *h, struct http_slice path)
{
	const struct http_request *req = h->req;
	bool upgrade = http_find(req->headers, req->nheaders, "Upgrade") != NULL;
	if (!upgrade || !query_is(req, "EIO", "4") || !query_is(req, "transport", "websocket")) {
		push_req_start(hub, h, path, sio_refuse, 0);
		return;
	}
	push_sub_open(hub, h, PUSH_KIND_SIO, &sio_ops, sizeof(struct sio_sub));
}
