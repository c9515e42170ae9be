/* server.c — listeners, accept, the request-head phase and routing.
 * Owns every accepted connection until an endpoint takes it over; anything
 * that matches no endpoint gets --stealth (default: closed without a byte).
 * With --stealth decoy the connection speaks as nginx would (proto/decoy.h),
 * kept alive between requests, each of which is routed again. */
#include "tun/server/server.h"

#include "tun/server/server_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dns_block.h"
#include "core/log.h"
#include "core/splice.h"
#include "core/tfo.h"
#include "proto/decoy.h"
#include "proto/tunnel.h"
#include "tun/pipe.h"
#include "tun/scrape.h"
#include "tun/publish/channel.h"
#include "tun/publish/route.h"
#include "tun/ping/endpoints.h"
#include "tun/push/endpoint.h"
#include "tun/server/controller.h"
#include "tun/server/replay_shm.h"
#include "tun/server/replay_store.h"
#include "tun/server/srv_mux.h"
#include "tun/server/srv_metrics.h"
#include "tun/server/srv_realip.h"
#include "tun/server/srv_pool.h"
#include "tun/server/srv_reverse.h"
#include "tun/server/srv_token.h"
#include "tun/server/srv_tunnel.h"
#include "tun/server/users.h"
#include "tun/server/workers.h"
#include "proto/ws.h"

#define ACCEPT_BATCH 64       /* accepts per wake: fairness to open connections */
#define ACCEPT_PAUSE_MS 100   /* after EMFILE: never spin on a full fd table */
#define EMFILE_LOG_EVERY_MS 10000

/* --stealth decoy: where a kept-alive connection is between requests. */
enum decoy_phase {
	DP_HEAD = 0, /* a request head is arriving (or none yet) */
	DP_IDLE,     /* answered, kept alive, nothing of the next request yet */
	DP_BODY,     /* discarding the body of the request just answered */
	DP_WRITE,    /* an answer the socket did not take at once */
};

/* A connection whose request head is still arriving. */
struct head_conn {
	struct conn_link link;
	struct server *srv;
	struct rx_io io;
	struct rx_timer deadline;
	struct stream s;        /* fd -1 once an endpoint took it */
	struct net_addr addr;
	struct buf in;
	size_t scanned; /* http_head_end progress */
	const struct listener *listener;
	/* --stealth decoy only */
	struct decoy decoy;     /* nginx's view of the request in progress */
	uint32_t fed;           /* bytes of in given to decoy_feed */
	uint32_t requests;      /* answered on this connection */
	uint8_t dphase;         /* enum decoy_phase */
	bool linger;            /* the answer said close: read its body, then close */
	uint16_t out_len;       /* DP_WRITE: bytes of out not yet taken */
	char *out;              /* DP_WRITE: the rest of an answer (malloc) */
	uint64_t body_left;     /* DP_BODY with Content-Length */
	uint64_t started_ms;    /* keepalive_time counts from here */
	bool pp_pending;        /* --proxy-protocol source: header not read yet */
	bool counted;           /* per-IP counting done (at accept, or once the
	                         * balancer told the client's address) */
	bool claimed;           /* --replay-store said the nonce is ours (or fail local) */
	bool tls_done;          /* --metrics: its TLS handshake was counted as done */
	uint32_t claim;         /* --replay-store ticket while waiting, else 0 */
	size_t head_len;        /* while waiting: the request head to route again */
	struct proxyhdr pp;
};

static bool head_conn_route(struct head_conn *hc, size_t head_len, const char **why);
static void head_conn_refuse(struct head_conn *hc, const char *why);

static void server_refuse_peer(struct server *srv, const struct conn_peer *cp);

static void head_conn_destroy(struct conn_link *link)
{
	struct head_conn *hc = (struct head_conn *)link;
	struct server *srv = hc->srv;
	rx_timer_cancel(&srv->rx, &hc->deadline);
	if (hc->claim)
		replay_store_cancel(srv->store, hc->claim);
	if (srv->stats && hc->s.tls && !hc->tls_done && hc->s.fd >= 0)
		srv->stats->tls_failed++; /* failed, or abandoned half-way */
	if (hc->s.fd >= 0) {
		rx_io_del(&srv->rx, &hc->io);
		stream_close(&hc->s);
	}
	buf_free(&hc->in);
	free(hc->out);
	conn_list_remove(&srv->conns, &hc->link);
	free(hc);
}

/* A connection from a load balancer is counted per IP once its client's
 * address is known. False when that address is over --max-conns-per-ip
 * (hc closed without a byte). */
static bool head_conn_count(struct head_conn *hc)
{
	struct server *srv = hc->srv;
	struct conn_peer *cp = conn_peer_get(&srv->conns, &hc->addr);
	hc->counted = true;
	if (!cp)
		return true; /* out of memory: serve uncounted, as at accept */
	if (cp->count >= srv->cfg->max_conns_per_ip) {
		server_refuse_peer(srv, cp);
		head_conn_destroy(&hc->link); /* cp, held by others, stays */
		return false;
	}
	hc->link.peer = cp;
	cp->count++;
	return true;
}

static bool behind_http_proxy(const struct server *srv, const struct net_addr *a)
{
	return srv_realip_cidr_any(srv->cfg->trust_proxy, srv->cfg->ntrust_proxy, a);
}

/* Reads what the peer already sent so close() sends a FIN, not the RST that
 * unread bytes would cause. */
static void drain_input(struct stream *s)
{
	uint8_t sink[4096];
	for (int i = 0; i < 16 && stream_read(s, sink, sizeof(sink)) > 0; i++)
		;
}

/* --fallback: the real web server gets the whole connection, bytes already
 * read included, so this port answers exactly as that site does. */
static void head_conn_fallback(struct head_conn *hc, bool eof)
{
	struct server *srv = hc->srv;
	int fd = net_connect(&srv->fallback);
	if (fd < 0) {
		log_warn("c%u --fallback unreachable: %s", hc->link.id, strerror(-fd));
		head_conn_destroy(&hc->link);
		return;
	}
	rx_io_del(&srv->rx, &hc->io);
	struct buf in = hc->in;
	hc->in = (struct buf){0};
	pipe_start(&srv->rx, &srv->conns, hc->link.id, hc->link.peer, &hc->s, fd, &in, eof);
	hc->s.fd = -1;
	hc->s.tls = NULL;
	head_conn_destroy(&hc->link);
}

