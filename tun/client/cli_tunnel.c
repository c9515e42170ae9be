/* cli_tunnel.c — one tunnel from the client to the server: the connection
 * (direct or through --proxy), TLS for wss://, the upgrade request with the
 * target in its cookie, then the relay (with early bytes behind the upgrade,
 * or held until the server proved the key). Never listens, never answers a
 * local client: that is its caller's (front.c, client.c, cli_reverse.c). */
#include "tun/client/cli_tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/ws.h"
#include "tun/client/upstream.h"
#include "tun/mux/mux_client.h"

#define UPGRADE_MAX 2048

size_t client_upgrade(struct client *c, enum tunnel_kind kind, const char *target, char *out,
                      size_t cap, struct tunnel_expect *expect)
{
	struct tunnel_req req = {.kind = (uint8_t)kind, .timestamp = (uint64_t)time(NULL)};
	uint8_t nonce[16];
	char cookie[TUNNEL_COOKIE_MAX + 16], extra[TUNNEL_COOKIE_MAX + 32];
	const struct auth_keys *keys = c->cfg->keys;
	/* --encrypt seals every tunnel that carries data (relay.c, dgram.c); on a
	 * registration (-R, channel, exit, route) the flag says its accepts will
	 * be sealed, so a server that requires it refuses at once, and the
	 * registration channel itself, which carries only connection numbers,
	 * stays plain (wsferry(1)). The server seals each leg of a join as its
	 * own client asked. */
	if (c->cfg->encrypt)
		req.flags |= TUNNEL_FLAG_ENCRYPT;
	if (kind == TUNNEL_MUX)
		req.flags |= TUNNEL_FLAG_MUX_BIG; /* our carriers parse them (mux_client.c) */
	req.target_len = strlen(target);
	if (req.target_len > tunnel_target_max((uint8_t)kind))
		return 0;
	memcpy(req.target, target, req.target_len);
	if (rand_bytes(req.nonce, sizeof(req.nonce)) < 0 || rand_bytes(nonce, sizeof(nonce)) < 0)
		return 0;
	ws_make_key(nonce, expect->key);
	expect->keys = keys;
	memcpy(expect->nonce, req.nonce, sizeof(expect->nonce));
	if (tunnel_req_encode(&req, keys, cookie, sizeof(cookie)) == 0)
		return 0;
	snprintf(extra, sizeof(extra), "Cookie: %s\r\n", cookie);
	return ws_client_request(out, cap, c->host_header, c->cfg->server.path, expect->key, extra);
}

/* What a tunnel needs while its connection to the server is being made. */
struct tunnel_start {
	struct conn_link link;
	struct client *client;
	int local_fd;
	enum tunnel_kind kind;
	relay_open_fn on_open;
	void *owner;
	struct buf early;
	struct relay_filter *filter;
	char target[TUNNEL_MAX_WIRE_TARGET + 1];
};

static void tunnel_start_free(struct tunnel_start *ts)
{
	relay_filter_free(ts->filter);
	if (ts->local_fd >= 0)
		close(ts->local_fd);
	buf_free(&ts->early);
	conn_list_remove(&ts->client->conns, &ts->link);
	free(ts);
}

static void tunnel_start_destroy(struct conn_link *link)
{
	tunnel_start_free((struct tunnel_start *)link);
}

#define LIMIT_RECENT_MS 60000  /* "others work": one opened this recently */
#define LIMIT_LOG_EVERY_MS 10000

/* A silent close from a server that serves this client otherwise is most
 * likely its per-address limit (each tunnel is one connection), not the
 * wrong key or path the generic message suggests: say so, at most every
 * 10 s (SPEC "the client says what probably went wrong"). */
static void tunnel_note(struct client *c, unsigned id, enum tunnel_err err)
{
	uint64_t now = rx_now(&c->rx);
	if (err == TUNNEL_OK) {
		c->last_ok_ms = now ? now : 1;
		return;
	}
	if ((err != TUNNEL_ERR_SERVER_SILENT && err != TUNNEL_ERR_SERVER_DOWN) || !c->last_ok_ms)
		return;
	/* This tunnel's own connection is still in the list: > 1 means others. */
	if (now - c->last_ok_ms >= LIMIT_RECENT_MS && c->conns.count <= 1)
		return;
	if (c->limit_logged_ms && now - c->limit_logged_ms < LIMIT_LOG_EVERY_MS) {
		c->limit_quiet++;
		return;
	}
	log_warn("c%u the server closed this tunnel without answering while others to it work "
	         "(%zu connections open from here, the last tunnel opened %llu s ago): most "
	         "likely its --max-conns-per-ip limit for this address (default 2000; its log "
	         "says \"already holds\"), see wsferry(1) on sizing it%s",
	         id, c->conns.count - 1, (unsigned long long)((now - c->last_ok_ms) / 1000),
	         c->limit_quiet ? " (more refusals since the last such line)" : "");
	c->limit_logged_ms = now;
	c->limit_quiet = 0;
}

/* Sits between the relay and the tunnel's owner for the one on_open call;
 * listed in the client so that a stop (which destroys relays without that
 * call) frees it too. */
struct open_watch {
	struct open_watch *prev, *next;
	struct client *client;
	relay_open_fn on_open;
	void *owner;
	unsigned id;
};

