/* reply.h — what every publish endpoint (channels, routes) answers a tunnel
 * request with: the 101 (with the key proof) or a wsferry refusal. */
#ifndef WSF_TUN_PUBLISH_REPLY_H
#define WSF_TUN_PUBLISH_REPLY_H

#include <stddef.h>

#include "proto/tunnel.h"
#include "tun/stream.h"
#include "tun/server/srv_config.h"

#define PUB_RESP_MAX 256

/* The 101 for req (key: its Sec-WebSocket-Key) into out; length, 0 if cap
 * is short. */
size_t pub_101(const struct server_config *cfg, const struct tunnel_req *req, const char *key,
               size_t key_len, char *out, size_t cap);
/* Answers err and closes s (taken). */
void pub_refuse(const struct server_config *cfg, struct stream *s, const struct tunnel_req *req,
                const char *key, size_t key_len, enum tunnel_err err);

#endif
