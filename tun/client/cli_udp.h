/* cli_udp.h — the client's UDP: -L udp:// listeners (one flow, one
 * WebSocket, per source address) and the flows every UDP front end opens
 * through the server (-L udp://, SOCKS5 UDP ASSOCIATE, -R udp://). */
#ifndef WSF_TUN_CLIENT_CLI_UDP_H
#define WSF_TUN_CLIENT_CLI_UDP_H

#include "tun/client/client_int.h"
#include "tun/dgram.h"

#define CLI_UDP_MAX_FLOWS 1024 /* per -L udp:// listener or SOCKS association */

/* A new flow to target (HOST:PORT, which MUST outlive the flow) through the
 * server, in owner mode, not connected yet: datagrams given to dgram_send
 * are kept (one buffer) until it is, then pipelined behind the upgrade
 * unless early data is held. NULL when out of memory. */
struct dgram *cli_udp_flow(struct client *c, const char *target, unsigned idle_ms,
                           const struct dgram_ops *ops, void *owner);
/* Connects d to the server. A direct connection is made before this returns,
 * so d may already have ended (on_close ran): the caller looks it up again
 * in its table rather than use d afterwards. */
void cli_udp_flow_connect(struct dgram *d);

/* Binds the -L udp:// listener of f. 0, or -1 (logged). */
int cli_udp_listen(struct client *c, const struct fwd *f);

/* -R udp://: carries the flow the server announced under the hex id
 * (target) back to fd, a UDP socket connected to f's destination (taken). */
void cli_udp_claim(struct client *c, int fd, unsigned id, const char *target,
                   const struct fwd *f);

#endif
