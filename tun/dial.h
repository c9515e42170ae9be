/* dial.h — resolve a host (never blocking the reactor) and connect to it,
 * trying each address in turn (IPv6 first, then IPv4) within one deadline;
 * or, for UDP, connect a datagram socket to the first routable address.
 * Embedded in its owner; owns the socket until it hands it to done(). */
#ifndef WSF_TUN_DIAL_H
#define WSF_TUN_DIAL_H

#include <stdint.h>

#include "core/dns.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/tunnel.h"
#include "tun/stats.h"

#define DIAL_MAX_ADDRS DNS_MAX_ADDRS
#define DIAL_ATTEMPT_MS 2000 /* a silent address yields to the next (RFC 8305 spirit) */

struct dial;
/* fd >= 0 (connected, non-blocking, now the owner's) with TUNNEL_OK, or
 * fd -1 with why. Called exactly once unless dial_cancel came first; the
 * owner may free the struct dial inside it. */
typedef void (*dial_done_fn)(struct dial *d, int fd, enum tunnel_err err);

struct dial {
	struct rx *rx;
	struct dns *dns;
	struct dns_query query;
	uint64_t deadline_ms;      /* the whole dial's */
	struct rx_io io;
	struct rx_timer timer;     /* attempt fallback and overall deadline */
	dial_done_fn done;
	int fd;
	int last_err;              /* errno of the last failed attempt */
	uint16_t port;
	uint8_t naddrs, next;
	bool resolving;
	bool forbidden;            /* an address was skipped by the allow list */
	bool tried;                /* some address was attempted */
	bool udp;                  /* set before dial_start: a connected UDP socket
	                            * to the first address that has a route */
	const struct net_cidr *allow; /* NULL: any address may be dialled */
	size_t nallow;
	struct tun_stats *stats;   /* set before dial_start: DNS latency observed (NULL: not) */
	uint64_t resolve_ms;       /* when the lookup began */
	struct net_addr addrs[DIAL_MAX_ADDRS];
};

/* Starts; the outcome always arrives through done(), which may run before
 * dial_start returns (a name that cannot resolve, no address to try). */
void dial_start(struct dial *d, struct rx *rx, struct dns *dns, const char *host,
                uint16_t port, unsigned timeout_ms, dial_done_fn done);
void dial_cancel(struct dial *d);

/* --restrict-to (server; client for its tunnel:// exit): HOST:PORT rules,
 * '*' matching any host or any port, a host compared without case (an
 * IPv6 one in brackets). No rules permit everything. */
bool dial_target_permitted(const char *const *rules, size_t n, const char *host, uint16_t port);
/* 0 when rule is a valid HOST:PORT rule ("*" in either part), else -1. */
int dial_rule_check(const char *rule);

#endif
