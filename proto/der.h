/* der.h — the small part of ASN.1 DER (X.690) that certificates need: a
 * writer that fills its buffer from the end, so every length is known when
 * its header is written, and a strict TLV reader. Pure: no I/O, no malloc;
 * time is an argument. */
#ifndef WSF_PROTO_DER_H
#define WSF_PROTO_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Universal tags (X.680 §8.4) and the class/constructed bits we use. */
enum {
	DER_BOOLEAN = 0x01,
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_OCTET_STRING = 0x04,
	DER_NULL = 0x05,
	DER_OID = 0x06,
	DER_UTF8_STRING = 0x0c,
	DER_IA5_STRING = 0x16,
	DER_UTC_TIME = 0x17,
	DER_GENERALIZED_TIME = 0x18,
	DER_SEQUENCE = 0x30,
	DER_SET = 0x31,
	DER_CONSTRUCTED = 0x20,
	DER_CONTEXT = 0x80, /* context-specific class: DER_CONTEXT | n */
};

/* Backward writer. Callers emit the LAST element first; der_w_wrap() then
 * puts a header in front of everything written since a mark. On overflow
 * every later call is a no-op and der_w_data() returns NULL. */
struct der_w {
	uint8_t *buf;
	size_t cap;
	size_t pos; /* written bytes are buf[pos..cap) */
	bool overflow;
};

void der_w_init(struct der_w *w, uint8_t *buf, size_t cap);
/* Bytes written so far: the mark to pass to der_w_wrap(). */
size_t der_w_len(const struct der_w *w);
/* First written byte (the encoding is der_w_len() bytes), NULL on overflow. */
const uint8_t *der_w_data(const struct der_w *w);

void der_w_raw(struct der_w *w, const void *p, size_t n);
/* Prepends tag + definite length (minimal form, X.690 §10.1). */
void der_w_header(struct der_w *w, unsigned tag, size_t len);
/* Prepends tag + length covering everything written since mark. */
void der_w_wrap(struct der_w *w, unsigned tag, size_t mark);
/* One primitive element: tag, length, n content bytes. */
void der_w_prim(struct der_w *w, unsigned tag, const void *p, size_t n);
/* INTEGER from an unsigned big-endian magnitude: leading zeros dropped, a
 * 0x00 added when the top bit is set (X.690 §8.3.2). */
void der_w_uint(struct der_w *w, const uint8_t *be, size_t n);
void der_w_bool(struct der_w *w, bool v);
/* BIT STRING holding whole bytes (0 unused bits). */
void der_w_bits(struct der_w *w, const void *p, size_t n);
/* Time as RFC 5280 §4.1.2.5 wants it: UTCTime for 1950-2049, else
 * GeneralizedTime; clamped to 9999-12-31T23:59:59Z. Negative (pre-1970)
 * times are clamped to 1970. */
void der_w_time(struct der_w *w, int64_t unix_seconds);

/* One TLV: tag (single-byte tags only; X.509 needs no others), content. */
struct der_tlv {
	unsigned tag;
	const uint8_t *val;
	size_t len;
};

/* Reads the TLV at the start of in[0..n). Returns its total size, or 0 when
 * it is truncated, uses a multi-byte tag, the indefinite form, a
 * non-minimal length or a length above 2^24 (no certificate is that big). */
size_t der_read(const uint8_t *in, size_t n, struct der_tlv *out);

/* In a DER X.509 certificate (RFC 5280 §4.1), finds the extension whose
 * OID content bytes are oid[0..oidlen) and sets val to its extnValue
 * contents. 1 found, 0 absent, -1 malformed certificate. */
int der_cert_ext(const uint8_t *cert, size_t n, const uint8_t *oid, size_t oidlen,
                 struct der_tlv *val);

/* The SubjectPublicKeyInfo element (header included) of a DER certificate.
 * 1 found, -1 malformed. */
int der_cert_spki(const uint8_t *cert, size_t n, struct der_tlv *spki);

#endif
