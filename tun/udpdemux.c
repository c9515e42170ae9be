/* udpdemux.c — see udpdemux.h. */
#include "tun/udpdemux.h"

#include <errno.h>
#include <unistd.h>

#include "core/log.h"

#define UDP_DEMUX_BATCH 64      /* datagrams per readiness */
#define UDP_DEMUX_LOG_MS 10000

static size_t bucket(const struct net_addr *a)
{
	const uint8_t *p = (const uint8_t *)&a->ss;
	uint32_t h = 2166136261u;
	for (socklen_t i = 0; i < a->len; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a over the sockaddr */
	return h % UDP_DEMUX_BUCKETS;
}

struct dgram *udp_demux_find(const struct udp_demux *m, const struct net_addr *src)
{
	for (struct dgram *d = m->flows[bucket(src)]; d; d = d->next)
		if (net_addr_equal(&d->peer, src))
			return d;
	return NULL;
}

void udp_demux_add(struct udp_demux *m, struct dgram *d)
{
	size_t b = bucket(&d->peer);
	d->next = m->flows[b];
	m->flows[b] = d;
	m->nflows++;
}

void udp_demux_remove(struct udp_demux *m, struct dgram *d)
{
	struct dgram **pp = &m->flows[bucket(&d->peer)];
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = d->next;
		m->nflows--;
	}
}

void udp_demux_answer(struct udp_demux *m, struct dgram *d, const uint8_t *p, size_t n)
{
	if (net_sendto2(m->fd, p, n, NULL, 0, &d->peer) < 0)
		d->dropped++;
}

static void refused_log(struct udp_demux *m)
{
	uint64_t now = rx_now(m->rx);
	m->refused++;
	if (m->refused_logged_ms && now - m->refused_logged_ms < UDP_DEMUX_LOG_MS)
		return;
	m->refused_logged_ms = now;
	log_warn("%s: %zu flows open; datagrams from new sources dropped (%llu so far)", m->what,
	         m->nflows, (unsigned long long)m->refused);
}

static void demux_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct udp_demux *m = (struct udp_demux *)((char *)io - offsetof(struct udp_demux, io));
	uint8_t pkt[DGRAM_MAX + 1];
	(void)rx;
	(void)events;
	for (int i = 0; i < UDP_DEMUX_BATCH; i++) {
		struct net_addr src;
		long n = net_recvfrom(m->fd, pkt, sizeof(pkt), &src);
		if (n == -EAGAIN)
			return;
		if (n < 0)
			continue; /* an ICMP error for an answer we sent: UDP goes on */
		struct dgram *d = udp_demux_find(m, &src);
		if (!d)
			d = m->open(m->owner, &src);
		if (!d)
			refused_log(m);
		else
			dgram_send(d, pkt, (size_t)n);
	}
}

int udp_demux_start(struct udp_demux *m, struct rx *rx, int fd, const char *what,
                    udp_demux_open_fn open, void *owner)
{
	m->rx = rx;
	m->fd = fd;
	m->what = what;
	m->open = open;
	m->owner = owner;
	if (rx_io_add(rx, &m->io, fd, demux_on_io) < 0) {
		close(fd);
		m->fd = -1;
		return -1;
	}
	rx_io_want(rx, &m->io, RX_READ);
	return 0;
}

void udp_demux_stop(struct udp_demux *m, const char *why)
{
	for (size_t b = 0; b < UDP_DEMUX_BUCKETS; b++)
		while (m->flows[b])
			dgram_close(m->flows[b], why);
	if (m->fd >= 0) {
		rx_io_del(m->rx, &m->io);
		close(m->fd);
		m->fd = -1;
	}
}
