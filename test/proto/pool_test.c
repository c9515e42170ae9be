/* pool_test.c — the warm pool's request (length, blob, MAC, kind) and the
 * server's answer (status, proof bound to the request nonce). */
#include "proto/pool.h"

#include <string.h>

#include "test/check.h"

static struct auth_keys keys, other;

static struct tunnel_req sample(const char *target)
{
	struct tunnel_req r = {.kind = TUNNEL_CONNECT, .timestamp = 1700000000};
	memset(r.nonce, 0x3C, sizeof(r.nonce));
	r.target_len = strlen(target);
	memcpy(r.target, target, r.target_len + 1);
	return r;
}

static void test_req_roundtrip(void)
{
	struct tunnel_req r = sample("example.com:443"), back;
	uint8_t msg[POOL_REQ_MAX + 8];
	enum tunnel_decode_rc why;
	size_t n = pool_req_encode(&r, &keys, msg);
	CHECK(n > 2 && n <= POOL_REQ_MAX);
	CHECK_EQ_INT((size_t)(msg[0] << 8 | msg[1]), n - 2);
	memset(msg + n, 0xEE, 8); /* bytes that follow belong to the relay */
	CHECK_EQ_INT(pool_req_parse(msg, n + 8, &keys, &back, &why), (long)n);
	CHECK_EQ_INT(why, TUNNEL_DECODED);
	CHECK(strcmp(back.target, "example.com:443") == 0);
	CHECK_EQ_INT(back.timestamp, 1700000000);
	CHECK_MEM(back.nonce, r.nonce, TUNNEL_NONCE_LEN);
	/* The target is encrypted on the wire. */
	CHECK(memmem(msg, n, "example.com", 11) == NULL);
}

static void test_req_need_more(void)
{
	struct tunnel_req r = sample("10.0.0.1:22"), back;
	uint8_t msg[POOL_REQ_MAX];
	enum tunnel_decode_rc why;
	size_t n = pool_req_encode(&r, &keys, msg);
	for (size_t cut = 0; cut < n; cut++)
		CHECK_EQ_INT(pool_req_parse(msg, cut, &keys, &back, &why), POOL_NEED_MORE);
}

static void test_req_refused(void)
{
	struct tunnel_req r = sample("10.0.0.1:22"), back;
	uint8_t msg[POOL_REQ_MAX];
	enum tunnel_decode_rc why;
	size_t n = pool_req_encode(&r, &keys, msg);
	CHECK_EQ_INT(pool_req_parse(msg, n, &other, &back, &why), POOL_BAD);
	CHECK_EQ_INT(why, TUNNEL_BAD_MAC);
	CHECK_EQ_INT(pool_req_parse(msg, n, NULL, &back, &why), POOL_BAD);
	msg[n - 1] ^= 1; /* the MAC */
	CHECK_EQ_INT(pool_req_parse(msg, n, &keys, &back, &why), POOL_BAD);
	CHECK_EQ_INT(why, TUNNEL_BAD_MAC);
	uint8_t zero[2] = {0, 0}, huge[2] = {0xFF, 0xFF};
	CHECK_EQ_INT(pool_req_parse(zero, 2, &keys, &back, &why), POOL_BAD);
	CHECK_EQ_INT(pool_req_parse(huge, 2, &keys, &back, &why), POOL_BAD);
	/* A request must be a CONNECT: a pooled token cannot stand in for one. */
	struct tunnel_req pooled = {.kind = TUNNEL_POOLED, .timestamp = 5};
	n = pool_req_encode(&pooled, &keys, msg);
	CHECK(n > 0);
	CHECK_EQ_INT(pool_req_parse(msg, n, &keys, &back, &why), POOL_BAD);
	struct tunnel_req udp = sample("10.0.0.1:53");
	udp.kind = TUNNEL_UDP;
	n = pool_req_encode(&udp, &keys, msg);
	CHECK_EQ_INT(pool_req_parse(msg, n, &keys, &back, &why), POOL_BAD);
}