static void watch_unlink(struct open_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->client->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static struct open_watch *watch_new(struct client *c, relay_open_fn on_open, void *owner,
                                    unsigned id)
{
	struct open_watch *w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	*w = (struct open_watch){NULL, c->watches, c, on_open, owner, id};
	if (c->watches)
		c->watches->prev = w;
	c->watches = w;
	return w;
}

static void tunnel_opened(void *arg, int tcp_fd, enum tunnel_err err)
{
	struct open_watch w = *(struct open_watch *)arg;
	watch_unlink(arg);
	free(arg);
	tunnel_note(w.client, w.id, err);
	w.on_open(w.owner, tcp_fd, err);
}

void client_tunnels_free(struct client *c)
{
	while (c->watches) {
		struct open_watch *w = c->watches;
		watch_unlink(w);
		free(w);
	}
}

static void tunnel_begin(void *arg, int ws_fd, enum tunnel_err err)
{
	struct tunnel_start *ts = arg;
	struct client *c = ts->client;
	char req[UPGRADE_MAX];
	struct tunnel_expect expect;
	size_t n = ws_fd >= 0 ? client_upgrade(c, ts->kind, ts->target, req, sizeof(req), &expect) : 0;
	if (n == 0) {
		if (ws_fd >= 0)
			close(ws_fd);
		err = err == TUNNEL_OK ? TUNNEL_ERR_GENERAL : err;
		if (c->conns.stats) /* --metrics: the server was not reached (a refusal: relay.c) */
			c->conns.stats->dial_failed[(unsigned)err < STATS_ERR_N ? err : TUNNEL_ERR_GENERAL]++;
		ts->on_open(ts->owner, ts->local_fd, err);
		tunnel_start_free(ts);
		return;
	}
	net_set_nodelay(ws_fd);
	log_debug("c%u tunnel to %s", ts->link.id, ts->target);
	struct stream ws;
	if (client_stream(c, ws_fd, &ws) < 0) {
		ts->on_open(ts->owner, ts->local_fd, TUNNEL_ERR_GENERAL);
		tunnel_start_free(ts);
		return;
	}
	struct open_watch *watch = watch_new(c, ts->on_open, ts->owner, ts->link.id);
	if (!watch) {
		stream_close(&ws);
		ts->on_open(ts->owner, ts->local_fd, TUNNEL_ERR_GENERAL);
		tunnel_start_free(ts);
		return;
	}
	int local_fd = ts->local_fd;
	ts->local_fd = -1;
	struct relay_args a = {.id = ts->link.id, .tcp_fd = local_fd,
	                       .role = WS_ROLE_CLIENT, .tcp_in = &ts->early, .preamble = req,
	                       .preamble_len = n, .expect = &expect, .on_open = tunnel_opened,
	                       .owner = watch, .filter = ts->filter};
	/* -L, -D, channel opens: the local socket is the client; -R, route and
	 * channel accepts: it is the target the client dialled. */
	bool local_is_client = ts->kind == TUNNEL_CONNECT || ts->kind == TUNNEL_CHANNEL_OPEN;
	a.count = local_is_client ? RELAY_COUNT_TCP_CLIENT : RELAY_COUNT_TCP_TARGET;
	ts->filter = NULL;
	a.ws = ws;
	a.raw = c->cfg->server.scheme == URL_TLS;
	a.hold_early = c->hold_early;
	if (c->cfg->encrypt) { /* as the request said */
		a.seal_base = c->cfg->keys->payload;
		a.seal_nonce = expect.nonce;
	}
	if (relay_start(&c->rx, &c->conns, &c->cfg->relay, &a) < 0) {
		watch_unlink(watch); /* on_open is not called then */
		free(watch);
	}
	tunnel_start_free(ts);
}

int client_stream(struct client *c, int fd, struct stream *out)
{
	if (!c->use_tls) {
		stream_plain(out, fd);
		return 0;
	}
	const char *sni = c->cfg->sni ? c->cfg->sni : c->cfg->server.host;
	if (stream_tls_client(out, fd, &c->tls, sni) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

void client_connect_server(struct client *c, upstream_fn done, void *owner)
{
	if (c->cfg->proxy_host) {
		upstream_open(c, done, owner);
		return;
	}
	int fd = upstream_dial(c, &c->server[0]);
	done(owner, fd, fd >= 0 ? TUNNEL_OK : TUNNEL_ERR_SERVER_DOWN);
}

void client_open_tunnel(struct client *c, int local_fd, unsigned id, enum tunnel_kind kind,
                        const char *target, struct buf *early, relay_open_fn on_open,
                        void *owner, struct relay_filter *filter)
{
	if (c->mux && kind == TUNNEL_CONNECT && !filter) /* --mux: a stream of a carrier */
		return mux_pool_open(c->mux, local_fd, id, target, early, on_open, owner);
	if (kind == TUNNEL_CONNECT && c->pool_take &&
	    c->pool_take(c, local_fd, id, target, early, on_open, owner, filter))
		return; /* on a warm connection (--pool) */
	struct tunnel_start *ts = calloc(1, sizeof(*ts));
	if (!ts || strlen(target) > tunnel_target_max((uint8_t)kind)) {
		free(ts);
		relay_filter_free(filter);
		on_open(owner, local_fd, TUNNEL_ERR_GENERAL);
		close(local_fd);
		if (early)
			buf_free(early);
		return;
	}
	ts->client = c;
	ts->local_fd = local_fd;
	ts->kind = kind;
	ts->on_open = on_open;
	ts->owner = owner;
	ts->filter = filter;
	strcpy(ts->target, target);
	if (early) {
		ts->early = *early;
		*early = (struct buf){0};
	}
	conn_list_add(&c->conns, &ts->link, tunnel_start_destroy);
	ts->link.id = id;
	client_connect_server(c, tunnel_begin, ts);
}
