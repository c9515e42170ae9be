/* auth_test.c — key text forms, derivation, MAC/encryption round trips,
 * proofs, the freshness window and the replay table. */
#include "proto/auth.h"

#include <string.h>

#include "proto/replay.h"
#include "test/check.h"

static void test_key_text(void)
{
	uint8_t key[AUTH_KEY_LEN], back[AUTH_KEY_LEN];
	char text[AUTH_KEY_TEXT_LEN + 1];
	const char *why = NULL;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 5);
	auth_key_format(key, text);
	CHECK_EQ_INT(strlen(text), AUTH_KEY_TEXT_LEN);
	CHECK_EQ_INT(auth_key_parse(text, strlen(text), back, &why), 0);
	CHECK_MEM(key, back, sizeof(key));
	char padded[64];
	snprintf(padded, sizeof(padded), "  %s\n", text);
	CHECK_EQ_INT(auth_key_parse(padded, strlen(padded), back, &why), 0);
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
	CHECK_EQ_INT(auth_key_parse(hex, strlen(hex), back, &why), 0);
	CHECK_EQ_INT(back[31], 0x1f);
	CHECK_EQ_INT(auth_key_parse("secret", 6, back, &why), -1);
	CHECK(why && strstr(why, "keygen"));
	CHECK_EQ_INT(auth_key_parse(text, strlen(text) - 1, back, &why), -1);
	text[5] = '!';
	CHECK_EQ_INT(auth_key_parse(text, strlen(text), back, &why), -1);
}

static void test_derive_and_crypt(void)
{
	uint8_t psk[AUTH_KEY_LEN] = {1, 2, 3}, other[AUTH_KEY_LEN] = {1, 2, 4};
	struct auth_keys a, b, c;
	auth_derive(psk, &a);
	auth_derive(psk, &b);
	auth_derive(other, &c);
	CHECK_MEM(&a, &b, sizeof(a)); /* deterministic */
	CHECK(memcmp(a.mac, c.mac, 32) != 0);
	CHECK(strcmp(a.cookie, c.cookie) != 0);
	CHECK_EQ_INT(strlen(a.cookie), AUTH_COOKIE_NAME_LEN);
	CHECK(!(a.cookie[0] >= '0' && a.cookie[0] <= '9'));
	CHECK(memcmp(a.mac, a.enc, 32) != 0 && memcmp(a.enc, a.proof, 32) != 0);

	uint8_t nonce[16] = {9}, data[40], orig[40];
	memcpy(data, "example.com:443 and some more bytes....", 40);
	memcpy(orig, data, 40);
	auth_crypt(&a, nonce, data, 40);
	CHECK(memcmp(data, orig, 40) != 0);
	auth_crypt(&a, nonce, data, 40);
	CHECK_MEM(data, orig, 40);

	uint8_t m1[32], m2[32];
	auth_mac(&a, orig, 40, m1);
	orig[7] ^= 1;
	auth_mac(&a, orig, 40, m2);
	CHECK(!auth_equal(m1, m2, 32));
	CHECK(auth_equal(m1, m1, 32));

	uint8_t p1[AUTH_PROOF_LEN], p2[AUTH_PROOF_LEN];
	auth_proof(&a, nonce, 101, p1);
	auth_proof(&a, nonce, 403, p2);
	CHECK(!auth_equal(p1, p2, AUTH_PROOF_LEN)); /* bound to the status */
	nonce[0]++;
	auth_proof(&a, nonce, 101, p2);
	CHECK(!auth_equal(p1, p2, AUTH_PROOF_LEN));
}

static void test_fresh(void)
{
	CHECK(auth_fresh(1000, 1000, 120));
	CHECK(auth_fresh(880, 1000, 120));
	CHECK(!auth_fresh(879, 1000, 120));
	CHECK(auth_fresh(1120, 1000, 120));
	CHECK(!auth_fresh(1121, 1000, 120));
	CHECK(!auth_fresh(UINT64_MAX, 1000, 120));
	CHECK(!auth_fresh(0, 1000, 120));
}

static void test_replay(void)
{
	static struct replay_slot slots[64];
	struct replay r;
	replay_init(&r, slots, 64);
	uint8_t n[16] = {0};
	for (int i = 0; i < 40; i++) {
		n[0] = (uint8_t)i;
		n[1] = 0xAA;
		CHECK_EQ_INT(replay_check(&r, n, 200, 100), REPLAY_FRESH);
	}
	n[0] = 7;
	CHECK_EQ_INT(replay_check(&r, n, 200, 150), REPLAY_SEEN);
	CHECK(!replay_crowded(&r));
	for (int i = 40; i < 49; i++) {
		n[0] = (uint8_t)i;
		replay_check(&r, n, 200, 100);
	}
	CHECK(replay_crowded(&r));
	/* Once the window passed, the same nonces are forgotten (sweep). */
	n[0] = 7;
	CHECK_EQ_INT(replay_check(&r, n, 400, 300), REPLAY_FRESH);
	CHECK(r.used < 10);

	static struct replay_slot big_slots[128];
	struct replay big;
	replay_init(&big, big_slots, 128);
	replay_rehash(&big, &r, 300);
	CHECK_EQ_INT(big.used, r.used);
	CHECK_EQ_INT(replay_check(&big, n, 400, 301), REPLAY_SEEN);

	/* Full of live entries: refused rather than forgetting a live nonce. */
	static struct replay_slot tiny_slots[8];
	struct replay tiny;
	replay_init(&tiny, tiny_slots, 8);
	int full = 0;
	for (int i = 0; i < 16; i++) {
		n[0] = (uint8_t)(100 + i);
		if (replay_check(&tiny, n, 1000, 10) == REPLAY_FULL)
			full++;
	}
	CHECK(full > 0);
}

