/* route.c — the server end of reverse-proxy routes: the registry (one per
 * reactor), requests waiting for their client, and the join. The visitor's
 * connection (plain or TLS) is piped unchanged into one end of a
 * socketpair; the other end waits with the bytes read so far, then becomes
 * the TCP leg of an ordinary relay to the client's data tunnel, whose filter
 * rewrites every request head and lets bodies (Content-Length, chunked) and
 * upgraded connections through untouched. Responses are never touched. A
 * kept-alive request for another route ends the tunnel once the service
 * answered everything before it, and is dispatched afresh. */
#include "tun/publish/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/proxy.h"
#include "proto/route.h"
#include "proto/ws.h"
#include "tun/pipe.h"
#include "tun/publish/reply.h"
#include "tun/relay.h"
#include "tun/wsctl.h"

#define ROUTE_WAIT_MS 10000   /* a request the client never carries: 504 */
#define ROUTE_ACK_MS 750      /* no word from the client about it: gone (answered < 1 s) */
#define ROUTE_MAX_PENDING 256 /* per route: beyond, 503 */
#define RESP_MAX PUB_RESP_MAX
#define IP_MAX NET_ADDR_STRLEN

struct route_reg {
	struct conn_link link;
	struct routes *rs;
	struct route_reg *next;
	struct wsctl ctl;
	size_t npending;
	struct route_rule rule;
};

/* A request waiting for its route's client. */
struct route_wait {
	struct conn_link link;
	struct routes *rs;
	struct route_reg *reg;
	struct route_wait *next;
	struct rx_timer timer;
	int fd;          /* our end of the visitor's socketpair */
	struct buf in;   /* its head and whatever followed */
	uint64_t id;
	bool https;
	bool acked;      /* the client said it is dialling */
	bool raw;        /* TCP as WebSocket: bytes, no heads to rewrite */
	char ip[IP_MAX];
};

struct routes {
	struct rx *rx;
	struct conn_list *conns;
	const struct server_config *cfg;
	struct route_reg *regs;
	struct route_wait *waits;
};

/* The request filter of one carried connection (relay.h). */
enum rf_state { RF_HEAD = 0, RF_LENGTH, RF_CHUNKED, RF_RAW };

struct route_filter {
	struct relay_filter base;
	struct routes *rs;
	struct route_rule rule;
	enum rf_state state;
	uint64_t body_left;
	struct proxy_chunked chunked;
	size_t scanned;
	unsigned id;
	bool https;
	char ip[IP_MAX];
};

static int dispatch(struct routes *rs, int fd, struct buf *in, unsigned id,
                    struct conn_peer *peer, const char *ip, bool https, struct route_reg *reg);

struct routes *routes_new(struct rx *rx, struct conn_list *conns, const struct server_config *cfg)
{
	struct routes *rs = calloc(1, sizeof(*rs));
	if (rs) {
		rs->rx = rx;
		rs->conns = conns;
		rs->cfg = cfg;
	}
	return rs;
}

void routes_free(struct routes *rs)
{
	free(rs);
}

/* ---- the filter ---- */

static enum relay_filter_rc rf_head(struct route_filter *f, const uint8_t *in, size_t n,
                                    uint8_t *out, size_t cap, size_t *used, size_t *produced)
{
	const char *p = (const char *)in;
	int end = http_head_end(p, n, &f->scanned);
	if (end == HTTP_NEED_MORE)
		return RELAY_FILTER_OK;
	f->scanned = 0;
	struct http_request req;
	struct proxy_body body;
	if (end < 0 || http_parse_request(p, (size_t)end, &req) < 0 ||
	    proxy_request_body(&req, &body) < 0) {
		log_info("c%u malformed request on a published route: closed", f->id);
		return RELAY_FILTER_ERROR;
	}
	const char *q = memchr(req.target.p, '?', req.target.len);
	struct http_slice path = {req.target.p, q ? (size_t)(q - req.target.p) : req.target.len};
	if (!route_matches(&f->rule, &req, path))
		return RELAY_FILTER_SWITCH; /* dispatched afresh once this one answered */
	size_t len = route_forward_head((char *)out, cap, &f->rule, &req, f->ip, f->https);
	if (len == 0)
		return RELAY_FILTER_OK; /* out too full: again once it drained */
	*used = (size_t)end;
	*produced = len;
	const struct http_header *up = http_find(req.headers, req.nheaders, "Upgrade");
	if (up || http_slice_eq(req.method, "CONNECT")) {
		f->state = RF_RAW; /* WebSocket and friends: bytes from here on */
		return RELAY_FILTER_OK;
	}
	f->state = body.kind == PROXY_BODY_LENGTH && body.length ? RF_LENGTH
	           : body.kind == PROXY_BODY_CHUNKED             ? RF_CHUNKED
	                                                         : RF_HEAD;
	f->body_left = body.length;
	memset(&f->chunked, 0, sizeof(f->chunked));
	return RELAY_FILTER_OK;
}

