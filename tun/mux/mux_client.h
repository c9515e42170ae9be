/* mux_client.h — the client end of --mux: a pool of carriers, each with
 * up to max_streams tunnels; a tunnel that finds no free slot opens
 * another carrier. The client's plumbing (connecting, TLS, the upgrade,
 * signing) comes in through mux_client_ops. */
#ifndef WSF_TUN_MUX_MUX_CLIENT_H
#define WSF_TUN_MUX_MUX_CLIENT_H

#include "core/buf.h"
#include "core/rx.h"
#include "proto/tunnel.h"
#include "tun/conn.h"
#include "tun/relay.h"
#include "tun/stream.h"

struct mux_pool;
struct mux_carrier;

struct mux_client_ops {
	/* Connects a new carrier to the server: later (or during the call)
	 * mux_pool_connected or mux_pool_connect_failed, unless the client
	 * stops first (its conn list then destroys the carrier). */
	void (*connect)(void *arg, struct mux_carrier *car);
	/* Writes the signed request (base64url blob, proto/tunnel.h) for a
	 * connect to target, made now (fresh time, new nonce). Length or 0. */
	size_t (*sign)(void *arg, const char *target, char *out, size_t cap);
};

/* NULL when out of memory. max_streams: 1..MUX_MAX_STREAMS. seal_base:
 * --encrypt's auth_keys.payload (every carrier sealed, ws:// only), or NULL. */
struct mux_pool *mux_pool_new(struct rx *rx, struct conn_list *conns,
                              const struct relay_opts *opts, bool raw, unsigned max_streams,
                              const uint8_t *seal_base, const struct mux_client_ops *ops,
                              void *arg);
/* After the conn list was destroyed (every carrier is gone then). */
void mux_pool_free(struct mux_pool *p);

/* Opens a tunnel to target as a stream, as client_open_tunnel does (same
 * ownership of local_fd and *early, same on_open contract). */
void mux_pool_open(struct mux_pool *p, int local_fd, unsigned id, const char *target,
                   struct buf *early, relay_open_fn on_open, void *owner);

/* The carrier's connection to the server: s (taken), the upgrade request
 * req (a TUNNEL_MUX request) and what its 101 must show. */
void mux_pool_connected(struct mux_carrier *car, struct stream *s, const char *req, size_t n,
                        const struct tunnel_expect *e);
void mux_pool_connect_failed(struct mux_carrier *car, enum tunnel_err err);
/* The arg given to mux_pool_new, for the carrier's connect callbacks. */
void *mux_pool_arg_of(const struct mux_carrier *car);

#endif