/* The token's last fresh second is also its nonce's last remembered one:
 * a copy is refused at every second of the window, edges included. */
static void test_replay_window_edges(void)
{
	const uint64_t skew = 120, ts = 10000;
	static struct replay_slot slots[64];
	struct replay r;
	uint8_t n[16] = {9, 9, 9};
	CHECK_EQ_INT(auth_last_fresh(ts, skew), ts + skew);
	CHECK_EQ_INT(auth_last_fresh(UINT64_MAX - 5, skew), UINT64_MAX);
	for (uint64_t first = ts - skew; first <= ts + skew; first++) {
		replay_init(&r, slots, 64);
		memset(slots, 0, sizeof(slots));
		int accepted = 0;
		for (uint64_t now = first; now <= ts + skew; now++) {
			if (!auth_fresh(ts, now, skew))
				continue;
			for (int copy = 0; copy < 3; copy++)
				accepted += replay_check(&r, n, auth_last_fresh(ts, skew), now) == REPLAY_FRESH;
		}
		CHECK_EQ_INT(accepted, 1);
	}
}

/* Tags whose home slot is one of the last of a 2^bits table, so their
 * probe chains wrap past the end. */
static uint64_t tag_homed_near_end(uint64_t seed, unsigned bits, size_t *home)
{
	for (uint64_t t = seed;; t++) {
		size_t h = (size_t)(t * 0x9E3779B97F4A7C15ull) & ((1u << bits) - 1);
		if (t && h >= (1u << bits) - 3) {
			*home = h;
			return t;
		}
	}
}

/* Drives a table through many sweeps with chains that wrap its end and a
 * mix of expiries: every nonce still live must be refused, at every step. */
static void test_replay_sweeps_keep_chains(void)
{
	enum { BITS = 6, CAP = 1 << BITS, LIVE_MAX = 400 };
	static struct replay_slot slots[CAP];
	static uint64_t tags[LIVE_MAX], lasts[LIVE_MAX];
	struct replay r;
	replay_init(&r, slots, CAP);
	uint64_t seed = 1;
	size_t ntags = 0, bad = 0, fresh_seen = 0;
	for (uint64_t now = 1000; now < 1000 + 60 && ntags < LIVE_MAX; now++) {
		for (int k = 0; k < 6 && ntags < LIVE_MAX; k++) {
			size_t home;
			uint64_t tag = k % 2 ? tag_homed_near_end(seed, BITS, &home) : seed * 7919;
			seed = tag + 1;
			uint8_t n[16] = {0};
			memcpy(n, &tag, sizeof(tag));
			uint64_t last = now + (uint64_t)(k % 3) * 2; /* 0, 2 or 4 s to live */
			enum replay_rc rc = replay_check(&r, n, last, now);
			if (rc == REPLAY_FRESH) {
				tags[ntags] = tag;
				lasts[ntags++] = last;
			}
			/* Every entry still inside its window is refused. */
			for (size_t i = 0; i < ntags; i++) {
				if (lasts[i] < now)
					continue;
				memcpy(n, &tags[i], sizeof(tags[i]));
				bad += replay_check(&r, n, lasts[i], now) == REPLAY_FRESH;
				fresh_seen++;
			}
		}
	}
	CHECK(ntags > 3 * CAP); /* several sweeps happened */
	CHECK(fresh_seen > 1000);
	CHECK_EQ_INT(bad, 0);
}

/* A writer that died inside replay_check may leave `used` stale. */
static void test_replay_recount(void)
{
	static struct replay_slot slots[16];
	struct replay r;
	replay_init(&r, slots, 16);
	uint8_t n[16] = {0};
	for (int i = 0; i < 10; i++) {
		n[0] = (uint8_t)(i + 1);
		replay_check(&r, n, 100, 10);
	}
	r.used = 3; /* as a dead writer might leave it */
	replay_recount(&r);
	CHECK_EQ_INT(r.used, 10);
}

int main(void)
{
	TEST_RUN(test_key_text);
	TEST_RUN(test_derive_and_crypt);
	TEST_RUN(test_fresh);
	TEST_RUN(test_replay);
	TEST_RUN(test_replay_window_edges);
	TEST_RUN(test_replay_sweeps_keep_chains);
	TEST_RUN(test_replay_recount);
	return test_summary();
}
