/* reply.c — the 101 and the refusals of the publish endpoints. */
#include "tun/publish/reply.h"

#include "proto/ws.h"

size_t pub_101(const struct server_config *cfg, const struct tunnel_req *req, const char *key,
               size_t key_len, char *out, size_t cap)
{
	char proof[128];
	tunnel_proof_header(cfg->keys, req->nonce, 101, proof, sizeof(proof));
	return ws_response_101(out, cap, key, key_len, proof);
}

void pub_refuse(const struct server_config *cfg, struct stream *s, const struct tunnel_req *req,
                const char *key, size_t key_len, enum tunnel_err err)
{
	char resp[PUB_RESP_MAX];
	size_t n = tunnel_refusal(err, key, key_len, cfg->keys, req->nonce, resp, sizeof(resp));
	stream_reply_and_close(s, resp, n);
}
