/* httpfilter.c — request-stream rewriting for kept-alive plain HTTP proxy
 * connections (RFC 9112 §6.3 body framing decides where each request ends).
 * Responses are never touched: the origin's own framing reaches the client. */
#include "tun/client/httpfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "tun/client/client_int.h"

static void filter_expect_body(struct http_filter *f, const struct proxy_body *b)
{
	f->state = b->kind == PROXY_BODY_LENGTH    ? HF_BODY_LENGTH
	           : b->kind == PROXY_BODY_CHUNKED ? HF_BODY_CHUNKED
	                                           : HF_HEAD;
	f->body_left = b->length;
	memset(&f->chunked, 0, sizeof(f->chunked));
	if (f->state == HF_BODY_LENGTH && f->body_left == 0)
		f->state = HF_HEAD;
}

static const struct relay_filter_ops http_filter_ops;

struct http_filter *http_filter_new(struct client *c, unsigned id, const char *target,
                                    http_filter_resume_fn resume)
{
	struct http_filter *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.ops = &http_filter_ops;
	f->client = c;
	f->resume = resume;
	f->id = id;
	snprintf(f->target, sizeof(f->target), "%s", target);
	return f; /* HF_HEAD: the raw first request comes through here too */
}

void http_filter_free(struct http_filter *f)
{
	free(f);
}

static void target_of(const struct proxy_uri *u, char *out, size_t cap)
{
	snprintf(out, cap, u->dest.host_is_v6 ? "[%.*s]:%u" : "%.*s:%u", (int)u->dest.host.len,
	         u->dest.host.p, u->dest.port);
}

/* One whole head at in: rewrite it into out, or say why not. */
static enum relay_filter_rc filter_head(struct http_filter *f, const uint8_t *in, size_t n,
                                       uint8_t *out, size_t cap, size_t *used, size_t *produced)
{
	const char *p = (const char *)in;
	int end = http_head_end(p, n, &f->scanned);
	if (end == HTTP_NEED_MORE)
		return RELAY_FILTER_OK;
	f->scanned = 0; /* found: a later call over the same head must find it again */
	struct http_request req;
	struct proxy_uri uri;
	struct proxy_body body;
	if (end < 0 || http_parse_request(p, (size_t)end, &req) < 0 ||
	    http_slice_eq(req.method, "CONNECT") || proxy_parse_absolute(req.target, &uri) < 0 ||
	    proxy_request_body(&req, &body) < 0) {
		log_info("c%u malformed request on a kept-alive proxy connection", f->id);
		return RELAY_FILTER_ERROR;
	}
	char target[TUNNEL_MAX_TARGET + 1];
	target_of(&uri, target, sizeof(target));
	const struct client_config *cfg = f->client->cfg;
	if (strcmp(target, f->target) != 0 ||
	    (cfg->proxy_user && !proxy_auth_ok(&req, cfg->proxy_user, cfg->proxy_pass)))
		return RELAY_FILTER_SWITCH; /* a new tunnel, after the same checks as the first */
	size_t len = proxy_forward_head((char *)out, cap, &req, &uri,
	                                proxy_keep_alive(req.minor_version, req.headers, req.nheaders));
	if (len == 0)
		return RELAY_FILTER_OK; /* out too full: come back once it drained */
	*used = (size_t)end;
	*produced = len;
	filter_expect_body(f, &body);
	return RELAY_FILTER_OK;
}

static enum relay_filter_rc filter_body(struct http_filter *f, const uint8_t *in, size_t n,
                                       uint8_t *out, size_t cap, size_t *used)
{
	size_t take = n < cap ? n : cap;
	if (f->state == HF_BODY_LENGTH) {
		if (take > f->body_left)
			take = (size_t)f->body_left;
		f->body_left -= take;
		if (f->body_left == 0)
			f->state = HF_HEAD;
	} else {
		size_t u = 0;
		enum proxy_rc rc = proxy_chunked_feed(&f->chunked, in, take, &u);
		if (rc < 0)
			return RELAY_FILTER_ERROR;
		take = u;
		if (rc == PROXY_DONE)
			f->state = HF_HEAD;
	}
	memcpy(out, in, take);
	*used = take;
	return RELAY_FILTER_OK;
}

enum relay_filter_rc http_filter_run(struct http_filter *f, const uint8_t *in, size_t n,
                                    uint8_t *out, size_t cap, size_t *used, size_t *produced)
{
	*used = *produced = 0;
	while (*used < n && *produced < cap) {
		size_t u = 0, p = 0;
		enum relay_filter_rc rc;
		if (f->state == HF_HEAD)
			rc = filter_head(f, in + *used, n - *used, out + *produced, cap - *produced, &u, &p);
		else {
			rc = filter_body(f, in + *used, n - *used, out + *produced, cap - *produced, &u);
			p = u;
		}
		if (rc != RELAY_FILTER_OK)
			return *produced && rc == RELAY_FILTER_SWITCH ? RELAY_FILTER_OK : rc;
		if (u == 0)
			break;
		*used += u;
		*produced += p;
	}
	return RELAY_FILTER_OK;
}

/* The tunnel ended after a switch: the connection goes on in a new one. */
static void http_filter_handover(struct relay_filter *base, int fd, struct buf *rest)
{
	struct http_filter *f = (struct http_filter *)base;
	log_debug("c%u next request goes to another host: new tunnel", f->id);
	f->resume(f->client, f->fwd, fd, f->id, rest);
	http_filter_free(f);
}

static enum relay_filter_rc http_filter_run_op(struct relay_filter *base, const uint8_t *in,
                                               size_t n, uint8_t *out, size_t cap, size_t *used,
                                               size_t *produced)
{
	return http_filter_run((struct http_filter *)base, in, n, out, cap, used, produced);
}

static void http_filter_free_op(struct relay_filter *base)
{
	http_filter_free((struct http_filter *)base);
}

static const struct relay_filter_ops http_filter_ops = {
	.run = http_filter_run_op,
	.handover = http_filter_handover,
	.free = http_filter_free_op,
};
