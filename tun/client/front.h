/* front.h — the -D front end: SOCKS5 (with UDP ASSOCIATE), SOCKS4 and
 * HTTP proxy on one port. */
#ifndef WSF_TUN_CLIENT_FRONT_H
#define WSF_TUN_CLIENT_FRONT_H

#include "core/buf.h"
#include "core/net.h"
#include "tun/client/client_int.h"

/* Takes an accepted local connection of the -D fwd and runs the proxy
 * handshake on it. */
void front_accept(struct client *c, const struct fwd *fwd, int fd, const struct net_addr *peer);
/* Continues an HTTP proxy connection of the -D fwd whose next request is in
 * *in (taken). */
void front_resume(struct client *c, const struct fwd *fwd, int fd, unsigned id, struct buf *in);

#endif
