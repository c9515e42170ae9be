/* seal_test.c — --encrypt records: round trips both ways, direction
 * separation, every tampered byte refused, replay and reordering refused,
 * another server nonce or key refused, the empty record (end of data). */
#include "proto/seal.h"

#include <string.h>

#include "test/check.h"

static const uint8_t base[32] = {1, 2, 3}, other[32] = {4}, cn[16] = {5}, sn[16] = {6};

static void pair(struct seal *c, struct seal *s)
{
	seal_init(c, base, cn, sn, true);
	seal_init(s, base, cn, sn, false);
}

static void test_roundtrip(void)
{
	struct seal c, s;
	pair(&c, &s);
	uint8_t rec[1000 + SEAL_TAG_LEN], plain[1000];
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	for (int round = 0; round < 3; round++) {
		memcpy(rec, plain, sizeof(plain));
		CHECK_EQ_INT(seal_encrypt(&c, rec, sizeof(plain)), 0);
		CHECK(memcmp(rec, plain, 64) != 0);
		CHECK_EQ_INT(seal_open(&s, rec, sizeof(rec)), (long)sizeof(plain));
		CHECK_MEM(rec, plain, sizeof(plain));
		memcpy(rec, plain, sizeof(plain));
		CHECK_EQ_INT(seal_encrypt(&s, rec, 10), 0); /* and back */
		CHECK_EQ_INT(seal_open(&c, rec, 10 + SEAL_TAG_LEN), 10);
		CHECK_MEM(rec, plain, 10);
	}
	/* The same plaintext never encrypts the same way twice (fresh nonce). */
	uint8_t a[32 + SEAL_TAG_LEN] = {0}, b[32 + SEAL_TAG_LEN] = {0};
	seal_encrypt(&c, a, 32);
	seal_encrypt(&c, b, 32);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

static void test_directions(void)
{
	struct seal c, s;
	pair(&c, &s);
	uint8_t rec[16 + SEAL_TAG_LEN] = "from the client";
	seal_encrypt(&c, rec, 16);
	CHECK_EQ_INT(seal_open(&c, rec, sizeof(rec)), -1); /* reflected back: refused */
	CHECK(memcmp(c.tx.key, c.rx.key, SEAL_KEY_LEN) != 0);
	CHECK_MEM(c.tx.key, s.rx.key, SEAL_KEY_LEN);
}

static void test_tamper(void)
{
	uint8_t plain[40 + SEAL_TAG_LEN] = "attack at dawn, attack at dawn, attack!";
	int caught = 0, tried = 0;
	for (size_t i = 0; i < sizeof(plain); i++) {
		struct seal c, s;
		pair(&c, &s);
		uint8_t rec[sizeof(plain)];
		memcpy(rec, plain, sizeof(rec));
		seal_encrypt(&c, rec, 40);
		rec[i] ^= 0x01;
		tried++;
		caught += seal_open(&s, rec, sizeof(rec)) < 0;
	}
	CHECK_EQ_INT(caught, tried);
	struct seal c, s;
	pair(&c, &s);
	uint8_t rec[SEAL_TAG_LEN + 4] = {0};
	seal_encrypt(&c, rec, 4);
	CHECK_EQ_INT(seal_open(&s, rec, 4 + SEAL_TAG_LEN - 1), -1); /* truncated */
	CHECK_EQ_INT(seal_open(&s, rec, 3), -1);                   /* shorter than a tag */
}

static void test_replay_and_order(void)
{
	struct seal c, s;
	pair(&c, &s);
	uint8_t r0[8 + SEAL_TAG_LEN] = "first", r1[8 + SEAL_TAG_LEN] = "second", keep[sizeof(r0)];
	seal_encrypt(&c, r0, 8);
	seal_encrypt(&c, r1, 8);
	memcpy(keep, r0, sizeof(r0));
	CHECK_EQ_INT(seal_open(&s, r1, sizeof(r1)), -1); /* out of order */
	CHECK_EQ_INT(seal_open(&s, r0, sizeof(r0)), 8);
	CHECK_EQ_INT(seal_open(&s, keep, sizeof(keep)), -1); /* replayed */
	/* Another server nonce, another PSK: nothing opens. */
	struct seal x;
	uint8_t sn2[16] = {7};
	uint8_t r[8 + SEAL_TAG_LEN] = "x";
	seal_init(&c, base, cn, sn, true);
	seal_encrypt(&c, r, 8);
	memcpy(keep, r, sizeof(r));
	seal_init(&x, base, cn, sn2, false);
	CHECK_EQ_INT(seal_open(&x, r, sizeof(r)), -1);
	seal_init(&x, other, cn, sn, false);
	CHECK_EQ_INT(seal_open(&x, keep, sizeof(keep)), -1);
}

static void test_empty_and_limits(void)
{
	struct seal c, s;
	pair(&c, &s);
	uint8_t rec[SEAL_TAG_LEN];
	CHECK_EQ_INT(seal_encrypt(&c, rec, 0), 0);
	CHECK_EQ_INT(seal_open(&s, rec, sizeof(rec)), 0);
	c.tx.seq = UINT64_MAX; /* never wraps to a used nonce */
	CHECK_EQ_INT(seal_encrypt(&c, rec, 0), -1);
	seal_wipe(&c);
	CHECK_EQ_INT(c.tx.key[0] | c.rx.key[31], 0);
}

int main(void)
{
	TEST_RUN(test_roundtrip);
	TEST_RUN(test_directions);
	TEST_RUN(test_tamper);
	TEST_RUN(test_replay_and_order);
	TEST_RUN(test_empty_and_limits);
	return test_summary();
}