/* Anything that is not a request for one of our endpoints. */
static void head_conn_drop(struct head_conn *hc, const char *why)
{
	log_debug("c%u %s: %s", hc->link.id, why,
	          hc->srv->cfg->stealth == STEALTH_DROP    ? "dropped"
	          : hc->srv->cfg->stealth == STEALTH_DECOY ? "decoy page"
	                                                   : "handed to --fallback");
	if (hc->srv->stats)
		hc->srv->stats->stealth++;
	switch (hc->srv->cfg->stealth) {
	case STEALTH_FALLBACK:
		head_conn_fallback(hc, false);
		return;
	case STEALTH_DECOY: /* only here without an answer to give (out of memory) */
	case STEALTH_DROP:
		drain_input(&hc->s);
		break;
	}
	head_conn_destroy(&hc->link);
}

/* A byte that cannot start an HTTP request (TLS, SSH, garbage): no need to
 * wait for a head that will never come. */
static bool cannot_be_http(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 16; i++) {
		if (p[i] == ' ')
			return i == 0;
		if (p[i] < 'A' || p[i] > 'Z')
			return true;
	}
	return n >= 16;
}

/* A line ended by LF alone in p[from, to): no WebSocket client or browser
 * sends one, and waiting on it for a CRLF that never comes would keep the
 * connection until the handshake deadline, so such a head is refused at once. */
static bool bare_lf_in(const uint8_t *p, size_t from, size_t to)
{
	const uint8_t *lf = p + from;
	while ((lf = memchr(lf, '\n', (size_t)(p + to - lf))) != NULL) {
		if (lf == p || lf[-1] != '\r')
			return true;
		lf++;
	}
	return false;
}

static bool path_is(struct http_slice path, const char *want)
{
	return strlen(want) == path.len && memcmp(want, path.p, path.len) == 0;
}

/* The tunnel lives at the listener's path and below it. */
static bool path_under(struct http_slice path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (n > 0 && prefix[n - 1] == '/')
		n--;
	return path.len >= n && memcmp(path.p, prefix, n) == 0 &&
	       (path.len == n || path.p[n] == '/');
}

static void head_conn_on_claim(void *owner, enum replay_store_verdict v)
{
	struct head_conn *hc = owner;
	hc->claim = 0;
	if (v == REPLAY_STORE_SEEN) {
		log_warn("c%u replayed tunnel request (nonce already claimed in the replay store): "
		         "refused", hc->link.id);
		srv_count_auth_failure(hc->srv, STATS_AUTH_REPLAY);
		head_conn_refuse(hc, "replayed");
		return;
	}
	if (v == REPLAY_STORE_DOWN && !srv_store_down_allows(hc->srv, hc->link.id)) {
		head_conn_refuse(hc, "replay store unreachable");
		return;
	}
	hc->claimed = true;
	const char *why = "";
	if (!head_conn_route(hc, hc->head_len, &why)) /* parsed again: the head is still in hc->in */
		head_conn_refuse(hc, why);
}

enum route_rc {
	ROUTE_NONE = 0, /* not ours: stealth */
	ROUTE_TAKEN,    /* an endpoint owns the connection */
	ROUTE_WAITING,  /* the nonce is being claimed in the replay store */
};

/* A tunnel request: our cookie decodes and the upgrade is valid. Anything
 * less is indistinguishable from an unknown path (stealth). */
static enum route_rc route_tunnel(struct head_conn *hc, struct handoff *h, struct http_slice path)
{
	struct tunnel_req treq;
	const char *key;
	size_t key_len;
	unsigned ttl_s = 0;
	/* A controller user's path (--controller): its key (or the server's),
	 * its destination, connect tunnels only. */
	struct user_found user;
	bool is_user = hc->srv->users && users_find(hc->srv->users, path.p, path.len, &user);
	const struct auth_keys *keys = is_user && user.has_key ? &user.keys : hc->srv->cfg->keys;
	if (!is_user && !path_under(path, hc->listener->url->path))
		return ROUTE_NONE;
	enum tunnel_decode_rc rc = tunnel_req_from_http(h->req, keys, &treq);
	if (rc == TUNNEL_BAD_MAC) {
		log_info("c%u tunnel request with a wrong key", hc->link.id);
		srv_count_auth_failure(hc->srv, STATS_AUTH_BAD_KEY);
	}
	if (rc != TUNNEL_DECODED || ws_check_upgrade(h->req, &key, &key_len) != 0)
		return ROUTE_NONE;
	if (!hc->claimed) {
		if (!srv_token_accepted(hc->srv, &treq, hc->link.id, &ttl_s))
			return ROUTE_NONE;
		if (hc->srv->store && hc->srv->cfg->keys) {
			hc->head_len = h->head_len;
			hc->claim = replay_store_claim(hc->srv->store, treq.nonce, ttl_s,
			                               head_conn_on_claim, hc);
			if (hc->claim)
				return ROUTE_WAITING;
			if (!srv_store_down_allows(hc->srv, hc->link.id))
				return ROUTE_NONE;
		}
	}
	if (is_user && (treq.kind != TUNNEL_CONNECT ||
	                (user.has_key && (treq.flags & TUNNEL_FLAG_ENCRYPT)))) {
		log_info("c%u a controller user's path takes plain connect tunnels only: refused",
		         hc->link.id);
		return ROUTE_NONE;
	}
	h->keys = keys;
	h->to = is_user ? user.dst : NULL;
	if (treq.kind == TUNNEL_POOLED)
		srv_pool_accept(hc->srv, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_CONNECT || treq.kind == TUNNEL_UDP)
		srv_tunnel_accept(hc->srv, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_REVERSE_LISTEN || treq.kind == TUNNEL_UDP_LISTEN)
		srv_reverse_listen(hc->srv, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_CHANNEL_REGISTER || treq.kind == TUNNEL_EXIT_REGISTER)
		channel_register(hc->srv->channels, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_CHANNEL_OPEN || treq.kind == TUNNEL_EXIT_OPEN)
		channel_open(hc->srv->channels, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_CHANNEL_ACCEPT)
		channel_claim(hc->srv->channels, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_ROUTE_REGISTER)
		route_register(hc->srv->routes, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_ROUTE_ACCEPT)
		route_claim(hc->srv->routes, h, &treq, key, key_len);
	else if (treq.kind == TUNNEL_MUX)
		srv_mux_accept(hc->srv, h, &treq, key, key_len);
	else
		srv_reverse_claim(hc->srv, h, &treq, key, key_len);
	return ROUTE_TAKEN;
}

/* A browser that accepted our self-signed certificate lands here; its page
 * may then open wss://. Neutral words, no product name. */
