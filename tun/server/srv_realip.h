/* srv_realip.h — who the client really is when the server sits behind a
 * load balancer: the PROXY protocol header of a --proxy-protocol source, or
 * X-Forwarded-For / X-Real-IP from a --trust-proxy source. Never logs. */
#ifndef WSF_TUN_SERVER_SRV_REALIP_H
#define WSF_TUN_SERVER_SRV_REALIP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/net.h"
#include "proto/http.h"
#include "proto/proxyhdr.h"

/* True when a lies inside one of the n blocks. */
bool srv_realip_cidr_any(const struct net_cidr *c, size_t n, const struct net_addr *a);

/* Reads the PROXY header waiting on fd, taking exactly its bytes (what
 * follows stays in the socket for TLS or HTTP). -EAGAIN: not all here yet,
 * wait for readable. 1: done, *addr replaced when the header names a TCP
 * client (a LOCAL health check or UNKNOWN keeps it). 0: the peer closed.
 * Otherwise a negative proxyhdr_rc (not a PROXY header: drop it) below
 * -1000, or -errno. */
int srv_realip_header_read(int fd, struct proxyhdr *ph, struct net_addr *addr);
#define SRV_REALIP_PROTO_ERR(rc) ((rc) < -1000 ? (rc) + 1000 : 0) /* proxyhdr_rc */

/* The client behind trusted proxies: X-Forwarded-For read from the right,
 * skipping entries that are themselves trusted, the first other one is the
 * client; without that header, X-Real-IP. True when *addr was replaced
 * (port 0); false leaves it (no header, or an entry that is not an IP). */
bool srv_realip_forwarded(const struct http_request *req, const struct net_cidr *trusted,
                          size_t ntrusted, struct net_addr *addr);

#endif
