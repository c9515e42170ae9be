/* srv_tunnel.c — the server end of a tunnel request: dial the target named
 * in the upgrade's cookie first, answer 101 only once connected (or the HTTP
 * status of the failure), then hand both sockets to the relay (TCP) or to a
 * datagram flow (UDP: a connected UDP socket, one message per datagram).
 * Frames the client pipelined behind its request wait in the buffer
 * meanwhile; a client that leaves during the dial cancels it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/pool.h"
#include "proto/url.h"
#include "proto/ws.h"
#include "tun/dgram.h"
#include "tun/dial.h"
#include "tun/relay.h"
#include "tun/server/srv_tunnel.h"

#define RESP_101_MAX 256

struct srv_tunnel {
	struct conn_link link;
	struct server *srv;
	struct dial dial;
	struct rx_io io;        /* the client's connection, watched while dialling */
	struct stream client;   /* the tunnel client's connection */
	bool sealed;            /* --encrypt */
	bool raw;               /* tls:// */
	bool udp;               /* TUNNEL_UDP */
	bool pooled;            /* --pool: answered by proto/pool.h's message, not HTTP */
	struct buf in;          /* pipelined frames behind the head */
	size_t resp_len;
	char resp[RESP_101_MAX];
	char target[TUNNEL_MAX_TARGET + 1];
	char ws_key[WS_KEY_LEN + 1];    /* for the refusal's Sec-WebSocket-Accept */
	uint8_t nonce[TUNNEL_NONCE_LEN];
};

static void srv_tunnel_free(struct srv_tunnel *t)
{
	rx_io_del(&t->srv->rx, &t->io);
	conn_list_remove(&t->srv->conns, &t->link);
	buf_free(&t->in);
	free(t);
}

static void srv_tunnel_destroy(struct conn_link *link)
{
	struct srv_tunnel *t = (struct srv_tunnel *)link;
	dial_cancel(&t->dial);
	rx_io_del(&t->srv->rx, &t->io);
	stream_close(&t->client);
	srv_tunnel_free(t);
}

/* A pooled connection's answer (proto/pool.h): one unmasked binary message,
 * or the bare bytes on tls://. Its length. */
static size_t pool_answer_frame(const struct srv_tunnel *t, int status, char *out)
{
	uint8_t *o = (uint8_t *)out;
	size_t hn = t->raw ? 0 : ws_frame_header(o, WS_OP_BINARY, true, POOL_ANSWER_LEN, NULL);
	pool_answer_encode(t->srv->cfg->keys, t->nonce, status, o + hn);
	return hn + POOL_ANSWER_LEN;
}

/* The client turns this status back into the SOCKS / HTTP reply. */
static void srv_tunnel_refuse(struct srv_tunnel *t, enum tunnel_err err)
{
	char resp[RESP_101_MAX];
	size_t n = t->pooled ? pool_answer_frame(t, tunnel_err_status(err), resp)
	                     : tunnel_refusal(err, t->ws_key, strlen(t->ws_key), t->srv->cfg->keys,
	                                      t->nonce, resp, sizeof(resp));
	log_info("c%u %s: %s", t->link.id, t->target[0] ? t->target : "(no destination named)",
	         tunnel_err_text(err));
	struct tun_stats *st = t->srv->stats;
	if (st) {
		st->dial_failed[(unsigned)err < STATS_ERR_N ? err : TUNNEL_ERR_GENERAL]++;
		st->ws_failed++;
	}
	rx_io_del(&t->srv->rx, &t->io);
	stream_reply_and_close(&t->client, resp, n);
	srv_tunnel_free(t);
}

static void udp_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	(void)err;
	log_debug("c%u udp flow closed (%s): %llu datagrams up, %llu down, %llu dropped",
	          d->link.id, why, (unsigned long long)d->down, (unsigned long long)d->up,
	          (unsigned long long)d->dropped);
}

static const struct dgram_ops udp_ops = {NULL, udp_on_close};

/* UDP: the flow lives as long as its WebSocket; the client, which sees the
 * same datagrams, ends it when idle. Always framed, tls:// included. */
static void srv_udp_start(struct srv_tunnel *t, int fd)
{
	struct server *srv = t->srv;
	struct dgram_opts o = {.keepalive_ms = srv->cfg->relay.keepalive_ms,
	                       .pong_timeout_ms = srv->cfg->relay.pong_timeout_ms,
	                       .idle_ms = srv->cfg->relay.idle_ms};
	struct dgram *d = dgram_new(&srv->rx, &srv->conns, t->link.id, WS_ROLE_SERVER, &o, &udp_ops,
	                            NULL);
	if (!d) {
		close(fd);
		srv_tunnel_refuse(t, TUNNEL_ERR_GENERAL);
		return;
	}
	log_debug("c%u udp flow to %s", t->link.id, t->target);
	if (srv->stats)
		srv->stats->ws_ok++; /* its 101 goes out now (a TCP tunnel's: relay.c) */
	dgram_own_socket(d, fd);
	if (t->sealed && dgram_seal(d, srv->cfg->keys->payload, t->nonce) < 0) {
		dgram_fail(d, TUNNEL_ERR_GENERAL);
		srv_tunnel_refuse(t, TUNNEL_ERR_GENERAL);
		return;
	}
	struct stream client = t->client;
	struct buf in = t->in;
	t->in = (struct buf){0};
	char resp[RESP_101_MAX];
	size_t resp_len = t->resp_len;
	memcpy(resp, t->resp, resp_len);
	srv_tunnel_free(t);
	dgram_attach(d, &client, resp, resp_len, &in, NULL, false);
}

