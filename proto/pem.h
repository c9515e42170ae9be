/* pem.h — RFC 7468 textual encoding: finds BEGIN/END blocks in a text
 * buffer and decodes their base64 bodies, and writes blocks. Pure: the
 * caller supplies every buffer; nothing is allocated. */
#ifndef WSF_PROTO_PEM_H
#define WSF_PROTO_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEM_LABEL_MAX 64 /* longer labels are refused (RFC 7468 labels are short) */

enum pem_rc {
	PEM_OK = 0,
	PEM_NONE = 1,          /* no further BEGIN line in the input */
	PEM_ERR_LABEL = -1,    /* BEGIN line malformed or label too long */
	PEM_ERR_NO_END = -2,   /* BEGIN without a matching END line */
	PEM_ERR_BASE64 = -3,   /* a character outside base64, or bad padding */
	PEM_ERR_SPACE = -4,    /* out too small (cap >= input length always suffices) */
};

struct pem_block {
	char label[PEM_LABEL_MAX + 1]; /* NUL-terminated, e.g. "CERTIFICATE" */
	bool has_headers;  /* RFC 1421 headers, e.g. "Proc-Type: 4,ENCRYPTED" */
	size_t len;        /* decoded bytes in out */
	size_t begin;      /* offset of the BEGIN line */
	size_t err;        /* offset of the offending byte when rc < 0 */
};

/* Finds the first block at or after in[*pos] and decodes its body into
 * out[0..cap). Text outside blocks is skipped (RFC 7468 §5.2 explanatory
 * text); whitespace inside the body is ignored; the END label must equal
 * the BEGIN label. On PEM_OK *pos moves past the END line, so a loop reads
 * every block; on error *pos is unchanged and b->err says where. */
enum pem_rc pem_next(const char *in, size_t n, size_t *pos, struct pem_block *b,
                     uint8_t *out, size_t cap);

/* True when in[0..n) holds a "-----BEGIN " line at all (PEM versus DER). */
bool pem_detect(const char *in, size_t n);

/* 1-based line number of offset off in in[0..n) (for error messages). */
size_t pem_line(const char *in, size_t n, size_t off);

/* Bytes pem_encode() writes for a label of label_len and n DER bytes,
 * including the final NUL: 64-character lines (RFC 7468 §2). */
#define PEM_ENCODED_LEN(label_len, n) \
	(2 * (label_len) + 32 + ((n) + 2) / 3 * 4 + ((n) + 47) / 48 + 1)

/* Writes one block with LF line ends into out (cap bytes) plus a NUL.
 * Returns the length written (without the NUL), or 0 when cap is short. */
size_t pem_encode(const char *label, const uint8_t *der, size_t n, char *out, size_t cap);

const char *pem_strerror(enum pem_rc rc);

#endif
