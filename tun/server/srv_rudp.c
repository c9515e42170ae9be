/* srv_rudp.c — the server end of -R udp://: a client's control channel makes
 * the server bind a UDP socket; each new source address becomes a flow whose
 * id is announced on the channel and whose datagrams wait (one buffer, the
 * rest dropped) until the client claims it with a data tunnel. Owns the
 * socket and every flow of it: they end with the channel. */
#include "tun/server/srv_rudp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "tun/dgram.h"
#include "tun/server/srv_listen.h"
#include "tun/server/srv_tunnel.h"
#include "tun/udpdemux.h"
#include "tun/wsctl.h"

#define RUDP_PENDING_MS 10000 /* an announced flow the client never claims */
#define RUDP_SWEEP_MS 1000

struct srv_rudp {
	struct conn_link link;
	struct server *srv;
	struct wsctl ctl;
	struct udp_demux demux;
	struct rx_timer sweep;    /* armed while flows wait for their claim */
	bool sweeping;
	bool sealed;              /* --encrypt: flows are sealed (the claim gives the nonce) */
	size_t npending;
	char bind[TUNNEL_MAX_TARGET + 1];
	char what[TUNNEL_MAX_TARGET + 32]; /* "cN -R udp://BIND", for the log */
};

static struct dgram *flow_by_id(struct srv_rudp *u, uint64_t id)
{
	for (size_t b = 0; b < UDP_DEMUX_BUCKETS; b++)
		for (struct dgram *d = u->demux.flows[b]; d; d = d->next)
			if (d->claim_id == id)
				return d;
	return NULL;
}

/* ---- flows ---- */

static void flow_on_datagram(struct dgram *d, const uint8_t *p, size_t n)
{
	struct srv_rudp *u = d->owner;
	udp_demux_answer(&u->demux, d, p, n);
}

static void flow_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	struct srv_rudp *u = d->owner;
	udp_demux_remove(&u->demux, d);
	if (d->claim_id)
		u->npending--;
	(void)err;
	char src[NET_ADDR_STRLEN];
	net_addr_str(&d->peer, src, sizeof(src));
	log_debug("c%u -R udp://%s flow from %s ended (%s): %llu datagrams in, %llu out, "
	          "%llu dropped", d->link.id, u->bind, src, why, (unsigned long long)d->up,
	          (unsigned long long)d->down, (unsigned long long)d->dropped);
}

static const struct dgram_ops flow_ops = {flow_on_datagram, flow_on_close};

static void rudp_on_sweep(struct rx *rx, struct rx_timer *t)
{
	struct srv_rudp *u = (struct srv_rudp *)((char *)t - offsetof(struct srv_rudp, sweep));
	uint64_t now = rx_now(rx);
	u->sweeping = false;
	for (size_t b = 0; b < UDP_DEMUX_BUCKETS; b++) {
		for (struct dgram *d = u->demux.flows[b], *next; d; d = next) {
			next = d->next;
			if (d->claim_id && now - d->born_ms >= RUDP_PENDING_MS) {
				log_info("c%u -R udp://%s flow never claimed by the client: closed",
				         d->link.id, u->bind);
				dgram_close(d, "never claimed");
			}
		}
	}
	if (u->npending) {
		u->sweeping = true;
		rx_timer_arm(rx, &u->sweep, now + RUDP_SWEEP_MS, rudp_on_sweep);
	}
}

/* A new source: a flow announced to the client, or NULL (limit, memory, or
 * the channel cannot take the announcement). */
static struct dgram *flow_open(void *owner, const struct net_addr *src)
{
	struct srv_rudp *u = owner;
	struct server *srv = u->srv;
	if (u->demux.nflows >= SRV_RUDP_MAX_FLOWS)
		return NULL;
	struct dgram_opts o = {.keepalive_ms = srv->cfg->relay.keepalive_ms,
	                       .pong_timeout_ms = srv->cfg->relay.pong_timeout_ms,
	                       .idle_ms = srv->cfg->relay.idle_ms};
	struct dgram *d = dgram_new(&srv->rx, &srv->conns, srv->conns.next_id++, WS_ROLE_SERVER, &o,
	                            &flow_ops, u);
	if (!d)
		return NULL;
	if (u->sealed && dgram_seal(d, srv->cfg->keys->payload, NULL) < 0) {
		dgram_close(d, "out of memory");
		return NULL;
	}
	d->peer = *src;
	do
		rand_bytes(&d->claim_id, sizeof(d->claim_id));
	while (d->claim_id == 0);
	udp_demux_add(&u->demux, d);
	u->npending++;
	uint8_t msg[TUNNEL_REV_MSG_LEN];
	tunnel_rev_msg(msg, REV_MSG_CONNECTION, d->claim_id);
	if (wsctl_send(&u->ctl, msg, sizeof(msg)) < 0) {
		dgram_close(d, "control channel closing");
		return NULL;
	}
	if (!u->sweeping) {
		u->sweeping = true;
		rx_timer_arm(&srv->rx, &u->sweep, rx_now(&srv->rx) + RUDP_SWEEP_MS, rudp_on_sweep);
	}
	return d;
}