static const char accepted_page[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Length: 112\r\n"
	"Cache-Control: no-store\r\n"
	"Connection: close\r\n"
	"\r\n"
	"<!doctype html><title>Certificate accepted</title>"
	"<p>The certificate was accepted. You may close this page.</p>\n";

static bool accept_page_wanted(const struct head_conn *hc, const struct http_request *req,
                               struct http_slice path)
{
	const struct server_config *cfg = hc->srv->cfg;
	return hc->listener->tls && (cfg->accept_page || cfg->ping_name) && path_is(path, "/") &&
	       req->method.len == 3 && memcmp(req->method.p, "GET", 3) == 0 &&
	       !http_find(req->headers, req->nheaders, "Upgrade");
}

static void head_conn_on_io(struct rx *rx, struct rx_io *io, unsigned events);

/* Hands a whole head of head_len bytes to its endpoint. Returns true when
 * one took the connection (hc is gone); false, with why, when none is for
 * it (hc untouched, still watched). */
static bool head_conn_route(struct head_conn *hc, size_t head_len, const char **why)
{
	struct http_request req;
	const struct server_config *cfg = hc->srv->cfg;
	int rc = http_parse_request((const char *)buf_data(&hc->in), head_len, &req);
	if (rc < 0) {
		*why = http_strerror(rc);
		return false;
	}
	const char *q = memchr(req.target.p, '?', req.target.len);
	struct http_slice path = {req.target.p, q ? (size_t)(q - req.target.p) : req.target.len};
	if (!hc->counted && behind_http_proxy(hc->srv, &hc->addr)) {
		char via[NET_ADDR_STRLEN], a[NET_ADDR_STRLEN];
		net_addr_str(&hc->addr, via, sizeof(via));
		if (srv_realip_forwarded(&req, cfg->trust_proxy, cfg->ntrust_proxy, &hc->addr))
			log_debug("c%u client %s (X-Forwarded-For from %s)", hc->link.id,
			          net_addr_ip_str(&hc->addr, a, sizeof(a)), via);
		if (!head_conn_count(hc))
			return true; /* over --max-conns-per-ip: closed, hc is gone */
	}
	struct handoff h = {.rx = &hc->srv->rx, .conns = &hc->srv->conns,
	                    .s = hc->s, .id = hc->link.id, .addr = hc->addr,
	                    .peer = hc->link.peer, .in = hc->in, .head_len = head_len, .req = &req,
	                    .raw = hc->listener->url->scheme == URL_TLS};
	/* Endpoints own the fd from here on, in every outcome. */
	rx_io_del(&hc->srv->rx, &hc->io);
	if (accept_page_wanted(hc, &req, path)) {
		stream_reply_and_close(&hc->s, accepted_page, sizeof(accepted_page) - 1);
		hc->s.fd = -1;
		hc->s.tls = NULL;
		head_conn_destroy(&hc->link);
		return true;
	}
	if (hc->srv->push && push_route(hc->srv->push, &h, path))
		; /* taken: answered, subscribed or closed */
	else if (cfg->echo_path && path_is(path, cfg->echo_path))
		echo_accept(&h, cfg->max_message);
	else if (cfg->ping_name && path_is(path, SERVER_PING_PATH))
		ping_accept(&h, cfg->ping_name);
	else {
		enum route_rc r = route_tunnel(hc, &h, path);
		if (r == ROUTE_NONE && route_take(hc->srv->routes, &h, path, hc->listener->tls))
			r = ROUTE_TAKEN; /* a published route (tun/publish/) */
		if (r != ROUTE_TAKEN)
			rx_io_add(&hc->srv->rx, &hc->io, hc->s.fd, head_conn_on_io); /* del cleared io.fn */
		if (r == ROUTE_WAITING) {
			rx_io_want(&hc->srv->rx, &hc->io, 0); /* pipelined bytes wait in the socket */
			return true; /* the claim holds hc until Redis answers */
		}
		if (r == ROUTE_NONE) {
			*why = "no endpoint for this request";
			return false;
		}
	}
	hc->s.fd = -1;
	hc->s.tls = NULL;
	hc->in = h.in; /* what the endpoint left behind */
	head_conn_destroy(&hc->link);
	return true;
}

/* ---------------------------------------------------------------- --stealth decoy */

static void head_conn_on_deadline(struct rx *rx, struct rx_timer *t);

/* Closes as nginx does after its last answer or on a timeout: what the
 * peer sent is read first, so the close is a FIN and not a RST. */
static void decoy_close(struct head_conn *hc, const char *why)
{
	log_debug("c%u decoy: %s: closed", hc->link.id, why);
	drain_input(&hc->s);
	head_conn_destroy(&hc->link);
}

/* Arms the one timer for the phase now entered: nginx's keepalive_timeout
 * while idle, else our per-request deadline (a head, a body to discard, an
 * answer to deliver), never reset by trickled bytes. */
static void decoy_arm(struct head_conn *hc, enum decoy_phase phase)
{
	struct server *srv = hc->srv;
	hc->dphase = (uint8_t)phase;
	/* A drain closes idle keep-alive connections, as nginx's graceful stop. */
	hc->link.lingers = phase != DP_IDLE;
	uint64_t ms = phase == DP_IDLE ? DECOY_KEEPALIVE_MS : srv->cfg->handshake_ms;
	rx_timer_cancel(&srv->rx, &hc->deadline);
	rx_timer_arm(&srv->rx, &hc->deadline, rx_now(&srv->rx) + ms, head_conn_on_deadline);
}

/* The request is answered and its body gone: the next one may start. */
static void decoy_next_request(struct head_conn *hc)
{
	decoy_next(&hc->decoy, buf_len(&hc->in) > 0);
	hc->fed = 0;
	buf_release_if_empty(&hc->in);
	decoy_arm(hc, buf_len(&hc->in) ? DP_HEAD : DP_IDLE);
}

/* After the answer went out whole: its body to discard, or the next request. */
static void decoy_answered(struct head_conn *hc)
{
	if (hc->decoy.chunked || hc->body_left)
		decoy_arm(hc, DP_BODY);
	else
		decoy_next_request(hc);
}

/* Writes what the socket takes now; the rest waits in hc->out. Returns 0,
 * or -1 when the connection failed. */
static int decoy_write(struct head_conn *hc, const char *p, size_t n)
{
	for (int i = 0; i < 8 && n; i++) {
		long w = stream_write(&hc->s, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w != -EAGAIN || stream_pump(&hc->s, 0) < 0) {
			return -1;
		} else {
			break;
		}
	}
	if (stream_pump(&hc->s, 0) < 0)
		return -1;
	if (n) {
		char *rest = malloc(n);
		if (!rest)
			return -1;
		memcpy(rest, p, n);
		free(hc->out);
		hc->out = rest;
		hc->out_len = (uint16_t)n;
	}
	return 0;
}

/* nginx's answer to the request just decided (its head is the first
 * head_len bytes of in). Returns false when hc is gone. */
static bool decoy_reply(struct head_conn *hc, size_t head_len)
{
	struct server *srv = hc->srv;
	struct decoy *d = &hc->decoy;
	bool keep = d->keepalive && hc->requests + 1 < DECOY_KEEPALIVE_REQUESTS &&
	            rx_now(&srv->rx) - hc->started_ms <= DECOY_KEEPALIVE_TIME_MS;
	buf_consume(&hc->in, head_len);
	hc->fed = 0;
	if (keep && d->chunked) {
		/* nginx reads what is already here before it answers: a bad
		 * chunk in it turns keep-alive off */
		struct decoy probe = *d;
		size_t used;
		keep = decoy_chunked_feed(&probe, buf_data(&hc->in), buf_len(&hc->in), &used) >= 0;
	}
	char date[HTTP_DATE_LEN], out[DECOY_ANSWER_MAX];
	if (srv->stats)
		srv->stats->stealth++;
	http_date((uint64_t)time(NULL), date);
	size_t n = decoy_answer(d, keep, date, out);
	log_debug("c%u decoy: %u answered%s", hc->link.id, d->status, keep ? ", kept alive" : "");
	hc->body_left = d->chunked ? 0 : d->body_len;
	if (!keep && d->whole_head && (d->chunked || hc->body_left > buf_len(&hc->in))) {
		/* nginx reads the rest of the body before it closes (lingering) */
		hc->linger = true;
	} else if (!keep) {
		drain_input(&hc->s);
		rx_io_del(&srv->rx, &hc->io);
		stream_reply_and_close(&hc->s, out, n);
		hc->s.fd = -1;
		hc->s.tls = NULL;
		head_conn_destroy(&hc->link);
		return false;
	}
	hc->requests++;
	if (decoy_write(hc, out, n) < 0) {
		head_conn_destroy(&hc->link);
		return false;
	}
	if (hc->out_len) {
		decoy_arm(hc, DP_WRITE);
		return true;
	}
	decoy_answered(hc);
	return true;
}

/* DP_BODY: drops body bytes from in. Returns -1 for a malformed chunked
 * body, 1 once the body is over, 0 while more is due. */
static int decoy_discard(struct head_conn *hc)
{
	size_t n = buf_len(&hc->in), used;
	int rc;
	if (hc->decoy.chunked) {
		rc = decoy_chunked_feed(&hc->decoy, buf_data(&hc->in), n, &used);
	} else {
		used = hc->body_left < n ? (size_t)hc->body_left : n;
		hc->body_left -= used;
		rc = hc->body_left == 0;
	}
	if (rc >= 0)
		buf_consume(&hc->in, used);
	return rc;
}

/* Works through what in holds: bodies to drop, heads to decide, answers
 * to give, requests to route. Returns false when hc is gone. */
static bool decoy_process(struct head_conn *hc)
{
	for (int i = 0; i < 64; i++) { /* pipelined requests: bounded per wake */
		if (hc->dphase == DP_WRITE)
			return true;
		if (hc->dphase == DP_BODY) {
			int rc = decoy_discard(hc);
			if (rc < 0) {
				decoy_close(hc, "malformed chunked body");
				return false;
			}
			if (rc == 0)
				return true;
			if (hc->linger) {
				decoy_close(hc, "body read after the last answer");
				return false;
			}
			decoy_next_request(hc);
		}
		size_t avail = buf_len(&hc->in) - hc->fed;
		if (avail == 0)
			return true;
		if (hc->dphase == DP_IDLE)
			decoy_arm(hc, DP_HEAD); /* nginx: client_header_timeout from here */
		size_t used;
		enum decoy_rc rc = decoy_feed(&hc->decoy, buf_data(&hc->in) + hc->fed, avail, &used);
		hc->fed += (uint32_t)used;
		if (rc == DECOY_NEED_MORE) {
			if (decoy_idle(&hc->decoy)) { /* empty lines before a request: nginx skips them */
				buf_consume(&hc->in, hc->fed);
				hc->fed = 0;
			}
			if (buf_len(&hc->in) >= BUF_SIZE) { /* cannot happen: nginx decides by 33 KiB */
				decoy_close(hc, "head larger than the buffer");
				return false;
			}
			return true;
		}
		const char *why = "not a whole head";
		if (hc->decoy.whole_head && head_conn_route(hc, hc->fed, &why))
			return false;
		log_debug("c%u %s: decoy page", hc->link.id, why);
		if (!decoy_reply(hc, hc->fed))
			return false;
	}
	return true;
}

/* One readiness event on a --stealth decoy connection. */
static void decoy_on_io(struct head_conn *hc)
{
	struct server *srv = hc->srv;
	if (hc->dphase == DP_WRITE) {
		char *rest = hc->out;
		size_t n = hc->out_len;
		hc->out = NULL;
		hc->out_len = 0;
		int rc = decoy_write(hc, rest, n);
		free(rest);
		if (rc < 0) {
			head_conn_destroy(&hc->link);
			return;
		}
		if (hc->out_len) {
			rx_io_want(&srv->rx, &hc->io, stream_interest(&hc->s, RX_WRITE));
			return;
		}
		decoy_answered(hc);
	}
	/* TLS may hold decrypted bytes the socket will not signal again. */
	for (int i = 0; i < 4; i++) {
		if (buf_alloc(&hc->in) < 0) {
			decoy_close(hc, "out of memory");
			return;
		}
		long n = stream_read(&hc->s, buf_tail(&hc->in), buf_room(&hc->in));
		if (n == -EAGAIN)
			break;
		if (n <= 0) { /* nginx closes without a word, mid-head or between requests */
			decoy_close(hc, n == 0 ? "peer closed" : "read error");
			return;
		}
		buf_produced(&hc->in, (size_t)n);
		if (!decoy_process(hc))
			return;
		if (hc->dphase == DP_WRITE || !stream_readable_now(&hc->s))
			break;
	}
	buf_release_if_empty(&hc->in);
	rx_io_want(&srv->rx, &hc->io,
	           stream_interest(&hc->s, hc->dphase == DP_WRITE ? RX_WRITE : RX_READ));
}

/* A tunnel request refused after its head was routed (its replay-store
 * claim failed): what --stealth says, as when it is refused at once. */
static void head_conn_refuse(struct head_conn *hc, const char *why)
{
	if (hc->srv->cfg->stealth != STEALTH_DECOY) {
		head_conn_drop(hc, why);
		return;
	}
	log_debug("c%u %s: decoy page", hc->link.id, why);
	if (decoy_reply(hc, hc->fed))
		decoy_on_io(hc); /* on with the keep-alive connection, as decoy_process */
}

/* --proxy-protocol: the balancer's header comes before TLS or HTTP. 0 once
 * read (then counted under the client's address), -1 when hc is waiting for
 * more or is gone. Anything but a PROXY header from such a source is dropped. */
static int head_conn_proxy_header(struct head_conn *hc)
{
	struct server *srv = hc->srv;
	char via[NET_ADDR_STRLEN], a[NET_ADDR_STRLEN];
	net_addr_str(&hc->addr, via, sizeof(via));
	int rc = srv_realip_header_read(hc->s.fd, &hc->pp, &hc->addr);
	if (rc == -EAGAIN) {
		rx_io_want(&srv->rx, &hc->io, RX_READ);
		return -1;
	}
	if (rc != 1) {
		int perr = SRV_REALIP_PROTO_ERR(rc);
		log_info("c%u from %s (--proxy-protocol): %s: dropped", hc->link.id, via,
		         perr ? proxyhdr_strerror(perr) : rc == 0 ? "closed before a header"
		                                                  : strerror(-rc));
		head_conn_destroy(&hc->link);
		return -1;
	}
	hc->pp_pending = false;
	log_debug("c%u client %s (PROXY v%u from %s)", hc->link.id,
	          net_addr_str(&hc->addr, a, sizeof(a)), hc->pp.buf[0] == 'P' ? 1u : 2u, via);
	if (!behind_http_proxy(srv, &hc->addr) && !head_conn_count(hc))
		return -1;
	return 0;
}

static void head_conn_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct head_conn *hc = (struct head_conn *)((char *)io - offsetof(struct head_conn, io));
	(void)rx;
	if (hc->pp_pending && head_conn_proxy_header(hc) < 0)
		return;
	if (stream_pump(&hc->s, events) < 0) {
		/* TLS handshake failed (a scanner, plain HTTP to a TLS port): nothing
		 * of ours was shown, so nothing to hide either. */
		log_debug("c%u TLS: %s", hc->link.id, stream_error(&hc->s));
		head_conn_destroy(&hc->link);
		return;
	}
	if (hc->s.tls && !hc->tls_done && tls_conn_handshake_done(hc->s.tls)) {
		hc->tls_done = true;
		if (hc->srv->stats)
			hc->srv->stats->tls_ok++;
	}
	if (hc->srv->cfg->stealth == STEALTH_DECOY) {
		decoy_on_io(hc);
		return;
	}
	if (buf_alloc(&hc->in) < 0) {
		head_conn_drop(hc, "out of memory");
		return;
	}
	size_t room = buf_room(&hc->in);
	long n = stream_read(&hc->s, buf_tail(&hc->in), room);
	if (n == -EAGAIN) {
		buf_release_if_empty(&hc->in);
		rx_io_want(&hc->srv->rx, &hc->io, stream_interest(&hc->s, RX_READ));
		return;
	}
	if (n <= 0) {
		log_debug("c%u closed before a whole request", hc->link.id);
		/* --fallback: the real site sees the same bytes and the same FIN. */
		if (n == 0 && buf_len(&hc->in) && hc->srv->cfg->stealth == STEALTH_FALLBACK)
			head_conn_fallback(hc, true);
		else
			head_conn_destroy(&hc->link);
		return;
	}
	buf_produced(&hc->in, (size_t)n);
	if (cannot_be_http(buf_data(&hc->in), buf_len(&hc->in))) {
		head_conn_drop(hc, "not HTTP");
		return;
	}
	size_t from = hc->scanned;
	int end = http_head_end((const char *)buf_data(&hc->in), buf_len(&hc->in), &hc->scanned);
	if (bare_lf_in(buf_data(&hc->in), from, hc->scanned)) {
		head_conn_drop(hc, "line ended by a bare LF");
		return;
	}
	if (end == HTTP_NEED_MORE) {
		rx_io_want(&hc->srv->rx, &hc->io, stream_interest(&hc->s, RX_READ));
		return;
	}
	const char *why = http_strerror(end);
	if (end < 0 || !head_conn_route(hc, (size_t)end, &why))
		head_conn_drop(hc, why);
}

