/* srv_reverse.h — the server end of -R. */
#ifndef WSF_TUN_SERVER_SRV_REVERSE_H
#define WSF_TUN_SERVER_SRV_REVERSE_H

#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/server/server_int.h"

/* A control channel asking the server to listen (within --permit-listen).
 * Owns h->s from the call on. 0, or -1 when it was closed. */
int srv_reverse_listen(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                       const char *key, size_t key_len);
/* A data tunnel claiming an announced connection (or -R udp:// flow) by
 * id. 0 or -1. */
int srv_reverse_claim(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len);

#endif
