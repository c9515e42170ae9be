/* req.h — one plain HTTP exchange on a push path (POST, preflight, the
 * admin and demo pages, Socket.IO's polling refusal): the body read up to a
 * limit (413 beyond it, 100 Continue when asked for), one answer, then our
 * FIN and a bounded drain so unread bytes never turn the answer into a RST. */
#ifndef WSF_TUN_PUSH_REQ_H
#define WSF_TUN_PUSH_REQ_H

#include "tun/handoff.h"
#include "tun/push/push_int.h"

/* Takes h (closing it on failure); handler runs once the whole body is in
 * r->in (after r->head_len; r->body_len bytes) and MUST answer with
 * push_req_reply before it returns, or set r->bus_ticket (a publish on
 * hub->bus, cancelled if r goes first) and answer later, then call
 * push_req_resume. 0 or -1. */
int push_req_start(struct push_hub *hub, struct handoff *h, struct http_slice path,
                   push_req_fn handler, size_t max_body);

/* The one answer: status, Content-Type (NULL: none), extra header lines
 * ("Name: value\r\n" each, or NULL), body. Connection: close. */
void push_req_reply(struct push_req *r, int status, const char *type, const char *extra,
                    const void *body, size_t n);

/* After a late push_req_reply (outside the handler): writes it. r may be
 * gone when this returns. */
void push_req_resume(struct push_req *r);

/* A header's value, or an empty slice. */
struct http_slice push_req_header(const struct push_req *r, const char *name);
/* The body (valid in the handler). */
static inline const char *push_req_body(const struct push_req *r)
{
	return (const char *)buf_data(&r->in) + r->head_len;
}
/* True when the method is m (exact case, as RFC 9110 §9.1 says). */
bool push_req_method(const struct push_req *r, const char *m);

#endif