static void head_conn_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct head_conn *hc = (struct head_conn *)((char *)t - offsetof(struct head_conn, deadline));
	(void)rx;
	if (hc->srv->cfg->stealth == STEALTH_DECOY) {
		/* nginx's client_header_timeout and keepalive_timeout: no answer */
		static const char *const what[] = {
			[DP_HEAD] = "no whole request in time", [DP_IDLE] = "kept alive, idle too long",
			[DP_BODY] = "request body too slow", [DP_WRITE] = "answer not read in time"};
		if (hc->dphase == DP_HEAD && hc->requests == 0)
			log_info("c%u no whole request within %u ms: closed", hc->link.id,
			         hc->srv->cfg->handshake_ms);
		decoy_close(hc, what[hc->dphase]);
		return;
	}
	log_info("c%u no whole request within %u ms: dropped", hc->link.id,
	         hc->srv->cfg->handshake_ms);
	head_conn_drop(hc, "handshake deadline");
}

/* Over --max-conns-per-ip: refused at once, logged at most every 10 s. */
static void server_refuse_peer(struct server *srv, const struct conn_peer *cp)
{
	uint64_t now = rx_now(&srv->rx);
	if (srv->perip_logged_ms && now - srv->perip_logged_ms < EMFILE_LOG_EVERY_MS)
		return;
	srv->perip_logged_ms = now;
	char a[NET_ADDR_STRLEN];
	log_warn("%s already holds %u connections (--max-conns-per-ip): refusing more",
	         conn_peer_str(cp, a, sizeof(a)), cp->count);
}

