/* req.c — a plain HTTP exchange on a push path: read the body, run the
 * handler, write its answer, half-close, drain until the peer's FIN. */
#include "tun/push/req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/text.h"
#include "tun/push/bus.h"

#define REQ_BODY_MS 10000   /* the whole body within 10 s of the head */
#define REQ_LINGER_MS 2000  /* after our answer: wait this long for the FIN */

#define REQ_OF(field, ptr) ((struct push_req *)((char *)(ptr) - offsetof(struct push_req, field)))

static void req_destroy(struct push_req *r)
{
	if (r->bus_ticket)
		push_bus_cancel(r->hub->bus, r->bus_ticket);
	rx_timer_cancel(r->rx, &r->timer);
	rx_io_del(r->rx, &r->io);
	stream_close(&r->s);
	buf_free(&r->in);
	buf_free(&r->out);
	conn_list_remove(r->conns, &r->link);
	free(r);
}

static void req_destroy_link(struct conn_link *link)
{
	req_destroy((struct push_req *)link);
}

struct http_slice push_req_header(const struct push_req *r, const char *name)
{
	const struct http_header *h = http_find(r->req.headers, r->req.nheaders, name);
	return h ? h->value : (struct http_slice){"", 0};
}

bool push_req_method(const struct push_req *r, const char *m)
{
	return r->req.method.len == strlen(m) && memcmp(r->req.method.p, m, r->req.method.len) == 0;
}

void push_req_reply(struct push_req *r, int status, const char *type, const char *extra,
                    const void *body, size_t n)
{
	char head[1024];
	struct text_out o = {head, sizeof(head), 0, false};
	text_put_str(&o, "HTTP/1.1 ");
	text_put_uint(&o, (unsigned)status);
	text_put_str(&o, " ");
	text_put_str(&o, http_reason(status));
	text_put_str(&o, "\r\n");
	if (type) {
		text_put_str(&o, "Content-Type: ");
		text_put_str(&o, type);
		text_put_str(&o, "\r\n");
	}
	text_put_str(&o, extra);
	text_put_str(&o, "Content-Length: ");
	text_put_uint(&o, n);
	text_put_str(&o, "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
	size_t hn = text_result(&o);
	r->answered = true;
	if (hn == 0 || buf_alloc(&r->out) < 0 || hn + n > buf_room(&r->out)) {
		log_warn("c%u push: answer %d does not fit", r->link.id, status);
		buf_free(&r->out);
		return; /* the connection just closes */
	}
	buf_append(&r->out, head, hn);
	buf_append(&r->out, body, n);
}

/* Content-Length, strictly (digits only); -1 when absent or malformed,
 * -2 with Transfer-Encoding (not supported here: 411). */
static long long req_content_length(const struct push_req *r)
{
	if (http_find(r->req.headers, r->req.nheaders, "Transfer-Encoding"))
		return -2;
	struct http_slice v = push_req_header(r, "Content-Length");
	if (v.len == 0 || v.len > 12)
		return v.len ? (long long)1 << 40 : -1;
	long long n = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -3;
		n = n * 10 + (v.p[i] - '0');
	}
	return n;
}

static void req_on_timer(struct rx *rx, struct rx_timer *t);

static int req_flush(struct push_req *r)
{
	while (buf_len(&r->out) > 0) {
		long n = stream_write(&r->s, buf_data(&r->out), buf_len(&r->out));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&r->out, (size_t)n);
	}
	if (r->answered && !r->draining && stream_flushed(&r->s)) {
		stream_shutdown(&r->s);
		r->draining = true;
		rx_timer_arm(r->rx, &r->timer, rx_now(r->rx) + REQ_LINGER_MS, req_on_timer);
	}
	return 0;
}

static void req_body_ready(struct push_req *r)
{
	if (!r->answered && !r->bus_ticket && buf_len(&r->in) >= r->head_len + r->body_len)
		r->handler(r->hub, r);
}

