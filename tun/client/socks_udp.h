/* socks_udp.h — SOCKS5 UDP ASSOCIATE (RFC 1928 §7) on the -D port. */
#ifndef WSF_TUN_CLIENT_SOCKS_UDP_H
#define WSF_TUN_CLIENT_SOCKS_UDP_H

#include "proto/socks.h"
#include "tun/client/client_int.h"

#define SOCKS_UDP_MAX_FLOWS 256 /* destinations per association */

/* Takes the TCP connection fd (its request ev answered here) and serves an
 * association on a UDP socket bound beside it: each destination a flow
 * through the server, ended after idle_ms of silence (0 never); the whole
 * association ends with the TCP connection. */
void socks_udp_associate(struct client *c, int fd, unsigned id, const struct socks_event *ev,
                         unsigned idle_ms);

#endif
