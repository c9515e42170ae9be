/* cli_udp.c — -L udp:// on the client: one bound UDP socket; each source
 * address gets its own flow (a WebSocket to the server, one message per
 * datagram) found through a small hash table, ended after ?timeout= of
 * silence. Also the flow opener that SOCKS5 UDP and -R udp:// share. */
#include "tun/client/cli_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/client/cli_tunnel.h"

#define UDP_BUCKETS 64
#define UDP_BATCH 64 /* datagrams per readiness */
#define UDP_DROP_LOG_MS 10000

struct udp_fwd {
	struct conn_link link;
	struct client *client;
	const struct fwd *fwd;
	struct rx_io io;
	int fd;
	size_t nflows;
	uint64_t refused;         /* datagrams without a flow (limit, memory) */
	uint64_t refused_logged_ms;
	struct dgram *flows[UDP_BUCKETS];
};

/* ---- flows through the server ---- */

/* Flows live on the client's reactor: the client is found from it. */
static struct client *flow_client(const struct dgram *d)
{
	return (struct client *)((char *)d->rx - offsetof(struct client, rx));
}

/* The server connection is ready (or not): the upgrade naming kind and
 * d->target goes first, then the datagrams kept so far. */
static void flow_upgrade(struct dgram *d, int fd, enum tunnel_err err, enum tunnel_kind kind)
{
	struct client *c = flow_client(d);
	char req[2048];
	struct tunnel_expect expect;
	size_t n = fd >= 0 ? client_upgrade(c, kind, d->target, req, sizeof(req), &expect) : 0;
	struct stream s;
	if (n == 0 && fd >= 0)
		close(fd);
	if (fd < 0 || n == 0 || client_stream(c, fd, &s) < 0)
		return dgram_fail(d, fd < 0 ? err : TUNNEL_ERR_GENERAL);
	if (c->cfg->encrypt && dgram_seal(d, c->cfg->keys->payload, expect.nonce) < 0) {
		stream_close(&s);
		return dgram_fail(d, TUNNEL_ERR_GENERAL);
	}
	dgram_attach(d, &s, req, n, NULL, &expect, c->hold_early);
}

static void flow_connected(void *owner, int fd, enum tunnel_err err)
{
	flow_upgrade(owner, fd, err, TUNNEL_UDP);
}

static void claim_connected(void *owner, int fd, enum tunnel_err err)
{
	flow_upgrade(owner, fd, err, TUNNEL_REVERSE_ACCEPT);
}

static struct dgram *flow_new(struct client *c, unsigned id, const char *target, unsigned idle_ms,
                              const struct dgram_ops *ops, void *owner)
{
	const struct relay_opts *r = &c->cfg->relay;
	struct dgram_opts o = {.keepalive_ms = r->keepalive_ms, .pong_timeout_ms = r->pong_timeout_ms,
	                       .idle_ms = idle_ms};
	struct dgram *d = dgram_new(&c->rx, &c->conns, id, WS_ROLE_CLIENT, &o, ops, owner);
	if (d)
		d->target = target;
	return d;
}

struct dgram *cli_udp_flow(struct client *c, const char *target, unsigned idle_ms,
                           const struct dgram_ops *ops, void *owner)
{
	return flow_new(c, c->conns.next_id++, target, idle_ms, ops, owner);
}

void cli_udp_flow_connect(struct dgram *d)
{
	client_connect_server(flow_client(d), flow_connected, d);
}

/* ---- -R udp:// claims: socket mode, the flow's own connected socket ---- */

static void claim_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	const struct fwd *f = d->owner;
	if (err != TUNNEL_OK)
		log_info("-R %s: could not carry a flow: %s", f->spec, why);
	else
		log_debug("c%u -R %s flow ended (%s): %llu datagrams in, %llu out, %llu dropped",
		          d->link.id, f->spec, why, (unsigned long long)d->down,
		          (unsigned long long)d->up, (unsigned long long)d->dropped);
	free((char *)(uintptr_t)d->target);
}

static const struct dgram_ops claim_ops = {NULL, claim_on_close};

void cli_udp_claim(struct client *c, int fd, unsigned id, const char *target,
                   const struct fwd *f)
{
	char *t = strdup(target);
	struct dgram *d = t ? flow_new(c, id, t, f->udp_idle_ms, &claim_ops, (void *)(uintptr_t)f)
	                    : NULL;
	if (!d) {
		free(t);
		close(fd);
		return;
	}
	dgram_own_socket(d, fd);
	client_connect_server(c, claim_connected, d);
}

/* ---- -L udp:// ---- */

