/* seal.c — ChaCha20-Poly1305 records for --encrypt (see seal.h), with the
 * fastest implementations the CPU offers: our vector ChaCha20 (chacha.h),
 * BearSSL's 64-bit multiply Poly1305, the constant-time portable ones
 * otherwise. */
#include "proto/seal.h"

#include <bearssl.h>
#include <string.h>

#include "proto/auth.h"
#include "proto/chacha.h"

static void derive(const uint8_t base[SEAL_KEY_LEN], const char *label,
                   const uint8_t cnonce[16], const uint8_t snonce[SEAL_NONCE_LEN],
                   uint8_t out[SEAL_KEY_LEN])
{
	br_hmac_key_context kc;
	br_hmac_context ctx;
	br_hmac_key_init(&kc, &br_sha256_vtable, base, SEAL_KEY_LEN);
	br_hmac_init(&ctx, &kc, 0);
	br_hmac_update(&ctx, label, strlen(label));
	br_hmac_update(&ctx, cnonce, 16);
	br_hmac_update(&ctx, snonce, SEAL_NONCE_LEN);
	br_hmac_out(&ctx, out);
}

void seal_init(struct seal *s, const uint8_t base[SEAL_KEY_LEN], const uint8_t cnonce[16],
               const uint8_t snonce[SEAL_NONCE_LEN], bool client)
{
	uint8_t c2s[SEAL_KEY_LEN], s2c[SEAL_KEY_LEN];
	derive(base, "wsferry v1 c2s", cnonce, snonce, c2s);
	derive(base, "wsferry v1 s2c", cnonce, snonce, s2c);
	memcpy(s->tx.key, client ? c2s : s2c, SEAL_KEY_LEN);
	memcpy(s->rx.key, client ? s2c : c2s, SEAL_KEY_LEN);
	s->tx.seq = s->rx.seq = 0;
}

static void nonce_of(uint64_t seq, uint8_t iv[12])
{
	memset(iv, 0, 4);
	for (int i = 11; i >= 4; i--, seq >>= 8)
		iv[i] = (uint8_t)seq;
}

/* Chosen once per thread (no race between two instances' threads): the
 * implementations differ in speed, never in output. */
static void aead(const uint8_t key[SEAL_KEY_LEN], uint64_t seq, uint8_t *data, size_t n,
                 uint8_t tag[SEAL_TAG_LEN], int encrypt)
{
	static _Thread_local br_chacha20_run chacha;
	static _Thread_local br_poly1305_run poly;
	if (!chacha) {
		chacha = chacha20_get();
		poly = br_poly1305_ctmulq_get();
		if (!poly)
			poly = &br_poly1305_ctmul_run;
	}
	uint8_t iv[12];
	nonce_of(seq, iv);
	poly(key, iv, data, n, NULL, 0, tag, chacha, encrypt);
}

int seal_encrypt(struct seal *s, uint8_t *data, size_t n)
{
	if (s->tx.seq == UINT64_MAX)
		return -1;
	aead(s->tx.key, s->tx.seq++, data, n, data + n, 1);
	return 0;
}

long seal_open(struct seal *s, uint8_t *rec, size_t n)
{
	uint8_t tag[SEAL_TAG_LEN];
	if (n < SEAL_TAG_LEN || s->rx.seq == UINT64_MAX)
		return -1;
	size_t len = n - SEAL_TAG_LEN;
	/* BearSSL's AEAD decrypts and computes the tag in one pass; a record that
	 * fails is discarded whole, so no unauthenticated byte is ever used. */
	uint8_t copy[SEAL_TAG_LEN];
	memcpy(copy, rec + len, SEAL_TAG_LEN);
	aead(s->rx.key, s->rx.seq, rec, len, tag, 0);
	if (!auth_equal(tag, copy, SEAL_TAG_LEN))
		return -1;
	s->rx.seq++;
	return (long)len;
}

void seal_wipe(struct seal *s)
{
	volatile uint8_t *p = (volatile uint8_t *)s;
	for (size_t i = 0; i < sizeof(*s); i++)
		p[i] = 0;
}