static void srv_tunnel_dialled(struct dial *d, int fd, enum tunnel_err err)
{
	struct srv_tunnel *t = (struct srv_tunnel *)((char *)d - offsetof(struct srv_tunnel, dial));
	if (fd < 0) {
		srv_tunnel_refuse(t, err);
		return;
	}
	if (t->udp)
		return srv_udp_start(t, fd);
	net_set_nodelay(fd);
	log_debug("c%u connected to %s", t->link.id, t->target);
	struct server *srv = t->srv;
	unsigned id = t->link.id;
	struct conn_peer *peer = t->link.peer;
	if (peer)
		peer->count++; /* held across the free below, released after relay_start */
	struct stream client = t->client;
	bool raw = t->raw;
	struct buf in = t->in;
	t->in = (struct buf){0};
	char resp[RESP_101_MAX];
	size_t resp_len = t->resp_len;
	memcpy(resp, t->resp, resp_len);
	bool sealed = t->sealed;
	uint8_t nonce[TUNNEL_NONCE_LEN];
	memcpy(nonce, t->nonce, sizeof(nonce));
	srv_tunnel_free(t);
	struct relay_args a = {.id = id, .tcp_fd = fd, .ws = client, .role = WS_ROLE_SERVER,
	                       .ws_in = &in, .preamble = resp, .preamble_len = resp_len,
	                       .peer = peer, .raw = raw, .count = RELAY_COUNT_TCP_TARGET};
	if (sealed) {
		a.seal_base = srv->cfg->keys->payload;
		a.seal_nonce = nonce;
	}
	relay_start(&srv->rx, &srv->conns, &srv->cfg->relay, &a);
	if (peer)
		conn_peer_put(&srv->conns, peer);
}

size_t server_101_keyed(const struct auth_keys *keys, const struct tunnel_req *req,
                        const char *key, size_t key_len, char *out, size_t cap)
{
	char proof[128];
	tunnel_proof_header(keys, req->nonce, 101, proof, sizeof(proof));
	return ws_response_101(out, cap, key, key_len, proof);
}

size_t server_101(const struct server *srv, const struct tunnel_req *req, const char *key,
                  size_t key_len, char *out, size_t cap)
{
	return server_101_keyed(srv->cfg->keys, req, key, key_len, out, cap);
}

/* 0 while the client is there, -1 once it left (EOF, close_notify, reset).
 * What it pipelines is kept for the relay, up to one buffer. */
static int srv_tunnel_read(struct srv_tunnel *t, unsigned events)
{
	if (stream_pump(&t->client, events) < 0)
		return -1;
	for (int i = 0; i < 16; i++) {
		if (buf_alloc(&t->in) < 0 || buf_room(&t->in) == 0)
			return 0; /* full: the relay takes the rest */
		long n = stream_read(&t->client, buf_tail(&t->in), buf_room(&t->in));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		buf_produced(&t->in, (size_t)n);
	}
	return 0;
}

/* Watching the client during the dial: one that leaves (its local client
 * gone, say) cancels the dial instead of holding both sockets until the
 * dial ends, which may take the whole connect timeout. */
static void srv_tunnel_on_client(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct srv_tunnel *t = (struct srv_tunnel *)((char *)io - offsetof(struct srv_tunnel, io));
	if (srv_tunnel_read(t, events) < 0) {
		log_debug("c%u the client left while %s was dialled", t->link.id, t->target);
		srv_tunnel_destroy(&t->link);
		return;
	}
	rx_io_want(rx, &t->io, stream_interest(&t->client, buf_room(&t->in) ? RX_READ : 0));
}

static bool same_target(const char *a, const char *b)
{
	char ha[URL_MAX_HOST + 1], hb[URL_MAX_HOST + 1];
	uint16_t pa, pb;
	return tunnel_target_split(a, strlen(a), ha, sizeof(ha), &pa) == 0 &&
	       tunnel_target_split(b, strlen(b), hb, sizeof(hb), &pb) == 0 && pa == pb &&
	       strcasecmp(ha, hb) == 0;
}

