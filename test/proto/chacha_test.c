/* chacha_test.c — the vector ChaCha20 (proto/chacha.c): RFC 8439's test
 * vectors, then every implementation this CPU runs (4, 8, 16 lanes and the
 * one chacha20_get picks) against BearSSL's br_chacha20_ct_run, byte for
 * byte and returned counter, at every length to 1100 bytes, long random
 * lengths, counters about to wrap, and data that does not start aligned. */
#include "proto/chacha.h"

#include <stdlib.h>
#include <string.h>

#include "test/check.h"

static br_chacha20_run impls[4];
static unsigned nimpls;

static void collect(void)
{
	static const unsigned lanes[] = {4, 8, 16};
	nimpls = 0;
	for (size_t i = 0; i < sizeof(lanes) / sizeof(lanes[0]); i++)
		if (chacha20_lanes(lanes[i]))
			impls[nimpls++] = chacha20_lanes(lanes[i]);
	impls[nimpls++] = chacha20_get();
}

/* RFC 8439 §2.4.2: the sunscreen text, counter 1. */
static void test_rfc8439_encryption(void)
{
	static const char plain[] =
	    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
	    "the future, sunscreen would be it.";
	static const uint8_t want_head[16] = {0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80,
	                                      0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81};
	static const uint8_t want_tail[2] = {0x87, 0x4d};
	uint8_t key[32], iv[12] = {0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0};
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	size_t n = strlen(plain);
	CHECK_EQ_INT(n, 114);
	for (unsigned k = 0; k < nimpls; k++) {
		uint8_t buf[114];
		memcpy(buf, plain, n);
		CHECK_EQ_INT(impls[k](key, iv, 1, buf, n), 3);
		CHECK_MEM(buf, want_head, sizeof(want_head));
		CHECK_MEM(buf + n - 2, want_tail, sizeof(want_tail));
	}
}

/* RFC 8439 §2.3.2's block (counter 1), as key stream over zeros. */
static void test_rfc8439_block(void)
{
	static const uint8_t want[16] = {0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15,
	                                 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4};
	uint8_t key[32], iv[12] = {0, 0, 0, 0x09, 0, 0, 0, 0x4a, 0, 0, 0, 0};
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (unsigned k = 0; k < nimpls; k++) {
		uint8_t buf[64] = {0};
		CHECK_EQ_INT(impls[k](key, iv, 1, buf, sizeof(buf)), 2);
		CHECK_MEM(buf, want, sizeof(want));
	}
}

static void same_as_bearssl(br_chacha20_run f, size_t len, uint32_t cc, size_t shift)
{
	static uint8_t a[70000 + 8], b[70000 + 8];
	uint8_t key[32], iv[12];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rand();
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (uint8_t)rand();
	for (size_t i = 0; i < len; i++)
		a[shift + i] = b[i] = (uint8_t)rand();
	uint32_t ra = f(key, iv, cc, a + shift, len);
	uint32_t rb = br_chacha20_ct_run(key, iv, cc, b, len);
	CHECK_EQ_INT(ra, rb);
	CHECK(memcmp(a + shift, b, len) == 0);
}

static void test_every_length(void)
{
	srand(7);
	for (unsigned k = 0; k < nimpls; k++)
		for (size_t len = 0; len <= 1100; len++)
			same_as_bearssl(impls[k], len, (uint32_t)rand(), len % 8);
}

static void test_long_and_wrapping(void)
{
	srand(11);
	for (unsigned k = 0; k < nimpls; k++)
		for (int t = 0; t < 60; t++) {
			size_t len = (size_t)(rand() % 70000);
			uint32_t cc = t % 3 == 0 ? 0xffffffffu - (uint32_t)(t % 20) : (uint32_t)rand();
			same_as_bearssl(impls[k], len, cc, (size_t)t % 8);
		}
}

int main(void)
{
	collect();
	CHECK(nimpls >= 1);
	TEST_RUN(test_rfc8439_encryption);
	TEST_RUN(test_rfc8439_block);
	TEST_RUN(test_every_length);
	TEST_RUN(test_long_and_wrapping);
	return test_summary();
}
