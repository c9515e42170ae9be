/* tls_int.h — shared by the tls/ sources only (BearSSL's inner.h idea): the server
 * cfg layout, credentials parsed from memory (also the fuzz target's entry
 * point), engine profiles, our X.509 classes, certificate generation and
 * file helpers. Not part of the module's API. */
#ifndef WSF_TLS_TLS_INT_H
#define WSF_TLS_TLS_INT_H

#include "tls/tls.h"

#define TLS_FILE_MAX (4u << 20) /* a CA bundle is ~200 KiB; refuse monsters */

/* A parsed certificate chain and private key. */
struct tls_creds {
	br_x509_certificate *chain; /* chain_len entries, DER in the same block */
	size_t chain_len;
	unsigned char *key_der;     /* the key as found (for writing it back) */
	size_t key_der_len;
	char key_label[24];         /* its PEM label: "PRIVATE KEY", ... */
	int key_type;               /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC; 0 none */
	br_skey_decoder_context skey; /* owns the decoded private key */
};

/* Parse PEM (or, without any BEGIN line, one DER object) from memory.
 * name labels messages ("NAME: what is wrong"). 0, -EINVAL or -ENOMEM.
 * chain: every CERTIFICATE block, leaf first, each decoded by BearSSL.
 * key: the first private key block; encrypted keys are refused by name. */
int tls_creds_chain(struct tls_creds *c, const char *txt, size_t n, const char *name,
                    char *err, size_t errlen);
int tls_creds_key(struct tls_creds *c, const char *txt, size_t n, const char *name,
                  char *err, size_t errlen);
/* The private key's public half equals the leaf certificate's key. */
int tls_creds_match(const struct tls_creds *c, const char *cert_name, const char *key_name,
                    char *err, size_t errlen);
/* Frees and wipes; leaves c zeroed. */
void tls_creds_free(struct tls_creds *c);

/* The LRU cache behind a vtable of ours: save() runs only after a full
 * handshake, which is how a server connection learns it was not resumed. */
struct tls_cache {
	const br_ssl_session_cache_class *vtable;
	br_ssl_session_cache_lru lru;
};
void tls_cache_init(struct tls_cache *c, unsigned char *store, size_t len);

struct tls_server_cfg {
	unsigned refs;
	struct tls_creds creds;
	struct tls_cache cache;
	uint8_t fp[32]; /* SHA-256 of the leaf DER */
	unsigned char cache_store[TLS_SESSION_CACHE_BYTES];
};

/* Connection flags (struct tls_conn.flags). */
enum {
	TLS_F_SERVER = 1u << 0,
	TLS_F_DONE = 1u << 1,      /* handshake finished (application data flows) */
	TLS_F_EOF = 1u << 2,       /* socket read returned 0 */
	TLS_F_SAW_INPUT = 1u << 3, /* first byte checked */
	TLS_F_FULL_HS = 1u << 4,   /* server: the cache saved a new session */
	TLS_F_RESUMED = 1u << 5,
	TLS_F_CLOSING = 1u << 6,
	TLS_F_IPCHECK = 1u << 7,   /* client: the IP wrapper owns a leaf copy */
	TLS_F_MORE = 1u << 8,      /* the record being written has a successor coming */
	TLS_F_CORKED = 1u << 9,    /* a record left with MSG_MORE: push before idling */
};

/* Client block layout: validator, host copy, then the two buffers. */
#define TLS_CLIENT_HOST_OFF sizeof(union tls_x509)
#define TLS_CLIENT_BUF_OFF (TLS_CLIENT_HOST_OFF + TLS_HOST_MAX + 1)

/* Engine profiles (profile.c): versions, suites, hashes, PRFs, AEADs, EC,
 * buffers, ALPN, no renegotiation. Everything but the key/validator. */
void tls_profile_server(br_ssl_server_context *sc, struct tls_server_cfg *cfg,
                        unsigned char *ibuf, unsigned char *obuf);
void tls_profile_client(br_ssl_client_context *cc, unsigned char *ibuf, unsigned char *obuf);
/* Name of a BR_TLS_* suite we ship, or NULL. */
const char *tls_suite_name(unsigned suite);

/* X.509 classes (x509.c). pin: accepts exactly the leaf whose certificate
 * or SubjectPublicKeyInfo hashes to pin (pin NULL: any leaf, --insecure);
 * either way the leaf key is decoded for the key exchange. */
struct tls_x509_pin {
	const br_x509_class *vtable;
	const uint8_t *pin;
	unsigned depth;
	bool ready; /* leaf decoded (and matched): get_pkey may answer */
	br_sha256_context sha;
	br_x509_decoder_context dec;
};

/* ip: the minimal validator (chain + dates, no name) and then the leaf's
 * iPAddress subjectAltNames against the literal the client dialled. */
#define TLS_LEAF_MAX 8192 /* leaf copy kept for the SAN check */
struct tls_x509_ip {
	const br_x509_class *vtable;
	br_x509_minimal_context min;
	uint8_t ip[16];
	size_t iplen;
	unsigned depth;
	bool too_big;
	unsigned char *leaf; /* TLS_LEAF_MAX bytes, malloc'd by init */
	size_t leaf_len;
};

union tls_x509 {
	br_x509_minimal_context min;
	struct tls_x509_pin pin;
	struct tls_x509_ip ip;
};

void tls_x509_minimal_init(br_x509_minimal_context *xc, const struct tls_client_cfg *c);
void tls_x509_pin_init(struct tls_x509_pin *x, const uint8_t *pin);
/* 0 or -ENOMEM; tls_x509_ip_free releases the leaf copy. */
int tls_x509_ip_init(struct tls_x509_ip *x, const struct tls_client_cfg *c,
                     const uint8_t *ip, size_t iplen);
void tls_x509_ip_free(struct tls_x509_ip *x);
/* DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of a decoded key: RSA, or
 * EC on a named curve. Length, or 0 when cap is short or the curve has no
 * OID we know. */
size_t tls_spki_der(const br_x509_pkey *pk, uint8_t *out, size_t cap);

/* Certificate generation (cert.c). Times are Unix seconds. */
struct tls_cert_req {
	const char *const *names;
	size_t n;
	int64_t not_before, not_after;
};
/* A fresh EC P-256 key (PKCS#8 DER) and the self-signed certificate (DER)
 * described by r; both malloc'd (free *key with tls_wipe_free). */
int tls_cert_make(const struct tls_cert_req *r, uint8_t **cert, size_t *cert_len,
                  uint8_t **key, size_t *key_len, char *err, size_t errlen);

/* IPv4/IPv6 literal (IPv6 may be bracketed) into out: 4, 16, or 0. */
size_t tls_ip_parse(const char *s, uint8_t out[16]);

/* Files (file.c): whole small files in, atomic-enough writes out. */
int tls_file_read(const char *path, char **buf, size_t *len, char *err, size_t errlen);
int tls_file_write(const char *path, const void *p, size_t n, unsigned mode, char *err,
                   size_t errlen);

/* snprintf into err (if any); returns rc so callers can `return tls_fail(...)`. */
int tls_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void tls_wipe_free(void *p, size_t n);
void tls_hex(const uint8_t *p, size_t n, char *out);

#endif
