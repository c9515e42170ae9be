/* gcm.c — AES-CTR and GHASH with VAES and VPCLMULQDQ (see gcm.h).
 * GHASH works on byte-reversed blocks, the order in which GCM's bits are
 * polynomials (Intel's carry-less multiplication white paper, algorithms 1
 * and 5): a product comes out one bit short and is shifted before the
 * reduction modulo x^128 + x^7 + x^2 + x + 1. Both steps are linear, so 32
 * blocks times H^32 .. H^1 are summed unreduced and reduced once. Checked
 * against BearSSL's own at every length in test/proto/gcm_test.c. */
#include "proto/gcm.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"

#ifdef __x86_64__
#include <immintrin.h>

#define VX __attribute__((target("avx512f,avx512bw,vaes,vpclmulqdq,aes,pclmul,ssse3")))

/* ---- GHASH ---- */

struct acc {
	__m128i lo, mid, hi; /* unreduced 256-bit product, middle terms apart */
};

VX static inline __m128i rev128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

VX static inline void mul_acc(struct acc *a, __m128i x, __m128i h)
{
	a->lo = _mm_xor_si128(a->lo, _mm_clmulepi64_si128(x, h, 0x00));
	a->hi = _mm_xor_si128(a->hi, _mm_clmulepi64_si128(x, h, 0x11));
	a->mid = _mm_xor_si128(a->mid, _mm_xor_si128(_mm_clmulepi64_si128(x, h, 0x10),
	                                             _mm_clmulepi64_si128(x, h, 0x01)));
}

VX static __m128i reduce(struct acc a)
{
	__m128i lo = _mm_xor_si128(a.lo, _mm_slli_si128(a.mid, 8));
	__m128i hi = _mm_xor_si128(a.hi, _mm_srli_si128(a.mid, 8));
	/* [hi:lo] <<= 1 */
	__m128i c_lo = _mm_srli_epi32(lo, 31), c_hi = _mm_srli_epi32(hi, 31);
	lo = _mm_or_si128(_mm_slli_epi32(lo, 1), _mm_slli_si128(c_lo, 4));
	hi = _mm_or_si128(_mm_slli_epi32(hi, 1), _mm_slli_si128(c_hi, 4));
	hi = _mm_or_si128(hi, _mm_srli_si128(c_lo, 12));
	/* lo's bits folded into hi modulo the field polynomial */
	__m128i t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
	                          _mm_slli_epi32(lo, 25));
	lo = _mm_xor_si128(lo, _mm_slli_si128(t, 12));
	__m128i u = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
	                          _mm_srli_epi32(lo, 7));
	u = _mm_xor_si128(u, _mm_srli_si128(t, 4));
	return _mm_xor_si128(hi, _mm_xor_si128(lo, u));
}

VX static __m128i gfmul(__m128i x, __m128i h)
{
	struct acc a = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
	mul_acc(&a, x, h);
	return reduce(a);
}

VX static inline __m128i fold4(__m512i v)
{
	__m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
	return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

#define GROUPS 8                  /* of 4 blocks: one reduction per 32 blocks */
#define CHUNK (GROUPS * 64)

/* keys[j] lanes 0..3: H^(n - 4j) .. H^(n - 3 - 4j), n = 4 GROUPS, for
 * blocks 4j+1 .. 4j+4 of a chunk */
VX static void powers(__m128i h, __m512i keys[GROUPS])
{
	__m128i pw[4 * GROUPS];
	pw[0] = h;
	for (int i = 1; i < 4 * GROUPS; i++)
		pw[i] = gfmul(pw[i - 1], h);
	for (int j = 0, n = 4 * GROUPS - 1; j < GROUPS; j++, n -= 4) {
		__m512i k = _mm512_castsi128_si512(pw[n]);
		k = _mm512_inserti32x4(k, pw[n - 1], 1);
		k = _mm512_inserti32x4(k, pw[n - 2], 2);
		keys[j] = _mm512_inserti32x4(k, pw[n - 3], 3);
	}
}

/* Y for one chunk of 4 GROUPS blocks at p: (Y + X1) H^n + X2 H^(n-1) + ...
 * + Xn H. */
VX static __m128i chunk(__m128i y, const uint8_t *p, const __m512i keys[GROUPS], __m512i rmask)
{
	__m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
	for (int j = 0; j < GROUPS; j++) {
		__m512i d = _mm512_shuffle_epi8(_mm512_loadu_si512(p + 64 * j), rmask);
		if (j == 0)
			d = _mm512_xor_si512(d, _mm512_inserti32x4(_mm512_setzero_si512(), y, 0));
		lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(d, keys[j], 0x00));
		hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(d, keys[j], 0x11));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(d, keys[j], 0x10));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(d, keys[j], 0x01));
	}
	struct acc a = {fold4(lo), fold4(mid), fold4(hi)};
	return reduce(a);
}