static void server_take(struct listener *l, int fd, const struct net_addr *peer)
{
	struct server *srv = l->srv;
	if (srv->stats)
		srv->stats->listener_conns[l - srv->listeners]++;
	struct head_conn *hc = calloc(1, sizeof(*hc));
	if (!hc) {
		close(fd); /* refuse the newcomer, serve on */
		return;
	}
	hc->srv = srv;
	hc->listener = l;
	stream_plain(&hc->s, fd);
	hc->addr = *peer;
	const struct server_config *cfg = srv->cfg;
	hc->pp_pending = srv_realip_cidr_any(cfg->proxy_protocol, cfg->nproxy_protocol, peer);
	/* A balancer's connections count under their clients, once known. */
	bool later = hc->pp_pending || behind_http_proxy(srv, peer);
	struct conn_peer *cp = later ? NULL : conn_peer_get(&srv->conns, peer);
	hc->counted = !later;
	if (cp && cp->count >= srv->cfg->max_conns_per_ip) {
		server_refuse_peer(srv, cp);
		free(hc);
		close(fd);
		return;
	}
	conn_list_add_as(&srv->conns, &hc->link, head_conn_destroy, srv->conns.next_id++, cp);
	hc->link.lingers = true; /* a drain lets a request head arrive (handshake deadline) */
	net_set_nodelay(fd);
	if ((l->tls && stream_tls_server(&hc->s, fd, srv->tls) < 0) ||
	    rx_io_add(&srv->rx, &hc->io, fd, head_conn_on_io) < 0) {
		hc->s.fd = -1;
		close(fd);
		head_conn_destroy(&hc->link);
		return;
	}
	rx_io_want(&srv->rx, &hc->io, stream_interest(&hc->s, RX_READ));
	hc->started_ms = rx_now(&srv->rx);
	rx_timer_arm(&srv->rx, &hc->deadline, hc->started_ms + srv->cfg->handshake_ms,
	             head_conn_on_deadline);
	if (log_level_now >= LOG_LEVEL_DEBUG) {
		char a[NET_ADDR_STRLEN];
		log_debug("c%u accepted from %s", hc->link.id, net_addr_str(peer, a, sizeof(a)));
	}
}

