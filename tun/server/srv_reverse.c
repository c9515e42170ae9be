/* srv_reverse.c — the server end of -R: a client's control channel makes
 * the server listen; each accepted connection waits (with an id announced on
 * the channel) until the client opens a data tunnel naming that id, then the
 * two are relayed. The port is released the moment the channel is gone. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "tun/relay.h"
#include "tun/server/srv_listen.h"
#include "tun/server/srv_reverse.h"
#include "tun/server/srv_rudp.h"
#include "tun/server/srv_tunnel.h"
#include "tun/wsctl.h"

#define REV_PENDING_MS 10000 /* an announced connection the client never claims */
#define REV_MAX_PENDING 256  /* per -R listener: beyond, new connections are refused */

struct srv_reverse {
	struct conn_link link;
	struct server *srv;
	struct wsctl ctl;
	struct rx_io lio;
	int lfd;
	size_t npending;
	char bind[TUNNEL_MAX_TARGET + 1];
};

struct rev_pending {
	struct conn_link link;
	struct srv_reverse *rev;
	struct rx_timer timer;
	int fd;
	uint64_t id;
};

static void pending_free(struct rev_pending *p)
{
	struct server *srv = p->rev->srv;
	rx_timer_cancel(&srv->rx, &p->timer);
	if (p->fd >= 0)
		close(p->fd);
	p->rev->npending--;
	conn_list_remove(&srv->conns, &p->link);
	free(p);
}

static void pending_destroy(struct conn_link *link)
{
	pending_free((struct rev_pending *)link);
}

/* Pending connections are found by id among the server's connections. */
static struct rev_pending *pending_find(struct server *srv, uint64_t id, struct srv_reverse *rev)
{
	for (struct conn_link *l = srv->conns.head.next; l != &srv->conns.head; l = l->next) {
		if (l->destroy != pending_destroy)
			continue;
		struct rev_pending *p = (struct rev_pending *)l;
		if ((id == 0 || p->id == id) && (rev == NULL || p->rev == rev))
			return p;
	}
	return NULL;
}

static void rev_free(struct srv_reverse *rev)
{
	struct server *srv = rev->srv;
	struct rev_pending *p;
	while ((p = pending_find(srv, 0, rev)) != NULL)
		pending_free(p);
	wsctl_stop(&rev->ctl);
	if (rev->lfd >= 0) {
		rx_io_del(&srv->rx, &rev->lio);
		close(rev->lfd);
	}
	log_info("c%u -R %s released", rev->link.id, rev->bind);
	conn_list_remove(&srv->conns, &rev->link);
	free(rev);
}

static void rev_destroy(struct conn_link *link)
{
	rev_free((struct srv_reverse *)link);
}

static void pending_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct rev_pending *p = (struct rev_pending *)((char *)t - offsetof(struct rev_pending, timer));
	(void)rx;
	log_info("c%u -R connection never claimed by the client: closed", p->link.id);
	pending_free(p);
}

static void rev_announce(struct srv_reverse *rev, int fd)
{
	struct server *srv = rev->srv;
	struct rev_pending *p = rev->npending < REV_MAX_PENDING ? calloc(1, sizeof(*p)) : NULL;
	uint8_t msg[TUNNEL_REV_MSG_LEN];
	if (!p) {
		close(fd);
		return;
	}
	p->rev = rev;
	p->fd = fd;
	do
		rand_bytes(&p->id, sizeof(p->id));
	while (p->id == 0);
	rev->npending++;
	conn_list_add(&srv->conns, &p->link, pending_destroy);
	rx_timer_arm(&srv->rx, &p->timer, rx_now(&srv->rx) + REV_PENDING_MS, pending_on_timer);
	tunnel_rev_msg(msg, REV_MSG_CONNECTION, p->id);
	if (wsctl_send(&rev->ctl, msg, sizeof(msg)) < 0)
		pending_free(p);
}

static void rev_on_accept(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct srv_reverse *rev = (struct srv_reverse *)((char *)io - offsetof(struct srv_reverse, lio));
	(void)rx;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct net_addr peer;
		int fd = net_accept(rev->lfd, &peer);
		if (fd < 0)
			return;
		net_set_nodelay(fd);
		rev_announce(rev, fd);
	}
}

static void rev_on_open(struct wsctl *w, enum tunnel_err err)
{
	(void)w;
	(void)err; /* server role: never called */
}

