/* srv_tunnel.h — the server end of a tunnel request (and the 101 every
 * tunnel-kind endpoint answers with). */
#ifndef WSF_TUN_SERVER_SRV_TUNNEL_H
#define WSF_TUN_SERVER_SRV_TUNNEL_H

#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/relay.h"
#include "tun/server/server_int.h"

/* The 101 for a tunnel request (with the key proof when keyed): its length,
 * or 0 when out is too small. */
size_t server_101(const struct server *srv, const struct tunnel_req *req, const char *key,
                  size_t key_len, char *out, size_t cap);
/* The same with keys given (a controller user's; NULL: an open server). */
size_t server_101_keyed(const struct auth_keys *keys, const struct tunnel_req *req,
                        const char *key, size_t key_len, char *out, size_t cap);

/* Where a request may go (--to, the target's form, --restrict-to): TUNNEL_OK
 * with target (what is dialled, for logs), host and port, or the refusal. */
enum tunnel_err srv_tunnel_target(const struct server *srv, unsigned id,
                                  const struct tunnel_req *req,
                                  char target[TUNNEL_MAX_TARGET + 1], char *host,
                                  size_t host_cap, uint16_t *port);

/* A valid tunnel upgrade (key: its Sec-WebSocket-Key): dial, then 101 or a
 * refusal. h->keys, when set, are the keys the token was checked with (they
 * sign the 101; NULL: the server's); h->to, when set, is its fixed
 * destination (as --to). Owns h->s from the call on. 0, or -1 when it was
 * closed. */
int srv_tunnel_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len);
/* The same for the request a pooled connection sent as its first message
 * (verified, fresh and claimed): h->s is upgraded already, h->in holds what
 * followed the request; the answer is proto/pool.h's, not HTTP. */
int srv_tunnel_accept_pooled(struct server *srv, struct handoff *h, const struct tunnel_req *req);

#endif