static void listener_resume(struct rx *rx, struct rx_timer *t)
{
	struct listener *l = (struct listener *)((char *)t - offsetof(struct listener, pause));
	rx_io_want(rx, &l->io, RX_READ);
}

/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * level-triggered listener whose backlog we cannot drain. */
static void listener_pause(struct listener *l, int err)
{
	struct server *srv = l->srv;
	uint64_t now = rx_now(&srv->rx);
	if (srv->emfile_logged_ms == 0 || now - srv->emfile_logged_ms >= EMFILE_LOG_EVERY_MS) {
		log_warn("%s: accept: %s (%zu connections open); pausing accepts", l->name,
		         strerror(-err), srv->conns.count);
		srv->emfile_logged_ms = now;
	}
	rx_io_want(&srv->rx, &l->io, 0);
	rx_timer_arm(&srv->rx, &l->pause, now + ACCEPT_PAUSE_MS, listener_resume);
}

static void listener_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct listener *l = (struct listener *)io;
	(void)rx;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct net_addr peer;
		int fd = net_accept(l->fd, &peer);
		if (fd >= 0) {
			server_take(l, fd, &peer);
			continue;
		}
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
			listener_pause(l, fd);
		else if (fd != -EAGAIN)
			log_debug("%s: accept: %s", l->name, strerror(-fd));
		return;
	}
}

/* Resolves a listen URL at startup (blocking is fine before serving). */
static int listen_addr(const struct url *u, struct net_addr *out)
{
	if (net_addr_from_ip(u->host, u->port, out) == 0)
		return 0;
	return dns_resolve_blocking(u->host, u->port, NULL, out, 1) == 1 ? 0 : -1;
}

static int fallback_addr(const char *hostport, struct net_addr *out)
{
	char host[URL_MAX_HOST + 1];
	struct url u = {.scheme = URL_WS};
	if (!hostport || tunnel_target_split(hostport, strlen(hostport), host, sizeof(host),
	                                     &u.port) < 0)
		return -1;
	snprintf(u.host, sizeof(u.host), "%s", host);
	return listen_addr(&u, out);
}

/* --fast-open: data in the SYN where the kernel allows; otherwise the
 * listener works as before and the log says what is missing. */
static void listener_fast_open(const struct listener *l)
{
	int rc = tfo_listen(l->fd);
	const char *off = rc == 0 ? tfo_blocked(true) : NULL;
	if (rc < 0)
		log_warn("%s: --fast-open: TCP Fast Open unavailable (%s): listening without it",
		         l->name, strerror(-rc));
	else if (off)
		log_warn("%s: --fast-open: %s; until then connections open without it", l->name, off);
	else
		log_info("%s: TCP Fast Open on", l->name);
}

static int server_listen(struct server *srv, const struct url *u)
{
	struct listener *l = &srv->listeners[srv->nlisteners];
	struct net_addr a;
	if (listen_addr(u, &a) < 0) {
		log_error("cannot resolve listen host %s", u->host);
		return -1;
	}
	char name[NET_ADDR_STRLEN];
	net_addr_str(&a, name, sizeof(name));
	int fd = net_listen(&a, 1024, srv->cfg->workers > 1); /* SO_REUSEPORT: one queue each */
	if (fd < 0) {
		log_error("cannot listen on %s: %s", name, strerror(-fd));
		return -1;
	}
	l->srv = srv;
	l->url = u;
	l->tls = u->scheme != URL_WS;
	l->fd = fd;
	snprintf(l->name, sizeof(l->name), "%s://%s", url_scheme_name(u->scheme), name);
	if (srv->cfg->fast_open)
		listener_fast_open(l);
	if (rx_io_add(&srv->rx, &l->io, fd, listener_on_io) < 0) {
		close(fd);
		return -1;
	}
	rx_io_want(&srv->rx, &l->io, RX_READ);
	srv->nlisteners++;
	log_info("listening on %s", l->name);
	return 0;
}

static void server_close_listeners(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];
		rx_timer_cancel(&srv->rx, &l->pause);
		rx_io_del(&srv->rx, &l->io);
		close(l->fd);
	}
	srv->nlisteners = 0;
}

/* SIGHUP: new connections get the certificate and key as they are on disk
 * now; open tunnels keep the one they started with. */
static void server_on_hup(struct rx *rx, int signo, void *arg)
{
	struct server *srv = arg;
	char err[TLS_ERRLEN];
	(void)rx;
	(void)signo;
	if (!srv->tls || !srv->cfg->cert) {
		log_info("SIGHUP: nothing to reload (no --cert)");
		return;
	}
	if (tls_server_cfg_reload(&srv->tls, srv->cfg->cert, srv->cfg->cert_key, err,
	                          sizeof(err)) < 0)
		log_error("SIGHUP: keeping the old certificate: %s", err);
	else
		log_info("SIGHUP: certificate and key reloaded from %s", srv->cfg->cert);
}

