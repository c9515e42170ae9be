/* cli_transparent.h — the client as a transparent proxy for routers:
 * --redirect (nft/iptables REDIRECT) and --tproxy (TPROXY) listeners whose
 * connections are tunnelled to the destination they were meant for, and
 * the loop check that --tproxy's UDP shares. */
#ifndef WSF_TUN_CLIENT_CLI_TRANSPARENT_H
#define WSF_TUN_CLIENT_CLI_TRANSPARENT_H

#include "tun/client/client_int.h"

/* A connection accepted on f's listener (FWD_REDIRECT or FWD_TPROXY), fd
 * taken: its original destination is read from the kernel and tunnelled
 * to, unless it is a loop (the tunnel server itself, or this listener's own
 * port), which is closed with a log line. */
void cli_transparent_accept(struct client *c, const struct fwd *f, int fd,
                            const struct net_addr *peer);

/* --tproxy UDP: true, after a rate-limited warn line, when a datagram from
 * src to dst would loop (dst is the tunnel server, the --proxy, or f's own
 * port); the caller drops it. */
bool cli_transparent_udp_loop(struct client *c, const struct fwd *f, const struct net_addr *src,
                              const struct net_addr *dst);

#endif
