/* srv_mux.h — the server's side of --mux: a carrier upgrade handed to
 * tun/mux/ with this server's admission rules for each stream. */
#ifndef WSF_TUN_SERVER_SRV_MUX_H
#define WSF_TUN_SERVER_SRV_MUX_H

#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/server/server_int.h"

/* A valid TUNNEL_MUX upgrade (key: its Sec-WebSocket-Key): 101, then a
 * carrier. Owns h->s from the call on. 0, or -1 when it was closed. */
int srv_mux_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                   const char *key, size_t key_len);

#endif
