/* pool.c — the warm pool's request and answer (proto/pool.h): the request
 * is the tunnel blob behind a length, the answer a status behind which the
 * key proof rides, so a pooled tunnel keeps the freshness, replay and
 * server-proof rules of an upgrade's cookie. */
#include "proto/pool.h"

#include <string.h>

size_t pool_req_encode(const struct tunnel_req *r, const struct auth_keys *keys,
                       uint8_t out[POOL_REQ_MAX])
{
	size_t n = tunnel_blob_encode(r, keys, out + 2);
	if (n == 0)
		return 0;
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	return 2 + n;
}

long pool_req_parse(const uint8_t *p, size_t n, const struct auth_keys *keys,
                    struct tunnel_req *r, enum tunnel_decode_rc *decode)
{
	*decode = TUNNEL_NO_COOKIE;
	if (n < 2)
		return POOL_NEED_MORE;
	size_t len = (size_t)p[0] << 8 | p[1];
	if (len == 0 || len > TUNNEL_BLOB_MAX)
		return POOL_BAD;
	if (n < 2 + len)
		return POOL_NEED_MORE;
	*decode = tunnel_blob_decode(p + 2, len, keys, r);
	if (*decode != TUNNEL_DECODED)
		return POOL_BAD;
	if (r->kind != TUNNEL_CONNECT) {
		*decode = TUNNEL_NO_COOKIE;
		return POOL_BAD;
	}
	return (long)(2 + len);
}

void pool_answer_encode(const struct auth_keys *keys, const uint8_t nonce[TUNNEL_NONCE_LEN],
                        int status, uint8_t out[POOL_ANSWER_LEN])
{
	out[0] = (uint8_t)(status >> 8);
	out[1] = (uint8_t)status;
	if (keys)
		auth_proof(keys, nonce, status, out + 2);
	else
		memset(out + 2, 0, AUTH_PROOF_LEN);
}

enum tunnel_err pool_answer_check(const uint8_t p[POOL_ANSWER_LEN], const struct auth_keys *keys,
                                  const uint8_t nonce[TUNNEL_NONCE_LEN])
{
	int status = p[0] << 8 | p[1];
	if (keys) {
		uint8_t want[AUTH_PROOF_LEN];
		auth_proof(keys, nonce, status, want);
		if (!auth_equal(want, p + 2, AUTH_PROOF_LEN))
			return TUNNEL_ERR_SERVER_FAKE;
	}
	if (status == POOL_STATUS_OPEN)
		return TUNNEL_OK;
	enum tunnel_err e = tunnel_status_err(status);
	return e == TUNNEL_OK ? TUNNEL_ERR_GENERAL : e;
}
