/* srv_listen.h — the server's checks and answers shared by -R
 * registrations (TCP: srv_reverse.c, UDP: srv_rudp.c). */
#ifndef WSF_TUN_SERVER_SRV_LISTEN_H
#define WSF_TUN_SERVER_SRV_LISTEN_H

#include "core/net.h"
#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/server/server_int.h"

/* The bind address a registration names (BIND:PORT, an IP literal or
 * localhost), checked against --permit-listen (a refusal is logged under
 * id). TUNNEL_OK with *a, or the refusal to answer. */
enum tunnel_err srv_listen_bind_addr(struct server *srv, unsigned id,
                                     const struct tunnel_req *req, struct net_addr *a);
/* A failed bind (negative errno) as the registration's refusal. */
enum tunnel_err srv_listen_bind_err(int rc);
/* Answers h with err and closes it (h->s taken). */
void srv_listen_refuse(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                       const char *key, size_t key_len, enum tunnel_err err);

#endif
