/* cli_tproxy_udp.c — --tproxy for UDP: one transparent socket per --tproxy
 * reads each datagram with its original destination (IP_ORIGDSTADDR); each
 * (source, destination) pair gets a flow through the server as -L udp://
 * does (kind 3, idle timeout, caps). Answers leave from a transparent socket
 * bound to the destination and connected to the source, so the LAN host
 * hears the address it asked; TPROXY hands that socket the pair's later
 * datagrams too. Owns the listener, its flow table and each flow's name;
 * each flow owns its socket. Never queues beyond the flows' own buffers. */
#include "tun/client/cli_tproxy_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/transparent.h"
#include "tun/client/cli_transparent.h"
#include "tun/client/cli_udp.h"

#define TPX_BUCKETS 64
#define TPX_BATCH 64          /* datagrams per readiness */
#define TPX_LOG_MS 10000

struct tpx_udp {
	struct conn_link link;
	struct client *client;
	const struct fwd *fwd;
	struct rx_io io;
	int fd;
	size_t nflows;
	uint64_t refused;         /* datagrams of pairs that got no flow */
	uint64_t refused_logged_ms;
	uint64_t failed;          /* flows the server refused or never reached */
	uint64_t failed_logged_ms;
	struct dgram *flows[TPX_BUCKETS]; /* chained through dgram.next */
};

/* A flow's owner: the table it sits in and where it goes (d->peer is the
 * source). target names dst for the server and outlives the flow. */
struct tpx_flow {
	struct tpx_udp *u;
	struct net_addr dst;
	char target[NET_ADDR_STRLEN];
};

static uint32_t fnv(uint32_t h, const struct net_addr *a)
{
	const uint8_t *p = (const uint8_t *)&a->ss;
	for (socklen_t i = 0; i < a->len; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a over the sockaddr */
	return h;
}

static size_t bucket(const struct net_addr *src, const struct net_addr *dst)
{
	return fnv(fnv(2166136261u, src), dst) % TPX_BUCKETS;
}

static struct dgram *flow_find(struct tpx_udp *u, const struct net_addr *src,
                               const struct net_addr *dst)
{
	for (struct dgram *d = u->flows[bucket(src, dst)]; d; d = d->next) {
		const struct tpx_flow *fl = d->owner;
		if (net_addr_equal(&d->peer, src) && net_addr_equal(&fl->dst, dst))
			return d;
	}
	return NULL;
}

/* A LAN host retrying a refused destination opens a flow per datagram: one
 * line per TPX_LOG_MS, with a count, keeps that out of the log. */
static void failed_log(struct tpx_udp *u, const char *src, const char *dst, const char *why)
{
	uint64_t now = rx_now(&u->client->rx);
	u->failed++;
	if (u->failed_logged_ms && now - u->failed_logged_ms < TPX_LOG_MS)
		return;
	u->failed_logged_ms = now;
	log_info("--tproxy %s: udp %s -> %s: %s (%llu flows failed so far)", u->fwd->spec, src, dst,
	         why, (unsigned long long)u->failed);
}

static void flow_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	struct tpx_flow *fl = d->owner;
	struct tpx_udp *u = fl->u;
	struct dgram **pp = &u->flows[bucket(&d->peer, &fl->dst)];
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	u->nflows--;
	char src[NET_ADDR_STRLEN];
	net_addr_str(&d->peer, src, sizeof(src));
	if (err != TUNNEL_OK)
		failed_log(u, src, fl->target, why);
	else
		log_debug("c%u --tproxy %s udp %s -> %s ended (%s): %llu datagrams up, %llu down, "
		          "%llu dropped", d->link.id, u->fwd->spec, src, fl->target, why,
		          (unsigned long long)d->up, (unsigned long long)d->down,
		          (unsigned long long)d->dropped);
	free(fl);
}

/* Socket mode: the flow's own socket takes the answers, so no on_datagram. */
static const struct dgram_ops flow_ops = {NULL, flow_on_close};

/* One line per TPX_LOG_MS whatever the cause: a flood of new pairs
 * must not become a flood of lines. */
