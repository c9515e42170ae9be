/* mux_server.c — the server end of --mux: each OPEN is admitted (key,
 * freshness, replay, --to, --restrict-to: the server's admit function),
 * dialled like a tunnel, and answered with a REPLY carrying the outcome
 * the client turns into its SOCKS / HTTP reply. Never reads a client's
 * local socket: streams here end at the targets. */
#include "tun/mux/mux_server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/url.h"
#include "tun/mux/mux_carrier.h"

struct srv_carrier {
	struct mux_carrier c;
	struct mux_server cfg;
};

static void stream_dialled(struct dial *d, int fd, enum tunnel_err err)
{
	struct mux_stream *s = (struct mux_stream *)((char *)d - offsetof(struct mux_stream, dial));
	struct mux_carrier *c = s->car;
	uint8_t code = (uint8_t)err;
	if (fd < 0) {
		log_info("c%u %s: %s", s->log_id, s->target, tunnel_err_text(err));
		mux_carrier_frame(c, MUX_REPLY, s->id, &code, 1);
		mux_stream_end(s, false, false);
		return mux_carrier_update(c);
	}
	net_set_nodelay(fd);
	log_debug("c%u connected to %s (stream %u of carrier c%u)", s->log_id, s->target, s->id,
	          c->link.id);
	mux_carrier_frame(c, MUX_REPLY, s->id, &code, 1);
	if (mux_stream_connected(s, fd) < 0)
		mux_stream_end(s, true, true);
	mux_carrier_update(c);
}

static void srv_open(struct mux_carrier *c, uint32_t id, const uint8_t *blob, size_t n)
{
	struct mux_server *cfg = c->srv;
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	enum tunnel_err err = TUNNEL_ERR_GENERAL;
	struct mux_stream *s = calloc(1, sizeof(*s));
	if (!s || mux_stream_attach(c, s) < 0) {
		free(s);
		uint8_t code = TUNNEL_ERR_GENERAL;
		mux_carrier_frame(c, MUX_REPLY, id, &code, 1);
		return;
	}
	s->id = id;
	s->fd = -1;
	s->log_id = c->link.id;
	if (cfg->admit(cfg->arg, c->link.id, (const char *)blob, n, s->target, host, sizeof(host),
	               &port, &err) < 0) {
		c->dead = true; /* forged, stale or replayed: see mux_admit_fn */
		return;
	}
	if (err != TUNNEL_OK) {
		uint8_t code = (uint8_t)err;
		mux_carrier_frame(c, MUX_REPLY, id, &code, 1);
		mux_stream_end(s, false, false);
		return;
	}
	log_debug("c%u stream %u to %s", c->link.id, id, s->target);
	s->dial.allow = cfg->allow;
	s->dial.nallow = cfg->nallow;
	dial_start(&s->dial, c->rx, cfg->dns, host, port, cfg->connect_timeout_ms, stream_dialled);
}

static void srv_ready(struct mux_carrier *c, enum tunnel_err err)
{
	(void)c;
	(void)err;
}

static void srv_gone(struct mux_carrier *c)
{
	(void)c; /* freed by the carrier: srv_carrier starts with it */
}

static const struct mux_role_ops srv_ops = {srv_ready, srv_open, srv_gone};

int mux_server_accept(const struct mux_server *cfg, struct handoff *h, const char *resp,
                      size_t n)
{
	struct srv_carrier *sc = calloc(1, sizeof(*sc));
	if (!sc) {
		stream_close(&h->s);
		return -1;
	}
	sc->cfg = *cfg;
	struct mux_carrier *c = &sc->c;
	mux_carrier_init(c, h->rx, h->conns, cfg->opts, false, h->raw, h->peer, h->id);
	c->srv = &sc->cfg;
	c->ops = &srv_ops;
	c->peer_big = cfg->peer_big;
	if (cfg->seal_base && mux_carrier_seal(c, cfg->seal_base, cfg->seal_nonce) < 0) {
		mux_carrier_fail(c, "out of memory");
		return -1;
	}
	buf_consume(&h->in, h->head_len);
	log_debug("c%u mux carrier open", c->link.id);
	return mux_carrier_run(c, &h->s, resp, n, &h->in);
}
