/* route.h — reverse-proxy routes (issue 11): a client publishes a local
 * HTTP service by path prefix or by Host on the server's web port; each
 * request that matches is announced on its control channel, the client
 * dials the service and carries the connection back, and the server
 * rewrites each request head (proto/route.h) on its way. */
#ifndef WSF_TUN_PUBLISH_ROUTE_H
#define WSF_TUN_PUBLISH_ROUTE_H

#include <stdbool.h>

#include "core/rx.h"
#include "proto/http.h"
#include "proto/tunnel.h"
#include "tun/conn.h"
#include "tun/handoff.h"
#include "tun/server/srv_config.h"

struct routes;

/* The routes of one reactor; rx, conns and cfg outlive it. NULL when out of
 * memory. */
struct routes *routes_new(struct rx *rx, struct conn_list *conns, const struct server_config *cfg);
/* After every connection of conns is gone. NULL is fine. */
void routes_free(struct routes *rs);

/* TUNNEL_ROUTE_REGISTER (an authenticated tunnel request; key: its
 * Sec-WebSocket-Key): 403 on a server without --key, 400 for a bad rule,
 * 409 when the same rule is held, else the control channel. Owns h->s.
 * 0, or -1 when the connection was closed. */
int route_register(struct routes *rs, struct handoff *h, const struct tunnel_req *req,
                   const char *key, size_t key_len);
/* TUNNEL_ROUTE_ACCEPT: the registering client carries an announced request. */
int route_claim(struct routes *rs, struct handoff *h, const struct tunnel_req *req,
                const char *key, size_t key_len);

/* The router's question for a request no other endpoint took (path: the
 * target without its query; https: it came over TLS): true when a route
 * matched, and then h was taken; false leaves h untouched. */
bool route_take(struct routes *rs, struct handoff *h, struct http_slice path, bool https);

#endif
