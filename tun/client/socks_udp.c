/* socks_udp.c — SOCKS5 UDP ASSOCIATE (RFC 1928 §7): a UDP socket bound on
 * the address the client reached us at; datagrams from the client (its IP,
 * and its port once known) lose their header and go over one flow per
 * destination (cli_udp.c); answers get the header back. The association
 * ends with its TCP connection, whose further bytes are read and ignored. */
#include "tun/client/socks_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/log.h"
#include "tun/client/cli_udp.h"

#define ASSOC_BUCKETS 32
#define ASSOC_BATCH 64
#define SOCKS_UDP_HDR_MAX (4 + 1 + SOCKS_MAX_DOMAIN + 2)

struct assoc {
	struct conn_link link;
	struct client *client;
	struct rx_io tio, uio;
	int tcp_fd, ufd;
	unsigned idle_ms;
	struct net_addr peer;     /* where the client sends from (port 0: not known yet) */
	size_t nflows;
	uint64_t refused;         /* datagrams dropped here: stranger, header, limit */
	struct dgram *flows[ASSOC_BUCKETS];
};

/* One destination of an association: its name for the tunnel and the
 * header its answers carry (the client's, as sent). */
struct assoc_dest {
	char target[TUNNEL_MAX_TARGET + 1]; /* first: found from dgram->target */
	uint16_t hlen;
	uint8_t hdr[SOCKS_UDP_HDR_MAX];
};

static struct assoc_dest *dest_of(const struct dgram *d)
{
	return (struct assoc_dest *)(uintptr_t)d->target;
}

static size_t bucket(const char *target)
{
	uint32_t h = 2166136261u;
	for (const char *p = target; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % ASSOC_BUCKETS;
}

static struct dgram *flow_find(struct assoc *a, const char *target)
{
	for (struct dgram *d = a->flows[bucket(target)]; d; d = d->next)
		if (strcmp(d->target, target) == 0)
			return d;
	return NULL;
}

static void assoc_on_datagram(struct dgram *d, const uint8_t *p, size_t n)
{
	struct assoc *a = d->owner;
	struct assoc_dest *dst = dest_of(d);
	if (net_addr_port(&a->peer) == 0 ||
	    net_sendto2(a->ufd, dst->hdr, dst->hlen, p, n, &a->peer) < 0)
		d->dropped++;
}

static void assoc_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	struct assoc *a = d->owner;
	struct dgram **pp = &a->flows[bucket(d->target)];
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	a->nflows--;
	if (err != TUNNEL_OK)
		log_info("c%u SOCKS5 UDP to %s: %s", a->link.id, d->target, why);
	else
		log_debug("c%u SOCKS5 UDP to %s ended (%s): %llu datagrams up, %llu down, %llu dropped",
		          a->link.id, d->target, why, (unsigned long long)d->up,
		          (unsigned long long)d->down, (unsigned long long)d->dropped);
	free(dest_of(d));
}

static const struct dgram_ops assoc_flow_ops = {assoc_on_datagram, assoc_on_close};

static void target_text(const struct socks_udp_hdr *h, char *out, size_t cap)
{
	char ip[64];
	if (h->atyp == SOCKS_ATYP_DOMAIN) {
		bool v6 = memchr(h->host.p, ':', h->host.len) != NULL;
		snprintf(out, cap, v6 ? "[%.*s]:%u" : "%.*s:%u", (int)h->host.len,
		         (const char *)h->host.p, h->port);
		return;
	}
	inet_ntop(h->atyp == SOCKS_ATYP_IPV4 ? AF_INET : AF_INET6, h->host.p, ip, sizeof(ip));
	snprintf(out, cap, h->atyp == SOCKS_ATYP_IPV4 ? "%s:%u" : "[%s]:%u", ip, h->port);
}

static struct dgram *flow_open(struct assoc *a, const char *target, const uint8_t *hdr,
                               size_t hlen)
{
	if (a->nflows >= SOCKS_UDP_MAX_FLOWS)
		return NULL;
	struct assoc_dest *dst = calloc(1, sizeof(*dst));
	struct dgram *d = dst ? cli_udp_flow(a->client, dst->target, a->idle_ms, &assoc_flow_ops, a)
	                      : NULL;
	if (!d) {
		free(dst);
		return NULL;
	}
	strcpy(dst->target, target);
	memcpy(dst->hdr, hdr, hlen);
	dst->hdr[2] = 0; /* FRAG */
	dst->hlen = (uint16_t)hlen;
	size_t b = bucket(target);
	d->next = a->flows[b];
	a->flows[b] = d;
	a->nflows++;
	cli_udp_flow_connect(d);
	return flow_find(a, target); /* a direct connection that failed ended d */
}

/* §7: only the client's address may use the association. */
static bool from_client(struct assoc *a, const struct net_addr *src)
{
	if (!net_addr_same_ip(&a->peer, src))
		return false;
	if (net_addr_port(&a->peer) == 0)
		a->peer = *src; /* the first datagram tells the port */
	return net_addr_port(&a->peer) == net_addr_port(src);
}

static void assoc_datagram(struct assoc *a, const uint8_t *p, size_t n,
                           const struct net_addr *src)
{
	struct socks_udp_hdr h;
	char target[TUNNEL_MAX_TARGET + 1];
	if (!from_client(a, src) || socks_udp_parse(p, n, &h) != SOCKS_EVENT) {
		a->refused++;
		return;
	}
	target_text(&h, target, sizeof(target));
	struct dgram *d = flow_find(a, target);
	if (!d)
		d = flow_open(a, target, p, h.len);
	if (!d)
		a->refused++;
	else
		dgram_send(d, p + h.len, n - h.len);
}

