/* handoff.h — a request whose head is complete, handed from the server's
 * router (tun/server/server.c) to an endpoint (the tunnel, -R, echo, ping,
 * and every endpoint family to come): the connection, the bytes read so far
 * and where it lives. Types only: the router fills it, an endpoint takes it. */
#ifndef WSF_TUN_HANDOFF_H
#define WSF_TUN_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/auth.h"
#include "proto/http.h"
#include "tun/conn.h"
#include "tun/stream.h"

/* Endpoints own s from the call on (closing it themselves on failure) and
 * may take in (leaving it empty). */
struct handoff {
	struct rx *rx;            /* the reactor the connection lives on */
	struct conn_list *conns;  /* the list it joins (ids, per-IP counts, stop) */
	struct stream s;          /* the client's connection (plain or TLS) */
	unsigned id;
	struct net_addr addr;     /* the client as the server counts and logs it: endpoints
	                           * use this one (push_hub_admit, conn_peer_str) */
	struct buf in;            /* head at the front, then pipelined bytes */
	size_t head_len;
	const struct http_request *req;
	struct conn_peer *peer;   /* counted per source address */
	bool raw;                 /* tls:// listener: no WebSocket frames after the 101 */
	const struct auth_keys *keys; /* the keys its token was checked with (a
	                               * controller user's own, or the server's) */
	const char *to;           /* a controller user's fixed destination; NULL:
	                           * the server's --to, if any (valid during the call) */
};

#endif