static void rev_on_message(struct wsctl *w, const uint8_t *p, size_t n)
{
	struct srv_reverse *rev = w->owner;
	uint8_t op;
	uint64_t id;
	if (tunnel_rev_parse(p, n, &op, &id) < 0 || op != REV_MSG_REFUSED)
		return;
	struct rev_pending *pend = pending_find(rev->srv, id, rev);
	if (pend) {
		log_info("c%u -R %s: the client could not reach its destination", pend->link.id,
		         rev->bind);
		pending_free(pend);
	}
}

static void rev_on_close(struct wsctl *w)
{
	rev_free(w->owner);
}

static const struct wsctl_ops rev_ops = {rev_on_open, rev_on_message, rev_on_close};

static enum tunnel_err rev_listen(struct srv_reverse *rev, const struct tunnel_req *req)
{
	struct net_addr a;
	enum tunnel_err err = srv_listen_bind_addr(rev->srv, rev->link.id, req, &a);
	if (err != TUNNEL_OK)
		return err;
	int fd = net_listen(&a, 128, false);
	if (fd < 0) {
		log_info("c%u -R %s: %s", rev->link.id, rev->bind, strerror(-fd));
		return srv_listen_bind_err(fd);
	}
	rev->lfd = fd;
	rx_io_add(&rev->srv->rx, &rev->lio, fd, rev_on_accept);
	rx_io_want(&rev->srv->rx, &rev->lio, RX_READ);
	return TUNNEL_OK;
}

int srv_reverse_listen(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                       const char *key, size_t key_len)
{
	enum tunnel_err serr = server_seal_check(srv->cfg, h, req);
	if (serr != TUNNEL_OK) {
		srv_listen_refuse(srv, h, req, key, key_len, serr);
		return -1;
	}
	if (req->kind == TUNNEL_UDP_LISTEN)
		return srv_rudp_listen(srv, h, req, key, key_len);
	char resp[256];
	size_t rn = server_101(srv, req, key, key_len, resp, sizeof(resp));
	struct srv_reverse *rev = calloc(1, sizeof(*rev));
	if (!rev || rn == 0) {
		free(rev);
		srv_listen_refuse(srv, h, req, key, key_len, TUNNEL_ERR_GENERAL);
		return -1;
	}
	rev->srv = srv;
	rev->lfd = -1;
	rev->ctl.s.fd = -1;
	memcpy(rev->bind, req->target, req->target_len + 1);
	conn_list_add_as(&srv->conns, &rev->link, rev_destroy, h->id, h->peer);
	enum tunnel_err err = rev_listen(rev, req);
	if (err != TUNNEL_OK) {
		srv_listen_refuse(srv, h, req, key, key_len, err);
		conn_list_remove(&srv->conns, &rev->link);
		free(rev);
		return -1;
	}
	buf_consume(&h->in, h->head_len);
	if (wsctl_start(&rev->ctl, &srv->rx, &h->s, WS_ROLE_SERVER, resp, rn, &h->in, NULL,
	                srv->cfg->relay.keepalive_ms, &rev_ops, rev) < 0) {
		rev_free(rev);
		return -1;
	}
	log_info("c%u -R listening on %s for the client", rev->link.id, rev->bind);
	return 0;
}

int srv_reverse_claim(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len)
{
	char resp[256];
	uint64_t id = 0;
	if (tunnel_rev_id_parse(req->target, req->target_len, &id) < 0) {
		srv_listen_refuse(srv, h, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	enum tunnel_err err = server_seal_check(srv->cfg, h, req);
	if (err != TUNNEL_OK) {
		srv_listen_refuse(srv, h, req, key, key_len, err);
		return -1;
	}
	struct rev_pending *p = id ? pending_find(srv, id, NULL) : NULL;
	size_t rn = server_101(srv, req, key, key_len, resp, sizeof(resp));
	if (!p && id && rn && srv_rudp_claim(srv, h, req, id, resp, rn) == 0)
		return 0;
	if (!p || rn == 0) {
		srv_listen_refuse(srv, h, req, key, key_len, TUNNEL_ERR_GENERAL);
		return -1;
	}
	int tcp_fd = p->fd;
	unsigned pid = p->link.id;
	p->fd = -1;
	pending_free(p);
	buf_consume(&h->in, h->head_len);
	log_debug("c%u -R connection claimed", pid);
	struct relay_args a = {.id = pid, .tcp_fd = tcp_fd, .ws = h->s, .role = WS_ROLE_SERVER,
	                       .ws_in = &h->in, .preamble = resp, .preamble_len = rn,
	                       .peer = h->peer, .raw = h->raw, .count = RELAY_COUNT_TCP_CLIENT};
	server_seal_args(srv->cfg, req, &a);
	return relay_start(&srv->rx, &srv->conns, &srv->cfg->relay, &a);
}