static size_t bucket(const struct net_addr *a)
{
	const uint8_t *p = (const uint8_t *)&a->ss;
	uint32_t h = 2166136261u;
	for (socklen_t i = 0; i < a->len; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a over the sockaddr */
	return h % UDP_BUCKETS;
}

static struct dgram *flow_find(struct udp_fwd *u, const struct net_addr *src)
{
	for (struct dgram *d = u->flows[bucket(src)]; d; d = d->next)
		if (net_addr_equal(&d->peer, src))
			return d;
	return NULL;
}

static void fwd_on_datagram(struct dgram *d, const uint8_t *p, size_t n)
{
	struct udp_fwd *u = d->owner;
	if (net_sendto2(u->fd, p, n, NULL, 0, &d->peer) < 0)
		d->dropped++;
}

static void fwd_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	struct udp_fwd *u = d->owner;
	struct dgram **pp = &u->flows[bucket(&d->peer)];
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	u->nflows--;
	char src[NET_ADDR_STRLEN];
	net_addr_str(&d->peer, src, sizeof(src));
	if (err != TUNNEL_OK)
		log_info("-L %s: flow from %s: %s", u->fwd->spec, src, why);
	else
		log_debug("c%u -L %s flow from %s ended (%s): %llu datagrams up, %llu down, "
		          "%llu dropped", d->link.id, u->fwd->spec, src, why,
		          (unsigned long long)d->up, (unsigned long long)d->down,
		          (unsigned long long)d->dropped);
}

static const struct dgram_ops fwd_flow_ops = {fwd_on_datagram, fwd_on_close};

/* A new source: its flow, or NULL (limit reached, out of memory, or the
 * server refused at once). */
static struct dgram *flow_open(struct udp_fwd *u, const struct net_addr *src)
{
	struct client *c = u->client;
	if (u->nflows >= CLI_UDP_MAX_FLOWS)
		return NULL;
	struct dgram *d = cli_udp_flow(c, u->fwd->target, u->fwd->udp_idle_ms, &fwd_flow_ops, u);
	if (!d)
		return NULL;
	d->peer = *src;
	size_t b = bucket(src);
	d->next = u->flows[b];
	u->flows[b] = d;
	u->nflows++;
	cli_udp_flow_connect(d);
	return flow_find(u, src); /* a direct connection that failed ended d */
}

static void refused_log(struct udp_fwd *u)
{
	uint64_t now = rx_now(&u->client->rx);
	u->refused++;
	if (u->refused_logged_ms && now - u->refused_logged_ms < UDP_DROP_LOG_MS)
		return;
	u->refused_logged_ms = now;
	log_warn("-L %s: %zu flows open; datagrams from new sources dropped (%llu so far)",
	         u->fwd->spec, u->nflows, (unsigned long long)u->refused);
}

static void udp_fwd_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct udp_fwd *u = (struct udp_fwd *)((char *)io - offsetof(struct udp_fwd, io));
	uint8_t pkt[DGRAM_MAX + 1];
	(void)rx;
	(void)events;
	for (int i = 0; i < UDP_BATCH; i++) {
		struct net_addr src;
		long n = net_recvfrom(u->fd, pkt, sizeof(pkt), &src);
		if (n == -EAGAIN)
			return;
		if (n < 0)
			continue; /* an ICMP error for a reply we sent: UDP goes on */
		struct dgram *d = flow_find(u, &src);
		if (!d)
			d = flow_open(u, &src);
		if (!d)
			refused_log(u);
		else
			dgram_send(d, pkt, (size_t)n);
	}
}

static void udp_fwd_free(struct udp_fwd *u)
{
	for (size_t b = 0; b < UDP_BUCKETS; b++)
		while (u->flows[b])
			dgram_close(u->flows[b], "stopping");
	rx_io_del(&u->client->rx, &u->io);
	close(u->fd);
	conn_list_remove(&u->client->conns, &u->link);
	free(u);
}

static void udp_fwd_destroy(struct conn_link *link)
{
	udp_fwd_free((struct udp_fwd *)link);
}

int cli_udp_listen(struct client *c, const struct fwd *f)
{
	struct net_addr a;
	if (net_addr_from_ip(strcmp(f->bind_host, "localhost") ? f->bind_host : "127.0.0.1",
	                     f->bind_port, &a) < 0) {
		log_error("%s: the bind address must be an IP address", f->spec);
		return -1;
	}
	int fd = net_udp_bind(&a);
	if (fd < 0) {
		log_error("%s: cannot bind UDP %s: %s", f->spec, f->bind_host, strerror(-fd));
		return -1;
	}
	struct udp_fwd *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return -1;
	}
	u->client = c;
	u->fwd = f;
	u->fd = fd;
	conn_list_add(&c->conns, &u->link, udp_fwd_destroy);
	rx_io_add(&c->rx, &u->io, fd, udp_fwd_on_io);
	rx_io_want(&c->rx, &u->io, RX_READ);
	return 0;
}