static void refused_log(struct tpx_udp *u, const struct net_addr *src, const struct net_addr *dst,
                        const char *why)
{
	uint64_t now = rx_now(&u->client->rx);
	char from[NET_ADDR_STRLEN], to[NET_ADDR_STRLEN];
	u->refused++;
	if (u->refused_logged_ms && now - u->refused_logged_ms < TPX_LOG_MS)
		return;
	u->refused_logged_ms = now;
	log_warn("--tproxy %s: udp %s -> %s: %s; dropped (%llu datagrams without a flow so far, "
	         "%zu flows open)", u->fwd->spec, net_addr_str(src, from, sizeof(from)),
	         net_addr_str(dst, to, sizeof(to)), why, (unsigned long long)u->refused, u->nflows);
}

/* The pair's flow, new and connecting, or NULL (refused and logged). */
static struct dgram *flow_open(struct tpx_udp *u, const struct net_addr *src,
                               const struct net_addr *dst)
{
	if (u->nflows >= CLI_UDP_MAX_FLOWS)
		return refused_log(u, src, dst, "flow limit reached"), NULL;
	int fd = net_udp_connect_transparent(dst, src);
	if (fd < 0)
		return refused_log(u, src, dst, strerror(-fd)), NULL;
	struct tpx_flow *fl = calloc(1, sizeof(*fl));
	if (fl) {
		fl->u = u;
		fl->dst = *dst;
		net_addr_str(dst, fl->target, sizeof(fl->target));
	}
	struct dgram *d = fl ? cli_udp_flow(u->client, fl->target, u->fwd->udp_idle_ms, &flow_ops, fl)
	                     : NULL;
	if (!d) {
		free(fl);
		close(fd);
		return refused_log(u, src, dst, "out of memory"), NULL;
	}
	d->peer = *src;
	size_t b = bucket(src, dst);
	d->next = u->flows[b];
	u->flows[b] = d;
	u->nflows++;
	dgram_own_socket(d, fd);
	cli_udp_flow_connect(d);
	return flow_find(u, src, dst); /* a direct connection that failed ended d */
}

static void tpx_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct tpx_udp *u = (struct tpx_udp *)((char *)io - offsetof(struct tpx_udp, io));
	uint8_t pkt[DGRAM_MAX + 1];
	(void)rx;
	(void)events;
	for (int i = 0; i < TPX_BATCH; i++) {
		struct net_addr src, dst;
		long n = net_recv_origdst(u->fd, pkt, sizeof(pkt), &src, &dst);
		if (n == -EAGAIN)
			return;
		if (n < 0 || cli_transparent_udp_loop(u->client, u->fwd, &src, &dst))
			continue; /* -ENOENT: no destination known, nowhere to send it */
		struct dgram *d = flow_find(u, &src, &dst);
		if (!d)
			d = flow_open(u, &src, &dst);
		if (d)
			dgram_send(d, pkt, (size_t)n);
	}
}

static void tpx_destroy(struct conn_link *link)
{
	struct tpx_udp *u = (struct tpx_udp *)link;
	for (size_t b = 0; b < TPX_BUCKETS; b++)
		while (u->flows[b])
			dgram_close(u->flows[b], "stopping");
	rx_io_del(&u->client->rx, &u->io);
	close(u->fd);
	conn_list_remove(&u->client->conns, &u->link);
	free(u);
}

int cli_tproxy_udp_listen(struct client *c, const struct fwd *f)
{
	struct net_addr a;
	if (net_addr_from_ip(strcmp(f->bind_host, "localhost") ? f->bind_host : "127.0.0.1",
	                     f->bind_port, &a) < 0) {
		log_error("--tproxy %s: the bind address must be an IP address", f->spec);
		return -1;
	}
	int fd = net_udp_listen_transparent(&a);
	if (fd < 0) {
		log_error("--tproxy %s: cannot bind UDP: %s%s", f->spec, strerror(-fd),
		          fd == -EPERM ? " (--tproxy needs CAP_NET_ADMIN)" : "");
		return -1;
	}
	struct tpx_udp *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return -1;
	}
	u->client = c;
	u->fwd = f;
	u->fd = fd;
	conn_list_add(&c->conns, &u->link, tpx_destroy);
	rx_io_add(&c->rx, &u->io, fd, tpx_on_io);
	rx_io_want(&c->rx, &u->io, RX_READ);
	return 0;
}
