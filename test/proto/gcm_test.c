/* gcm_test.c — the VAES / VPCLMULQDQ AES-CTR and GHASH (proto/gcm.c)
 * against BearSSL's own, byte for byte: GHASH at every length to 1100
 * bytes and long random ones, from random states and keys; AES-CTR with
 * 128-, 192- and 256-bit keys at every length to 1100, counters about to
 * wrap, unaligned data; and whole AES-GCM (br_gcm with both) against
 * McGrew and Viega's test case 4. On a CPU without them both getters say
 * NULL and only that is checked. */
#include "proto/gcm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "test/check.h"

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand();
}

static void ghash_same(br_ghash g, size_t len)
{
	static uint8_t data[70000];
	uint8_t y1[16], y2[16], h[16];
	fill(y1, 16);
	memcpy(y2, y1, 16);
	fill(h, 16);
	fill(data, len);
	g(y1, h, data, len);
	br_ghash_ctmul64(y2, h, data, len);
	CHECK_MEM(y1, y2, 16);
}

/* The powers of H kept between calls: the same H again, then another,
 * then the first back. */
static void test_ghash_same_h(void)
{
	br_ghash g = gcm_ghash_get();
	if (!g)
		return;
	static uint8_t data[4096];
	uint8_t hs[2][16];
	fill(hs[0], 16);
	fill(hs[1], 16);
	static const int order[] = {0, 0, 0, 1, 1, 0, 1, 0, 0};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint8_t y1[16], y2[16];
		fill(y1, 16);
		memcpy(y2, y1, 16);
		size_t len = 512 + (size_t)(rand() % 3000);
		fill(data, len);
		g(y1, hs[order[i]], data, len);
		br_ghash_ctmul64(y2, hs[order[i]], data, len);
		CHECK_MEM(y1, y2, 16);
	}
}

static void test_ghash(void)
{
	br_ghash g = gcm_ghash_get();
	if (!g)
		return;
	srand(3);
	for (size_t len = 0; len <= 1100; len++)
		ghash_same(g, len);
	for (int t = 0; t < 50; t++)
		ghash_same(g, (size_t)(rand() % 70000));
}

static void ctr_same(const br_block_ctr_class *vt, size_t keylen, size_t len, uint32_t cc,
                     size_t shift)
{
	static uint8_t a[70000 + 8], b[70000], c[70000];
	uint8_t key[32], iv[12];
	br_aes_gen_ctr_keys k1;
	br_aes_ct64_ctr_keys k2;
	br_aes_x86ni_ctr_keys k3;
	fill(key, keylen);
	fill(iv, 12);
	fill(b, len);
	memcpy(a + shift, b, len);
	memcpy(c, b, len);
	vt->init(&k1.vtable, key, keylen);
	br_aes_ct64_ctr_init(&k2, key, keylen);
	br_aes_x86ni_ctr_init(&k3, key, keylen); /* whose key schedule ours reuses */
	uint32_t ra = k1.vtable->run(&k1.vtable, iv, cc, a + shift, len);
	CHECK_EQ_INT(ra, k2.vtable->run(&k2.vtable, iv, cc, b, len));
	CHECK_EQ_INT(ra, k3.vtable->run(&k3.vtable, iv, cc, c, len));
	CHECK(memcmp(a + shift, b, len) == 0);
	CHECK(memcmp(a + shift, c, len) == 0);
}

static void test_ctr(void)
{
	const br_block_ctr_class *vt = gcm_aes_ctr_get();
	if (!vt)
		return;
	CHECK(vt->context_size <= sizeof(br_aes_gen_ctr_keys)); /* fits BearSSL's GCM context */
	srand(5);
	static const size_t keylens[] = {16, 24, 32};
	for (int k = 0; k < 3; k++) {
		for (size_t len = 0; len <= 1100; len++)
			ctr_same(vt, keylens[k], len, (uint32_t)rand(), len % 8);
		for (int t = 0; t < 30; t++)
			ctr_same(vt, keylens[k], (size_t)(rand() % 70000),
			         t % 3 ? (uint32_t)rand() : 0xfffffff0u + (uint32_t)t, (size_t)t % 8);
	}
}

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 4
 * (AES-128, 60 bytes of plaintext, 20 of additional data). */
static void test_gcm_vector(void)
{
	const br_block_ctr_class *vt = gcm_aes_ctr_get();
	br_ghash g = gcm_ghash_get();
	if (!vt || !g)
		return;
	static const uint8_t key[16] = {0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
	                                0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
	static const uint8_t iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
	                               0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
	static const uint8_t aad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe,
	                                0xef, 0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad,
	                                0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
	static const uint8_t want_tag[16] = {0x5b, 0xc9, 0x4f, 0xbc, 0x32, 0x21, 0xa5, 0xdb,
	                                     0x94, 0xfa, 0xe9, 0x5a, 0xe7, 0x12, 0x1a, 0x47};
	static const uint8_t want_head[8] = {0x42, 0x83, 0x1e, 0xc2, 0x21, 0x77, 0x74, 0x24};
	uint8_t data[60];
	static const uint8_t plain_head[16] = {0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5,
	                                       0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a};
	/* the rest of the plaintext, as the paper gives it */
	static const uint8_t plain_rest[44] = {
	    0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a,
	    0x72, 0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6,
	    0xb5, 0x25, 0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
	memcpy(data, plain_head, 16);
	memcpy(data + 16, plain_rest, 44);
	br_aes_gen_ctr_keys bc;
	br_gcm_context gc;
	uint8_t tag[16];
	vt->init(&bc.vtable, key, sizeof(key));
	br_gcm_init(&gc, &bc.vtable, g);
	br_gcm_reset(&gc, iv, sizeof(iv));
	br_gcm_aad_inject(&gc, aad, sizeof(aad));
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 1, data, sizeof(data));
	br_gcm_get_tag(&gc, tag);
	CHECK_MEM(data, want_head, sizeof(want_head));
	CHECK_MEM(tag, want_tag, sizeof(want_tag));
}

/* The getters follow the CPU's features (on any CPU, so never nothing). */
static void test_getters(void)
{
	unsigned f = cpu_features();
	bool vaes = (f & CPU_AVX512) && (f & CPU_VAES), vpcl = (f & CPU_AVX512) && (f & CPU_VPCLMUL);
	CHECK((gcm_aes_ctr_get() != NULL) == (vaes && br_aes_x86ni_ctr_get_vtable() != NULL));
	CHECK((gcm_ghash_get() != NULL) == vpcl);
}

int main(void)
{
	TEST_RUN(test_getters);
	TEST_RUN(test_ghash);
	TEST_RUN(test_ghash_same_h);
	TEST_RUN(test_ctr);
	TEST_RUN(test_gcm_vector);
	return test_summary();
}
