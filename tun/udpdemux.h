/* udpdemux.h — one bound UDP socket sorted into flows (tun/dgram.h) by
 * source address: the table of flows, the read loop, the way back (a flow's
 * datagram goes to its source through the same socket) and the log line,
 * at most every 10 s, when new sources find no room. Shared by -L udp:// on
 * the client and -R udp:// on the server; the owner makes the flows. Owns
 * the socket from udp_demux_start to udp_demux_stop. */
#ifndef WSF_TUN_UDPDEMUX_H
#define WSF_TUN_UDPDEMUX_H

#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "core/rx.h"
#include "tun/dgram.h"

#define UDP_DEMUX_BUCKETS 64

/* A datagram from a source without a flow: its new flow, already added
 * with udp_demux_add, or NULL (limit, memory, refused at once). */
typedef struct dgram *(*udp_demux_open_fn)(void *owner, const struct net_addr *src);

struct udp_demux {
	struct rx *rx;
	struct rx_io io;
	int fd;
	size_t nflows;
	uint64_t refused;          /* datagrams from sources that got no flow */
	uint64_t refused_logged_ms;
	const char *what;          /* the owner's name for the log, e.g. "-L udp://5353:..." */
	udp_demux_open_fn open;
	void *owner;
	struct dgram *flows[UDP_DEMUX_BUCKETS]; /* chained through dgram.next */
};

/* Starts reading fd (a bound UDP socket, taken). what and owner outlive m.
 * 0, or -1 (fd closed). */
int udp_demux_start(struct udp_demux *m, struct rx *rx, int fd, const char *what,
                    udp_demux_open_fn open, void *owner);
/* Closes every flow (why: for their logs), then the socket. */
void udp_demux_stop(struct udp_demux *m, const char *why);

/* d->peer is its source. */
void udp_demux_add(struct udp_demux *m, struct dgram *d);
void udp_demux_remove(struct udp_demux *m, struct dgram *d);
struct dgram *udp_demux_find(const struct udp_demux *m, const struct net_addr *src);

/* A datagram of flow d back to its source (dropped and counted when the
 * socket cannot take it, as UDP would lose it). */
void udp_demux_answer(struct udp_demux *m, struct dgram *d, const uint8_t *p, size_t n);

#endif