static enum relay_filter_rc rf_body(struct route_filter *f, const uint8_t *in, size_t n,
                                    uint8_t *out, size_t cap, size_t *used)
{
	size_t take = n < cap ? n : cap;
	if (f->state == RF_LENGTH) {
		if (take > f->body_left)
			take = (size_t)f->body_left;
		f->body_left -= take;
		if (f->body_left == 0)
			f->state = RF_HEAD;
	} else if (f->state == RF_CHUNKED) {
		size_t u = 0;
		enum proxy_rc rc = proxy_chunked_feed(&f->chunked, in, take, &u);
		if (rc < 0)
			return RELAY_FILTER_ERROR;
		take = u;
		if (rc == PROXY_DONE)
			f->state = RF_HEAD;
	}
	memcpy(out, in, take);
	*used = take;
	return RELAY_FILTER_OK;
}

static enum relay_filter_rc rf_run(struct relay_filter *base, const uint8_t *in, size_t n,
                                   uint8_t *out, size_t cap, size_t *used, size_t *produced)
{
	struct route_filter *f = (struct route_filter *)base;
	*used = *produced = 0;
	while (*used < n && *produced < cap) {
		size_t u = 0, p = 0;
		enum relay_filter_rc rc;
		if (f->state == RF_HEAD) {
			rc = rf_head(f, in + *used, n - *used, out + *produced, cap - *produced, &u, &p);
		} else {
			rc = rf_body(f, in + *used, n - *used, out + *produced, cap - *produced, &u);
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

static void rf_free(struct relay_filter *base)
{
	free(base);
}

/* The service answered everything before a request for another route. */
static void rf_handover(struct relay_filter *base, int fd, struct buf *rest)
{
	struct route_filter *f = (struct route_filter *)base;
	log_debug("c%u next request belongs to another route", f->id);
	dispatch(f->rs, fd, rest, f->id, NULL, f->ip, f->https, NULL);
	free(f);
}

static const struct relay_filter_ops rf_ops = {rf_run, rf_handover, rf_free};

static void reg_free(struct route_reg *reg);

/* ---- waiting requests ---- */

static void wait_unlink(struct route_wait *wt)
{
	for (struct route_wait **pp = &wt->rs->waits; *pp; pp = &(*pp)->next)
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	if (wt->reg)
		wt->reg->npending--;
	wt->reg = NULL;
}

static void wait_free(struct route_wait *wt)
{
	struct routes *rs = wt->rs;
	wait_unlink(wt);
	rx_timer_cancel(rs->rx, &wt->timer);
	if (wt->fd >= 0)
		close(wt->fd);
	buf_free(&wt->in);
	conn_list_remove(rs->conns, &wt->link);
	free(wt);
}

static void wait_destroy(struct conn_link *link)
{
	wait_free((struct route_wait *)link);
}

/* A short answer to the visitor through the pipe, then the end. */
static void answer_fd(int fd, int status, const char *why)
{
	char resp[RESP_MAX];
	size_t n = proxy_response_error(resp, sizeof(resp), status, why);
	if (n && send(fd, resp, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("route answer %d: %s", status, strerror(errno));
}

static void wait_fail(struct route_wait *wt, int status, const char *why)
{
	if (!wt->raw)
		answer_fd(wt->fd, status, why);
	wait_free(wt);
}

static struct route_wait *wait_find(struct routes *rs, uint64_t id)
{
	for (struct route_wait *wt = rs->waits; wt; wt = wt->next)
		if (wt->id == id && wt->reg)
			return wt;
	return NULL;
}

static void wait_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct route_wait *wt = (struct route_wait *)((char *)t - offsetof(struct route_wait, timer));
	(void)rx;
	if (!wt->acked) {
		/* its client vanished without closing: found now (issue 11) */
		char rule[ROUTE_MAX_VALUE + ROUTE_MAX_BASE + 16];
		route_rule_format(&wt->reg->rule, rule, sizeof(rule));
		log_warn("c%u route %s: its client did not answer within 750 ms: taken for gone",
		         wt->reg->link.id, rule);
		reg_free(wt->reg);
		return;
	}
	log_info("c%u route request not carried by its client in time", wt->link.id);
	wait_fail(wt, 504, "the published service did not answer in time");
}

/* Domain routes first, then the longest path prefix. */
static struct route_reg *reg_for(struct routes *rs, const struct http_request *req,
                                 struct http_slice path)
{
	struct route_reg *best = NULL;
	for (struct route_reg *r = rs->regs; r; r = r->next) {
		if (!route_matches(&r->rule, req, path))
			continue;
		if (!best || (r->rule.mode == ROUTE_DOMAIN && best->rule.mode != ROUTE_DOMAIN) ||
		    (r->rule.mode == best->rule.mode && strlen(r->rule.value) > strlen(best->rule.value)))
			best = r;
	}
	return best;
}

/* fd (taken) carries a visitor's requests, the first head at the front of
 * *in (taken): find its route (unless reg is given: a WebSocket route's
 * bytes) and announce it, or end the connection. */
static int dispatch(struct routes *rs, int fd, struct buf *in, unsigned id,
                    struct conn_peer *peer, const char *ip, bool https, struct route_reg *reg)
{
	struct http_request req;
	size_t scanned = 0;
	int end = reg ? 0 : http_head_end((const char *)buf_data(in), buf_len(in), &scanned);
	if (end > 0 && http_parse_request((const char *)buf_data(in), (size_t)end, &req) > 0) {
		const char *q = memchr(req.target.p, '?', req.target.len);
		struct http_slice path = {req.target.p,
		                          q ? (size_t)(q - req.target.p) : req.target.len};
		reg = reg_for(rs, &req, path);
	}
	struct route_wait *wt = reg && reg->npending < ROUTE_MAX_PENDING ? calloc(1, sizeof(*wt))
	                                                                 : NULL;
	if (!wt) {
		/* gone meanwhile (kept-alive request) or crowded */
		if (!reg || !reg->rule.ws)
			answer_fd(fd, reg ? 503 : 502, reg ? "too many requests waiting"
			                                   : "the published service is offline");
		close(fd);
		buf_free(in);
		return -1;
	}
	wt->rs = rs;
	wt->fd = fd;
	wt->in = *in;
	*in = (struct buf){0};
	wt->https = https;
	wt->raw = reg->rule.ws;
	snprintf(wt->ip, sizeof(wt->ip), "%s", ip);
	conn_list_add_as(rs->conns, &wt->link, wait_destroy, id, peer);
	do
		rand_bytes(&wt->id, sizeof(wt->id));
	while (wt->id == 0 || wait_find(rs, wt->id));
	wt->reg = reg;
	reg->npending++;
	wt->next = rs->waits;
	rs->waits = wt;
	uint8_t msg[TUNNEL_REV_MSG_LEN];
	tunnel_rev_msg(msg, REV_MSG_CONNECTION, wt->id);
	if (wsctl_send(&reg->ctl, msg, sizeof(msg)) < 0) {
		wait_fail(wt, 502, "the published service is offline");
		return -1;
	}
	rx_timer_arm(rs->rx, &wt->timer, rx_now(rs->rx) + ROUTE_ACK_MS, wait_on_timer);
	return 0;
}

/* "1.2.3.4" or "::1" from net_addr_str's "1.2.3.4:5" / "[::1]:5". */
static void ip_only(const struct net_addr *a, char *out, size_t cap)
{
	char s[NET_ADDR_STRLEN];
	net_addr_str(a, s, sizeof(s));
	char *colon = strrchr(s, ':');
	if (colon)
		*colon = '\0';
	if (s[0] == '[') {
		size_t n = strlen(s);
		if (n >= 2 && s[n - 1] == ']')
			s[n - 1] = '\0';
		snprintf(out, cap, "%s", s + 1);
	} else {
		snprintf(out, cap, "%s", s);
	}
}

/* TCP as WebSocket: the server takes the upgrade itself (101 at once, with
 * Sec-WebSocket-Protocol: binary when offered, as websockify does) and the
 * frames' payload is the service's byte stream; a service that cannot be
 * reached closes the WebSocket. */
static bool take_ws(struct routes *rs, struct handoff *h, struct route_reg *reg, int sp[2],
                    const char *ip)
{
	const char *key;
	size_t key_len;
	char resp[RESP_MAX];
	const struct http_header *proto =
		http_find(h->req->headers, h->req->nheaders, "Sec-WebSocket-Protocol");
	bool binary = proto && http_has_token(proto->value, "binary");
	size_t rn = ws_check_upgrade(h->req, &key, &key_len) == 0
	                    ? ws_response_101(resp, sizeof(resp), key, key_len,
	                                      binary ? "Sec-WebSocket-Protocol: binary\r\n" : NULL)
	                    : 0;
	if (rn == 0) {
		close(sp[0]);
		close(sp[1]);
		return false;
	}
	buf_consume(&h->in, h->head_len);
	struct relay_args a = {.id = h->id, .tcp_fd = sp[0], .ws = h->s, .role = WS_ROLE_SERVER,
	                       .ws_in = &h->in, .preamble = resp, .preamble_len = rn,
	                       .peer = h->peer};
	struct buf none = {0};
	if (relay_start(h->rx, h->conns, &rs->cfg->relay, &a) == 0)
		dispatch(rs, sp[1], &none, h->id, h->peer, ip, false, reg);
	else
		close(sp[1]);
	return true;
}

bool route_take(struct routes *rs, struct handoff *h, struct http_slice path, bool https)
{
	struct route_reg *reg = rs && rs->regs && !h->raw ? reg_for(rs, h->req, path) : NULL;
	if (!reg)
		return false;
	int sp[2];
	char ip[IP_MAX];
	ip_only(&h->addr, ip, sizeof(ip));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn_errno(errno, "c%u route: socketpair", h->id);
		stream_close(&h->s);
		return true;
	}
	log_debug("c%u %.*s %.*s: published route", h->id, (int)h->req->method.len,
	          h->req->method.p, (int)path.len, path.p);
	if (reg->rule.ws)
		return take_ws(rs, h, reg, sp, ip);
	struct buf in = h->in;
	h->in = (struct buf){0};
	/* The visitor's connection, unchanged into sp[0]; its first bytes are
	 * already in `in` and go to the relay directly. */
	if (pipe_start(h->rx, h->conns, h->id, h->peer, &h->s, sp[0], NULL, false) < 0) {
		close(sp[1]);
		buf_free(&in);
		return true;
	}
	dispatch(rs, sp[1], &in, h->id, h->peer, ip, https, NULL);
	return true;
}

/* ---- registrations ---- */

static void reg_free(struct route_reg *reg)
{
	struct routes *rs = reg->rs;
	char rule[ROUTE_MAX_VALUE + ROUTE_MAX_BASE + 16];
	for (struct route_reg **pp = &rs->regs; *pp; pp = &(*pp)->next)
		if (*pp == reg) {
			*pp = reg->next;
			break;
		}
	for (struct route_wait *wt = rs->waits, *next; wt; wt = next) {
		next = wt->next;
		if (wt->reg == reg)
			wait_fail(wt, 502, "the published service is offline");
	}
	wsctl_stop(&reg->ctl);
	route_rule_format(&reg->rule, rule, sizeof(rule));
	log_info("c%u route %s released", reg->link.id, rule);
	conn_list_remove(rs->conns, &reg->link);
	free(reg);
}

static void reg_destroy(struct conn_link *link)
{
	reg_free((struct route_reg *)link);
}

static void reg_on_message(struct wsctl *w, const uint8_t *p, size_t n)
{
	struct route_reg *reg = w->owner;
	uint8_t op;
	uint64_t id;
	if (tunnel_rev_parse(p, n, &op, &id) < 0)
		return;
	struct route_wait *wt = wait_find(reg->rs, id);
	if (wt && wt->reg == reg && op == REV_MSG_ACCEPTED && !wt->acked) {
		wt->acked = true;
		rx_timer_arm(reg->rs->rx, &wt->timer,
		             rx_now(reg->rs->rx) + ROUTE_WAIT_MS - ROUTE_ACK_MS, wait_on_timer);
	} else if (wt && wt->reg == reg && op == REV_MSG_REFUSED) {
		log_info("c%u route: its client could not reach the service", wt->link.id);
		wait_fail(wt, 502, "the published service refused the connection");
	}
}

static void reg_on_close(struct wsctl *w)
{
	reg_free(w->owner);
}

static const struct wsctl_ops reg_ops = {NULL, reg_on_message, reg_on_close}; /* server role: no on_open */

static bool same_rule(const struct route_rule *a, const struct route_rule *b)
{
	return a->mode == b->mode && strcmp(a->value, b->value) == 0;
}

int route_register(struct routes *rs, struct handoff *h, const struct tunnel_req *req,
                   const char *key, size_t key_len)
{
	struct route_rule rule;
	char resp[RESP_MAX];
	if (!rs->cfg->keys) {
		log_warn("c%u route registration refused: routes need --key on the server", h->id);
		pub_refuse(rs->cfg, &h->s, req, key, key_len, TUNNEL_ERR_FORBIDDEN);
		return -1;
	}
	enum tunnel_err err = server_seal_check(rs->cfg, h, req);
	if (err != TUNNEL_OK) {
		pub_refuse(rs->cfg, &h->s, req, key, key_len, err);
		return -1;
	}
	if (route_rule_parse(req->target, req->target_len, &rule) < 0) {
		pub_refuse(rs->cfg, &h->s, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	for (struct route_reg *r = rs->regs; r; r = r->next)
		if (same_rule(&r->rule, &rule)) {
			log_warn("c%u route %s refused: already published by c%u, which keeps it", h->id,
			         req->target, r->link.id);
			pub_refuse(rs->cfg, &h->s, req, key, key_len, TUNNEL_ERR_IN_USE);
			return -1;
		}
	size_t rn = pub_101(rs->cfg, req, key, key_len, resp, sizeof(resp));
	struct route_reg *reg = calloc(1, sizeof(*reg));
	if (!reg || rn == 0) {
		free(reg);
		pub_refuse(rs->cfg, &h->s, req, key, key_len, TUNNEL_ERR_GENERAL);
		return -1;
	}
	reg->rs = rs;
	reg->ctl.s.fd = -1;
	reg->rule = rule;
	conn_list_add_as(rs->conns, &reg->link, reg_destroy, h->id, h->peer);
	reg->next = rs->regs;
	rs->regs = reg;
	buf_consume(&h->in, h->head_len);
	if (wsctl_start(&reg->ctl, rs->rx, &h->s, WS_ROLE_SERVER, resp, rn, &h->in, NULL,
	                rs->cfg->relay.keepalive_ms, &reg_ops, reg) < 0) {
		reg_free(reg);
		return -1;
	}
	log_info("c%u route %s published", reg->link.id, req->target);
	return 0;
}

int route_claim(struct routes *rs, struct handoff *h, const struct tunnel_req *req,
                const char *key, size_t key_len)
{
	char resp[RESP_MAX];
	uint64_t id = 0;
	if (tunnel_rev_id_parse(req->target, req->target_len, &id) < 0) {
		pub_refuse(rs->cfg, &h->s, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	enum tunnel_err err = server_seal_check(rs->cfg, h, req);
	struct route_wait *wt = id && err == TUNNEL_OK ? wait_find(rs, id) : NULL;
	size_t rn = pub_101(rs->cfg, req, key, key_len, resp, sizeof(resp));
	struct route_filter *f = wt && !wt->raw ? calloc(1, sizeof(*f)) : NULL;
	if ((!f && !(wt && wt->raw)) || rn == 0) {
		free(f);
		pub_refuse(rs->cfg, &h->s, req, key, key_len, err ? err : TUNNEL_ERR_GENERAL);
		return -1;
	}
	if (f) {
		f->base.ops = &rf_ops;
		f->rs = rs;
		f->rule = wt->reg->rule;
		f->id = wt->link.id;
		f->https = wt->https;
		memcpy(f->ip, wt->ip, sizeof(f->ip));
	}
	int fd = wt->fd;
	struct buf in = wt->in;
	wt->fd = -1;
	wt->in = (struct buf){0};
	unsigned wid = wt->link.id;
	wait_free(wt);
	buf_consume(&h->in, h->head_len);
	log_debug("c%u route request carried by c%u", wid, h->id);
	struct relay_args a = {.id = wid, .tcp_fd = fd, .ws = h->s, .role = WS_ROLE_SERVER,
	                       .tcp_in = &in, .ws_in = &h->in, .preamble = resp,
	                       .preamble_len = rn, .filter = f ? &f->base : NULL,
	                       .peer = h->peer};
	server_seal_args(rs->cfg, req, &a);
	return relay_start(rs->rx, rs->conns, &rs->cfg->relay, &a);
}
