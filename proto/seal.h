/* seal.h — --encrypt: each WebSocket message of a ws:// tunnel is one
 * ChaCha20-Poly1305 record (RFC 8439 AEAD, BearSSL): ciphertext then a
 * 16-byte tag. Keys are per tunnel and per direction, derived from the PSK's
 * payload key and both sides' nonces (the client's request nonce, the
 * server's first message); each direction numbers its records from 0, so a
 * (key, nonce) pair is never used twice. Pure: no I/O, no clock. */
#ifndef WSF_PROTO_SEAL_H
#define WSF_PROTO_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_TAG_LEN 16
#define SEAL_NONCE_LEN 16  /* the server's random contribution */
#define SEAL_KEY_LEN 32

struct seal_dir {
	uint8_t key[SEAL_KEY_LEN];
	uint64_t seq; /* next record number: the 96-bit AEAD nonce is 0^32 || seq */
};

struct seal {
	struct seal_dir tx, rx;
};

/* Derives both directions' keys: HMAC-SHA256(base, label || cnonce ||
 * snonce) with labels "wsferry v1 c2s" and "wsferry v1 s2c"; client says
 * which one is tx. base is auth_keys.payload. */
void seal_init(struct seal *s, const uint8_t base[SEAL_KEY_LEN], const uint8_t cnonce[16],
               const uint8_t snonce[SEAL_NONCE_LEN], bool client);

/* Encrypts data[0..n) in place and writes the tag to data[n..n+16). 0, or
 * -1 when 2^64 records have been sent (the caller must end the tunnel). */
int seal_encrypt(struct seal *s, uint8_t *data, size_t n);

/* Opens one record of n bytes (ciphertext and tag) in place: the length of
 * the plaintext at rec[0..), or -1 when the tag does not match (tampered,
 * reordered, replayed, or another key) or n < SEAL_TAG_LEN. A failed record
 * leaves the receive sequence unchanged; callers end the tunnel. */
long seal_open(struct seal *s, uint8_t *rec, size_t n);

/* Wipes the keys. */
void seal_wipe(struct seal *s);

#endif