/* ---- the registration ---- */

static void rudp_free(struct srv_rudp *u)
{
	struct server *srv = u->srv;
	udp_demux_stop(&u->demux, "registration gone");
	rx_timer_cancel(&srv->rx, &u->sweep);
	wsctl_stop(&u->ctl);
	log_info("c%u -R udp://%s released", u->link.id, u->bind);
	conn_list_remove(&srv->conns, &u->link);
	free(u);
}

static void rudp_destroy(struct conn_link *link)
{
	rudp_free((struct srv_rudp *)link);
}

static void rudp_on_open(struct wsctl *w, enum tunnel_err err)
{
	(void)w;
	(void)err; /* server role: never called */
}

static void rudp_on_message(struct wsctl *w, const uint8_t *p, size_t n)
{
	struct srv_rudp *u = w->owner;
	uint8_t op;
	uint64_t id;
	if (tunnel_rev_parse(p, n, &op, &id) < 0 || op != REV_MSG_REFUSED || id == 0)
		return;
	struct dgram *d = flow_by_id(u, id);
	if (d) {
		log_info("c%u -R udp://%s: the client could not reach its destination", d->link.id,
		         u->bind);
		dgram_close(d, "refused by the client");
	}
}

static void rudp_on_close(struct wsctl *w)
{
	rudp_free(w->owner);
}

static const struct wsctl_ops rudp_ops = {rudp_on_open, rudp_on_message, rudp_on_close};

int srv_rudp_listen(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                    const char *key, size_t key_len)
{
	char resp[256];
	struct net_addr a;
	enum tunnel_err err = srv_listen_bind_addr(srv, h->id, req, &a);
	size_t rn = server_101(srv, req, key, key_len, resp, sizeof(resp));
	if (err == TUNNEL_OK && rn == 0)
		err = TUNNEL_ERR_GENERAL;
	int fd = err == TUNNEL_OK ? net_udp_bind(&a) : -1;
	if (err == TUNNEL_OK && fd < 0) {
		log_info("c%u -R udp://%s: %s", h->id, req->target, strerror(-fd));
		err = srv_listen_bind_err(fd);
	}
	struct srv_rudp *u = err == TUNNEL_OK ? calloc(1, sizeof(*u)) : NULL;
	if (!u) {
		if (fd >= 0)
			close(fd);
		srv_listen_refuse(srv, h, req, key, key_len, err ? err : TUNNEL_ERR_GENERAL);
		return -1;
	}
	u->srv = srv;
	u->sealed = req->flags & TUNNEL_FLAG_ENCRYPT;
	u->ctl.s.fd = -1;
	u->demux.fd = -1;
	memcpy(u->bind, req->target, req->target_len + 1);
	snprintf(u->what, sizeof(u->what), "c%u -R udp://%s", h->id, u->bind);
	conn_list_add_as(&srv->conns, &u->link, rudp_destroy, h->id, h->peer);
	if (udp_demux_start(&u->demux, &srv->rx, fd, u->what, flow_open, u) < 0) {
		stream_close(&h->s);
		rudp_free(u);
		return -1;
	}
	buf_consume(&h->in, h->head_len);
	if (wsctl_start(&u->ctl, &srv->rx, &h->s, WS_ROLE_SERVER, resp, rn, &h->in, NULL,
	                srv->cfg->relay.keepalive_ms, &rudp_ops, u) < 0) {
		rudp_free(u);
		return -1;
	}
	log_info("c%u -R listening on udp://%s for the client", u->link.id, u->bind);
	return 0;
}

int srv_rudp_claim(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                   uint64_t id, const char *resp, size_t rn)
{
	struct dgram *d = NULL;
	for (struct conn_link *l = srv->conns.head.next; l != &srv->conns.head && !d; l = l->next)
		if (l->destroy == rudp_destroy)
			d = flow_by_id((struct srv_rudp *)l, id);
	if (!d || d->s.fd >= 0)
		return -1;
	/* Sealed or not as the registration said; the claim's nonce keys it. */
	if (!d->seal != !(req->flags & TUNNEL_FLAG_ENCRYPT) ||
	    (d->seal && dgram_seal(d, srv->cfg->keys->payload, req->nonce) < 0))
		return -1;
	struct srv_rudp *u = d->owner;
	d->claim_id = 0;
	u->npending--;
	buf_consume(&h->in, h->head_len);
	log_debug("c%u -R udp://%s flow claimed", d->link.id, u->bind);
	/* Always framed, tls:// included (man/wsferry-protocol.7, UDP). */
	dgram_attach(d, &h->s, resp, rn, &h->in, NULL, false);
	return 0;
}
