/* base64.h — RFC 4648 base64 (§4, padded) and base64url (§5, unpadded).
 * Pure; constant tables; decode is strict (no whitespace, canonical tail). */
#ifndef WSF_PROTO_BASE64_H
#define WSF_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)
#define BASE64URL_LEN(n) (((n) * 4 + 2) / 3)

/* Writes the encoding plus a NUL into out (BASE64_LEN(n) + 1 bytes, or
 * BASE64URL_LEN(n) + 1); returns the encoded length. */
size_t base64_encode(const uint8_t *in, size_t n, char *out);
size_t base64url_encode(const uint8_t *in, size_t n, char *out);

/* Decodes into out (cap bytes). Returns the decoded length, or -1 on a
 * character outside the alphabet, bad padding, non-zero trailing bits or
 * too little room. */
long base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);
long base64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