/* wss:// listeners need a certificate: the user's, or one made now. */
static int server_tls_setup(struct server *srv)
{
	const struct server_config *cfg = srv->cfg;
	char err[TLS_ERRLEN], fp[TLS_FP_HEX_LEN + 1];
	bool any = false;
	for (size_t i = 0; i < cfg->nlisten; i++)
		any |= cfg->listen[i].scheme != URL_WS;
	if (!any)
		return 0;
	int rc;
	if (cfg->cert) {
		rc = tls_server_cfg_load(&srv->tls, cfg->cert, cfg->cert_key, err, sizeof(err));
	} else {
		const char *names[SERVER_MAX_RULES + SERVER_MAX_LISTEN];
		size_t n = 0;
		for (size_t i = 0; i < cfg->nnames; i++)
			names[n++] = cfg->names[i];
		for (size_t i = 0; i < cfg->nlisten; i++)
			if (strcmp(cfg->listen[i].host, "0.0.0.0") && strcmp(cfg->listen[i].host, "::"))
				names[n++] = cfg->listen[i].host;
		rc = tls_server_cfg_selfsigned(&srv->tls, names, n, 3650, err, sizeof(err));
	}
	if (rc < 0) {
		log_error("TLS: %s", err);
		return -1;
	}
	tls_server_cfg_fingerprint(srv->tls, fp);
	log_info("TLS certificate %s, SHA-256 fingerprint (for --pin): %s",
	         cfg->cert ? cfg->cert : "self-signed, made at start", fp);
	return 0;
}

static void server_stop_now(struct server *srv)
{
	srv->stopping = true;
	scrape_stop(srv->scrape);
	srv->scrape = NULL;
	rx_timer_cancel(&srv->rx, &srv->drain);
	server_close_listeners(srv);
	conn_list_destroy_all(&srv->conns);
	rx_stop(&srv->rx);
}

#define DRAIN_TICK_MS 100
#define DRAIN_CLOSE_MS 6000 /* after the Close 1001: relay.c's close deadline + 1 s */

/* The drain ends when the last connection has gone, or at its deadline. */
static void server_on_drain_tick(struct rx *rx, struct rx_timer *t)
{
	struct server *srv = (struct server *)((char *)t - offsetof(struct server, drain));
	uint64_t now = rx_now(rx);
	conn_list_shed(&srv->conns); /* what stopped lingering since (an idle decoy) */
	if (srv->conns.count == 0) {
		log_info("drained: stopping");
		server_stop_now(srv);
		return;
	}
	if (now >= srv->drain_end_ms && !srv->went_away) {
		log_info("drain timeout: closing %zu connections (WebSocket close 1001)",
		         srv->conns.count);
		srv->went_away = true;
		srv->drain_end_ms = now + DRAIN_CLOSE_MS;
		conn_list_going_away_all(&srv->conns);
	} else if (now >= srv->drain_end_ms) {
		log_info("%zu connections did not close in time: stopping", srv->conns.count);
		server_stop_now(srv);
		return;
	}
	rx_timer_arm(rx, t, now + DRAIN_TICK_MS, server_on_drain_tick);
}

/* SIGTERM drains (--drain-timeout): the listeners close at once, so a load
 * balancer sends new connections elsewhere; tunnels may finish; everything
 * else (-R registrations, subscribers, echo) closes now, so its clients
 * reconnect to another node. SIGINT, a second SIGTERM or --drain-timeout 0
 * stop at once. */
static void server_on_signal(struct rx *rx, int signo, void *arg)
{
	struct server *srv = arg;
	const char *name = signo == SIGTERM ? "SIGTERM" : "SIGINT";
	if (signo != SIGTERM || srv->draining || srv->cfg->drain_ms == 0) {
		log_info("%s: stopping", name);
		server_stop_now(srv);
		return;
	}
	srv->draining = true;
	if (srv->metrics)
		srv_metrics_set_draining(srv->metrics); /* /health: 503 from now on */
	server_close_listeners(srv);
	conn_list_shed(&srv->conns);
	log_info("%s: draining %zu connections for up to %u ms (--drain-timeout; a second "
	         "SIGTERM stops at once)", name, srv->conns.count, srv->cfg->drain_ms);
	uint64_t now = rx_now(rx);
	srv->drain_end_ms = now + srv->cfg->drain_ms;
	rx_timer_arm(rx, &srv->drain, now, server_on_drain_tick);
}

/* What every worker shares, made once before they fork: the certificate
 * (a self-signed one must be the same everywhere), the fallback address and,
 * with --workers, the nonce table in shared memory. */
struct server_shared {
	struct tls_server_cfg *tls;
	struct net_addr fallback;
	struct replay_shm *replay; /* NULL: one process, its own growing table */
	struct users *users;       /* --controller: the users every worker sees */
	struct srv_metrics *metrics; /* --metrics: the counters of every worker */
	int metrics_fd;            /* --metrics: the listener every worker serves */
};

/* --metrics: the counters' shared mapping and the one listener, before the
 * fork (a worker restarted later serves the same socket). */
static int metrics_prepare(const struct server_config *cfg, struct server_shared *sh)
{
	char name[NET_ADDR_STRLEN];
	net_addr_str(&cfg->metrics_addr, name, sizeof(name));
	if (!(sh->metrics = srv_metrics_new(cfg->workers > 1 ? cfg->workers : 1))) {
		log_error("cannot map the metrics counters");
		return -1;
	}
	sh->metrics_fd = scrape_listen(&cfg->metrics_addr);
	if (sh->metrics_fd < 0) {
		log_error("cannot listen on %s for --metrics: %s", name, strerror(-sh->metrics_fd));
		return -1;
	}
	log_info("metrics at http://%s/metrics, health at http://%s/health", name, name);
	if (!net_addr_is_loopback(&cfg->metrics_addr))
		log_warn("--metrics %s is not a loopback address: anyone who reaches it reads the "
		         "counters", name);
	return 0;
}

static int server_prepare(const struct server_config *cfg, struct server_shared *sh)
{
	struct server probe = {.cfg = cfg};
	if (server_tls_setup(&probe) < 0)
		return -1;
	sh->tls = probe.tls;
	if (cfg->stealth == STEALTH_FALLBACK && fallback_addr(cfg->fallback, &sh->fallback) < 0) {
		log_error("cannot resolve --fallback %s", cfg->fallback);
		return -1;
	}
	/* Workers bind their own sockets; find a busy port here, once, instead
	 * of in a crash loop. */
	for (size_t i = 0; cfg->workers > 1 && i < cfg->nlisten; i++) {
		struct net_addr a;
		int fd = listen_addr(&cfg->listen[i], &a) < 0 ? -EINVAL : net_listen(&a, 1, true);
		if (fd < 0) {
			log_error("cannot listen on %s:%u: %s", cfg->listen[i].host, cfg->listen[i].port,
			          strerror(-fd));
			return -1;
		}
		close(fd);
	}
	if (cfg->workers > 1 && !(sh->replay = replay_shm_new(SERVER_REPLAY_SHARED))) {
		log_error("cannot map the shared nonce table");
		return -1;
	}
	if (cfg->controller && !(sh->users = users_new())) {
		log_error("cannot map the user table");
		return -1;
	}
	return cfg->metrics_on ? metrics_prepare(cfg, sh) : 0;
}

