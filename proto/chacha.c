/* chacha.c — ChaCha20 in vector lanes (see chacha.h). Lane l of every
 * state vector holds block cc + l, so one quarter-round step works on 4 (or
 * 8) blocks at once and no lane ever needs another; only the final XOR
 * reads the lanes apart. Checked against BearSSL's own at every length and
 * counter in test/proto/chacha_test.c. */
#include "proto/chacha.h"

#include <stdint.h>
#include <string.h>

#include "core/cpu.h"

/* x86-64 only, where it was measured. The same code builds for aarch64
 * (NEON) and passes chacha_test there under qemu, whose emulated vectors
 * say nothing of a router's speed: it stays off until measured on one. */
#if defined(__x86_64__)
#define CHACHA_VECTORS 1
#endif

#ifdef CHACHA_VECTORS

typedef uint32_t u32x4 __attribute__((vector_size(16)));
#ifdef __x86_64__
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f")))
#endif

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                                                       \
	do {                                                                                 \
		a += b, d ^= a, d = ROTL(d, 16);                                             \
		c += d, b ^= c, b = ROTL(b, 12);                                             \
		a += b, d ^= a, d = ROTL(d, 8);                                              \
		c += d, b ^= c, b = ROTL(b, 7);                                              \
	} while (0)

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v)); /* little-endian hosts only */
	return v;
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* RFC 8439 §2.3: constants, key, counter, nonce. */
static void state_init(uint32_t st[16], const uint8_t *key, const uint8_t *iv, uint32_t cc)
{
	static const uint32_t sigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
	memcpy(st, sigma, sizeof(sigma));
	for (int i = 0; i < 8; i++)
		st[4 + i] = ld32(key + 4 * i);
	st[12] = cc;
	for (int i = 0; i < 3; i++)
		st[13 + i] = ld32(iv + 4 * i);
}

/* XORs LANES blocks of key stream (counters st[12] + 0 .. LANES - 1) into
 * out[0 .. 64 * LANES). */
#define CHACHA_BLOCKS(NAME, VT, LANES, ATTR)                                                 \
	ATTR static void NAME(const uint32_t st[16], uint8_t *out)                           \
	{                                                                                    \
		VT s[16], x[16];                                                             \
		uint32_t k[16][LANES];                                                       \
		for (int i = 0; i < 16; i++)                                                 \
			s[i] = (VT){0} + st[i];                                              \
		for (int l = 0; l < LANES; l++)                                              \
			s[12][l] += (uint32_t)l;                                             \
		memcpy(x, s, sizeof(x));                                                     \
		for (int r = 0; r < 10; r++) {                                               \
			QR(x[0], x[4], x[8], x[12]);                                         \
			QR(x[1], x[5], x[9], x[13]);                                         \
			QR(x[2], x[6], x[10], x[14]);                                        \
			QR(x[3], x[7], x[11], x[15]);                                        \
			QR(x[0], x[5], x[10], x[15]);                                        \
			QR(x[1], x[6], x[11], x[12]);                                        \
			QR(x[2], x[7], x[8], x[13]);                                         \
			QR(x[3], x[4], x[9], x[14]);                                         \
		}                                                                            \
		for (int i = 0; i < 16; i++) {                                               \
			x[i] += s[i];                                                        \
			memcpy(k[i], &x[i], sizeof(k[i]));                                   \
		}                                                                            \
		for (int l = 0; l < LANES; l++)                                              \
			for (int i = 0; i < 16; i += 2) {                                    \
				uint8_t *p = out + 64 * l + 4 * i;                           \
				st64(p, ld64(p) ^ (k[i][l] | (uint64_t)k[i + 1][l] << 32));  \
			}                                                                    \
	}

CHACHA_BLOCKS(blocks4, u32x4, 4, )

/* 4 blocks a step; the tail through a key stream buffer. */
static uint32_t chacha_run4(const void *key, const void *iv, uint32_t cc, void *data,
                            size_t len)
{
	uint32_t st[16];
	uint8_t *p = data;
	state_init(st, key, iv, cc);
	for (; len >= 4 * 64; p += 4 * 64, len -= 4 * 64, st[12] += 4)
		blocks4(st, p);
	if (len) {
		uint8_t ks[4 * 64] = {0};
		blocks4(st, ks);
		for (size_t i = 0; i < len; i++)
			p[i] ^= ks[i];
		st[12] += (uint32_t)((len + 63) / 64);
	}
	return st[12];
}

#ifdef __x86_64__
/* LANES blocks a step; what is left goes to REST, which has fewer lanes. */
#define CHACHA_RUN(NAME, BLOCKS, LANES, ATTR, REST)                                          \
	ATTR static uint32_t NAME(const void *key, const void *iv, uint32_t cc, void *data,  \
	                          size_t len)                                                \
	{                                                                                    \
		uint32_t st[16];                                                             \
		uint8_t *p = data;                                                           \
		state_init(st, key, iv, cc);                                                 \
		for (; len >= LANES * 64; p += LANES * 64, len -= LANES * 64, st[12] += LANES) \
			BLOCKS(st, p);                                                       \
		return len ? REST(key, iv, st[12], p, len) : st[12];                         \
	}

CHACHA_BLOCKS(blocks8, u32x8, 8, AVX2)
CHACHA_RUN(chacha_run8, blocks8, 8, AVX2, chacha_run4)
/* 16 lanes: a rotation is one instruction here; every AVX-512 CPU has AVX2 */
CHACHA_BLOCKS(blocks16, u32x16, 16, AVX512)
CHACHA_RUN(chacha_run16, blocks16, 16, AVX512, chacha_run8)
#endif

#ifdef __x86_64__
static unsigned x86_lanes(void)
{
	unsigned f = cpu_features();
	return f & CPU_AVX512 ? 16 : f & CPU_AVX2 ? 8 : 4;
}
#endif

#endif /* CHACHA_VECTORS */

br_chacha20_run chacha20_lanes(unsigned lanes)
{
#if defined(CHACHA_VECTORS) && defined(__x86_64__)
	if (lanes == 16 && x86_lanes() >= 16)
		return &chacha_run16;
	if (lanes == 8 && x86_lanes() >= 8)
		return &chacha_run8;
#endif
#ifdef CHACHA_VECTORS
	if (lanes == 4)
		return &chacha_run4;
#endif
	(void)lanes;
	return NULL;
}

br_chacha20_run chacha20_get(void)
{
#if defined(CHACHA_VECTORS) && defined(__x86_64__)
	unsigned lanes = x86_lanes();
	return lanes == 16 ? &chacha_run16 : lanes == 8 ? &chacha_run8 : &chacha_run4;
#elif defined(CHACHA_VECTORS)
	return &chacha_run4;
#else
	br_chacha20_run r = br_chacha20_sse2_get();
	return r ? r : &br_chacha20_ct_run;
#endif
}
