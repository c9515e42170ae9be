/* cli_tunnel.h — opening one tunnel from the client to the server. */
#ifndef WSF_TUN_CLIENT_CLI_TUNNEL_H
#define WSF_TUN_CLIENT_CLI_TUNNEL_H

#include "tun/client/client_int.h"
#include "tun/client/upstream.h"
#include "tun/relay.h"

/* Opens one tunnel: connects to the server, sends the upgrade naming target
 * (and early, the local bytes already read, right behind it or once the
 * server proved the key), then relays local_fd (through filter, for plain
 * HTTP proxying). Takes local_fd, *early and filter in every outcome.
 * on_open reports the server's answer (see relay.h); it is also called,
 * with an error, when the tunnel cannot even start. */
void client_open_tunnel(struct client *c, int local_fd, unsigned id, enum tunnel_kind kind,
                        const char *target, struct buf *early, relay_open_fn on_open,
                        void *owner, struct relay_filter *filter);

/* Writes the upgrade request for a tunnel of kind to target into out and
 * what the server's answer must show into *expect. Returns its length, 0 on
 * error. */
size_t client_upgrade(struct client *c, enum tunnel_kind kind, const char *target, char *out,
                      size_t cap, struct tunnel_expect *expect);

/* At stop, after every connection was destroyed: frees what waited for a
 * server's answer that will not come now. */
void client_tunnels_free(struct client *c);

/* Connects to the server, through --proxy when set: done gets a connected
 * (or, without a proxy, connecting) fd, or -1 with why. Not called if the
 * client stops first. */
void client_connect_server(struct client *c, upstream_fn done, void *owner);
/* Wraps a connected socket to the server: TLS for wss://, else plain. 0, or
 * -1 (fd closed). */
int client_stream(struct client *c, int fd, struct stream *out);

#endif
