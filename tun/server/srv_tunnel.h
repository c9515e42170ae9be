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

/* --encrypt agreement for a tunnel that carries data (connect, -R
 * accept): TUNNEL_OK, or TUNNEL_ERR_ENCRYPT when the request seals without
 * a key or over tls://, or a ws:// listener of a --encrypt server gets a
 * plain one (logged). */
enum tunnel_err srv_encrypt_check(const struct server *srv, const struct handoff *h,
                                  const struct tunnel_req *req);
/* The sealing arguments of a relay for req (NULLs when it does not seal). */
void srv_encrypt_args(const struct server *srv, const struct tunnel_req *req,
                      struct relay_args *a);

/* A valid tunnel upgrade (key: its Sec-WebSocket-Key): dial, then 101 or a
 * refusal. Owns h->s from the call on. 0, or -1 when it was closed. */
int srv_tunnel_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len);

#endif