VX static void ghash_vx(void *y, const void *h, const void *data, size_t len)
{
	__m128i hh = rev128(_mm_loadu_si128((const __m128i *)h));
	__m128i yy = rev128(_mm_loadu_si128((const __m128i *)y));
	const uint8_t *p = data;
	if (len >= CHUNK) {
		/* H's powers, kept for the next call: a connection hashes every
		 * record with the same H (31 products saved per 16 KiB record) */
		static _Thread_local struct {
			__m512i keys[GROUPS];
			uint8_t h[16];
			bool set;
		} pw;
		__m512i rmask = _mm512_broadcast_i32x4(
		    _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
		if (!pw.set || memcmp(pw.h, h, 16) != 0) {
			powers(hh, pw.keys);
			memcpy(pw.h, h, 16);
			pw.set = true;
		}
		for (; len >= CHUNK; p += CHUNK, len -= CHUNK)
			yy = chunk(yy, p, pw.keys, rmask);
	}
	for (; len >= 16; p += 16, len -= 16)
		yy = gfmul(_mm_xor_si128(yy, rev128(_mm_loadu_si128((const __m128i *)p))), hh);
	if (len) { /* the last block, padded with zeros */
		uint8_t b[16] = {0};
		memcpy(b, p, len);
		yy = gfmul(_mm_xor_si128(yy, rev128(_mm_loadu_si128((const __m128i *)b))), hh);
	}
	_mm_storeu_si128((__m128i *)y, rev128(yy));
}

/* ---- AES-CTR ---- */

/* Key stream for 16 blocks (counters in ctr's lanes, little-endian in the
 * last word, + 0, 4, 8, 12 for the four vectors) XORed into p. Four named
 * vectors, not an array, so that they stay in registers between rounds. */
VX static void ctr16(uint8_t *p, __m512i base, __m512i ctr, const __m512i *rk, unsigned nr)
{
	const __m512i bemask = _mm512_broadcast_i32x4(_mm_set_epi8(
	    12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128));
	const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
	__m512i c1 = _mm512_add_epi32(ctr, four), c2 = _mm512_add_epi32(c1, four);
	__m512i c3 = _mm512_add_epi32(c2, four);
	__m512i x0 = _mm512_or_si512(base, _mm512_shuffle_epi8(ctr, bemask));
	__m512i x1 = _mm512_or_si512(base, _mm512_shuffle_epi8(c1, bemask));
	__m512i x2 = _mm512_or_si512(base, _mm512_shuffle_epi8(c2, bemask));
	__m512i x3 = _mm512_or_si512(base, _mm512_shuffle_epi8(c3, bemask));
	x0 = _mm512_xor_si512(x0, rk[0]);
	x1 = _mm512_xor_si512(x1, rk[0]);
	x2 = _mm512_xor_si512(x2, rk[0]);
	x3 = _mm512_xor_si512(x3, rk[0]);
	for (unsigned r = 1; r < nr; r++) {
		x0 = _mm512_aesenc_epi128(x0, rk[r]);
		x1 = _mm512_aesenc_epi128(x1, rk[r]);
		x2 = _mm512_aesenc_epi128(x2, rk[r]);
		x3 = _mm512_aesenc_epi128(x3, rk[r]);
	}
	x0 = _mm512_aesenclast_epi128(x0, rk[nr]);
	x1 = _mm512_aesenclast_epi128(x1, rk[nr]);
	x2 = _mm512_aesenclast_epi128(x2, rk[nr]);
	x3 = _mm512_aesenclast_epi128(x3, rk[nr]);
	_mm512_storeu_si512(p, _mm512_xor_si512(_mm512_loadu_si512(p), x0));
	_mm512_storeu_si512(p + 64, _mm512_xor_si512(_mm512_loadu_si512(p + 64), x1));
	_mm512_storeu_si512(p + 128, _mm512_xor_si512(_mm512_loadu_si512(p + 128), x2));
	_mm512_storeu_si512(p + 192, _mm512_xor_si512(_mm512_loadu_si512(p + 192), x3));
}

VX static uint32_t ctr_run(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc,
                           void *data, size_t len)
{
	/* BearSSL's AES-NI key schedule, kept in its context (the round keys
	 * in the order AESENC takes them) */
	const br_aes_x86ni_ctr_keys *k = (const br_aes_x86ni_ctr_keys *)ctx;
	unsigned nr = k->num_rounds;
	__m512i rk[15];
	for (unsigned i = 0; i <= nr; i++)
		rk[i] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(k->skey.skni + 16 * i)));
	uint8_t ivb[16] = {0};
	memcpy(ivb, iv, 12);
	__m512i base = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)ivb));
	__m512i ctr = _mm512_set_epi32((int)(cc + 3), 0, 0, 0, (int)(cc + 2), 0, 0, 0, (int)(cc + 1),
	                               0, 0, 0, (int)cc, 0, 0, 0);
	const __m512i sixteen_blocks =
	    _mm512_set_epi32(16, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0);
	uint32_t end = cc + (uint32_t)(len / 16); /* as BearSSL: whole blocks */
	uint8_t *p = data;
	for (; len >= 256; p += 256, len -= 256) {
		ctr16(p, base, ctr, rk, nr);
		ctr = _mm512_add_epi32(ctr, sixteen_blocks);
	}
	if (len) {
		uint8_t ks[256] = {0};
		ctr16(ks, base, ctr, rk, nr);
		for (size_t i = 0; i < len; i++)
			p[i] ^= ks[i];
	}
	return end;
}

static void ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len);

static const br_block_ctr_class vaes_ctr = {
    sizeof(br_aes_x86ni_ctr_keys), 16, 4, ctr_init, ctr_run,
};

static void ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len)
{
	br_aes_x86ni_ctr_init((br_aes_x86ni_ctr_keys *)ctx, key, len);
	*ctx = &vaes_ctr;
}

static bool vector_crypto(unsigned need)
{
	return (cpu_features() & (CPU_AVX512 | need)) == (CPU_AVX512 | need);
}

const br_block_ctr_class *gcm_aes_ctr_get(void)
{
	return vector_crypto(CPU_VAES) && br_aes_x86ni_ctr_get_vtable() ? &vaes_ctr : NULL;
}

br_ghash gcm_ghash_get(void)
{
	return vector_crypto(CPU_VPCLMUL) ? &ghash_vx : NULL;
}

#else

const br_block_ctr_class *gcm_aes_ctr_get(void)
{
	return NULL;
}

br_ghash gcm_ghash_get(void)
{
	return NULL;
}

#endif
