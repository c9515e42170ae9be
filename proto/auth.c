/* auth.c — key text forms, HMAC-SHA256 key derivation, request MAC,
 * ChaCha20 target encryption and the server proof (SPEC.md "Authentication"). */
#include "proto/auth.h"

#include <bearssl.h>
#include <string.h>

#include "proto/base64.h"

static void hmac(const uint8_t *key, size_t key_len, const void *a, size_t an, const void *b,
                 size_t bn, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context ctx;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, key_len);
	br_hmac_init(&ctx, &kc, 0);
	br_hmac_update(&ctx, a, an);
	if (bn)
		br_hmac_update(&ctx, b, bn);
	br_hmac_out(&ctx, out);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex(const char *s, uint8_t key[AUTH_KEY_LEN])
{
	for (size_t i = 0; i < AUTH_KEY_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int auth_key_parse(const char *text, size_t len, uint8_t key[AUTH_KEY_LEN], const char **why)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
	               text[len - 1] == '\t'))
		len--;
	while (len && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (len == AUTH_KEY_TEXT_LEN && base64url_decode(text, len, key, AUTH_KEY_LEN) == AUTH_KEY_LEN)
		return 0;
	if (len == 2 * AUTH_KEY_LEN && parse_hex(text, key) == 0)
		return 0;
	*why = "malformed key: expected the 43 characters printed by `wsferry keygen` "
	       "(or 64 hex digits)";
	return -1;
}

void auth_key_format(const uint8_t key[AUTH_KEY_LEN], char out[AUTH_KEY_TEXT_LEN + 1])
{
	base64url_encode(key, AUTH_KEY_LEN, out);
}

static void derive(const uint8_t psk[AUTH_KEY_LEN], const char *label, uint8_t out[32])
{
	hmac(psk, AUTH_KEY_LEN, label, strlen(label), NULL, 0, out);
}

void auth_derive(const uint8_t psk[AUTH_KEY_LEN], struct auth_keys *k)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t name[32];
	derive(psk, "wsferry v1 request mac", k->mac);
	derive(psk, "wsferry v1 target encryption", k->enc);
	derive(psk, "wsferry v1 server proof", k->proof);
	derive(psk, "wsferry v1 payload encryption", k->payload);
	derive(psk, "wsferry v1 cookie name", name);
	for (size_t i = 0; i < AUTH_COOKIE_NAME_LEN / 2; i++) {
		k->cookie[2 * i] = hex[name[i] >> 4];
		k->cookie[2 * i + 1] = hex[name[i] & 15];
	}
	/* A cookie name must not start with a digit in some old parsers. */
	if (k->cookie[0] >= '0' && k->cookie[0] <= '9')
		k->cookie[0] = (char)('g' + (k->cookie[0] - '0'));
	k->cookie[AUTH_COOKIE_NAME_LEN] = '\0';
}

void auth_mac(const struct auth_keys *k, const uint8_t *blob, size_t n, uint8_t out[AUTH_MAC_LEN])
{
	hmac(k->mac, sizeof(k->mac), blob, n, NULL, 0, out);
}

void auth_crypt(const struct auth_keys *k, const uint8_t nonce[16], uint8_t *data, size_t n)
{
	/* The 96-bit IV is the nonce's first 12 bytes: unique per request, and a
	 * replayed request is refused before anything is decrypted. */
	br_chacha20_ct_run(k->enc, nonce, 0, data, n);
}

void auth_proof(const struct auth_keys *k, const uint8_t nonce[16], int status,
                uint8_t out[AUTH_PROOF_LEN])
{
	uint8_t full[32], st[2] = {(uint8_t)(status >> 8), (uint8_t)status};
	hmac(k->proof, sizeof(k->proof), nonce, 16, st, sizeof(st), full);
	memcpy(out, full, AUTH_PROOF_LEN);
}

bool auth_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff == 0;
}

bool auth_fresh(uint64_t ts, uint64_t now, uint64_t skew)
{
	return ts <= now ? now - ts <= skew : ts - now <= skew;
}

uint64_t auth_last_fresh(uint64_t ts, uint64_t skew)
{
	return ts > UINT64_MAX - skew ? UINT64_MAX : ts + skew;
}
