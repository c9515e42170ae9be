/* mux_client.c — the client's carriers: a new tunnel takes a slot on the
 * first carrier with one (ready or still connecting), else opens a new
 * carrier; nothing but the upgrade goes out before the server's 101 proved
 * the key (with --encrypt, and its nonce came: mux_carrier.c); then each
 * stream's signed OPEN and its early bytes. A carrier without streams for
 * a minute closes. */
#include "tun/mux/mux_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/mux/mux_carrier.h"

struct mux_pool {
	struct rx *rx;
	struct conn_list *conns;
	const struct relay_opts *opts;
	const struct mux_client_ops *ops;
	void *arg;
	struct mux_carrier *carriers;
	unsigned max_streams;
	const uint8_t *seal_base; /* --encrypt: auth_keys.payload, else NULL */
	bool raw;
	bool ever_ready;          /* some carrier got its 101: the server speaks mux */
};

static void stream_send_open(struct mux_carrier *c, struct mux_stream *s)
{
	if (mux_carrier_frame(c, MUX_OPEN, s->id, s->blob, s->blob_len) < 0)
		return;
	mux_stream_send_early(s);
}

static void cli_ready(struct mux_carrier *c, enum tunnel_err err)
{
	struct mux_pool *p = c->pool;
	if (err == TUNNEL_OK) {
		p->ever_ready = true;
		log_debug("c%u mux carrier open (%u streams waiting)", c->link.id, c->nstreams);
		for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
			if (c->streams[i])
				stream_send_open(c, c->streams[i]);
		return;
	}
	if (err == TUNNEL_ERR_SERVER_SILENT && !p->ever_ready)
		log_warn("c%u the server closed the --mux carrier without answering: a wsferry "
		         "server without --mux (older than this client) does that, on tls:// too, as "
		         "do a wrong key, path or scheme; try without --mux to tell them apart",
		         c->link.id);
	else if (err != TUNNEL_ERR_SERVER_SILENT)
		log_info("c%u mux carrier: %s", c->link.id, tunnel_err_text(err));
}

static void cli_open(struct mux_carrier *c, uint32_t id, const uint8_t *blob, size_t n)
{
	(void)id;
	(void)blob;
	(void)n;
	c->dead = true; /* servers never open streams (filtered out before) */
}

static void cli_gone(struct mux_carrier *c)
{
	struct mux_pool *p = c->pool;
	for (struct mux_carrier **pp = &p->carriers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
}

static const struct mux_role_ops cli_ops = {cli_ready, cli_open, cli_gone};

struct mux_pool *mux_pool_new(struct rx *rx, struct conn_list *conns,
                              const struct relay_opts *opts, bool raw, unsigned max_streams,
                              const uint8_t *seal_base, const struct mux_client_ops *ops,
                              void *arg)
{
	struct mux_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	*p = (struct mux_pool){rx, conns, opts, ops, arg, NULL, max_streams, seal_base, raw, false};
	return p;
}

void mux_pool_free(struct mux_pool *p)
{
	free(p);
}

/* A carrier with a free slot, or a new one (connecting). */
static struct mux_carrier *carrier_for_stream(struct mux_pool *p, bool *fresh)
{
	for (struct mux_carrier *c = p->carriers; c; c = c->next)
		if (!c->dead && c->nstreams < p->max_streams)
			return *fresh = false, c;
	struct mux_carrier *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	mux_carrier_init(c, p->rx, p->conns, p->opts, true, p->raw, NULL, 0);
	c->mp.big = true; /* asked for in the upgrade: TUNNEL_FLAG_MUX_BIG */
	c->ops = &cli_ops;
	c->pool = p;
	c->next = p->carriers;
	p->carriers = c;
	*fresh = true;
	return c;
}

void mux_pool_open(struct mux_pool *p, int local_fd, unsigned id, const char *target,
                   struct buf *early, relay_open_fn on_open, void *owner)
{
	bool fresh = false;
	struct mux_stream *s = calloc(1, sizeof(*s));
	struct mux_carrier *c = s ? carrier_for_stream(p, &fresh) : NULL;
	size_t n = c ? p->ops->sign(p->arg, target, s->blob, sizeof(s->blob)) : 0;
	if (!n || mux_stream_attach(c, s) < 0) {
		free(s);
		on_open(owner, local_fd, TUNNEL_ERR_GENERAL);
		close(local_fd);
		if (early)
			buf_free(early);
		if (c && fresh)
			mux_carrier_fail(c, "out of memory");
		return;
	}
	s->blob_len = (uint16_t)n;
	s->id = ++c->last_id;
	s->fd = local_fd;
	s->log_id = id;
	s->on_open = on_open;
	s->owner = owner;
	snprintf(s->target, sizeof(s->target), "%s", target);
	if (early) {
		s->early = *early;
		*early = (struct buf){0};
	}
	log_debug("c%u tunnel to %s: stream %u of carrier c%u", id, target, s->id, c->link.id);
	if (fresh)
		return p->ops->connect(p->arg, c);
	if (mux_carrier_ready(c)) {
		stream_send_open(c, s);
		mux_carrier_update(c);
	}
}

void mux_pool_connected(struct mux_carrier *car, struct stream *s, const char *req, size_t n,
                        const struct tunnel_expect *e)
{
	car->expect = *e;
	if (car->pool->seal_base && mux_carrier_seal(car, car->pool->seal_base, e->nonce) < 0) {
		stream_close(s);
		return mux_pool_connect_failed(car, TUNNEL_ERR_GENERAL);
	}
	mux_carrier_run(car, s, req, n, NULL);
}

void *mux_pool_arg_of(const struct mux_carrier *car)
{
	return car->pool->arg;
}

void mux_pool_connect_failed(struct mux_carrier *car, enum tunnel_err err)
{
	car->err = err;
	mux_carrier_fail(car, tunnel_err_text(err));
}
