/* pool_fuzz.c — libFuzzer target for proto/pool.c (and the blob decoder of
 * proto/tunnel.c behind it). The first byte picks keyed or keyless; the rest
 * is read as a pooled request and as an answer. A request that parses must
 * take no more than it was given, name a CONNECT, and encode back to the
 * same bytes; any broken invariant aborts. */
#include "proto/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_keys keys;
	static int ready;
	if (!ready) {
		uint8_t psk[AUTH_KEY_LEN];
		memset(psk, 7, sizeof(psk));
		auth_derive(psk, &keys);
		ready = 1;
	}
	if (size < 1)
		return 0;
	const struct auth_keys *k = data[0] & 1 ? &keys : NULL;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct tunnel_req r;
	enum tunnel_decode_rc why;
	long used = pool_req_parse(p, n, k, &r, &why);
	REQUIRE(used >= POOL_BAD && used <= (long)n);
	if (used > 0) {
		REQUIRE(why == TUNNEL_DECODED && r.kind == TUNNEL_CONNECT);
		REQUIRE(r.target_len <= TUNNEL_MAX_TARGET && strlen(r.target) == r.target_len);
		uint8_t again[POOL_REQ_MAX];
		size_t an = pool_req_encode(&r, k, again);
		REQUIRE(an == (size_t)used && memcmp(again, p, an) == 0);
	}
	if (n >= POOL_ANSWER_LEN) {
		uint8_t nonce[TUNNEL_NONCE_LEN] = {0};
		enum tunnel_err e = pool_answer_check(p, k, nonce);
		REQUIRE(e >= TUNNEL_OK && e <= TUNNEL_ERR_TLS);
	}
	return 0;
}