static void server_release(struct server_shared *sh)
{
	if (sh->tls)
		tls_server_cfg_unref(sh->tls);
	if (sh->replay)
		replay_shm_free(sh->replay, SERVER_REPLAY_SHARED);
	users_free(sh->users);
	if (sh->metrics_fd >= 0)
		close(sh->metrics_fd);
	srv_metrics_free(sh->metrics);
}

static void unblock_stop_signals(void)
{
	sigset_t stops;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &stops, NULL);
}

/* --metrics: the numbers of every worker; /health follows the drain. */
static void metrics_render(void *arg, struct prom_out *o)
{
	struct server *srv = arg;
	srv_metrics_render(srv->metrics, srv->cfg, o);
}

static bool metrics_draining(void *arg)
{
	return srv_metrics_draining(((struct server *)arg)->metrics);
}

static const struct scrape_ops metrics_ops = {metrics_render, metrics_draining};

/* One reactor serving every listener (a worker, the only process, or an
 * instance of the library): NULL after logging why. index: the worker's
 * slot of --metrics counters. */
static struct server *server_open(const struct server_config *cfg,
                                  const struct server_shared *sh, unsigned index)
{
	struct server *srv = calloc(1, sizeof(*srv));
	if (!srv || rx_init(&srv->rx) < 0) {
		log_error("cannot start the event loop");
		free(srv);
		return NULL;
	}
	srv->cfg = cfg;
	srv->tls = sh->tls ? tls_server_cfg_ref(sh->tls) : NULL;
	srv->fallback = sh->fallback;
	srv->replay_shm = sh->replay;
	srv->users = sh->users;
	conn_list_init(&srv->conns);
	if (sh->metrics) {
		srv->metrics = sh->metrics;
		srv->stats = srv->conns.stats = srv_metrics_slot(sh->metrics, index);
	}
	int rc = 0;
	struct replay_slot *slots = sh->replay ? NULL : calloc(SERVER_REPLAY_MIN, sizeof(*slots));
	if (slots)
		replay_init(&srv->replay, slots, SERVER_REPLAY_MIN);
	else if (!sh->replay)
		rc = -1;
	struct dns_config dcfg = {.servers = cfg->dns};
	if (rc == 0 && dns_init(&srv->dns, &srv->rx, &dcfg) < 0) {
		log_error("cannot set up the resolver%s", cfg->dns ? " (bad --dns)" : "");
		free(slots);
		rc = -1;
		srv->replay.slots = NULL;
	} else if (rc == 0) {
		srv->dns_up = true;
		if (cfg->push.path && !(srv->push = push_start(&srv->rx, &cfg->push, &cfg->relay, cfg->dns)))
			rc = -1;
		if (!(srv->channels = channels_new(&srv->rx, &srv->conns, cfg)) ||
		    !(srv->routes = routes_new(&srv->rx, &srv->conns, cfg)))
			rc = -1;
		char err[256];
		if (rc == 0 && cfg->replay_store &&
		    !(srv->store = replay_store_open(&srv->rx, cfg->replay_store, cfg->dns, err,
		                                     sizeof(err)))) {
			log_error("%s", err[0] ? err : "--replay-store: built without Redis");
			rc = -1;
		}
		if (rc == 0 && cfg->controller &&
		    !(srv->ctl = controller_start(&srv->rx, &srv->conns, cfg, srv->users)))
			rc = -1;
		for (size_t i = 0; i < cfg->nlisten && rc == 0; i++)
			rc = server_listen(srv, &cfg->listen[i]);
		if (rc == 0 && sh->metrics &&
		    !(srv->scrape = scrape_start(&srv->rx, sh->metrics_fd, &metrics_ops, srv))) {
			log_error("cannot serve --metrics (out of memory)");
			rc = -1;
		}
	}
	if (rc < 0) {
		server_close(srv);
		return NULL;
	}
	return srv;
}

void server_close(struct server *srv)
{
	if (srv->dns_up) {
		rx_timer_cancel(&srv->rx, &srv->drain);
		scrape_stop(srv->scrape);
		server_close_listeners(srv);
		conn_list_destroy_all(&srv->conns);
		replay_store_close(srv->store);
		controller_stop(srv->ctl);
		push_stop(srv->push);
		channels_free(srv->channels);
		routes_free(srv->routes);
		dns_free(&srv->dns);
	}
	if (srv->tls)
		tls_server_cfg_unref(srv->tls);
	rx_free(&srv->rx);
	free(srv->replay.slots);
	free(srv);
	buf_pool_drain();
	splice_pool_drain();
}

static int server_worker_run(const struct server_config *cfg, const struct server_shared *sh,
                             unsigned index)
{
	struct server *srv = server_open(cfg, sh, index);
	if (!srv)
		return 1;
	int rc = 0;
	signal(SIGPIPE, SIG_IGN);
	rx_signal(&srv->rx, SIGTERM, server_on_signal, srv);
	rx_signal(&srv->rx, SIGINT, server_on_signal, srv);
	rx_signal(&srv->rx, SIGHUP, server_on_hup, srv);
	unblock_stop_signals(); /* a worker's, blocked since fork (workers.c) */
	if (rx_run(&srv->rx) < 0) {
		log_error("event loop failed");
		rc = -1;
	}
	server_close(srv);
	return rc == 0 ? 0 : 1;
}

struct server *server_new(const struct server_config *cfg)
{
	struct server_shared sh = {.metrics_fd = -1};
	struct server *srv = NULL;
	if (server_prepare(cfg, &sh) == 0)
		srv = server_open(cfg, &sh, 0);
	server_release(&sh); /* srv holds its own reference to the certificate */
	return srv;
}

struct rx *server_rx(struct server *srv)
{
	return &srv->rx;
}

struct conn_list *server_conns(struct server *srv)
{
	return &srv->conns;
}

void server_stop(struct server *srv)
{
	server_stop_now(srv);
}

int server_main(const struct server_config *cfg, server_ready_fn ready)
{
	struct server_shared sh = {.metrics_fd = -1};
	int rc = 1;
	if (server_prepare(cfg, &sh) == 0) {
		char fp[TLS_FP_HEX_LEN + 1];
		if (sh.tls)
			tls_server_cfg_fingerprint(sh.tls, fp);
		ready(cfg, sh.tls ? fp : NULL);
		rc = cfg->workers > 1 ? server_supervise(cfg, &sh, server_worker_run)
		                       : server_worker_run(cfg, &sh, 0);
	}
	server_release(&sh);
	return rc;
}
