/* sub.c — plain WebSocket subscribers: they only listen; anything they
 * send is read and dropped (pings answered by tun/wsconn). After the
 * server's --keepalive of silence they get a ping (proxies keep the line),
 * and --pong-timeout later with no byte back they are closed: a dead peer
 * is found by us, not by TCP. Any byte counts, as in tun/relay.c. */
#include "tun/push/sub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "tun/push/hub.h"

void push_sub_free(struct wsconn *c)
{
	struct push_sub *s = (struct push_sub *)c;
	if (s->hub)
		push_hub_leave(s->hub, s);
	free(s);
}

void push_sub_refuse(struct handoff *h, int status, const char *why)
{
	char resp[512];
	uint8_t sink[4096];
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n%s\n",
	                 status, http_reason(status), strlen(why) + 1, why);
	for (int i = 0; i < 16 && stream_read(&h->s, sink, sizeof(sink)) > 0; i++)
		;
	stream_reply_and_close(&h->s, resp, n > 0 && (size_t)n < sizeof(resp) ? (size_t)n : 0);
}

static void sub_data(struct wsconn *c, const struct ws_event *ev)
{
	(void)c, (void)ev; /* a subscriber's words go nowhere */
}

/* The one timer, re-checked on expiry (STYLE: traffic never re-arms it):
 * a ping out with nothing heard since ends it at its pong deadline;
 * otherwise a ping is due keepalive_ms after the peer's last byte. */
static void sub_keepalive(struct wsconn *c)
{
	static const uint8_t ping[2] = {0x80 | WS_OP_PING, 0};
	struct push_sub *s = (struct push_sub *)c;
	const struct push_hub *hub = s->hub;
	uint64_t now = rx_now(c->rx);
	if (s->ping_ms && c->last_rx_ms < s->ping_ms) {
		if (now - s->ping_ms < hub->pong_timeout_ms) {
			wsconn_deadline(c, (unsigned)(s->ping_ms + hub->pong_timeout_ms - now));
			return;
		}
		log_info("c%u push: no answer to a ping within %u ms: closed", c->link.id,
		         hub->pong_timeout_ms);
		wsconn_close(c, WS_CLOSE_GOING_AWAY);
		return;
	}
	s->ping_ms = 0;
	if (now - c->last_rx_ms < hub->keepalive_ms) {
		wsconn_deadline(c, (unsigned)(c->last_rx_ms + hub->keepalive_ms - now));
		return;
	}
	/* Not queued behind a full queue: the slow-reader rule closes that one. */
	wsconn_send_frame(c, ping, sizeof(ping), PUSH_QUEUE_MAX);
	s->ping_ms = now;
	wsconn_deadline(c, hub->pong_timeout_ms);
}

static void sub_open(struct wsconn *c)
{
	struct push_sub *s = (struct push_sub *)c;
	push_hub_join(s->hub, s);
}

static const struct wsconn_ops sub_ops = {
	.on_open = sub_open,
	.on_data = sub_data,
	.on_deadline = sub_keepalive,
	.on_free = push_sub_free,
};

int push_sub_open(struct push_hub *hub, struct handoff *h, enum push_kind kind,
                  const struct wsconn_ops *ops, size_t size)
{
	struct push_sub *s = calloc(1, size);
	if (!s) {
		stream_close(&h->s);
		return -1;
	}
	s->kind = (uint8_t)kind;
	s->c.what = "push";
	if (push_topic(h->req->target.p, h->req->target.len, s->topic) < 0) {
		push_sub_refuse(h, 400, push_strerror(PUSH_ERR_TOPIC));
		free(s);
		return -1;
	}
	if (push_hub_admit(hub, s, &h->addr) < 0) {
		push_sub_refuse(h, 429, "too many subscribers from this address");
		free(s);
		return -1;
	}
	s->hub = hub; /* from here on, on_free gives the count back */
	if (wsconn_accept(&s->c, h, ops, PUSH_SUB_MAX_MESSAGE, PUSH_SUB_MAX_MESSAGE,
	                  kind == PUSH_KIND_WS ? hub->keepalive_ms : 0) < 0) {
		push_hub_leave(hub, s);
		free(s);
		return -1;
	}
	return 0;
}

int push_sub_accept(struct push_hub *hub, struct handoff *h)
{
	return push_sub_open(hub, h, PUSH_KIND_WS, &sub_ops, sizeof(struct push_sub));
}