/* --to: the destination is the server's. A request that names none gets
 * it; one naming another is refused (sending it elsewhere silently would
 * hand a -D user's bytes to a host he did not ask for). Without --to a
 * request must name one. t->target becomes what is dialled. */
static enum tunnel_err fixed_target(unsigned id, const struct tunnel_req *req, const char *to,
                                    char target[TUNNEL_MAX_TARGET + 1])
{
	if (!to) {
		if (req->target_len == 0)
			log_info("c%u tunnel names no destination and this server has no --to: refused",
			         id);
		return req->target_len ? TUNNEL_OK : TUNNEL_ERR_BAD_TARGET;
	}
	if (req->target_len && !same_target(req->target, to)) {
		log_info("c%u tunnel to %s refused: this server sends every tunnel to --to %s",
		         id, req->target, to);
		return TUNNEL_ERR_FORBIDDEN;
	}
	snprintf(target, TUNNEL_MAX_TARGET + 1, "%s", to);
	return TUNNEL_OK;
}

enum tunnel_err srv_tunnel_target(const struct server *srv, unsigned id,
                                  const struct tunnel_req *req,
                                  char target[TUNNEL_MAX_TARGET + 1], char *host,
                                  size_t host_cap, uint16_t *port)
{
	memcpy(target, req->target, req->target_len + 1);
	enum tunnel_err err = fixed_target(id, req, srv->cfg->to, target);
	if (err != TUNNEL_OK)
		return err;
	if (tunnel_target_split(target, strlen(target), host, host_cap, port) < 0)
		return TUNNEL_ERR_BAD_TARGET;
	return dial_target_permitted(srv->cfg->restrict_to, srv->cfg->nrestrict, host, *port)
	               ? TUNNEL_OK
	               : TUNNEL_ERR_FORBIDDEN;
}

static int tunnel_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                         const char *key, size_t key_len, bool pooled)
{
	struct srv_tunnel *t = calloc(1, sizeof(*t));
	if (!t) {
		stream_close(&h->s);
		return -1;
	}
	t->srv = srv;
	t->client = h->s;
	t->raw = h->raw;
	t->udp = req->kind == TUNNEL_UDP;
	t->pooled = pooled;
	memcpy(t->nonce, req->nonce, sizeof(t->nonce));
	t->resp_len = pooled ? pool_answer_frame(t, POOL_STATUS_OPEN, t->resp)
	                     : server_101_keyed(h->keys ? h->keys : srv->cfg->keys, req, key,
	                                        key_len, t->resp, sizeof(t->resp));
	conn_list_add_as(&srv->conns, &t->link, srv_tunnel_destroy, h->id, h->peer);
	t->link.lingers = true; /* dialling: becomes a tunnel that may finish */
	memcpy(t->target, req->target, req->target_len + 1);
	snprintf(t->ws_key, sizeof(t->ws_key), "%.*s", (int)(key_len < WS_KEY_LEN ? key_len : WS_KEY_LEN),
	         key);
	t->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&t->in, h->head_len);
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	enum tunnel_err err = t->resp_len ? fixed_target(t->link.id, req, h->to ? h->to : srv->cfg->to,
	                                                 t->target)
	                                  : TUNNEL_ERR_BAD_TARGET;
	if (err == TUNNEL_OK)
		err = server_seal_check(srv->cfg, h, req);
	t->sealed = req->flags & TUNNEL_FLAG_ENCRYPT;
	if (err == TUNNEL_OK &&
	    tunnel_target_split(t->target, strlen(t->target), host, sizeof(host), &port) < 0)
		err = TUNNEL_ERR_BAD_TARGET;
	if (err != TUNNEL_OK) {
		srv_tunnel_refuse(t, err);
		return -1;
	}
	if (!dial_target_permitted(srv->cfg->restrict_to, srv->cfg->nrestrict, host, port)) {
		srv_tunnel_refuse(t, TUNNEL_ERR_FORBIDDEN);
		return -1;
	}
	if (srv->cfg->nallow) {
		t->dial.allow = srv->cfg->allow;
		t->dial.nallow = srv->cfg->nallow;
	}
	t->dial.stats = srv->stats;
	log_debug("c%u tunnel to %s", t->link.id, t->target);
	if (rx_io_add(&srv->rx, &t->io, t->client.fd, srv_tunnel_on_client) == 0)
		rx_io_want(&srv->rx, &t->io, stream_interest(&t->client, RX_READ));
	t->dial.udp = t->udp;
	dial_start(&t->dial, &srv->rx, &srv->dns, host, port, srv->cfg->connect_timeout_ms,
	           srv_tunnel_dialled);
	return 0;
}

int srv_tunnel_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len)
{
	return tunnel_accept(srv, h, req, key, key_len, false);
}

int srv_tunnel_accept_pooled(struct server *srv, struct handoff *h, const struct tunnel_req *req)
{
	return tunnel_accept(srv, h, req, "", 0, true);
}
