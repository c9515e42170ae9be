/* srv_rudp.h — the server end of -R udp://: one bound UDP socket per
 * registration, one flow (announced, then claimed by a data tunnel) per
 * source address. */
#ifndef WSF_TUN_SERVER_SRV_RUDP_H
#define WSF_TUN_SERVER_SRV_RUDP_H

#include <stdint.h>

#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/server/server_int.h"

#define SRV_RUDP_MAX_FLOWS 256 /* per registration: datagrams from further sources dropped */

/* A TUNNEL_UDP_LISTEN control channel: binds UDP on its target (within
 * --permit-listen). Owns h->s from the call on. 0, or -1 when it was closed. */
int srv_rudp_listen(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                    const char *key, size_t key_len);

/* Attaches h (taken on success) to the unclaimed flow announced as id,
 * answering with resp (the 101); req's --encrypt flag must match the
 * registration's, and its nonce keys a sealed flow. 0, or -1 when no such
 * flow waits under id (h untouched). */
int srv_rudp_claim(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                   uint64_t id, const char *resp, size_t rn);

#endif