static void assoc_on_udp(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct assoc *a = (struct assoc *)((char *)io - offsetof(struct assoc, uio));
	uint8_t pkt[DGRAM_MAX + SOCKS_UDP_HDR_MAX];
	(void)rx;
	(void)events;
	for (int i = 0; i < ASSOC_BATCH; i++) {
		struct net_addr src;
		long n = net_recvfrom(a->ufd, pkt, sizeof(pkt), &src);
		if (n == -EAGAIN)
			return;
		if (n >= 0)
			assoc_datagram(a, pkt, (size_t)n, &src);
	}
}

static void assoc_free(struct assoc *a)
{
	for (size_t b = 0; b < ASSOC_BUCKETS; b++)
		while (a->flows[b])
			dgram_close(a->flows[b], "association ended");
	if (a->refused)
		log_debug("c%u SOCKS5 UDP association: %llu datagrams refused (stranger, header, "
		          "fragment or flow limit)", a->link.id, (unsigned long long)a->refused);
	rx_io_del(&a->client->rx, &a->tio);
	rx_io_del(&a->client->rx, &a->uio);
	close(a->tcp_fd);
	if (a->ufd >= 0)
		close(a->ufd);
	conn_list_remove(&a->client->conns, &a->link);
	free(a);
}

static void assoc_destroy(struct conn_link *link)
{
	assoc_free((struct assoc *)link);
}

/* The TCP connection only says when the association ends. */
static void assoc_on_tcp(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct assoc *a = (struct assoc *)((char *)io - offsetof(struct assoc, tio));
	uint8_t junk[512];
	(void)rx;
	(void)events;
	long n = net_read(a->tcp_fd, junk, sizeof(junk));
	if (n == -EAGAIN || n > 0)
		return;
	log_debug("c%u SOCKS5 UDP association ended with its TCP connection", a->link.id);
	assoc_free(a);
}

static void reply(int fd, enum socks_rep rep, const struct net_addr *bnd)
{
	uint8_t out[SOCKS_MAX_REPLY];
	size_t n;
	if (!bnd)
		n = socks_reply(out, rep, SOCKS_ATYP_IPV4, NULL, 0);
	else if (bnd->ss.ss_family == AF_INET6)
		n = socks_reply(out, rep, SOCKS_ATYP_IPV6,
		                ((const struct sockaddr_in6 *)&bnd->ss)->sin6_addr.s6_addr,
		                net_addr_port(bnd));
	else
		n = socks_reply(out, rep, SOCKS_ATYP_IPV4,
		                (const uint8_t *)&((const struct sockaddr_in *)&bnd->ss)->sin_addr,
		                net_addr_port(bnd));
	if (net_write(fd, out, n) != (long)n)
		log_debug("short write of a SOCKS5 reply");
}

/* The relay address: the local address of the TCP connection, port chosen
 * by the kernel. */
static int assoc_bind(struct assoc *a, struct net_addr *bnd)
{
	if (net_local_addr(a->tcp_fd, bnd) < 0)
		return -1;
	struct net_addr any = *bnd;
	if (any.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&any.ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&any.ss)->sin_port = 0;
	a->ufd = net_udp_bind(&any);
	return a->ufd < 0 || net_local_addr(a->ufd, bnd) < 0 ? -1 : 0;
}

/* §7: DST.ADDR/DST.PORT, when not zero, say where the client will send
 * from; the IP is the TCP peer's in any case (a stranger cannot use it). */
static void assoc_peer(struct assoc *a, const struct socks_event *ev)
{
	socklen_t len = sizeof(a->peer.ss);
	if (getpeername(a->tcp_fd, (struct sockaddr *)&a->peer.ss, &len) == 0)
		a->peer.len = len;
	uint16_t port = htons(ev->port);
	if (a->peer.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->peer.ss)->sin6_port = port;
	else
		((struct sockaddr_in *)&a->peer.ss)->sin_port = port;
}

void socks_udp_associate(struct client *c, int fd, unsigned id, const struct socks_event *ev,
                         unsigned idle_ms)
{
	struct assoc *a = calloc(1, sizeof(*a));
	struct net_addr bnd;
	if (!a) {
		reply(fd, SOCKS_REP_GENERAL_FAILURE, NULL);
		close(fd);
		return;
	}
	a->client = c;
	a->tcp_fd = fd;
	a->ufd = -1;
	a->idle_ms = idle_ms;
	conn_list_add_as(&c->conns, &a->link, assoc_destroy, id, NULL);
	if (assoc_bind(a, &bnd) < 0) {
		log_info("c%u SOCKS5 UDP ASSOCIATE: cannot bind a UDP socket", id);
		reply(fd, SOCKS_REP_GENERAL_FAILURE, NULL);
		return assoc_free(a);
	}
	assoc_peer(a, ev);
	rx_io_add(&c->rx, &a->tio, fd, assoc_on_tcp);
	rx_io_want(&c->rx, &a->tio, RX_READ);
	rx_io_add(&c->rx, &a->uio, a->ufd, assoc_on_udp);
	rx_io_want(&c->rx, &a->uio, RX_READ);
	char name[NET_ADDR_STRLEN];
	log_debug("c%u SOCKS5 UDP ASSOCIATE: relay at %s", id, net_addr_str(&bnd, name, sizeof(name)));
	reply(fd, SOCKS_REP_SUCCEEDED, &bnd);
}
