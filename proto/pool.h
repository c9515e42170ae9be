/* pool.h — the warm pool's two messages (--pool, wsferry-protocol(7)). A
 * pooled connection is upgraded ahead of need with a TUNNEL_POOLED token;
 * when used, its first message is the request (a CONNECT blob, signed afresh:
 * its own time, nonce and MAC) and the server's first message answers it
 * with a status and the key proof bound to that request's nonce. The same
 * bytes travel as one binary WebSocket message (ws, wss) or as they are
 * (tls://). Pure: no I/O, no clock, no malloc. */
#ifndef WSF_PROTO_POOL_H
#define WSF_PROTO_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/auth.h"
#include "proto/tunnel.h"

/* Request: blob length (2, big-endian), then the blob (proto/tunnel.h). */
#define POOL_REQ_MAX (2 + TUNNEL_BLOB_MAX)
/* Answer: HTTP-style status (2, big-endian: 101 opened, else the refusal's
 * status of tunnel_err_status), then the proof (zeros without a key). */
#define POOL_ANSWER_LEN (2 + AUTH_PROOF_LEN)
#define POOL_STATUS_OPEN 101

/* Writes the request for r (kind TUNNEL_CONNECT) into out: its length, or
 * 0 when the target is too long. */
size_t pool_req_encode(const struct tunnel_req *r, const struct auth_keys *keys,
                       uint8_t out[POOL_REQ_MAX]);

enum pool_rc {
	POOL_NEED_MORE = 0, /* not a whole request yet */
	POOL_BAD = -1,      /* not a request of ours (bad length, kind, blob or MAC) */
};

/* Reads the request at the front of p[0..n): the bytes it took (> 0) with
 * *r filled and verified with keys (freshness and replay are the caller's),
 * or an enum pool_rc. *decode says why a blob was refused (TUNNEL_BAD_MAC:
 * another key). Only TUNNEL_CONNECT requests are accepted. */
long pool_req_parse(const uint8_t *p, size_t n, const struct auth_keys *keys,
                    struct tunnel_req *r, enum tunnel_decode_rc *decode);

/* The server's answer to the request with nonce: status and, with keys, the
 * proof of auth_proof(keys, nonce, status). */
void pool_answer_encode(const struct auth_keys *keys, const uint8_t nonce[TUNNEL_NONCE_LEN],
                        int status, uint8_t out[POOL_ANSWER_LEN]);

/* The client's reading of an answer: TUNNEL_OK for an open tunnel, the
 * refusal's tunnel_err, or TUNNEL_ERR_SERVER_FAKE when keys are set and the
 * proof does not match the request's nonce and the status. */
enum tunnel_err pool_answer_check(const uint8_t p[POOL_ANSWER_LEN], const struct auth_keys *keys,
                                  const uint8_t nonce[TUNNEL_NONCE_LEN]);

#endif