static void test_req_keyless(void)
{
	struct tunnel_req r = sample("host:80"), back;
	uint8_t msg[POOL_REQ_MAX];
	enum tunnel_decode_rc why;
	size_t n = pool_req_encode(&r, NULL, msg);
	CHECK_EQ_INT(pool_req_parse(msg, n, NULL, &back, &why), (long)n);
	CHECK(strcmp(back.target, "host:80") == 0);
	/* A keyed server refuses an unkeyed request. */
	CHECK_EQ_INT(pool_req_parse(msg, n, &keys, &back, &why), POOL_BAD);
	r.target_len = TUNNEL_MAX_TARGET + 1;
	CHECK_EQ_INT(pool_req_encode(&r, NULL, msg), 0);
}

static void test_pooled_token(void)
{
	/* The upgrade of a pooled connection names no target. */
	struct tunnel_req t = {.kind = TUNNEL_POOLED, .timestamp = 1700000000}, back;
	char cookie[TUNNEL_COOKIE_MAX];
	size_t n = tunnel_req_encode(&t, &keys, cookie, sizeof(cookie));
	CHECK(n > 9);
	CHECK_EQ_INT(tunnel_req_decode(cookie + 9, n - 9, &keys, &back), TUNNEL_DECODED);
	CHECK_EQ_INT(back.kind, TUNNEL_POOLED);
	CHECK_EQ_INT(back.target_len, 0);
	/* Kinds that need a target still refuse an empty one. */
	t.kind = TUNNEL_REVERSE_LISTEN;
	n = tunnel_req_encode(&t, &keys, cookie, sizeof(cookie));
	CHECK_EQ_INT(tunnel_req_decode(cookie + 9, n - 9, &keys, &back), TUNNEL_NO_COOKIE);
}

static void test_answer(void)
{
	uint8_t nonce[16], nonce2[16], a[POOL_ANSWER_LEN];
	memset(nonce, 1, 16);
	memset(nonce2, 2, 16);
	pool_answer_encode(&keys, nonce, POOL_STATUS_OPEN, a);
	CHECK_EQ_INT(pool_answer_check(a, &keys, nonce), TUNNEL_OK);
	CHECK_EQ_INT(pool_answer_check(a, &keys, nonce2), TUNNEL_ERR_SERVER_FAKE);
	CHECK_EQ_INT(pool_answer_check(a, &other, nonce), TUNNEL_ERR_SERVER_FAKE);
	/* A refusal cannot be turned into an open tunnel (the proof covers the status). */
	pool_answer_encode(&keys, nonce, tunnel_err_status(TUNNEL_ERR_REFUSED), a);
	CHECK_EQ_INT(pool_answer_check(a, &keys, nonce), TUNNEL_ERR_REFUSED);
	a[0] = 0;
	a[1] = POOL_STATUS_OPEN;
	CHECK_EQ_INT(pool_answer_check(a, &keys, nonce), TUNNEL_ERR_SERVER_FAKE);
	pool_answer_encode(NULL, nonce, tunnel_err_status(TUNNEL_ERR_TIMEOUT), a);
	CHECK_EQ_INT(pool_answer_check(a, NULL, nonce), TUNNEL_ERR_TIMEOUT);
	pool_answer_encode(NULL, nonce, 200, a); /* no such status of ours */
	CHECK_EQ_INT(pool_answer_check(a, NULL, nonce), TUNNEL_ERR_GENERAL);
}

int main(void)
{
	uint8_t psk[AUTH_KEY_LEN], psk2[AUTH_KEY_LEN];
	memset(psk, 7, sizeof(psk));
	memset(psk2, 8, sizeof(psk2));
	auth_derive(psk, &keys);
	auth_derive(psk2, &other);
	TEST_RUN(test_req_roundtrip);
	TEST_RUN(test_req_need_more);
	TEST_RUN(test_req_refused);
	TEST_RUN(test_req_keyless);
	TEST_RUN(test_pooled_token);
	TEST_RUN(test_answer);
	return test_summary();
}
