/* srv_token.h — the server's freshness and replay rules for a tunnel token. */
#ifndef WSF_TUN_SERVER_SRV_TOKEN_H
#define WSF_TUN_SERVER_SRV_TOKEN_H

#include <stdbool.h>

#include "proto/tunnel.h"
#include "tun/server/server_int.h"
#include "tun/stats.h"

/* With a key: the token is fresh (within --max-skew) and its nonce never
 * seen before on this node (logged when refused). *ttl_s: how long its
 * nonce must be remembered (for --replay-store). Without a key: true. */
bool srv_token_accepted(struct server *srv, const struct tunnel_req *t, unsigned id,
                        unsigned *ttl_s);
/* --replay-store unreachable: closed refuses, local trusts this node's own
 * table (already checked). Logged at most every 10 s. */
bool srv_store_down_allows(struct server *srv, unsigned id);
/* --metrics: a keyed tunnel request refused, and why (the log says it too). */
void srv_count_auth_failure(struct server *srv, enum stats_auth why);

#endif
