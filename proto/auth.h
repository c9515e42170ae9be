/* auth.h — the pre-shared key: its text form, the keys derived from it,
 * the request MAC, the target encryption and the server's proof. Pure
 * (BearSSL's HMAC-SHA256 and ChaCha20 only); time is never read here. */
#ifndef WSF_PROTO_AUTH_H
#define WSF_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN 32
#define AUTH_KEY_TEXT_LEN 43   /* base64url of 32 bytes, no padding */
#define AUTH_MAC_LEN 32
#define AUTH_PROOF_LEN 16      /* truncated HMAC in the 101's Set-Cookie */
#define AUTH_COOKIE_NAME_LEN 8 /* hex: a per-deployment name, no fixed marker */

/* Everything derived from one pre-shared key (HMAC-SHA256(psk, label)), so
 * the key itself is used for nothing else. */
struct auth_keys {
	uint8_t mac[32];   /* request MAC */
	uint8_t enc[32];   /* target encryption (ChaCha20) */
	uint8_t proof[32]; /* the server's answer */
	uint8_t payload[32]; /* --encrypt: base of the per-tunnel record keys */
	char cookie[AUTH_COOKIE_NAME_LEN + 1];
};

/* Accepts what `wsferry keygen` prints (43 base64url characters) or 64 hex
 * digits; surrounding whitespace and a trailing newline are ignored. 0, or
 * -1 with *why. */
int auth_key_parse(const char *text, size_t len, uint8_t key[AUTH_KEY_LEN], const char **why);
/* The keygen form of key: AUTH_KEY_TEXT_LEN chars + NUL. */
void auth_key_format(const uint8_t key[AUTH_KEY_LEN], char out[AUTH_KEY_TEXT_LEN + 1]);

void auth_derive(const uint8_t psk[AUTH_KEY_LEN], struct auth_keys *k);

/* MAC over the request blob (everything before the MAC). */
void auth_mac(const struct auth_keys *k, const uint8_t *blob, size_t n, uint8_t out[AUTH_MAC_LEN]);
/* Encrypts or decrypts (same operation) the target in place with a key
 * stream unique to the request nonce. */
void auth_crypt(const struct auth_keys *k, const uint8_t nonce[16], uint8_t *data, size_t n);
/* The server's proof that it holds the key, bound to the client's nonce
 * and to the HTTP status it answers with (101, or a refusal's), so a man in
 * the middle can neither forge an answer nor turn one into another. */
void auth_proof(const struct auth_keys *k, const uint8_t nonce[16], int status,
                uint8_t out[AUTH_PROOF_LEN]);

/* Constant-time equality of two n-byte strings. */
bool auth_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* True when now is within skew seconds of ts, either way (inclusive). */
bool auth_fresh(uint64_t ts, uint64_t now, uint64_t skew);
/* The last second at which auth_fresh(ts, now, skew) holds: the replay
 * table MUST remember a token's nonce through it (replay_check's last). */
uint64_t auth_last_fresh(uint64_t ts, uint64_t skew);

#endif
