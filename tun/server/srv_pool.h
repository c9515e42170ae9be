/* srv_pool.h — the server's end of a warm-pool connection (client --pool):
 * upgraded ahead of need, it waits for its request as its first message. */
#ifndef WSF_TUN_SERVER_SRV_POOL_H
#define WSF_TUN_SERVER_SRV_POOL_H

#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/server/server_int.h"

/* A client that sends no request this long after the 101 is closed (FIN,
 * no byte): clients replace theirs well before (--pool-idle <= 50 s). */
#define SRV_POOL_HOLD_MS 60000

/* A valid upgrade whose token (kind TUNNEL_POOLED) was accepted as fresh
 * and unseen: answers 101, then waits up to SRV_POOL_HOLD_MS for the
 * request (proto/pool.h), checks it like an upgrade's cookie (MAC, skew,
 * replay table and --replay-store) and hands it to srv_tunnel. Anything
 * else (another message, a bad or replayed request, silence) closes the
 * connection without an answer. Owns h->s from the call on. */
void srv_pool_accept(struct server *srv, struct handoff *h, const struct tunnel_req *token,
                     const char *key, size_t key_len);

#endif