/* 0 while it lives, -1 to destroy. */
static int req_read(struct push_req *r)
{
	for (int i = 0; i < 16; i++) {
		if (buf_alloc(&r->in) < 0)
			return -1;
		uint8_t sink[4096];
		bool discard = r->answered;
		void *dst = discard ? sink : buf_tail(&r->in);
		size_t room = discard ? sizeof(sink) : BUF_SIZE - r->in.off - r->in.len;
		if (room == 0)
			return 0; /* the body is in; the rest is not ours to read */
		long n = stream_read(&r->s, dst, room);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			r->eof = true; /* answered (or waiting for the bus): finish writing first */
			return r->draining || (!r->answered && !r->bus_ticket) ? -1 : 0;
		}
		if (!discard)
			buf_produced(&r->in, (size_t)n);
		req_body_ready(r);
	}
	return 0;
}

static void req_update(struct push_req *r)
{
	unsigned want = r->eof ? 0 : RX_READ;
	if (buf_len(&r->out) > 0)
		want |= RX_WRITE;
	rx_io_want(r->rx, &r->io, stream_interest(&r->s, want));
}

static void req_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct push_req *r = REQ_OF(io, io);
	(void)rx;
	if (stream_pump(&r->s, events) < 0 || req_read(r) < 0 || req_flush(r) < 0) {
		req_destroy(r);
		return;
	}
	req_update(r);
}

void push_req_resume(struct push_req *r)
{
	req_on_io(r->rx, &r->io, 0);
}

static void req_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct push_req *r = REQ_OF(timer, t);
	(void)rx;
	if (!r->draining)
		log_info("c%u push: no whole body within %u ms: closed", r->link.id, REQ_BODY_MS);
	req_destroy(r);
}

/* Before the handler: the framing decides (411, 413, 100 Continue). */
static void req_frame(struct push_req *r, size_t max_body)
{
	long long cl = req_content_length(r);
	if (cl == -2 || cl == -3) {
		const char *why = cl == -2 ? "{\"error\":\"send a Content-Length\"}"
		                           : "{\"error\":\"bad Content-Length\"}";
		push_req_reply(r, cl == -2 ? 411 : 400, "application/json", NULL, why, strlen(why));
		return;
	}
	if (cl > (long long)max_body) {
		char body[96];
		int n = snprintf(body, sizeof(body), "{\"error\":\"the body is over %zu bytes\"}",
		                 max_body);
		push_req_reply(r, 413, "application/json", NULL, body, (size_t)n);
		return;
	}
	r->body_len = cl < 0 ? 0 : (size_t)cl;
	struct http_slice expect = push_req_header(r, "Expect");
	if (buf_len(&r->in) < r->head_len + r->body_len && http_slice_eq(expect, "100-continue")) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		buf_append(&r->out, cont, sizeof(cont) - 1); /* out is empty: it fits */
	}
	req_body_ready(r);
}

int push_req_start(struct push_hub *hub, struct handoff *h, struct http_slice path,
                   push_req_fn handler, size_t max_body)
{
	struct push_req *r = calloc(1, sizeof(*r));
	if (!r || rx_io_add(h->rx, &r->io, h->s.fd, req_on_io) < 0) {
		free(r);
		stream_close(&h->s);
		return -1;
	}
	r->hub = hub;
	r->rx = h->rx;
	r->conns = h->conns;
	r->s = h->s;
	r->tls = h->s.tls != NULL;
	r->addr = h->addr;
	r->in = h->in; /* the head stays at the front: req's slices point into it */
	h->in = (struct buf){0};
	r->head_len = h->head_len;
	r->req = *h->req;
	r->path = path;
	r->handler = handler;
	conn_list_add_as(h->conns, &r->link, req_destroy_link, h->id, h->peer);
	rx_timer_arm(r->rx, &r->timer, rx_now(r->rx) + REQ_BODY_MS, req_on_timer);
	req_frame(r, max_body);
	req_on_io(r->rx, &r->io, 0);
	return 0;
}
